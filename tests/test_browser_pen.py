"""The default digit model reads people it never saw, through the real canvas: held-out writers drawn with the mouse.

A module fixture trains the default digit model once, exactly as the Draw page's one-click button does (the same
`training.train` call with `architectures.DEFAULT_DIGIT_DATASET`, `DEFAULT_DIGIT_ARCHITECTURE` and
`DEFAULT_DIGIT_HYPERPARAMETERS`; the button itself is clicked in `tests/test_browser.py`). The test then draws
60 digits of the held-out pen writers (`core.pen_digits.TEST_WRITERS`, six of each digit, spread over the ten
writers) on the Draw page's canvas with the mouse, stroke by stroke along the writers' own pen trajectories, reads
the prediction the page shows, and asserts that at least 97% are read right.

Run it alone with `python -m pytest -m browser tests/test_browser_pen.py` (about eight minutes on two busy cores).
"""

import shutil
import time

import numpy as np
import pytest
from test_browser import CANVAS, clear_canvas, idle, open_page, shown_prediction, stroke

from conftest import wait_for_app
from core import architectures, pen_digits, runs, training

pytestmark = pytest.mark.browser

DIGITS_PER_CLASS = 6
REQUIRED_RATE = 0.97
# Pen points are 100 ms apart; the mouse moves between them in small steps, as a hand does.
MOUSE_STEPS = 3


@pytest.fixture(scope="module")
def default_model_folder(tmp_path_factory):
    """The default digit model, trained once for this module the way the Draw page's one click trains it."""
    store = runs.RunStore(tmp_path_factory.mktemp("default_model") / "runs")
    meta = training.train(architectures.DEFAULT_DIGIT_DATASET, architectures.DEFAULT_DIGIT_ARCHITECTURE,
                          architectures.DEFAULT_DIGIT_HYPERPARAMETERS, store=store, name="Default digit model")
    assert meta["status"] == "completed"
    return store.root / meta["id"]


def held_out_choice() -> np.ndarray:
    """Six digits of each class from the held-out writers, seeded, spread over the writers (indices into the file)."""
    data = pen_digits.load()
    test = pen_digits.test_indices()
    generator = np.random.default_rng(16)
    chosen = []
    for digit in range(10):
        of_digit = test[data.labels[test] == digit]
        writers = generator.permutation(pen_digits.TEST_WRITERS)[:DIGITS_PER_CLASS]
        for writer in writers:
            chosen.append(int(generator.choice(of_digit[data.writers[of_digit] == writer])))
    return np.array(generator.permutation(chosen))


def canvas_strokes(index: int, height: float) -> list[list[tuple[float, float]]]:
    """The digit's pen strokes scaled to `height` pixels (less for a wide one), centred on the 280-pixel canvas."""
    strokes = pen_digits.unit_strokes(pen_digits.load().strokes[index])
    points = np.concatenate(strokes)
    centre = (points.min(axis=0) + points.max(axis=0)) / 2
    height = min(height, 240 / float(np.ptp(points, axis=0).max()))
    return [[(float(140 + (x - centre[0]) * height), float(140 + (y - centre[1]) * height)) for x, y in stroke_points]
            for stroke_points in strokes]


def test_the_default_model_reads_60_held_out_writers_digits_drawn_with_the_mouse(
        default_model_folder, isolated_runs, app_url, page):
    shutil.copytree(default_model_folder, isolated_runs / default_model_folder.name)
    page.goto(app_url)
    wait_for_app(page)
    open_page(page, "draw")
    page.wait_for_selector(CANVAS)
    time.sleep(1.0)
    chosen = held_out_choice()
    assert len(chosen) == 10 * DIGITS_PER_CLASS
    assert set(pen_digits.load().writers[chosen].tolist()) == set(pen_digits.TEST_WRITERS)
    heights = np.random.default_rng(17).uniform(140, 210, len(chosen))
    misread = []
    for number, (index, height) in enumerate(zip(chosen, heights)):
        if number:
            clear_canvas(page)
        for points in canvas_strokes(int(index), float(height)):
            stroke(page, points, steps=MOUSE_STEPS)
            idle(page)
        label = str(pen_digits.load().labels[index])
        read = shown_prediction(page)
        if read != label:
            misread.append((int(index), label, read))
    rate = 1 - len(misread) / len(chosen)
    print(f"held-out writers read through the canvas: {rate:.1%} ({len(chosen) - len(misread)} of {len(chosen)}); "
          f"misread (index, digit, read): {misread}")
    assert rate >= REQUIRED_RATE, misread


@pytest.fixture
def page(browser_page, tmp_path):
    """The browser page; if the test fails, a screenshot of the page is kept beside the test's files."""
    yield browser_page
    browser_page.screenshot(path=str(tmp_path / "last-screen.png"), full_page=True)
