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

from conftest import open_page, shown
from core import architectures, jobs, runs

TRAIN_BUTTON = "Train the default digit model (about a minute)"


class FakeCanvas:
    """Stands in for streamlit_drawable_canvas: returns `picture` and remembers how it was called."""

    def __init__(self, picture):
        self.picture = picture
        self.calls = []

    def st_canvas(self, **arguments):
        self.calls.append(arguments)
        return types.SimpleNamespace(image_bytes=None if self.picture is None else _png(self.picture))


def _png(picture) -> bytes:
    """The picture as the browser sends it: a PNG."""
    import io

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(picture, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


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


def _keyed_block(node, key: str):
    """The container made with `key` in an AppTest tree, or None."""
    from streamlit.testing.v1.element_tree import Block

    if isinstance(node, Block):
        if key in str(node.proto):
            return node
        for child in node.children.values():
            found = _keyed_block(child, key)
            if found is not None:
                return found
    return None


def _descendants(node):
    for child in getattr(node, "children", {}).values():
        yield child
        yield from _descendants(child)


def test_in_presenter_mode_the_model_view_moves_under_the_canvas_and_the_probabilities_under_the_answer(
        trained_run, canvas):
    from pages import _presenter

    canvas.picture = drawn_one()
    at = open_page("pages/draw.py", **{_presenter.KEY: True})
    [metric] = prediction_metric(at)
    assert metric.value == "1" and len(at.get("plotly_chart")) == 1
    # The 28x28 image and its words sit in the input column, under the canvas.
    under_canvas = _keyed_block(_keyed_block(at.main, "draw_input_column"), "draw_view_under_input")
    kinds = {type(node).__name__: node for node in _descendants(under_canvas)}
    assert "Image" in kinds and kinds["Markdown"].value == "**What the model sees:** these 28 × 28 pixels"
    # The probability chart is in the answer column, in one wrapping row with the answer (beside it where there is
    # room), then the link inside the network; the view comes again after them, for a screen where the columns
    # stack (the page's style shows one of the two).
    answer = _keyed_block(at.main, "draw_answer")
    row = _keyed_block(answer, "draw_answer_row")
    assert [getattr(node, "type", None) for node in _descendants(row) if getattr(node, "type", None) in
            ("metric", "plotly_chart")] == ["metric", "plotly_chart"]
    assert [getattr(node, "type", None) for node in _descendants(answer) if getattr(node, "type", None) in
            ("metric", "page_link", "plotly_chart")] == ["metric", "plotly_chart", "page_link"]
    after_chart = _keyed_block(answer, "draw_view_in_answer")
    assert [type(node).__name__ for node in _descendants(after_chart)][-2:] == ["Image", "Markdown"]
    # Without presenter mode: the model's view beside the answer, with its heading and caption, as before.
    at = open_draw_page()
    texts = [markdown.value for markdown in at.markdown]
    assert "**What the model sees**" in texts and "**What the model sees:** these 28 × 28 pixels" not in texts
    assert _keyed_block(at.main, "draw_view_under_input") is None


def _canvas_value(picture) -> dict:
    """What the browser's canvas keeps in the session after a stroke: its strokes and the PNG it sent."""
    import base64

    strokes = {"version": "7.4.0", "objects": [{"type": "Path", "path": [["M", 140, 40], ["L", 140, 240]]}]}
    return {"drawing": {"raw": strokes, "data": "data:image/png;base64," + base64.b64encode(_png(picture)).decode()}}


def _router_start():
    """The router's first step, alone (AppTest runs a page without the router once it has switched pages)."""
    import streamlit as st

    from pages import _draw_state

    _draw_state.before_run(st.session_state.get("page_path", ""))


def test_every_run_keeps_the_canvas_newest_drawing_and_notes_a_change_of_page():
    from pages import _draw_state

    at = AppTest.from_function(_router_start)
    at.session_state["page_path"] = "draw"
    at.run()
    assert _draw_state.LAST_DRAWING_KEY not in at.session_state
    # A stroke reached the session (with the click on another page, say): it is kept, as the canvas sent it.
    value = _canvas_value(drawn_one())
    at.session_state["draw_canvas_0"] = value
    at.run()
    kept = {"strokes": value["drawing"]["raw"], "data": value["drawing"]["data"]}
    assert at.session_state[_draw_state.LAST_DRAWING_KEY] == kept
    assert _draw_state.CANVAS_LEFT_KEY not in at.session_state
    # Another page: the canvas has left the screen.
    at.session_state["page_path"] = "inside"
    at.run()
    assert at.session_state[_draw_state.CANVAS_LEFT_KEY] is True
    # A canvas value without strokes or without a picture is not a drawing to keep.
    at.session_state["draw_canvas_0"] = {"drawing": {"raw": {"objects": []}, "data": value["drawing"]["data"]}}
    at.run()
    assert at.session_state[_draw_state.LAST_DRAWING_KEY] == kept


def test_a_ready_bar_already_shown_is_not_drawn_again_after_a_visit_to_another_page():
    """The "Digit model ready" bar keeps the training's place while the visitor stays on the Draw page; once they
    have seen it and left, the page comes back without it. A visitor who left during the training still sees it
    once when they come back."""
    from pages import _draw_state

    at = AppTest.from_function(_router_start)
    at.session_state["page_path"] = "draw"
    at.session_state[_draw_state.WATCHED_TRAINING_KEY] = "20260101-000000-modern_cnn-abcdef"
    at.run()
    # Left before the end: the watch is kept, so that the Draw page says how it ended.
    at.session_state["page_path"] = "inside"
    at.run()
    assert at.session_state[_draw_state.WATCHED_TRAINING_KEY] == "20260101-000000-modern_cnn-abcdef"
    at.session_state["page_path"] = "draw"
    at.run()
    # The Draw page showed the bar; reruns of the same page keep it...
    at.session_state[_draw_state.READY_SHOWN_KEY] = "20260101-000000-modern_cnn-abcdef"
    at.run()
    assert at.session_state[_draw_state.WATCHED_TRAINING_KEY] == "20260101-000000-modern_cnn-abcdef"
    # ... and another page forgets it.
    at.session_state["page_path"] = "results"
    at.run()
    assert _draw_state.WATCHED_TRAINING_KEY not in at.session_state
    assert _draw_state.READY_SHOWN_KEY not in at.session_state
    # A page that showed one training's bar, then followed the next one (the first model deleted, another visitor
    # clicked), keeps following that one when the visitor leaves: it says how it ended when they come back.
    at.session_state["page_path"] = "draw"
    at.session_state[_draw_state.READY_SHOWN_KEY] = "20260101-000000-modern_cnn-abcdef"
    at.session_state[_draw_state.WATCHED_TRAINING_KEY] = "20260102-000000-modern_cnn-fedcba"
    at.run()
    at.session_state["page_path"] = "inside"
    at.run()
    assert at.session_state[_draw_state.WATCHED_TRAINING_KEY] == "20260102-000000-modern_cnn-fedcba"
    assert _draw_state.READY_SHOWN_KEY not in at.session_state


def test_a_canvas_back_on_screen_starts_with_the_last_drawing_and_clear_forgets_it(trained_run, canvas):
    from pages import _draw_state

    at = open_draw_page()
    assert prediction_metric(at) == []
    value = _canvas_value(drawn_one())
    # As the router leaves it after a visit to another page: the last drawing kept, the canvas gone.
    at.session_state[_draw_state.LAST_DRAWING_KEY] = {"strokes": value["drawing"]["raw"],
                                                      "data": value["drawing"]["data"]}
    at.session_state[_draw_state.CANVAS_LEFT_KEY] = True
    at.run()
    # A fresh canvas mounts with the strokes, and the answer is read from the picture the canvas sent.
    assert canvas.calls[-1]["key"] == "draw_canvas_1"
    assert canvas.calls[-1]["initial_drawing"] == value["drawing"]["raw"]
    [metric] = prediction_metric(at)
    assert metric.value == "1"
    # Clear empties it for good: the canvas leaving the screen again brings nothing back.
    [clear] = [button for button in at.button if button.label == "Clear"]
    clear.click().run()
    at.session_state[_draw_state.CANVAS_LEFT_KEY] = True
    at.run()
    assert canvas.calls[-1]["initial_drawing"] is None and prediction_metric(at) == []
    assert at.session_state[_draw_state.LAST_DRAWING_KEY] is None
    # A kept picture that is no PNG gives no answer and no error, only the canvas.
    at.session_state[_draw_state.LAST_DRAWING_KEY] = {"strokes": value["drawing"]["raw"],
                                                      "data": "data:image/png;base64,bm90IGEgcG5n"}
    at.session_state[_draw_state.CANVAS_LEFT_KEY] = True
    at.run()
    assert not at.exception and prediction_metric(at) == []


def _router_start_as_student():
    """The router's first step for the student named in the session (their cookie's owner id)."""
    import streamlit as st

    from pages import _draw_state

    _draw_state.before_run(st.session_state.get("page_path", ""), owner=st.session_state["owner"])


def test_a_reloaded_draw_page_starts_with_the_students_last_drawing_and_only_theirs(trained_run, canvas):
    """F5 starts a new session: the server remembers each student's last drawing (by their cookie), so that the
    canvas comes back with it and its answer; another student's page does not, and Clear forgets it."""
    from pages import _common, _draw_state

    value = _canvas_value(drawn_one())
    drawing = {"strokes": value["drawing"]["raw"], "data": value["drawing"]["data"]}
    # Student A draws a 1: the router keeps it, as the canvas sent it, under A's owner id.
    at = AppTest.from_function(_router_start_as_student)
    at.session_state["page_path"] = "draw"
    at.session_state["owner"] = "student-a"
    at.session_state["draw_canvas_0"] = value
    at.session_state[_draw_state.PEN_WIDTH_SAVED_KEY] = 30
    at.run()
    assert _draw_state.remembered_drawing("student-a") == {**drawing, "pen_width": 30}
    assert _draw_state.remembered_drawing("student-b") is None
    # A reloads the page: a new session, the same cookie. The canvas starts with the strokes, and the answer is read;
    # the pen is the one the drawing was made with.
    reloaded = open_page("pages/draw.py", **{_common.OWNER_KEY: "student-a"})
    assert canvas.calls[-1]["initial_drawing"] == value["drawing"]["raw"]
    [metric] = prediction_metric(reloaded)
    assert metric.value == "1"
    assert reloaded.slider(key="draw_pen_width").value == 30 and canvas.calls[-1]["stroke_width"] == 30
    # Only a new drawing is remembered again, not every run of a tab that still shows an older one: a Clear in
    # another tab stays done.
    _draw_state.remember_drawing("student-a", None)
    at.run()
    assert _draw_state.remembered_drawing("student-a") is None
    at.session_state["draw_canvas_0"] = _canvas_value(np.flipud(drawn_one()).copy())
    at.run()
    assert _draw_state.remembered_drawing("student-a")["data"] != drawing["data"]
    _draw_state.remember_drawing("student-a", drawing, 30)
    # Student B, on another browser, gets an empty canvas.
    other = open_page("pages/draw.py", **{_common.OWNER_KEY: "student-b"})
    assert canvas.calls[-1]["initial_drawing"] is None and prediction_metric(other) == []
    # A clears the canvas: a reload after that starts empty.
    [clear] = [button for button in reloaded.button if button.label == "Clear"]
    clear.click().run()
    assert _draw_state.remembered_drawing("student-a") is None
    again = open_page("pages/draw.py", **{_common.OWNER_KEY: "student-a"})
    assert canvas.calls[-1]["initial_drawing"] is None and prediction_metric(again) == []


def test_a_drawing_no_canvas_would_send_is_not_remembered_for_a_reload():
    """What a student's browser sends is theirs to shape: one larger than any digit's drawing, or not made of text
    and JSON, is not kept in the server's memory (the last good one is forgotten with it), and the memory holds
    the newest students' drawings only."""
    from pages import _draw_state

    small = {"strokes": {"objects": [{"type": "path"}]}, "data": "data:image/png;base64,AAAA"}
    _draw_state.remember_drawing("student-a", small, 12)
    assert _draw_state.remembered_drawing("student-a") == {**small, "pen_width": 12}
    # A pen width the slider cannot give is not brought back.
    for width in (999, 0, "12", 12.5, True):
        _draw_state.remember_drawing("student-a", small, width)
        assert _draw_state.remembered_drawing("student-a")["pen_width"] is None, width
    huge = {"strokes": {"objects": [{"type": "path", "path": [["L", 1, 1]] * 40_000}]}, "data": small["data"]}
    _draw_state.remember_drawing("student-a", huge)
    assert _draw_state.remembered_drawing("student-a") is None
    _draw_state.remember_drawing("student-a", {"strokes": {"objects": [object()]}, "data": small["data"]})
    assert _draw_state.remembered_drawing("student-a") is None
    # Characters outside ASCII (up to 4 bytes each in memory) are no base64 data URL's; strokes nested far deeper
    # than a canvas's would break every later canvas of that student; data that is not text is no data URL.
    nested = {"objects": []}
    for _ in range(1500):
        nested = {"objects": [nested]}
    for hostile in ({**small, "data": "data:image/png;base64," + "\U0001F600" * 1000},
                    {**small, "strokes": nested}, {**small, "data": b"data:image/png;base64,AAAA"}):
        _draw_state.remember_drawing("student-a", small)
        _draw_state.remember_drawing("student-a", hostile)
        assert _draw_state.remembered_drawing("student-a") is None
    for number in range(_draw_state.REMEMBERED_STUDENTS + 1):
        _draw_state.remember_drawing(f"student-{number}", small)
    assert _draw_state.remembered_drawing("student-0") is None
    assert _draw_state.remembered_drawing(f"student-{_draw_state.REMEMBERED_STUDENTS}")["strokes"] == small["strokes"]


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
    # The width outlives a visit to another page, where Streamlit forgets the slider.
    at.switch_page("pages/inside.py").run()
    at.switch_page("pages/draw.py").run()
    assert at.slider(key="draw_pen_width").value == 30 and canvas.calls[-1]["stroke_width"] == 30
    assert not at.warning


def test_a_fashion_model_says_it_knows_clothes(trained_run, canvas, isolated_runs):
    meta_path = isolated_runs / trained_run / "run.json"
    meta = json.loads(meta_path.read_text())
    meta["dataset"] = "fashion_mnist"
    meta_path.write_text(json.dumps(meta))
    canvas.picture = drawn_one()
    at = open_draw_page()
    assert "this model knows clothes, not digits" in infos(at).lower()
    # The title over the answer asks for a picture, not a digit.
    assert [title.value for title in at.title] == [":material/draw: 4 · Draw a picture"]
    [metric] = prediction_metric(at)
    # (Its hyphen one that does not break the name over two lines, and an invisible place to break after a slash.)
    assert metric.value.replace("\u2011", "-").replace("\u200b", "") in (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                            "Bag", "Ankle boot")
    # No digit model yet: the one-click trainer is offered as well.
    assert any(button.label == TRAIN_BUTTON for button in at.button)
    # On a projector the note is one plain line, and the offer of a digit model one row beside the title, without
    # its explanation box: the canvas needs the height.
    from pages import _presenter

    at = open_page("pages/draw.py", **{_presenter.KEY: True})
    assert any(markdown.value.endswith("This model knows clothes, not digits: draw a T-shirt, a trouser or a shoe, "
                                           "and fill it in.")
               for markdown in at.markdown)
    assert "no digit model yet" not in infos(at)
    # Its label short enough to stay beside the title when the teacher opens the sidebar (1280 px); the time in
    # its tooltip.
    [offer] = [button for button in at.button if button.label == "Train the default digit model"]
    assert offer.proto.type == "primary" and "About a minute" in offer.proto.help
    assert [caption.value for caption in at.caption if "There is no digit model yet" in caption.value]


def test_a_clothes_model_asks_for_clothes_in_every_message(trained_run, canvas, isolated_runs):
    """A Fashion-MNIST model never asks for a digit: not before a stroke, on a blank canvas or in the upload."""
    from pages import _draw_input

    meta_path = isolated_runs / trained_run / "run.json"
    meta = json.loads(meta_path.read_text())
    meta["dataset"] = "fashion_mnist"
    meta_path.write_text(json.dumps(meta))
    at = open_draw_page()
    assert "Draw a piece of clothing on the canvas." in infos(at)
    canvas.picture = np.zeros((280, 280, 4), dtype=np.uint8)
    at = open_draw_page()
    assert "Draw a piece of clothing: the canvas is empty." in infos(at) and "Draw a digit" not in infos(at)
    at.radio(key=_draw_input.INPUT_KEY).set_value(_draw_input.UPLOAD_INPUT).run()
    assert "Upload a picture of a piece of clothing." in infos(at)
    assert "of a digit" not in infos(at)
    [uploader] = at.get("file_uploader")
    assert uploader.proto.label == "A picture of a piece of clothing"


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
    assert submitted["dataset"] == architectures.DEFAULT_DIGIT_DATASET == "digits_mix"
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


def test_the_one_click_progress_reruns_the_page_only_when_it_shows_something_new():
    from pages import _draw_model

    # The first epoch gives the page a model to draw with, once its model file is there (its event comes first).
    assert not _draw_model.page_needs_rerun(1, 0, drawing_on_canvas=True, model_saved=False)
    assert _draw_model.page_needs_rerun(1, 0, drawing_on_canvas=False, model_saved=True)
    # Later epochs: only while a drawing's answer would change (a rerun loads the model, time taken from the
    # training on two cores).
    assert not _draw_model.page_needs_rerun(2, 1, drawing_on_canvas=False, model_saved=True)
    assert _draw_model.page_needs_rerun(2, 1, drawing_on_canvas=True, model_saved=True)
    assert not _draw_model.page_needs_rerun(2, 2, drawing_on_canvas=True, model_saved=True)


def test_the_one_click_is_over_at_the_runs_end_event_before_its_process_exits():
    def status(state, events):
        return jobs.JobStatus("r", "o", state, "completed" if events else "running", "", 0, tuple(events))

    epoch = {"kind": "epoch", "epoch": 6}
    assert not status("running", [epoch]).over
    assert status("running", [epoch, {"kind": "end", "status": "completed"}]).over
    assert status("finished", []).over


class RunningDefaultQueue(jobs.TrainingQueue):
    """A queue that says one default digit model is training (someone else clicked), after `epochs_done` epochs of 6
    (2: at epoch 3); `ended`: it has sent its end event, with status `final`."""

    def __init__(self, run_id, ended=False, final="completed", message="", epochs_done=2):
        super().__init__()
        self.run_id, self.ended, self.final, self.message = run_id, ended, final, message
        self.epochs_done = epochs_done

    def _status(self):
        epoch = self.epochs_done + 1
        events = [{"kind": "start"}, *({"kind": "epoch", "epoch": done} for done in range(1, epoch)),
                  {"kind": "batch", "epoch": epoch, "epochs": 6, "progress": epoch / 7, "eta": 30.0,
                   "accuracy": 0.97}]
        if self.ended:
            events.append({"kind": "end", "status": self.final})
        return jobs.JobStatus(self.run_id, "someone-else", "running", self.final if self.ended else "running",
                              self.message if self.ended else "", 0, tuple(events))

    def active(self, owner=None):
        return [self._status()]

    def status(self, run_id):
        return self._status() if run_id == self.run_id else None


def open_draw_page_while_someone_trains(isolated_runs, trained_run, canvas, monkeypatch):
    """The Draw page, a one drawn on it, while someone else's default digit model trains (at epoch 3 of 6)."""
    run_id = copy_run(isolated_runs, trained_run, "20260101-000000-modern_cnn-abcdef", **AS_DEFAULT_MODEL,
                      status="running")
    monkeypatch.setattr(jobs, "_default_queue", RunningDefaultQueue(run_id))
    canvas.picture = drawn_one()
    at = open_draw_page()
    assert not at.exception, at.exception
    return at, run_id


def test_a_visitor_who_opens_draw_while_someone_trains_the_default_model_sees_its_progress(
        trained_run, canvas, isolated_runs, monkeypatch):
    at, _ = open_draw_page_while_someone_trains(isolated_runs, trained_run, canvas, monkeypatch)
    # Its first epochs' model already reads the drawing, and the training's progress is on the page.
    assert prediction_metric(at)
    [progress] = at.get("progress")
    assert "epoch 3 of 6" in progress.proto.text
    assert not any(button.label == TRAIN_BUTTON for button in at.button)


def test_a_one_click_training_stopped_by_its_student_gives_every_page_the_offer_back(
        trained_run, canvas, isolated_runs, monkeypatch):
    """Someone clicked, every untouched page followed the training, then its student stopped it after an epoch:
    the pages say why, offer the one click again, and no longer keep the stopped run as their model (the list starts
    on the class's best again)."""
    from pages import _common

    at, running = open_draw_page_while_someone_trains(isolated_runs, trained_run, canvas, monkeypatch)
    assert at.session_state[_common.RUN_KEY] == running
    meta_path = isolated_runs / running / "run.json"
    meta = json.loads(meta_path.read_text())
    meta.update(status="stopped", test=dict(meta["test"], accuracy=0.5))
    meta_path.write_text(json.dumps(meta))
    monkeypatch.setattr(jobs, "_default_queue", RunningDefaultQueue(running, ended=True, final="stopped",
                                                                     message="Stopped by its owner after epoch 1."))
    at.run()
    assert not at.exception, at.exception
    assert not at.get("progress")
    [offer] = [button for button in at.button if button.label == TRAIN_BUTTON]
    # Said in a toast, which moves nothing on the page (a message above the canvas pushed it below a projector's
    # screen).
    assert [shown(toast.value) for toast in at.toast] == [
        "The default digit model did not finish: Stopped by its owner after epoch 1."]
    assert not at.warning
    [picker] = [box for box in at.selectbox if str(box.key).startswith("draw_model_")]
    assert picker.value == trained_run != running
    # Said once: the next rerun (the next stroke) has the offer alone.
    at.run()
    assert not at.toast and any(button.label == TRAIN_BUTTON for button in at.button)


def test_what_is_above_the_canvas_keeps_its_place_from_the_click_to_the_end_of_the_one_click(
        trained_run, canvas, isolated_runs, monkeypatch):
    """From the click on, the training's place above the canvas holds its progress bar and one line under it, and the
    model list's place holds the list, empty and disabled until the first epoch's model; at the end the same bar,
    full, says what came of the training. The canvas stays where it is while a student draws (measured in Chromium:
    from the second after the click to the end it does not move, at 1280x900, on a phone and in presenter mode)."""
    import shutil

    running = copy_run(isolated_runs, trained_run, "20260101-000000-modern_cnn-abcdef", **AS_DEFAULT_MODEL,
                       status="running")
    model_file = isolated_runs / running / "model.keras"
    model_file.rename(model_file.with_name("later.keras"))
    shutil.rmtree(isolated_runs / trained_run)
    monkeypatch.setattr(jobs, "_default_queue", RunningDefaultQueue(running, epochs_done=0))
    canvas.picture = drawn_one()
    at = open_draw_page()
    assert not at.exception, at.exception

    def above_the_canvas():
        trainer = _keyed_block(at.main, "draw_trainer")
        [progress] = [node for node in _descendants(trainer) if node.type == "progress"]
        [caption] = [node.value for node in _descendants(trainer) if node.type == "caption"]
        [picker] = [box for box in at.selectbox if str(box.key).startswith("draw_model_")]
        return progress.proto, caption, picker

    progress, caption, picker = above_the_canvas()
    assert "epoch 1 of 6" in progress.text
    assert caption.startswith("A model to draw with comes after the first epoch")
    assert picker.key == "draw_model_waiting" and picker.disabled and picker.value is None
    assert not prediction_metric(at)
    assert not any(button.label == TRAIN_BUTTON for button in at.button)

    # The first epoch's event comes a moment before its model file: the words wait for the file.
    monkeypatch.setattr(jobs, "_default_queue", RunningDefaultQueue(running, epochs_done=1))
    at.run()
    assert above_the_canvas()[1].startswith("A model to draw with comes after the first epoch")
    model_file.with_name("later.keras").rename(model_file)
    at.run()
    assert not at.exception, at.exception
    progress, caption, picker = above_the_canvas()
    assert "epoch 2 of 6" in progress.text
    assert caption.startswith("You can draw already")
    assert picker.value == running and not picker.disabled
    assert prediction_metric(at)

    meta_path = isolated_runs / running / "run.json"
    meta_path.write_text(json.dumps(dict(json.loads(meta_path.read_text()), status="completed",
                                         pen_writers={"accuracy": 0.994, "count": 2498})))
    monkeypatch.setattr(jobs, "_default_queue", RunningDefaultQueue(running, ended=True))
    at.run()
    assert not at.exception, at.exception
    progress, caption, picker = above_the_canvas()
    accuracy = json.loads(meta_path.read_text())["test"]["accuracy"]
    assert progress.value == 100
    assert progress.text == (f"Digit model ready: it reads {100 * accuracy:.1f}% of MNIST test digits, 99.4% of new "
                             f"writers' digits.")
    assert caption == "It is the class's default digit model now, in every visitor's list of models."
    assert picker.value == running
    assert prediction_metric(at)
    assert not any(button.label == TRAIN_BUTTON for button in at.button)
    # It stays while the visitor draws on this page, and is noted as said: the router drops it once they leave the
    # page (`test_a_ready_bar_already_shown_is_not_drawn_again_after_a_visit_to_another_page`).
    at.run()
    assert above_the_canvas()[0].text.startswith("Digit model ready")
    from pages import _draw_state

    assert at.session_state[_draw_state.READY_SHOWN_KEY] == running
    # A page opened afterwards has nothing to keep in place: the list and the canvas alone.
    at = open_draw_page()
    assert not at.exception, at.exception
    assert not at.get("progress") and prediction_metric(at)


def test_before_any_model_the_offer_and_the_empty_list_take_the_places_of_the_training(isolated_runs, canvas):
    """No model at all: a button and one line under it where the training's bar and line will be, and the model
    list empty and disabled where its first model will be, so that the canvas does not move at the click."""
    at = open_draw_page()
    trainer = _keyed_block(at.main, "draw_trainer")
    kinds = [node.type for node in _descendants(trainer) if node.type in ("button", "caption", "alert", "progress")]
    assert kinds == ["button", "caption"]
    [offer] = [button for button in at.button if button.label == TRAIN_BUTTON]
    assert offer.proto.type == "primary"
    assert [caption.value for caption in at.caption
            if caption.value == "No digit model yet: train this one here, or any on the Train page."]
    [waiting] = [box for box in at.selectbox if box.key == "draw_model_waiting"]
    assert waiting.disabled and waiting.value is None and waiting.proto.placeholder.startswith("None yet")
    assert not at.info or "no digit model" not in infos(at).lower()


def test_a_one_click_the_queue_no_longer_knows_gives_the_offer_back_with_the_reason(trained_run, canvas):
    """The page's own click, forgotten by the queue (a restarted server, a run deleted): a warning, the offer again,
    and no empty model list waiting for a model that will not come."""
    from pages import _draw_model

    canvas.picture = drawn_one()
    at = open_page("pages/draw.py", **{_draw_model.TRAINING_KEY: "20260101-000000-modern_cnn-gone00"})
    assert not at.exception, at.exception
    assert [shown(warning.value) for warning in at.warning] == [
        "That training is no longer running (the server restarted, or it was deleted). Start it again."]
    assert not at.get("progress")
    assert not [box for box in at.selectbox if box.key == "draw_model_waiting"]
    assert any(button.label.startswith("Train the default digit model") for button in at.button)
    assert prediction_metric(at)


def test_a_page_with_models_is_not_told_it_has_none_to_draw_with_before_the_first_epoch(
        trained_run, canvas, isolated_runs, monkeypatch):
    running = copy_run(isolated_runs, trained_run, "20260101-000000-modern_cnn-abcdef", **AS_DEFAULT_MODEL,
                       status="running")
    (isolated_runs / running / "model.keras").unlink()
    monkeypatch.setattr(jobs, "_default_queue", RunningDefaultQueue(running, epochs_done=0))
    canvas.picture = drawn_one()
    at = open_draw_page()
    assert not at.exception, at.exception
    assert "Its model comes into the list below after the first epoch." in [caption.value for caption in at.caption]
    [picker] = [box for box in at.selectbox if str(box.key).startswith("draw_model_")]
    assert picker.value == trained_run and not picker.disabled
    assert prediction_metric(at)


def test_a_student_whose_model_was_deleted_is_told_which_model_the_page_uses_now(trained_run, canvas, isolated_runs):
    import shutil

    from pages import _common

    doomed = copy_run(isolated_runs, trained_run, "20260101-000000-cnn-d00b3d", name="My *own* model")
    canvas.picture = drawn_one()
    at = open_page("pages/draw.py", **{_common.RUN_KEY: doomed})
    assert not at.exception, at.exception
    assert not at.toast
    shutil.rmtree(isolated_runs / doomed)  # the teacher deletes it
    at.run()
    assert not at.exception, at.exception
    [picker] = [box for box in at.selectbox if str(box.key).startswith("draw_model_")]
    assert picker.value == trained_run
    label = runs.RunStore().get(trained_run).label
    assert [shown(toast.value) for toast in at.toast] == [
        f"The model this page was using has been deleted: it now shows {label}."]
    assert prediction_metric(at)
    at.run()
    assert not at.toast


def test_a_training_on_the_same_data_with_other_settings_is_not_shown_as_the_default_models(
        trained_run, canvas, isolated_runs, monkeypatch):
    """A student's one-epoch ANN on the MNIST sample + pen digits, training on the Train page: the Draw page keeps
    its offer and nobody follows that training."""
    running = copy_run(isolated_runs, trained_run, "20260101-000000-ann-abcdef",
                       dataset=architectures.DEFAULT_DIGIT_DATASET, architecture="ann",
                       hyperparameters={"epochs": 1, "hidden_units": 10}, status="running")
    monkeypatch.setattr(jobs, "_default_queue", RunningDefaultQueue(running))
    canvas.picture = drawn_one()
    at = open_draw_page()
    assert not at.exception, at.exception
    assert not at.get("progress")
    assert any(button.label == TRAIN_BUTTON for button in at.button)
    # Nor is a copy of the one click's exact settings started on the Train page: only the one click's own run.
    copied = copy_run(isolated_runs, trained_run, "20260101-000000-modern_cnn-c0ffee",
                      **dict(AS_DEFAULT_MODEL, one_click=None), status="running")
    monkeypatch.setattr(jobs, "_default_queue", RunningDefaultQueue(copied))
    at = open_draw_page()
    assert not at.exception, at.exception
    assert not at.get("progress")
    assert any(button.label == TRAIN_BUTTON for button in at.button)


def test_a_page_that_offers_the_one_click_sees_what_others_change(trained_run, isolated_runs, monkeypatch):
    """What the offer's watcher compares every few seconds (its rerun is tried in Chromium in
    tests/test_browser_sessions.py): someone's one click starting, and, on a page without a model, any model saved."""
    from pages import _draw_model

    nothing_yet = _draw_model._what_the_page_shows(has_model=False)
    assert nothing_yet == _draw_model._what_the_page_shows(has_model=False)
    assert _draw_model._what_the_page_shows(has_model=True) == (None,)
    copy_run(isolated_runs, trained_run, "20260101-000000-cnn-123456")
    assert _draw_model._what_the_page_shows(has_model=False) != nothing_yet
    # A model saved elsewhere changes nothing on a page that has one to draw with; a one click starting does.
    assert _draw_model._what_the_page_shows(has_model=True) == (None,)
    running = copy_run(isolated_runs, trained_run, "20260101-000000-modern_cnn-abcdef", **AS_DEFAULT_MODEL,
                       status="running")
    monkeypatch.setattr(jobs, "_default_queue", RunningDefaultQueue(running))
    assert _draw_model._what_the_page_shows(has_model=True) == (running,)


def test_someone_elses_one_click_does_not_switch_a_student_who_chose_another_model(
        trained_run, canvas, isolated_runs, monkeypatch):
    """A student drawing clothes for the clothes model keeps it while another visitor's click trains the digit
    model: the new model waits in the list. (A visitor with no model yet follows the training, as before.)"""
    clothes = copy_run(isolated_runs, trained_run, "20250101-000000-cnn-c10735", dataset="fashion_mnist")
    at, running = open_draw_page_while_someone_trains(isolated_runs, trained_run, canvas, monkeypatch)
    [picker] = [box for box in at.selectbox if str(box.key).startswith("draw_model_")]
    assert picker.value == running
    # (The training's progress is drawn above the picker: it sees the choice from the next run on, 2 s later.)
    picker.set_value(clothes).run()
    for _ in range(2):
        at.run()
        assert not at.exception, at.exception
        [picker] = [box for box in at.selectbox if str(box.key).startswith("draw_model_")]
        assert picker.value == clothes
        assert [title.value for title in at.title] == [":material/draw: 4 · Draw a picture"]
        assert any("choose it in the list below" in caption.value for caption in at.caption)


def test_a_visitor_shown_another_model_with_nothing_drawn_follows_someone_elses_one_click(
        trained_run, canvas, isolated_runs, monkeypatch):
    """The list started on the clothes model (the only one) and the student drew nothing and picked nothing: the
    new digit model is theirs as soon as it exists."""
    from pages import _common

    clothes = copy_run(isolated_runs, trained_run, "20250101-000000-cnn-c10735", dataset="fashion_mnist")
    running = copy_run(isolated_runs, trained_run, "20260101-000000-modern_cnn-abcdef", **AS_DEFAULT_MODEL,
                       status="running")
    monkeypatch.setattr(jobs, "_default_queue", RunningDefaultQueue(running))
    canvas.picture = None
    at = open_page("pages/draw.py", **{_common.RUN_KEY: clothes})
    at.run()
    assert not at.exception, at.exception
    [picker] = [box for box in at.selectbox if str(box.key).startswith("draw_model_")]
    assert picker.value == running
    assert [title.value for title in at.title] == [":material/draw: 4 · Draw a digit"]


def test_a_default_training_that_sent_its_end_event_is_a_finished_model_not_a_progress_bar(
        trained_run, canvas, isolated_runs, monkeypatch):
    run_id = copy_run(isolated_runs, trained_run, "20260101-000000-modern_cnn-abcdef", **AS_DEFAULT_MODEL)
    monkeypatch.setattr(jobs, "_default_queue", RunningDefaultQueue(run_id, ended=True))
    canvas.picture = drawn_one()
    at = open_draw_page()
    assert not at.exception, at.exception
    assert not at.get("progress")
    assert prediction_metric(at)
    assert not any(button.label == TRAIN_BUTTON for button in at.button)


def test_after_a_small_model_from_the_train_page_the_default_digit_model_is_still_offered(trained_run, canvas,
                                                                                         isolated_runs):
    # The lesson's order: Train first, then Draw. The small model reads drawings, and the one click that trains
    # the model that reads people's handwriting best stays on offer, second to the model already there.
    canvas.picture = drawn_one()
    at = open_draw_page()
    assert not at.exception, at.exception
    assert prediction_metric(at)
    [train] = [button for button in at.button if button.label == TRAIN_BUTTON]
    assert train.proto.type == "secondary"
    assert any("reads people's handwriting best" in caption.value for caption in at.caption)
    # A default training the teacher stopped after an epoch is a model to draw with, but not the default one:
    # the offer stays.
    copy_run(isolated_runs, trained_run, "20260101-000000-modern_cnn-000000",
             dataset=architectures.DEFAULT_DIGIT_DATASET, status="stopped")
    at.run()
    assert not at.exception, at.exception
    assert any(button.label == TRAIN_BUTTON for button in at.button)
    # So does a finished model on the same data with other settings: a student's one-epoch try on the Train page
    # is not the model that reads handwriting best.
    copy_run(isolated_runs, trained_run, "20260101-000000-ann-000000", dataset=architectures.DEFAULT_DIGIT_DATASET,
             architecture="ann", hyperparameters={"epochs": 1})
    quick = dict(AS_DEFAULT_MODEL, hyperparameters=dict(AS_DEFAULT_MODEL["hyperparameters"], epochs=1))
    copy_run(isolated_runs, trained_run, "20260101-000000-modern_cnn-111111", **quick)
    # Nor a model fine-tuned from a default one on other images (its settings are the same).
    copy_run(isolated_runs, trained_run, "20260101-000000-modern_cnn-222222",
             **dict(AS_DEFAULT_MODEL, fine_tuned_from="20250101-000000-modern_cnn-abcdef"))
    at.run()
    assert not at.exception, at.exception
    assert any(button.label == TRAIN_BUTTON for button in at.button)
    # Once a default digit model exists (whatever its seed), the offer is gone: trained to its last epoch with the
    # default settings, by the one click or not (one trained before the one click marked its runs, say).
    copy_run(isolated_runs, trained_run, "20260101-000000-modern_cnn-abcdef",
             **dict(AS_DEFAULT_MODEL, one_click=None,
                    hyperparameters=dict(AS_DEFAULT_MODEL["hyperparameters"], seed=7)))
    at.run()
    assert not at.exception, at.exception
    assert not any(button.label == TRAIN_BUTTON for button in at.button)


# --- below the answer: votes, robustness sliders, saving, and the drawing other pages look at ---------------

from core import class_set, inference, preprocess, robustness  # noqa: E402

RECIPE_TAB = ":material/transform: How it becomes 28 × 28"
BEND_TAB = ":material/tune: Bend the drawing"
VOTES_TAB = ":material/how_to_vote: Every model votes"
SAVE_TAB = ":material/bookmark_add: Save with its true label"
WHY_TAB = ":material/psychology_alt: Why?"


# run.json fields that make a copied run the one click's default digit model.
AS_DEFAULT_MODEL = {
    "one_click": True,
    "dataset": architectures.DEFAULT_DIGIT_DATASET, "architecture": architectures.DEFAULT_DIGIT_ARCHITECTURE,
    "hyperparameters": architectures.resolve_hyperparameters(architectures.DEFAULT_DIGIT_ARCHITECTURE,
                                                             architectures.DEFAULT_DIGIT_HYPERPARAMETERS),
}


def copy_run(runs_folder, run_id, new_id, **meta_changes):
    """Another run with the same model file, its own id, and the given run.json fields changed."""
    import shutil

    shutil.copytree(runs_folder / run_id, runs_folder / new_id)
    meta_path = runs_folder / new_id / "run.json"
    meta = json.loads(meta_path.read_text())
    meta.update(id=new_id, **meta_changes)
    meta_path.write_text(json.dumps(meta))
    return new_id


def open_tab(at, label):
    at.session_state["draw_tab"] = label
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def model_inputs(monkeypatch):
    """Every image a Predictor is asked to read during the test, in order."""
    seen = []
    original = inference.Predictor.predict

    def recording_predict(self, image):
        seen.append(np.array(image))
        return original(self, image)

    monkeypatch.setattr(inference.Predictor, "predict", recording_predict)
    return seen


def image_captions(at) -> list[str]:
    return [caption for image in at.image for caption in image.captions]


def markdown_text(at) -> str:
    return " ".join(element.value for element in at.markdown)


def test_a_drawing_is_shared_with_the_other_pages_and_the_inside_page_is_one_click_away(trained_run, canvas):
    canvas.picture = drawn_one()
    at = open_draw_page()
    np.testing.assert_array_equal(at.session_state["current_drawing"], preprocess.preprocess(drawn_one()).image)
    assert any(link.label == "See inside the network" for link in at.get("page_link"))
    # The four tabs are there; only the recipe, open by default, has run.
    assert [tab.label for tab in at.tabs] == [RECIPE_TAB, BEND_TAB, VOTES_TAB, WHY_TAB, SAVE_TAB]
    assert len(at.dataframe) == 0 and len(at.toggle) == 0

    canvas.picture = np.zeros((280, 280, 4), dtype=np.uint8)
    at.run()
    assert at.session_state["current_drawing"] is None


def test_every_compatible_model_votes_and_a_disagreement_is_named(trained_run, canvas, isolated_runs,
                                                                 monkeypatch):
    second = copy_run(isolated_runs, trained_run, "20991231-000000-ann-aaaaaa", name="Dense one",
                      architecture="ann")
    copy_run(isolated_runs, trained_run, "20991231-000000-cnn-bbbbbb", name="Clothes", dataset="fashion_mnist")
    # The copy holds the same CNN, so make it see a 7 wherever the real model sees a 1.
    original_get_predictor = inference.get_predictor

    class SeesSevens:
        input_shape = (28, 28)

        def predict(self, image):
            probabilities = np.full(10, 0.02, dtype=np.float32)
            probabilities[7] = 0.82
            return probabilities

    monkeypatch.setattr(inference, "get_predictor", lambda store, run_id: SeesSevens() if run_id == second
                        else original_get_predictor(store, run_id))
    canvas.picture = drawn_one()
    at = open_tab(open_page("pages/draw.py", run_id=trained_run), VOTES_TAB)

    [table] = at.dataframe
    rows = table.value
    # Every digit model votes, the chosen one first; the clothes model does not vote on a digit.
    assert list(rows["Model"]) == ["test cnn  ← chosen", "Dense one"]
    assert list(rows["Architecture"]) == ["CNN: one convolution", "ANN: one hidden layer"]
    assert list(rows["Prediction"]) == ["1", "7"]
    assert rows["Confidence"][1] == pytest.approx(82.0)  # percent, shown with one decimal
    assert "1 of 2 models say **1**; Dense one says 7." in markdown_text(at)
    assert any("Rows in red do not say 1 (the answer at the top)" in caption.value for caption in at.caption)

    # A student who says the drawing is really a 7 turns the table around.
    open_tab(at, SAVE_TAB).segmented_control[0].set_value(7).run()
    open_tab(at, VOTES_TAB)
    assert "1 of 2 models say **7**; test cnn says 1." in markdown_text(at)
    assert any("(the true label chosen in the Save tab)" in caption.value for caption in at.caption)


def test_the_sliders_bend_the_image_given_to_the_model_and_reset_puts_it_back(trained_run, canvas, model_inputs):
    canvas.picture = drawn_one()
    at = open_tab(open_draw_page(), BEND_TAB)
    prepared = preprocess.preprocess(drawn_one()).image
    np.testing.assert_array_equal(model_inputs[-1], prepared)

    model_inputs.clear()
    at.slider(key="draw_bend_shift_x").set_value(6).run()
    at.slider(key="draw_bend_rotation").set_value(90).run()
    assert not at.exception
    expected = robustness.apply(prepared, robustness.Transform(shift_x=6, rotation=90))
    np.testing.assert_array_equal(model_inputs[-1], expected)
    # The caption under the bent image says what was done, and the page's own answer is still the drawing's.
    assert "Moved 6 px right, turned 90° left" in image_captions(at)
    assert [metric.value for metric in prediction_metric(at)] == ["1"]
    np.testing.assert_array_equal(at.session_state["current_drawing"], prepared)

    [reset] = [button for button in at.button if button.label == "Reset"]
    reset.click().run()
    assert at.slider(key="draw_bend_shift_x").value == 0 and at.slider(key="draw_bend_rotation").value == 0
    np.testing.assert_array_equal(model_inputs[-1], prepared)


def test_the_naive_toggle_gives_the_model_the_squeezed_canvas(trained_run, canvas, model_inputs):
    canvas.picture = drawn_one()
    at = open_tab(open_draw_page(), BEND_TAB)
    at.toggle(key="draw_bend_naive").set_value(True).run()
    assert not at.exception
    np.testing.assert_array_equal(model_inputs[-1], preprocess.naive_resize(drawn_one()))
    assert "Squeezed without the recipe" in image_captions(at)


def test_the_votes_are_cast_on_the_bent_image(trained_run, canvas, isolated_runs, model_inputs):
    copy_run(isolated_runs, trained_run, "20991231-000000-ann-cccccc", name="Dense one", architecture="ann")
    canvas.picture = drawn_one()
    at = open_tab(open_draw_page(), BEND_TAB)
    at.slider(key="draw_bend_shift_y").set_value(-5).run()
    model_inputs.clear()
    open_tab(at, VOTES_TAB)
    expected = robustness.apply(preprocess.preprocess(drawn_one()).image, robustness.Transform(shift_y=-5))
    # The page's own answer reads the drawing, then both voters read the bent image.
    assert len(model_inputs) == 3
    for image in model_inputs[1:]:
        np.testing.assert_array_equal(image, expected)
    assert len(at.dataframe[0].value) == 2


def test_saving_adds_the_drawing_with_the_chosen_label_to_the_class_set(trained_run, canvas, tmp_path):
    canvas.picture = drawn_one()
    at = open_tab(open_draw_page(), SAVE_TAB)
    [label] = at.segmented_control
    assert label.value == 1  # the model's answer, until a student corrects it
    label.set_value(7).run()
    assert any("correcting the model" in caption.value for caption in at.caption)
    [save] = [button for button in at.button if button.label == "Save to the class drawings"]
    save.click().run()
    assert not at.exception, at.exception

    images, labels = class_set.ClassSet(tmp_path / "drawings").images_and_labels()
    assert labels.tolist() == [7]
    # The MNIST-style image is saved, whatever the sliders say.
    np.testing.assert_array_equal(images[0], preprocess.preprocess(drawn_one()).image)
    assert "Saved as a **7**" in at.success[0].value and "1 drawing." in at.success[0].value
    assert any(link.label == "See the class drawings" for link in at.get("page_link"))
    # The same drawing with the same label is not saved twice by a second click.
    [save] = [button for button in at.button if button.key == "draw_save"]
    assert save.label == "Saved" and save.disabled

    # A student who changes their mind replaces the saved label rather than adding a second copy.
    at.segmented_control[0].set_value(4).run()
    [save] = [button for button in at.button if button.key == "draw_save"]
    assert save.label == "Save as 4 instead" and not save.disabled
    save.click().run()
    assert not at.exception, at.exception
    assert class_set.ClassSet(tmp_path / "drawings").images_and_labels()[1].tolist() == [4]
    # Removed meanwhile (the Class drawings page, by the student or the teacher): the page no longer says it is
    # saved, and offers to save it again.
    drawings = class_set.ClassSet(tmp_path / "drawings")
    drawings.add(np.zeros((28, 28), np.uint8), 0)
    at.run()
    assert "2 drawings." in at.success[0].value
    drawings.remove(drawings.drawings()[0].id)
    at.run()
    assert [button.label for button in at.button if button.key == "draw_save"] == ["Save to the class drawings"]
    assert not at.success


def test_a_reloaded_drawing_already_saved_says_so_instead_of_saving_a_second_copy(trained_run, canvas, tmp_path):
    """A reload brings the student's last drawing back (a new session): if they had saved it, the Save tab says so,
    with the label they chose, rather than offering to put a second copy in the class's test set."""
    from pages import _common, _draw_state

    canvas.picture = drawn_one()
    at = open_tab(open_page("pages/draw.py", **{_common.OWNER_KEY: "student-a"}), SAVE_TAB)
    at.segmented_control[0].set_value(7).run()
    [save] = [button for button in at.button if button.label == "Save to the class drawings"]
    save.click().run()
    value = _canvas_value(drawn_one())
    drawing = {"strokes": value["drawing"]["raw"], "data": value["drawing"]["data"]}
    _draw_state.remember_drawing("student-a", drawing)
    # The reload: the canvas starts with the drawing and sends nothing until the next stroke.
    canvas.picture = None
    reloaded = open_tab(open_page("pages/draw.py", **{_common.OWNER_KEY: "student-a"}), SAVE_TAB)
    assert canvas.calls[-1]["initial_drawing"] == value["drawing"]["raw"]
    [save] = [button for button in reloaded.button if button.key == "draw_save"]
    assert save.label == "Saved" and save.disabled
    assert reloaded.segmented_control[0].value == 7
    assert "Saved as a **7**" in reloaded.success[0].value
    # Changing their mind still replaces the one copy.
    reloaded.segmented_control[0].set_value(1).run()
    [save] = [button for button in reloaded.button if button.key == "draw_save"]
    save.click().run()
    assert class_set.ClassSet(tmp_path / "drawings").images_and_labels()[1].tolist() == [1]
    # Two tabs of one student bring the same drawing back, and both offer to save it (each looked before either
    # saved): saved in one, then in the other, the class set keeps one copy.
    _draw_state.remember_drawing("student-c", drawing)
    first, second = (open_tab(open_page("pages/draw.py", **{_common.OWNER_KEY: "student-c"}), SAVE_TAB)
                     for _ in range(2))
    for tab in (first, second):
        [save] = [button for button in tab.button if button.key == "draw_save"]
        assert save.label == "Save to the class drawings"
        save.click().run()
        assert not tab.exception, tab.exception
    assert len(class_set.ClassSet(tmp_path / "drawings").saved_by("student-c", preprocess.preprocess(drawn_one())
                                                                     .image)) == 1
    [save] = [button for button in second.button if button.key == "draw_save"]
    assert save.label == "Saved" and save.disabled
    # Another student with the very same drawing brought back has saved nothing: theirs is offered.
    _draw_state.remember_drawing("student-b", drawing)
    other = open_tab(open_page("pages/draw.py", **{_common.OWNER_KEY: "student-b"}), SAVE_TAB)
    assert [button.label for button in other.button if button.key == "draw_save"] == ["Save to the class drawings"]


def test_a_drawing_that_cannot_be_saved_says_why(trained_run, canvas, tmp_path):
    # The drawings folder is a file: nothing can be written in it.
    (tmp_path / "drawings").write_text("not a folder")
    canvas.picture = drawn_one()
    at = open_tab(open_draw_page(), SAVE_TAB)
    [save] = [button for button in at.button if button.key == "draw_save"]
    save.click().run()
    assert not at.exception, at.exception
    [error] = at.error
    assert "could not be saved" in error.value
    assert len(at.success) == 0


def test_a_clothes_model_offers_no_saving_into_the_digit_set(trained_run, canvas, isolated_runs):
    meta_path = isolated_runs / trained_run / "run.json"
    meta = json.loads(meta_path.read_text())
    meta["dataset"] = "fashion_mnist"
    meta_path.write_text(json.dumps(meta))
    canvas.picture = drawn_one()
    at = open_tab(open_draw_page(), SAVE_TAB)
    assert "choose a digit model" in infos(at).lower()
    assert not any(button.label == "Save to the class drawings" for button in at.button)


@pytest.mark.parametrize("tab", [VOTES_TAB, SAVE_TAB, BEND_TAB])
def test_a_blank_canvas_offers_no_votes_no_sliders_and_no_saving(trained_run, canvas, tab):
    canvas.picture = np.zeros((280, 280, 4), dtype=np.uint8)
    at = open_tab(open_draw_page(), tab)
    assert len(at.tabs) == 0 and len(at.dataframe) == 0
    assert not any(button.label == "Save to the class drawings" for button in at.button)
    assert [slider.key for slider in at.slider] == ["draw_pen_width"]
    assert at.session_state["current_drawing"] is None


def test_the_open_tab_comes_back_after_clearing_the_canvas(trained_run, canvas):
    canvas.picture = drawn_one()
    at = open_tab(open_draw_page(), BEND_TAB)
    at.slider(key="draw_bend_shift_x").set_value(3).run()
    # Clear: the canvas is blank, the tabs go away.
    canvas.picture = None
    at.run()
    assert len(at.tabs) == 0
    # The next drawing opens the same tab, with the sliders where they were.
    canvas.picture = drawn_one()
    at.run()
    assert not at.exception, at.exception
    assert at.session_state["draw_tab"] == BEND_TAB
    assert at.slider(key="draw_bend_shift_x").value == 3


def test_with_more_models_than_the_table_takes_the_newest_vote_and_the_rest_are_counted(trained_run, canvas,
                                                                                      isolated_runs, monkeypatch):
    monkeypatch.setattr(inference, "MAX_VOTERS", 2)
    copy_run(isolated_runs, trained_run, "20991231-000000-ann-dddddd", name="Newest")
    copy_run(isolated_runs, trained_run, "20000101-000000-ann-eeeeee", name="Oldest")
    canvas.picture = drawn_one()
    at = open_tab(open_page("pages/draw.py", run_id=trained_run), VOTES_TAB)
    assert list(at.dataframe[0].value["Model"]) == ["test cnn  ← chosen", "Newest"]
    assert any("2 models vote, the chosen one and the newest; 1 older one is left out" in caption.value
               for caption in at.caption)


def test_a_thin_ones_crop_is_shown_whole_in_a_square_like_the_other_stages():
    from pages import _draw_tabs

    crop = np.full((221, 7), 255, dtype=np.uint8)  # a thin 1, cropped: 221 pixels high, 7 wide
    shown = _draw_tabs._in_square(crop, 0, fill=_draw_tabs.CROP_MARGIN)
    assert shown.shape == (221, 221)
    assert (shown[:, 107:114] == 255).all()  # the ink, centred
    assert (shown[:, :107] == _draw_tabs.CROP_MARGIN).all() and (shown[:, 114:] == _draw_tabs.CROP_MARGIN).all()
    # The fitted 20 x 20 stage keeps its black box.
    assert _draw_tabs._in_square(np.full((20, 3), 255, dtype=np.uint8), 20).shape == (20, 20)


def test_the_one_click_progress_is_one_short_line_on_a_projector():
    """Beside the title in presenter mode the words stay short (the canvas under them must not move as they
    change); elsewhere they say what is going on in full."""
    from types import SimpleNamespace

    from pages import _draw_model

    batch = {"epoch": 3, "epochs": 6, "progress": 0.4, "eta": 27.0, "accuracy": 0.972}
    running = SimpleNamespace(state="running", latest_batch=batch, queue_position=None)
    assert _draw_model.progress_line(running, 2, short=True) == (0.4, "Digit model: epoch 3 of 6 · 97.2% right · "
                                                                      "27 s left")
    assert _draw_model.progress_line(running, 2) == (0.4, "Training the default digit model: epoch 3 of 6 · "
                                                          "accuracy 97.2% · about 27 s left")
    # A visitor who keeps another model reads that this one waits in their list (the caption is hidden there).
    assert _draw_model.progress_line(running, 2, short=True, in_list=True)[1] == (
        "In your model list: epoch 3 of 6 · 97.2% right · 27 s left")
    estimating = SimpleNamespace(state="running", latest_batch=dict(batch, eta=None, epoch=1), queue_position=None)
    assert _draw_model.progress_line(estimating, 0, short=True)[1] == "Digit model: epoch 1 of 6 · 97.2% right · …"
    queued = SimpleNamespace(state="queued", latest_batch=None, queue_position=2)
    assert _draw_model.progress_line(queued, 0, short=True) == (0.0, "Digit model: starting (number 2 in the queue)…")
    done = SimpleNamespace(state="running", latest_batch=dict(batch, epoch=6), queue_position=None)
    value, words = _draw_model.progress_line(done, 6, short=True)
    assert value == 1.0 and len(words) < 45
    assert max(len(_draw_model.progress_line(status, 2, short=True)[1]) for status in (running, estimating)) <= 52
