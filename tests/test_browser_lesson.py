"""Real-browser tests of what a class trips over: a drawing made while the one-click model trains, the phone.

- A student draws while the Draw page's one-click default digit model trains: the first stroke before the
  model exists, the second after the first epoch (when the page reruns and the model picker appears). When the
  training ends, both strokes must still be on the canvas and the page must read them, and the model picker
  must no longer say "still training".
- On a 390x844 touch screen a finger draws a digit (real touch events through the DevTools protocol): the
  answer must appear within the first screen, without scrolling.

Run them alone with `python -m pytest -m browser tests/test_browser_lesson.py`.
"""

import re
import time

import pytest
from test_browser import (
    CANVAS,
    DEFAULT_MODEL_TIMEOUT_S,
    idle,
    open_page,
    prediction_metric,
    shown_prediction,
    stroke,
    wait_for_the_one_click_to_finish,
)

from conftest import wait_for_app

pytestmark = pytest.mark.browser

# The canvas keeps finished strokes on its lower layer (the upper one holds only the stroke being drawn).
INK_SCRIPT = """
(canvas, band) => {
  const context = canvas.getContext("2d");
  const scale = canvas.width / canvas.clientWidth;
  const data = context.getImageData(0, band[0] * scale, canvas.width, (band[1] - band[0]) * scale).data;
  let ink = 0;
  for (let index = 0; index < data.length; index += 4) { if (data[index] > 128) { ink += 1; } }
  return ink;
}
"""


def ink(page, top: int, bottom: int) -> int:
    """How many white pixels the canvas holds between the heights `top` and `bottom` (canvas pixels)."""
    return page.locator("canvas.dc-canvas.lower-canvas").evaluate(INK_SCRIPT, [top, bottom])


@pytest.fixture
def page(browser_page, tmp_path):
    yield browser_page
    browser_page.screenshot(path=str(tmp_path / "last-screen.png"), full_page=True)


def test_a_drawing_made_during_the_one_click_training_survives_its_end(app_url, page):
    # A 1280x800 projector: the whole canvas stays on the screen, under the training's bar and its line.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(app_url)
    wait_for_app(page)
    open_page(page, "draw")
    before_the_click = page.locator(CANVAS).bounding_box()["y"]
    page.get_by_role("button", name="Train the default digit model").click()
    progress = page.locator("[data-testid='stProgress']")
    progress.first.wait_for(timeout=60_000)
    idle(page)

    # The crossbar of a 7, before there is any model.
    stroke(page, [(70, 60), (210, 60)])
    idle(page)
    assert ink(page, 50, 70) > 100

    # After the first epoch the page reruns with a model to read drawings: the down stroke of the 7.
    page.get_by_text("You can draw already").wait_for(timeout=DEFAULT_MODEL_TIMEOUT_S * 1000)
    idle(page)
    assert ink(page, 50, 70) > 100, "The first stroke vanished when the first epoch ended."
    canvas_top = page.locator(CANVAS).bounding_box()["y"]
    # The button and its line gave way to the bar and its line, the empty list to the model: nothing moved.
    assert canvas_top == pytest.approx(before_the_click, abs=1)
    assert canvas_top + page.locator(CANVAS).bounding_box()["height"] <= 800
    stroke(page, [(210, 60), (120, 240)])
    idle(page)

    # Its bar, full, says what came of it, in the same place: the canvas has not moved since the first epoch.
    wait_for_the_one_click_to_finish(page)
    assert page.locator(CANVAS).bounding_box()["y"] == pytest.approx(canvas_top, abs=1)
    # It is the class's default digit model now: the offer is gone.
    assert page.get_by_role("button", name="Train the default digit model").count() == 0

    # Both strokes are still on the canvas, and the page reads what is there.
    assert ink(page, 50, 70) > 100, "The crossbar vanished when the training ended."
    assert ink(page, 200, 240) > 50, "The down stroke vanished when the training ended."
    assert prediction_metric(page).count() == 1
    assert shown_prediction(page) == "7"
    picker = page.locator("[data-testid='stSelectbox']").filter(has_text="Model")
    # Its test score in front instead. (What the select box shows is its input's value, not its text.)
    shown = picker.locator("input").input_value()
    assert "still training" not in shown and re.match(r"\d+\.\d% · ", shown), shown

    # The "ready" bar is said once: back from another page, the Draw page has the list and the canvas alone.
    open_page(page, "results")
    open_page(page, "draw")
    page.wait_for_selector(CANVAS)
    idle(page)
    assert page.locator("[data-testid='stProgress']").count() == 0
    assert prediction_metric(page).count() == 1


PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone():
    """A Chromium page on a 390x844 touch screen, and its DevTools session for real touch events."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    from bench import app_server

    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=app_server.CHROMIUM, args=app_server.CHROMIUM_ARGS)
        context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True, device_scale_factor=2)
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page, context.new_cdp_session(page)
        browser.close()


def finger_stroke(page, devtools, points) -> None:
    """One stroke of a finger through `points` (canvas pixels), as touchStart, touchMove... and touchEnd."""
    box = page.locator(CANVAS).bounding_box()
    assert box is not None and box["width"] >= 279, box

    def touch(kind, point=None):
        touch_points = [] if point is None else [{"x": box["x"] + point[0], "y": box["y"] + point[1]}]
        devtools.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touch_points})

    touch("touchStart", points[0])
    for start, end in zip(points, points[1:]):
        for step in range(1, 11):
            fraction = step / 10
            touch("touchMove", (start[0] + (end[0] - start[0]) * fraction, start[1] + (end[1] - start[1]) * fraction))
            time.sleep(0.01)
    touch("touchEnd")


# Also in presenter mode: a student opens the teacher's shared presenter link on a phone.
@pytest.mark.parametrize("address", ["/draw", "/draw?presenter=on"])
def test_on_a_phone_a_finger_draws_and_the_answer_is_on_the_first_screen(trained_run, app_url, phone, address):
    page, devtools = phone
    page.goto(app_url.rstrip("/") + address)
    wait_for_app(page)
    page.wait_for_selector(CANVAS)
    time.sleep(1.0)
    # A "1" drawn with a finger: one stroke down the middle.
    finger_stroke(page, devtools, [(140, 40), (140, 240)])
    idle(page)
    assert shown_prediction(page).isdigit()
    box = prediction_metric(page).bounding_box()
    assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= PHONE["height"], box


def test_no_label_or_caption_is_cut_at_1024_px(trained_run, app_url, browser_page):
    """Every page at 1024 px, with a trained model to show: no text of the app ends cut with an ellipsis."""
    from scripts import screens

    page = browser_page
    page.set_viewport_size({"width": 1024, "height": 900})
    cut = {}
    for path in screens.PAGES:
        page.goto(f"{app_url.rstrip('/')}/{path}")
        wait_for_app(page)
        if path == "draw":
            stroke(page, [(140, 40), (140, 240)])
            shown_prediction(page)
        time.sleep(1.5)
        found = page.evaluate(screens.CUT_TEXT_SCRIPT)
        if found:
            cut[path or "home"] = found
    assert not cut, cut
