"""AppTest of the Draw page, with the canvas component replaced by a fake that returns a chosen RGBA picture.

AppTest cannot drive custom components, and the page runs from its file, so the fake replaces the
`streamlit_drawable_canvas` module itself: the page imports `st_canvas` from it at each run.
"""

import json
import sys
import time
import types

import numpy as np
import pytest
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from conftest import open_page
from core import architectures, jobs

TRAIN_BUTTON = "Train the default digit model (about a minute)"


class FakeCanvas:
    """Stands in for streamlit_drawable_canvas: returns `picture` and remembers how it was called."""

    def __init__(self, picture):
        self.picture = picture
        self.calls = []

    def st_canvas(self, **arguments):
        self.calls.append(arguments)
        return types.SimpleNamespace(image_data=self.picture)


@pytest.fixture
def canvas(monkeypatch):
    fake = FakeCanvas(None)
    module = types.ModuleType("streamlit_drawable_canvas")
    module.st_canvas = fake.st_canvas
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", module)
    return fake


def drawn_one():
    picture = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(picture).line([(140, 40), (140, 240)], fill=(255, 255, 255, 255), width=18)
    return np.asarray(picture)


def open_draw_page() -> AppTest:
    return open_page("pages/draw.py")


def prediction_metric(at):
    return [metric for metric in at.metric if metric.label == "Prediction"]


def infos(at) -> str:
    return " ".join(info.value for info in at.info)


def test_a_drawn_one_is_read_as_one_with_its_probabilities(trained_run, canvas):
    canvas.picture = drawn_one()
    at = open_draw_page()
    [metric] = prediction_metric(at)
    assert metric.value == "1"
    assert "sure" in metric.delta
    assert len(at.get("plotly_chart")) == 1
    # The canvas was asked for what the page promises: a white pen on black, a fresh image on mouse release.
    call = canvas.calls[-1]
    assert call["stroke_color"] == "#FFFFFF" and call["background_color"] == "#000000"
    assert call["update_streamlit"] and call["return_image_data"] and call["drawing_mode"] == "freedraw"
    assert (call["width"], call["height"]) == (280, 280)


def test_an_empty_canvas_asks_for_a_digit_and_predicts_nothing(trained_run, canvas):
    canvas.picture = np.zeros((280, 280, 4), dtype=np.uint8)
    at = open_draw_page()
    assert "Draw a digit" in infos(at)
    assert prediction_metric(at) == []
    assert len(at.get("plotly_chart")) == 0


def test_before_the_first_stroke_the_page_asks_for_a_digit(trained_run, canvas):
    at = open_draw_page()
    assert "Draw a digit on the canvas" in infos(at)
    assert prediction_metric(at) == []


def test_pen_width_and_clear_reach_the_canvas(trained_run, canvas):
    at = open_draw_page()
    assert canvas.calls[-1]["stroke_width"] == 18
    first_key = canvas.calls[-1]["key"]
    at.slider(key="draw_pen_width").set_value(30).run()
    assert canvas.calls[-1]["stroke_width"] == 30
    [clear] = [button for button in at.button if button.label == "Clear"]
    clear.click().run()
    assert not at.exception
    # A new key is a fresh, empty canvas: the only way to clear it.
    assert canvas.calls[-1]["key"] != first_key


def test_a_fashion_model_says_it_knows_clothes(trained_run, canvas, isolated_runs):
    meta_path = isolated_runs / trained_run / "run.json"
    meta = json.loads(meta_path.read_text())
    meta["dataset"] = "fashion_mnist"
    meta_path.write_text(json.dumps(meta))
    canvas.picture = drawn_one()
    at = open_draw_page()
    assert "this model knows clothes, not digits" in infos(at).lower()
    [metric] = prediction_metric(at)
    assert metric.value in ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                            "Bag", "Ankle boot")
    # No digit model yet: the one-click trainer is offered as well.
    assert any(button.label == TRAIN_BUTTON for button in at.button)


class QuickQueue(jobs.TrainingQueue):
    """Records what the page submits, then trains a tiny CNN on a few hundred images, to keep the test short."""

    def __init__(self):
        super().__init__()
        self.submitted = []

    def submit(self, dataset, architecture, hyperparameters=None, **options):
        self.submitted.append(dict(dataset=dataset, architecture=architecture, **options))
        options["limit_train"] = 300
        return super().submit(dataset, "cnn", {"epochs": 1, "filters": 4}, **options)


def test_without_a_model_one_click_trains_the_default_digit_model_and_the_page_carries_on(canvas, monkeypatch):
    queue = QuickQueue()
    monkeypatch.setattr(jobs, "_default_queue", queue)
    canvas.picture = drawn_one()
    at = open_draw_page()
    assert prediction_metric(at) == []
    [train] = [button for button in at.button if button.label == TRAIN_BUTTON]
    train.click().run()
    assert not at.exception, at.exception
    [submitted] = queue.submitted
    assert submitted["dataset"] == "mnist_sample"
    assert submitted["architecture"] == architectures.DEFAULT_DIGIT_ARCHITECTURE
    assert submitted["owner"]
    assert not any(button.label == TRAIN_BUTTON for button in at.button)

    deadline = time.time() + 90
    while queue.active() and time.time() < deadline:
        time.sleep(0.5)
    assert not queue.active()
    at.run()
    assert not at.exception, at.exception
    [metric] = prediction_metric(at)
    assert metric.value in tuple("0123456789")
    [run] = queue.store.list()
    assert run.status == "completed"
