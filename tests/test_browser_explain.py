"""Real-browser test of "Why did it say that?": draw a digit with the mouse, then open every explanation.

A small CNN trained once per session (conftest's `trained_run`) and a small ANN trained last (so the Draw page
picks it) are in the runs folder; the test draws a 1 on the real canvas, opens the Draw page's "Why?" tab and
each of its views (where it looks, cover it up, with a click on the occlusion map, fool the model with every
model's vote, the map with the drawing as a star), then the Inside page's filter pictures and map. With
NEURAL_CANVAS_SCREENSHOTS set to a folder, it saves a screenshot of each view there (the README's pictures come
from it).

    NEURAL_CANVAS_SCREENSHOTS=docs python -m pytest -m browser tests/test_browser_explain.py
"""

import os
import time
from pathlib import Path

import pytest
from test_browser import CANVAS, draw_digit, idle, open_page, shown_prediction

pytestmark = pytest.mark.browser


@pytest.fixture
def small_map(monkeypatch):
    # A map of 300 test images is made in seconds; the app started after this fixture inherits the setting.
    monkeypatch.setenv("NEURAL_CANVAS_MAP_IMAGES", "300")


@pytest.fixture
def an_ann_too(trained_run, isolated_runs):
    """A small ANN beside the CNN, trained last, so the Draw page picks it (the newest) and both vote."""
    from core import runs, training

    meta = training.train("mnist_sample", "ann", {"epochs": 2, "seed": 1}, store=runs.RunStore(isolated_runs),
                          name="test ann", limit_train=4000)
    assert meta["status"] == "completed"


def shot(page, name: str, element=None) -> None:
    folder = os.environ.get("NEURAL_CANVAS_SCREENSHOTS")
    if not folder:
        return
    time.sleep(1.0)  # charts draw a moment after the script has finished
    path = Path(folder) / f"{name}.png"
    if element is not None:
        element.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True)


def main_text(page) -> str:
    return page.locator("[data-testid='stMain']").inner_text()


def choose_view(page, name: str) -> None:
    page.locator("[data-testid='stButtonGroup'] button").filter(has_text=name).first.click()
    idle(page)


def wait_for_text(page, text: str, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while text not in main_text(page):
        assert time.time() < deadline, f"{text!r} did not appear within {timeout} s."
        time.sleep(0.5)
        idle(page)


def why_tab(page):
    return page.locator("[data-testid='stTabs'] [role='tabpanel']").filter(has_text="Where it looks").first


def test_draw_a_digit_then_see_why_the_model_says_it(small_map, an_ann_too, app_url, browser_page):
    page = browser_page
    page.goto(app_url)
    idle(page)
    open_page(page, "draw")
    page.wait_for_selector(CANVAS)
    draw_digit(page, 1)
    answer = shown_prediction(page)
    assert answer == "1"

    page.get_by_role("tab", name="Why?").click()
    idle(page)
    # 1. Where it looks, for the predicted class, then for another one.
    wait_for_text(page, "Why 1?")
    assert "Integrated gradients" in main_text(page)  # the ANN, the newest model, is chosen
    shot(page, "explain-saliency", why_tab(page))
    page.locator("[data-testid='stButtonGroup']").filter(has_text="Why this class?").locator("button").filter(
        has_text="7").first.click()
    idle(page)
    wait_for_text(page, "Why 7?")

    # 2. Cover it up: a click on the occlusion map covers that place.
    choose_view(page, "Cover it up")
    wait_for_text(page, "Answer when covered")
    chart = why_tab(page).locator("[data-testid='stPlotlyChart']").first
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    # The chart shows the 28x28 image edge to edge, one patch place every 2 pixels (rows and columns 3, 5, ...,
    # 25): 41 % of the way down and 55.5 % across is row 11, column 15, on the upper part of the drawn 1.
    x, y = box["x"] + box["width"] * 0.555, box["y"] + box["height"] * 0.41
    # Plotly picks the point under the pointer when the mouse moves there, as a hand does before it clicks.
    page.mouse.move(x - 5, y - 5)
    time.sleep(0.3)
    page.mouse.move(x, y, steps=3)
    time.sleep(0.5)
    page.mouse.click(x, y)
    idle(page)
    wait_for_text(page, "Covered at row 11, column 15")
    shot(page, "explain-occlusion", why_tab(page))

    # 3. Fool the model, and every model votes on the changed image.
    choose_view(page, "Fool the model")
    wait_for_text(page, "Every model votes on the changed image")
    text = main_text(page)
    assert "Fooled: it now says" in text or "Not fooled" in text
    page.locator("[data-testid='stDataFrame']").first.wait_for()
    shot(page, "explain-fool", why_tab(page))

    # 4. The map of the test set, with the drawing as a star.
    choose_view(page, "The map")
    wait_for_text(page, "test images; the model gets")
    shot(page, "explain-map", why_tab(page))

    # 5. The Inside page: what each filter wants, and the map there.
    open_page(page, "inside")
    # The ANN has no filters to show: the page says so once, above its layers, and has no filter pictures.
    wait_for_text(page, "no convolution layer")
    assert "What each filter wants" not in main_text(page)
    page.locator("[data-testid='stSelectbox']").filter(has_text="Model").first.click()
    page.get_by_role("option").filter(has_text="test cnn").first.click()
    idle(page)
    wait_for_text(page, "what each filter wants, in the same places")
    page.get_by_text("Show the map").click()
    idle(page)
    wait_for_text(page, "test images; the model gets")
    heading = page.get_by_role("heading", name="What each filter wants")
    heading.scroll_into_view_if_needed()
    shot(page, "explain-filters", heading.locator("xpath=ancestor::div[@data-testid='stVerticalBlock'][1]"))
    map_heading = page.get_by_role("heading", name="The map of the test set")
    shot(page, "explain-inside-map", map_heading.locator("xpath=ancestor::div[@data-testid='stVerticalBlock'][1]"))
