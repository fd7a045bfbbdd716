"""Section 6: the app in headless Chromium: the home page's first render, and canvas release -> prediction."""

import statistics
import tempfile
import time
from pathlib import Path

from bench import app_server
from bench.settings import TARGET_RELEASE_TO_PREDICTION_MS, Settings
from core import runs, training

CHROMIUM, CHROMIUM_ARGS = app_server.CHROMIUM, app_server.CHROMIUM_ARGS

# Installed in the page before a stroke: the time of the mouse release, and the time the "Prediction" metric
# first shows a value, both on the page's own clock.
WATCH_PREDICTION = """
() => {
  const state = { released: null, shown: null, value: null };
  window.neuralCanvasBench = state;
  document.addEventListener("mouseup", () => { if (state.released === null) state.released = performance.now(); },
                            { capture: true });
  const look = () => {
    if (state.released === null || state.shown !== null) return;
    for (const metric of document.querySelectorAll("[data-testid='stMetric']")) {
      const label = metric.querySelector("[data-testid='stMetricLabel']");
      const value = metric.querySelector("[data-testid='stMetricValue']");
      if (label && value && label.textContent.includes("Prediction") && value.textContent.trim()) {
        state.shown = performance.now();
        state.value = value.textContent.trim();
        return;
      }
    }
  };
  new MutationObserver(look).observe(document.body, { childList: true, subtree: true, characterData: true });
}
"""


def _wait_idle(page) -> None:
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_selector("[data-test-script-state='notRunning']")


def _stroke(page, box, points) -> None:
    """Draws one stroke through `points` (fractions of the canvas), ending with the mouse release."""
    xs = [box["x"] + fx * box["width"] for fx, _ in points]
    ys = [box["y"] + fy * box["height"] for _, fy in points]
    page.mouse.move(xs[0], ys[0])
    page.mouse.down()
    for x, y in zip(xs[1:], ys[1:]):
        page.mouse.move(x, y, steps=6)
    page.mouse.up()


def browser(settings: Settings) -> dict:
    """Home page first render, and canvas mouse release -> "Prediction" shown, in headless Chromium."""
    if not settings.browser:
        return {"skipped": "quick mode: no browser"}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return {"skipped": "Playwright is not installed (pip install -r requirements-dev.txt)"}
    if not Path(CHROMIUM).exists():
        return {"skipped": f"{CHROMIUM} is missing (apt-get install chromium)"}

    result = {"what": "streamlit run streamlit_app.py as a subprocess; Debian's Chromium through Playwright; "
                      "times on the page's own clock (performance.now())"}
    with tempfile.TemporaryDirectory(prefix="neural-canvas-bench-") as folder:
        store = runs.RunStore(Path(folder) / "runs")
        started = time.perf_counter()
        meta = training.train("mnist_sample", "cnn", {"epochs": 1, "seed": 1}, store=store, name="bench cnn")
        result["model"] = {"architecture": "cnn", "epochs": 1, "test_accuracy": meta.get("test", {}).get("accuracy"),
                           "training_seconds": time.perf_counter() - started}
        started = time.perf_counter()
        with app_server.running_app(store.root, Path(folder) / "streamlit.log") as url:
            result["server_start_seconds"] = time.perf_counter() - started
            with sync_playwright() as playwright:
                chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    result["home"] = _measure_home(chromium, url)
                    result["draw"] = _measure_draw(chromium, url)
                finally:
                    chromium.close()
    return result


def _measure_home(chromium, url: str, loads: int = 4) -> dict:
    """Navigation start -> the app rendered with its script finished, for a first visit and later ones."""
    times = []
    for _ in range(loads):
        # A fresh browser context each time: no cache, a new Streamlit session, as a new student would see it.
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url, wait_until="commit")
        page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning'] h1")
        times.append(page.evaluate("performance.now()"))
        context.close()
    return {"first_visit_ms": times[0], "later_visits_ms": times[1:],
            "later_visits_median_ms": statistics.median(times[1:])}


# Strokes that draw a 1, a 7 and an L-ish 4, in fractions of the canvas; none starts under the toolbar.
STROKES = [
    [(0.5, 0.2), (0.5, 0.5), (0.5, 0.8)],
    [(0.25, 0.25), (0.45, 0.25), (0.7, 0.25), (0.55, 0.5), (0.4, 0.8)],
    [(0.3, 0.2), (0.3, 0.55), (0.75, 0.55)],
]


def _measure_draw(chromium, url: str, trials: int = 5) -> dict:
    """Mouse release on a fresh canvas -> the "Prediction" metric shows a value, a few times.

    The first drawing on a freshly opened page is reported apart: it also pays for the page's first chart.
    """
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        started = time.perf_counter()
        page.goto(f"{url}/draw")
        _wait_idle(page)
        try:
            page.wait_for_selector("canvas.upper-canvas", timeout=30_000)
        except Exception:
            return {"skipped": "the Draw page shows no canvas.upper-canvas (page not ready)"}
        first_render = time.perf_counter() - started
        times, values = [], []
        for trial in range(trials):
            # Let the fresh canvas mount (and the page hide its toolbar) before drawing on it.
            page.wait_for_timeout(1000)
            page.evaluate(WATCH_PREDICTION)
            box = page.locator("canvas.upper-canvas").first.bounding_box()
            _stroke(page, box, STROKES[trial % len(STROKES)])
            page.wait_for_function("() => window.neuralCanvasBench && window.neuralCanvasBench.shown !== null",
                                   timeout=30_000)
            state = page.evaluate("window.neuralCanvasBench")
            times.append(state["shown"] - state["released"])
            values.append(state["value"])
            _wait_idle(page)
            if trial + 1 < trials:
                page.get_by_role("button", name="Clear").click()
                page.wait_for_selector("[data-testid='stMetric']", state="detached")
                _wait_idle(page)
        return {"draw_page_first_render_seconds": first_render, "release_to_prediction_ms": times,
                "first_ms": times[0], "later_median_ms": statistics.median(times[1:]),
                "median_ms": statistics.median(times), "max_ms": max(times), "predictions": values,
                "target": f"median <= {TARGET_RELEASE_TO_PREDICTION_MS:g} ms",
                "meets_target": bool(statistics.median(times) <= TARGET_RELEASE_TO_PREDICTION_MS)}
    except Exception as error:
        return {"skipped": f"the Draw page could not be measured: {type(error).__name__}: {error}"[:500]}
    finally:
        context.close()
