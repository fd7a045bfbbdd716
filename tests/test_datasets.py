"""Tests for core/datasets.py: the registry, the embedded sample, Keras's cache, Debian's files, downloads.

No test downloads anything: every test gets an empty temporary KERAS_HOME, an empty stand-in for Debian's
folder and a network that fails the test if it is used; the download tests replace the network with fakes.
Run: python -m pytest tests/test_datasets.py -q
"""

import io
import pathlib
import shutil
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from core import datasets

REAL_DEBIAN_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
FASHION_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
requires_debian_fashion_mnist = pytest.mark.skipif(
    not all((REAL_DEBIAN_DIR / file_name).is_file() for file_name in FASHION_FILES),
    reason=f"Debian's dataset-fashion-mnist is not installed ({REAL_DEBIAN_DIR} lacks its four files); "
    "apt-get install dataset-fashion-mnist",
)


def refuse_network(*args, **kwargs):
    pytest.fail(f"A test tried to use the network: {args}")


class FakeResponse(io.BytesIO):
    """What urllib.request.urlopen returns, as far as the downloader uses it."""

    def __init__(self, body, content_length=None):
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body) if content_length is None else content_length)}


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """An empty KERAS_HOME, no Debian files, no network, and no dataset loaded yet."""
    keras_home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    # Keras reads KERAS_HOME once, when imported; if an earlier test imported it, point it here too.
    keras_config = sys.modules.get("keras.src.backend.config")
    if keras_config is not None:
        monkeypatch.setattr(keras_config, "_KERAS_DIR", str(keras_home))
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no_debian_files")
    monkeypatch.setattr(urllib.request, "urlopen", refuse_network)
    monkeypatch.setattr(datasets, "_LOADED", {})
    return keras_home


@pytest.fixture
def real_keras(isolated, monkeypatch):
    """Keras itself, reading from the temporary KERAS_HOME and unable to download."""
    keras = pytest.importorskip("keras")
    from keras.src.backend import config
    from keras.src.utils import file_utils

    monkeypatch.setattr(config, "_KERAS_DIR", str(isolated))
    monkeypatch.setattr(file_utils, "urlretrieve", refuse_network)
    return keras


def files_in(folder):
    return sorted(path.name for path in pathlib.Path(folder).rglob("*") if path.is_file())


# The registry.


def test_registry_lists_the_six_datasets_sample_first():
    assert list(datasets.DATASETS) == ["mnist_sample", "pendigits", "digits_mix", "mnist", "fashion_mnist", "cifar10"]
    assert datasets.DEFAULT_DATASET == "mnist_sample"
    for name, info in datasets.DATASETS.items():
        assert info.name == name
        assert info.num_classes == 10
        assert info.title and info.source and info.description


def test_class_names_and_shapes():
    assert datasets.get_info("mnist").class_names == tuple("0123456789")
    assert datasets.get_info("fashion_mnist").class_names == (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    )  # fmt: skip
    assert datasets.get_info("cifar10").class_names == (
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    )  # fmt: skip
    assert datasets.get_info("cifar10").image_shape == (32, 32, 3)
    assert not datasets.get_info("cifar10").is_grayscale
    assert datasets.get_info("fashion_mnist").is_grayscale
    assert [name for name, info in datasets.DATASETS.items() if info.is_digits] == [
        "mnist_sample", "pendigits", "digits_mix", "mnist"]


def test_unknown_name_raises_value_error_listing_valid_names():
    with pytest.raises(ValueError, match="Unknown dataset 'emnist'.*'mnist_sample'.*'cifar10'"):
        datasets.get_info("emnist")
    with pytest.raises(ValueError, match="Unknown dataset"):
        datasets.load("emnist")
    with pytest.raises(ValueError, match="Unknown dataset"):
        datasets.is_available("emnist")


def test_dataset_rejects_float_images():
    info = datasets.get_info("mnist_sample")
    images = np.zeros((2, 28, 28), dtype="float32")
    labels = np.zeros(2, dtype="int64")
    with pytest.raises(ValueError, match="uint8"):
        datasets.Dataset(info, images, labels, images, labels)


# The embedded sample.


def test_sample_shapes_types_and_stratified_counts():
    dataset = datasets.load("mnist_sample")
    assert dataset.x_train.shape == (8000, 28, 28) and dataset.x_test.shape == (2000, 28, 28)
    assert dataset.x_train.dtype == np.uint8 and dataset.x_test.dtype == np.uint8
    assert dataset.y_train.dtype == np.int64 and dataset.y_train.shape == (8000,)
    train_counts = np.bincount(dataset.y_train, minlength=10)
    test_counts = np.bincount(dataset.y_test, minlength=10)
    # Every class is split 80/20, to the nearest image.
    assert np.all(np.abs(test_counts - (train_counts + test_counts) * 0.2) < 1)
    assert test_counts.tolist() == [200, 225, 198, 206, 196, 173, 203, 214, 189, 196]
    # White digits on black, like MNIST: the border is black and the mean is MNIST's (about 33).
    assert dataset.x_train[:, 0, :].max() == 0
    assert 25 < dataset.x_train.mean() < 40


def test_sample_is_stored_in_class_order():
    dataset = datasets.load("mnist_sample")
    assert np.all(np.diff(dataset.y_train) >= 0)
    assert np.all(np.diff(dataset.y_test) >= 0)


def test_sample_arrays_are_read_only():
    dataset = datasets.load("mnist_sample")
    with pytest.raises(ValueError, match="read-only"):
        dataset.x_train[0, 0, 0] = 255
    with pytest.raises(ValueError, match="read-only"):
        dataset.y_test[0] = 3


def test_load_returns_the_same_object_twice():
    assert datasets.load("mnist_sample") is datasets.load("mnist_sample")
    assert datasets.is_available("mnist_sample")


def test_concurrent_loads_load_once(monkeypatch):
    calls = []
    original_load = datasets._load_uncached

    def slow_counting_load(name, **kwargs):
        calls.append(name)
        time.sleep(0.2)
        return original_load(name, **kwargs)

    monkeypatch.setattr(datasets, "_load_uncached", slow_counting_load)
    results = []
    barrier = threading.Barrier(4)

    def worker():
        barrier.wait()
        results.append(datasets.load("mnist_sample"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == ["mnist_sample"]
    assert len(results) == 4 and all(result is results[0] for result in results)


# Files already on the machine.


@requires_debian_fashion_mnist
def test_keras_loader_reads_fashion_mnist_from_keras_cache(real_keras, isolated):
    cache_folder = isolated / "datasets" / "fashion-mnist"
    cache_folder.mkdir(parents=True)
    for file_name in FASHION_FILES:
        shutil.copy(REAL_DEBIAN_DIR / file_name, cache_folder / file_name)
    assert datasets.is_available("fashion_mnist")
    dataset = datasets.load("fashion_mnist", download=False)
    assert dataset.x_train.shape == (60000, 28, 28) and dataset.x_test.shape == (10000, 28, 28)
    assert dataset.y_train.shape == (60000,) and set(np.unique(dataset.y_test)) == set(range(10))
    assert not dataset.x_train.flags.writeable


@requires_debian_fashion_mnist
def test_fashion_mnist_falls_back_to_debian_folder(monkeypatch, isolated):
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST_DIR", REAL_DEBIAN_DIR)
    assert datasets.is_available("fashion_mnist")
    dataset = datasets.load("fashion_mnist", download=False)
    assert dataset.x_train.shape == (60000, 28, 28) and dataset.x_test.shape == (10000, 28, 28)
    assert dataset.x_train.dtype == np.uint8 and dataset.y_train.dtype == np.int64
    assert np.bincount(dataset.y_test).tolist() == [1000] * 10
    # Nothing was copied into Keras's cache.
    assert files_in(isolated) == []


def test_missing_files_without_download_say_where_to_put_them(isolated):
    assert not datasets.is_available("mnist")
    with pytest.raises(datasets.DatasetUnavailable) as error_info:
        datasets.load("mnist", download=False)
    assert str(isolated / "datasets") in str(error_info.value)
    assert "mnist.npz" in str(error_info.value) and "MNIST sample" in str(error_info.value)


# Downloads, with a fake network.


def test_failed_download_names_the_folder_and_leaves_no_file(monkeypatch, isolated):
    def no_network(url, timeout=None):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(datasets.DatasetUnavailable, match="Could not download MNIST") as error_info:
        datasets.fetch("mnist")
    message = str(error_info.value)
    assert "Name or service not known" in message
    assert f"Put mnist.npz in {isolated / 'datasets'}" in message
    assert "KERAS_HOME" in message and "MNIST sample" in message
    assert files_in(isolated) == []


def test_truncated_download_leaves_no_file(monkeypatch, isolated):
    # The server announces all of mnist.npz, then the connection ends after 1,000 bytes.
    truncated = FakeResponse(b"x" * 1000, content_length=11490434)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: truncated)
    with pytest.raises(datasets.DatasetUnavailable, match="cut short"):
        datasets.load("mnist")
    assert files_in(isolated) == []


def test_connection_reset_mid_download_leaves_no_file(monkeypatch, isolated):
    class ResetResponse(FakeResponse):
        def read(self, size=-1):
            if self.tell() > 0:
                raise ConnectionResetError("Connection reset by peer")
            return super().read(100)

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: ResetResponse(b"x" * 1000))
    with pytest.raises(datasets.DatasetUnavailable, match="Connection reset by peer"):
        datasets.fetch("mnist", progress=lambda done, total: None)
    assert files_in(isolated) == []


def test_download_with_wrong_hash_leaves_no_file(monkeypatch, isolated):
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(b"not mnist" * 100))
    with pytest.raises(datasets.DatasetUnavailable, match="SHA-256"):
        datasets.fetch("cifar10")
    assert files_in(isolated) == []
    assert not datasets.is_available("cifar10")


def test_corrupt_gzip_download_leaves_no_file(monkeypatch, isolated):
    # A gzip signature followed by garbage: only reading the whole file shows it is damaged.
    garbage = b"\x1f\x8b" + b"0" * 50
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(garbage))
    with pytest.raises(datasets.DatasetUnavailable, match="Could not download Fashion-MNIST.*gzip"):
        datasets.fetch("fashion_mnist")
    assert files_in(isolated) == []


def test_damaged_cached_file_is_reported_not_used(isolated):
    (isolated / "datasets").mkdir(parents=True)
    (isolated / "datasets" / "mnist.npz").write_bytes(b"half a file")
    with pytest.raises(datasets.DatasetUnavailable, match="damaged"):
        datasets.load("mnist", download=False)


@requires_debian_fashion_mnist
def test_successful_download_reports_progress_and_feeds_keras(real_keras, monkeypatch, isolated):
    bodies = {file_name: (REAL_DEBIAN_DIR / file_name).read_bytes() for file_name in FASHION_FILES}
    monkeypatch.setattr(
        urllib.request, "urlopen", lambda url, timeout=None: FakeResponse(bodies[url.rsplit("/", 1)[-1]])
    )
    progress = []
    dataset = datasets.fetch("fashion_mnist", progress=lambda done, total: progress.append((done, total)))
    assert dataset.x_train.shape == (60000, 28, 28)
    total_bytes = sum(len(body) for body in bodies.values())
    assert progress[-1] == (total_bytes, total_bytes)
    assert all(done <= total for done, total in progress)
    assert files_in(isolated / "datasets") == sorted(FASHION_FILES)
    assert datasets.fetch("fashion_mnist") is dataset
