"""Tests for pages/datasets.py: the offline sample shown in full, and a dataset that is not on the machine.

The page runs in this process under AppTest, so replacing functions of `core.datasets` here (availability,
download, loading) changes what the page sees. Nothing is downloaded.
Run: python -m pytest tests/test_page_datasets.py -q
"""

import json
import pathlib

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import open_page
from core import datasets, gallery, pixels

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATASET_CHOICE = 0  # The dataset selector is the first button group of the page.
GRID_SIZE = 32


def open_datasets_page(**session_state) -> AppTest:
    return open_page("pages/datasets.py", **session_state)


def button(app: AppTest, label: str):
    matches = [candidate for candidate in app.button if candidate.label == label]
    assert matches, f"no button {label!r} among {[candidate.label for candidate in app.button]}"
    return matches[0]


def captions(app: AppTest) -> list[str]:
    return [caption.value for caption in app.caption]


def grid_images(app: AppTest):
    """The images of the random grid (its images come first and each has a caption)."""
    return app.get("image")[:GRID_SIZE]


def class_example_images(app: AppTest):
    # After the grid comes the image looked inside, then the examples of one class.
    return app.get("image")[GRID_SIZE + 1:]


def image_urls(images) -> list[str]:
    return [url for image in images for url in image.value]


def image_captions(images) -> list[str]:
    return [caption for image in images for caption in image.captions]


def chart_spec(app: AppTest, key: str) -> dict | None:
    """The plotly figure (as JSON) of the chart with this key, or None."""
    for chart in app.get("plotly_chart"):
        if key in chart.proto.id:
            return json.loads(chart.proto.spec)
    return None


def class_choice(app: AppTest):
    return [group for group in app.button_group if group.key == "datasets_page_example_class"][0]


def look_inside_buttons(app: AppTest):
    return [candidate for candidate in app.button if candidate.key and candidate.key.startswith("look_inside_")]


def select_dataset(app: AppTest, name: str) -> AppTest:
    app.button_group[DATASET_CHOICE].set_value(name).run()
    assert not app.exception
    return app


@pytest.fixture
def mnist_not_on_this_machine(monkeypatch):
    """MNIST reads as missing, whatever this machine's Keras cache holds; the sample stays available."""
    real_is_available = datasets.is_available
    monkeypatch.setattr(datasets, "is_available", lambda name: name == "mnist_sample" and real_is_available(name))


# The offline sample.


def test_sample_shows_its_size_shape_classes_and_source():
    app = open_datasets_page()
    assert app.button_group[DATASET_CHOICE].value == "mnist_sample"
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics == {"Training images": "8,000", "Test images": "2,000", "Image shape": "28 × 28", "Classes": "10"}
    assert any("**Classes:** 0 · 1 · 2" in markdown.value for markdown in app.markdown)
    assert any(caption.startswith("Source: 10,000 MNIST digits") for caption in captions(app))


def test_sample_shows_a_grid_of_random_training_images_with_their_labels():
    app = open_datasets_page()
    assert any(caption.startswith("32 images picked at random from the 8,000 training images, each with its label.")
               for caption in captions(app))
    labels = image_captions(grid_images(app))
    assert len(labels) == GRID_SIZE
    assert set(labels) <= set(datasets.DATASETS["mnist_sample"].class_names)
    # Thirty-two random digits cover several classes: the grid is not one class in storage order.
    assert len(set(labels)) >= 5


def test_reshuffle_shows_other_images():
    app = open_datasets_page()
    before = image_urls(grid_images(app))
    button(app, "Reshuffle").click().run()
    assert not app.exception
    after = image_urls(grid_images(app))
    assert len(after) == GRID_SIZE
    assert after != before


def test_switching_class_changes_the_examples():
    app = open_datasets_page()
    assert any(caption.startswith("10 training images of class 0:") for caption in captions(app))
    zeros = image_urls(class_example_images(app))
    assert len(zeros) == 10
    class_choice(app).set_value(1).run()
    assert not app.exception
    assert any(caption.startswith("10 training images of class 1:") for caption in captions(app))
    ones = image_urls(class_example_images(app))
    assert len(ones) == 10
    assert not set(ones) & set(zeros)


def test_the_number_of_examples_follows_the_slider():
    app = open_datasets_page()
    app.slider[0].set_value(4).run()
    assert not app.exception
    assert len(class_example_images(app)) == 4
    assert any(caption.startswith("4 training images of class 0:") for caption in captions(app))


def test_sample_shows_the_class_distribution_chart():
    app = open_datasets_page()
    assert chart_spec(app, "class_distribution")
    assert "Images per class: between 690 and 902 for training, between 173 and 225 for testing." in " ".join(
        captions(app))


# Choosing a dataset, and one that is not on this machine.


def test_the_chosen_dataset_becomes_the_visitors_dataset(mnist_not_on_this_machine):
    app = open_datasets_page()
    select_dataset(app, "mnist")
    # The key `_common.dataset_name()` reads, which the sidebar and the other pages follow.
    assert app.session_state["dataset"] == "mnist"
    assert {metric.label: metric.value for metric in app.metric}["Training images"] == "60,000"


def test_the_page_starts_on_the_dataset_chosen_elsewhere(mnist_not_on_this_machine):
    app = open_datasets_page(dataset="mnist")
    assert app.button_group[DATASET_CHOICE].value == "mnist"


def test_missing_dataset_offers_a_download_and_no_images(mnist_not_on_this_machine):
    app = select_dataset(open_datasets_page(), "mnist")
    assert "MNIST is not on this machine yet" in app.warning[0].value
    assert button(app, "Download MNIST")
    assert not app.get("image")
    assert not app.error


def test_failed_download_says_why_and_switches_to_the_sample_in_one_click(mnist_not_on_this_machine, monkeypatch):
    def fail(name, progress=None):
        raise datasets.DatasetUnavailable("Could not download MNIST (no connection: offline).")

    monkeypatch.setattr(datasets, "fetch", fail)
    app = select_dataset(open_datasets_page(), "mnist")
    button(app, "Download MNIST").click().run()
    assert not app.exception
    assert "Could not download MNIST (no connection: offline)." in app.error[0].value
    button(app, "Use the offline MNIST sample instead").click().run()
    assert not app.exception
    assert app.session_state["dataset"] == "mnist_sample"
    assert app.button_group[DATASET_CHOICE].value == "mnist_sample"
    assert len(image_captions(grid_images(app))) == GRID_SIZE
    assert not app.error


def test_successful_download_reports_progress_then_shows_the_dataset(mnist_not_on_this_machine, monkeypatch):
    downloaded = []
    sample = datasets.load("mnist_sample")

    def fake_fetch(name, progress=None):
        # The page's callback draws the progress bar; it must take what the real downloader reports.
        progress(0, 11_490_434)
        progress(5_000_000, 11_490_434)
        progress(11_490_434, 11_490_434)
        downloaded.append(name)
        return sample

    monkeypatch.setattr(datasets, "fetch", fake_fetch)
    monkeypatch.setattr(datasets, "is_available", lambda name: name == "mnist_sample" or name in downloaded)
    monkeypatch.setattr(datasets, "load", lambda name, download=True: sample)
    app = select_dataset(open_datasets_page(), "mnist")
    button(app, "Download MNIST").click().run()
    assert not app.exception
    assert downloaded == ["mnist"]
    assert not app.error
    assert len(image_captions(grid_images(app))) == GRID_SIZE


def test_a_damaged_dataset_says_why_and_offers_the_sample(monkeypatch):
    real_load = datasets.load

    def damaged(name, download=True):
        if name == "mnist_sample":
            return real_load(name)
        raise datasets.DatasetUnavailable("mnist.npz is damaged. Delete it and download MNIST again.")

    monkeypatch.setattr(datasets, "is_available", lambda name: True)
    monkeypatch.setattr(datasets, "load", damaged)
    app = select_dataset(open_datasets_page(), "mnist")
    assert "mnist.npz is damaged" in app.error[0].value
    assert button(app, "Use the offline MNIST sample instead")


def test_a_colour_dataset_shows_its_photos_and_class_names(monkeypatch):
    # A tiny stand-in for CIFAR-10: the real one is 170 MB and not on this machine.
    generator = np.random.default_rng(0)
    info = datasets.DATASETS["cifar10"]
    tiny_cifar = datasets.Dataset(
        info=info,
        x_train=generator.integers(0, 256, size=(60, 32, 32, 3), dtype=np.uint8),
        y_train=np.arange(60) % 10,
        x_test=generator.integers(0, 256, size=(20, 32, 32, 3), dtype=np.uint8),
        y_test=np.arange(20) % 10,
    )
    real_load = datasets.load

    def load(name, download=True):
        return tiny_cifar if name == "cifar10" else real_load(name)

    monkeypatch.setattr(datasets, "is_available", lambda name: True)
    monkeypatch.setattr(datasets, "load", load)
    app = select_dataset(open_datasets_page(), "cifar10")
    assert {metric.label: metric.value for metric in app.metric}["Image shape"] == "32 × 32 × 3"
    assert set(image_captions(grid_images(app))) <= set(info.class_names)
    class_choice(app).set_value(3).run()
    assert not app.exception
    assert any(caption.startswith("6 training images of class 3 (cat):") for caption in captions(app))
    assert "Images per class: exactly 6 for training, exactly 2 for testing." in " ".join(captions(app))
    # Looking inside a photo: one colour channel at a time, and 3,072 numbers once flattened.
    first = int(gallery.random_indices(60, GRID_SIZE, seed=0)[0])
    red = chart_spec(app, "datasets_pixel_table")["data"][0]["z"]
    np.testing.assert_array_equal(red, tiny_cifar.x_train[first][..., 0])
    channel_choice = [group for group in app.button_group if group.key == "datasets_page_channel"][0]
    channel_choice.set_value(2).run()
    assert not app.exception
    blue = chart_spec(app, "datasets_pixel_table")["data"][0]["z"]
    np.testing.assert_array_equal(blue, tiny_cifar.x_train[first][..., 2])
    assert any("A dense network sees these 3,072 numbers" in info.value for info in app.info)


# Looking inside one image.


def sample_grid_indices() -> np.ndarray:
    """The training images of the random grid on a fresh page (shuffle 0), in grid order."""
    return gallery.random_indices(8000, GRID_SIZE, seed=0)


def test_every_grid_image_has_a_look_inside_button_and_the_first_is_shown():
    app = open_datasets_page()
    buttons = look_inside_buttons(app)
    assert len(buttons) == GRID_SIZE
    assert "Look inside one image" in [subheader.value for subheader in app.subheader]
    first = int(sample_grid_indices()[0])
    table = chart_spec(app, "datasets_pixel_table")["data"][0]["z"]
    np.testing.assert_array_equal(table, datasets.load("mnist_sample").x_train[first])


def test_choosing_an_image_shows_its_pixel_values_one_hot_label_and_flattening():
    sample = datasets.load("mnist_sample")
    app = open_datasets_page()
    look_inside_buttons(app)[5].click().run()
    assert not app.exception
    index = int(sample_grid_indices()[5])
    image, label = sample.x_train[index], int(sample.y_train[index])
    # The pixel table holds the image's own values, 0-255, one cell per pixel.
    table = np.array(chart_spec(app, "datasets_pixel_table")["data"][0]["z"])
    assert table.shape == (28, 28)
    np.testing.assert_array_equal(table, image)
    # The one-hot vector, as NumPy prints it, with a 1 in the place of the label.
    expected = "[" + " ".join("1" if position == label else "0" for position in range(10)) + "]"
    assert expected in [code.value for code in app.code]
    assert f"Label: {label}" in [caption for image_element in app.get("image") for caption in image_element.captions]
    # Flattening: the 784 numbers in a row, and what that means for a dense network.
    strip = chart_spec(app, "datasets_flattened")["data"][0]["z"][0]
    np.testing.assert_array_equal(strip, image.reshape(-1))
    assert any("A dense network sees these 784 numbers with no idea which were neighbours" in info.value
               for info in app.info)
    first_row = pixels.first_ink_row(image)
    laid_out = [code.value for code in app.code if "laid end to end" in code.value][0]
    assert f"numbers {first_row * 28} to {first_row * 28 + 83} of the 784" in laid_out
    # The chosen image's button is the highlighted one.
    assert look_inside_buttons(app)[5].proto.type == "primary"


def _scroll_scripts(app) -> list[str]:
    return [element.proto.body for element in app.get("html") if "scrollIntoView" in element.proto.body]


def test_a_zoom_click_scrolls_the_page_to_look_inside_once():
    app = open_datasets_page()
    assert _scroll_scripts(app) == []
    look_inside_buttons(app)[5].click().run()
    [script] = _scroll_scripts(app)
    assert "st-key-datasets_look_inside" in script
    # Any other rerun (here the reshuffle) leaves the page where the student scrolled it.
    button(app, "Reshuffle").click().run()
    assert _scroll_scripts(app) == []
    # A second click scrolls again, with a script of its own (a new one runs; the same one would not).
    look_inside_buttons(app)[2].click().run()
    [again] = _scroll_scripts(app)
    assert again != script


def test_reshuffle_looks_inside_the_first_of_the_new_images():
    app = open_datasets_page()
    look_inside_buttons(app)[5].click().run()
    button(app, "Reshuffle").click().run()
    assert not app.exception
    first = int(gallery.random_indices(8000, GRID_SIZE, seed=1)[0])
    table = chart_spec(app, "datasets_pixel_table")["data"][0]["z"]
    np.testing.assert_array_equal(table, datasets.load("mnist_sample").x_train[first])


def test_the_pen_drawn_digits_show_like_the_other_datasets():
    app = select_dataset(open_datasets_page(), "pendigits")
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics == {"Training images": "4,996", "Test images": "2,498", "Image shape": "28 × 28", "Classes": "10"}
    assert any(caption.startswith("Source: E. Alpaydin and F. Alimoglu") for caption in captions(app))
    labels = image_captions(grid_images(app))
    assert len(labels) == GRID_SIZE and set(labels) <= set("0123456789")
    assert not app.error
