"""Tests for pages/inside.py: a trained model's layers for a test image and for the current drawing.

The `trained_run` fixture gives a small CNN trained on the sample; other architectures are saved untrained
(their random weights are enough to lay out their layers). Run: python -m pytest tests/test_page_inside.py -q
"""

import numpy as np

from conftest import open_page
from core import architectures, datasets, runs

PAGE = "pages/inside.py"


def subheaders(app) -> list[str]:
    return [subheader.value for subheader in app.subheader]


def section_titles(app, prefix: str) -> list[str]:
    return [title for title in subheaders(app) if title.startswith(prefix)]


def plotly_charts(app):
    return app.get("plotly_chart")


def save_untrained_run(architecture: str, hyperparameters: dict | None = None, dataset: str = "mnist_sample",
                       image_shape=(28, 28)) -> str:
    """A run with a saved (untrained) model, as the run store lists it after a finished epoch."""
    store = runs.RunStore()
    hyperparameters = architectures.resolve_hyperparameters(architecture, hyperparameters)
    created = store.create(dataset=dataset, architecture=architecture, hyperparameters=hyperparameters,
                           name=f"untrained {architecture}")
    # The store returns a Run (older versions: its run.json as a dict).
    run_id = created["id"] if isinstance(created, dict) else created.id
    store.save_model(run_id, architectures.build_model(architecture, image_shape, 10, hyperparameters))
    store.update(run_id, status="completed")
    return run_id


def test_no_trained_model_says_where_to_train_one():
    app = open_page(PAGE)
    assert "No trained model yet" in app.info[0].value
    assert not subheaders(app)


def test_a_test_image_shows_one_feature_map_section_per_convolution_and_the_dense_charts(trained_run):
    app = open_page(PAGE)
    assert app.segmented_control[0].value == "A test image"
    # The trained cnn has one convolution, one pooling layer, one dense layer and the output.
    assert section_titles(app, "Convolution") == ["Convolution 1 · 32 filters 3×3, ReLU → 28×28×32"]
    assert section_titles(app, "Pooling") == ["Pooling 1 · 2×2 → 14×14×32"]
    assert section_titles(app, "Dense") == ["Dense 1 · 128 units, ReLU"]
    assert section_titles(app, "Output") == ["Output · 10 classes, softmax"]
    # The input, the first layer's filters, the convolution's maps and the pooling's maps; then, in "What each
    # filter wants", the filters again beside the pictures they want (pages/_inside_explain.py).
    assert len(app.get("image")) == 6
    assert any(caption.value.startswith("All 32 feature maps, 28×28 each") for caption in app.caption)
    assert any("The filters it learned" in caption.value for caption in app.caption)
    # The 128-unit dense layer shows its strongest units; the output shows every class.
    assert any(caption.value.startswith("The 32 strongest of its 128 units") for caption in app.caption)
    assert len(plotly_charts(app)) == 2
    assert app.metric[0].label == "Prediction"
    assert any("True label" in message.value for message in [*app.success, *app.error])


def test_choosing_another_test_image_changes_the_image(trained_run):
    app = open_page(PAGE)
    app.number_input[0].set_value(3).run()
    assert not app.exception
    first = app.get("image")[0].value
    app.number_input[0].set_value(1999).run()
    assert not app.exception
    assert app.get("image")[0].value != first
    random_button = [button for button in app.button if button.label == "Another random one"][0]
    random_button.click().run()
    assert not app.exception
    assert 0 <= app.number_input[0].value < 2000


def test_the_current_drawing_is_the_default_source_when_there_is_one(trained_run):
    drawing = np.zeros((28, 28), dtype=np.uint8)
    drawing[5:23, 12:16] = 255  # a "1"
    app = open_page(PAGE, current_drawing=drawing)
    assert app.segmented_control[0].value == "Current drawing"
    assert len(section_titles(app, "Convolution")) == 1
    assert app.metric[0].label == "Prediction"
    # A drawing has no true label.
    assert not [message for message in [*app.success, *app.error] if "True label" in message.value]


def test_a_reload_of_this_page_looks_inside_the_students_remembered_drawing(trained_run):
    """A reload opened on this page (a new session, before the Draw page ran) has the student's last drawing, as
    the Draw page would show it (a teacher review: it sent them to draw again)."""
    import base64
    import io

    from PIL import Image, ImageDraw

    from pages import _common, _draw_state

    picture = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(picture).line([(140, 40), (140, 240)], fill=(255, 255, 255, 255), width=18)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    _draw_state.remember_drawing("student-a", {"strokes": {"objects": [{"type": "path"}]},
                                               "data": "data:image/png;base64," + base64.b64encode(buffer.getvalue())
                                               .decode()})
    app = open_page(PAGE, **{_common.OWNER_KEY: "student-a"})
    assert app.segmented_control[0].value == "Current drawing"
    assert app.metric[0].label == "Prediction" and app.metric[0].value == "1"
    # Another student has none.
    other = open_page(PAGE, **{_common.OWNER_KEY: "student-b"})
    assert other.segmented_control[0].value != "Current drawing"


def test_without_a_drawing_the_drawing_source_sends_the_student_to_the_draw_page(trained_run):
    app = open_page(PAGE)
    app.segmented_control[0].set_value("Current drawing").run()
    assert not app.exception
    assert "Draw a digit on the Draw page first" in app.info[0].value
    assert not section_titles(app, "Convolution")


def test_a_deeper_cnn_shows_a_section_for_each_of_its_convolutions():
    save_untrained_run("cnn_deep")
    app = open_page(PAGE)
    assert len(section_titles(app, "Convolution")) == 2
    # The second convolution has 64 maps: the page shows the 32 most active and says so.
    assert any(caption.value.startswith("The 32 most active of its 64 feature maps") for caption in app.caption)


def test_a_dense_network_shows_bars_and_says_it_has_no_filters():
    save_untrained_run("ann", {"width": 16})
    app = open_page(PAGE)
    assert not section_titles(app, "Convolution")
    assert section_titles(app, "Dense") == ["Dense 1 · 16 units, ReLU"]
    assert len(plotly_charts(app)) == 2
    assert any("no convolution layer, so it has no filters to show" in info.value for info in app.info)


def test_a_colour_model_offers_test_photos_only_and_shows_colour_filters(monkeypatch):
    # A tiny stand-in for CIFAR-10: the real one is 170 MB and not on this machine.
    generator = np.random.default_rng(0)
    tiny_cifar = datasets.Dataset(
        info=datasets.DATASETS["cifar10"],
        x_train=generator.integers(0, 256, size=(20, 32, 32, 3), dtype=np.uint8), y_train=np.arange(20) % 10,
        x_test=generator.integers(0, 256, size=(20, 32, 32, 3), dtype=np.uint8), y_test=np.arange(20) % 10,
    )
    real_load = datasets.load
    monkeypatch.setattr(datasets, "load", lambda name, download=True: tiny_cifar if name == "cifar10"
                        else real_load(name, download=download))
    save_untrained_run("cifar_cnn", dataset="cifar10", image_shape=(32, 32, 3))
    app = open_page(PAGE, current_drawing=np.zeros((28, 28), dtype=np.uint8))
    # A drawing is a 28x28 digit: a model of colour photos is not offered it.
    assert not app.segmented_control
    assert len(section_titles(app, "Convolution")) == 2
    assert any("in colour, one weight per pixel and colour channel" in caption.value for caption in app.caption)
    assert any("True label" in message.value for message in [*app.success, *app.error])
