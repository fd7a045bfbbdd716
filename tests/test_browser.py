"""The real-browser test: a whole lesson in headless Chromium, from training a model to reading drawn digits.

It starts the app (the `app_url` fixture, with an empty runs folder), trains a small CNN for one epoch on the
offline sample from the Train page, waits for its test accuracy, opens the Draw page and draws with real mouse
strokes on the canvas. It then reads the prediction the page shows, as a student would.

It also proves that every part of the drawing area takes strokes: a stroke that starts in the top right
corner, where the canvas's floating toolbar used to swallow it, must reach the model.

Run it alone with `python -m pytest -m browser tests/test_browser.py` (about a minute or two on two cores).
"""

import time

import pytest

from conftest import wait_for_app

pytestmark = pytest.mark.browser

CANVAS = "canvas.upper-canvas"
TRAINING_TIMEOUT_MS = 180_000


def idle(page) -> None:
    """Waits until the app's script has finished the rerun that the last action started."""
    # A rerun starts a moment after the click or mouse release that asks for it.
    time.sleep(0.4)
    wait_for_app(page)


def open_page(page, title: str) -> None:
    """Follows a link of the sidebar navigation, as a student would."""
    page.locator("[data-testid='stSidebarNav'] a").filter(has_text=title).click()
    idle(page)


def stroke(page, points) -> None:
    """One pen stroke through `points`, in canvas pixels from its top left corner."""
    box = page.locator(CANVAS).bounding_box()
    assert box is not None and box["width"] >= 279 and box["height"] >= 279, box
    x, y = points[0]
    page.mouse.move(box["x"] + x, box["y"] + y)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=10)
    page.mouse.up()


def prediction_metric(page):
    return page.locator("[data-testid='stMetric']").filter(has_text="Prediction")


def shown_prediction(page, timeout: float = 30.0) -> str:
    """The predicted class the page shows, once the prediction has appeared and stopped changing."""
    deadline = time.time() + timeout
    previous = None
    while time.time() < deadline:
        idle(page)
        metric = prediction_metric(page)
        if metric.count() == 1:
            value = metric.locator("[data-testid='stMetricValue']").inner_text().strip()
            if value == previous:
                return value
            previous = value
        time.sleep(0.5)
    raise AssertionError(f"No steady prediction within {timeout} s (last seen: {previous!r}).")


def clear_canvas(page) -> None:
    page.get_by_role("button", name="Clear").click()
    idle(page)
    page.wait_for_selector(CANVAS)
    # The fresh canvas mounts after the rerun: give it a moment before drawing on it.
    time.sleep(1.0)
    assert prediction_metric(page).count() == 0


def train_a_small_model(page) -> None:
    open_page(page, "Train")
    page.get_by_role("heading", name="Train a model").wait_for()
    wait_for_app(page)
    # The settings may sit in a panel that folds away: open it if the settings are hidden.
    epochs = page.get_by_label("Epochs", exact=True)
    if not epochs.is_visible():
        page.locator("[data-testid='stExpander'] summary").filter(has_text="settings").first.click()
        idle(page)
    # The page opens on the small CNN (its default). With 8 filters and one epoch on the sample it trains in
    # seconds and still reads a clear digit.
    for label, value in (("Filters", "8"), ("Epochs", "1")):
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Enter")
        idle(page)
        assert page.get_by_label(label, exact=True).input_value() == value
    page.get_by_role("button", name="Train", exact=True).click()
    page.locator("[data-testid='stMetric']").filter(has_text="Test accuracy").wait_for(
        timeout=TRAINING_TIMEOUT_MS)
    idle(page)
    accuracy = page.locator("[data-testid='stMetric']").filter(has_text="Test accuracy")
    assert accuracy.locator("[data-testid='stMetricValue']").inner_text().endswith("%")


@pytest.fixture
def page(browser_page, tmp_path):
    """The browser page; if the test fails, a screenshot of the page is kept beside the test's files."""
    yield browser_page
    browser_page.screenshot(path=str(tmp_path / "last-screen.png"), full_page=True)


def test_train_on_the_train_page_then_draw_digits_for_the_model(app_url, page):
    page.goto(app_url)
    wait_for_app(page)

    train_a_small_model(page)

    open_page(page, "Draw")
    page.wait_for_selector(CANVAS)
    time.sleep(1.0)
    assert prediction_metric(page).count() == 0
    assert "Draw a digit" in page.locator("[data-testid='stMain']").inner_text()

    # A "1": one vertical stroke down the middle, which any reasonable digit model reads.
    stroke(page, [(140, 40), (140, 240)])
    assert shown_prediction(page) == "1"

    # A "7": a bar along the top, then down to the bottom left. A one-epoch model may misread it, so only
    # an answer is required.
    clear_canvas(page)
    stroke(page, [(70, 60), (210, 60), (120, 240)])
    seven = shown_prediction(page)
    assert seven.isdigit(), seven

    # A stroke that starts in the top right corner, under where the canvas's toolbar floats, is drawn.
    clear_canvas(page)
    stroke(page, [(250, 10), (250, 250)])
    assert shown_prediction(page).isdigit()
