"""Fixtures every test shares: an empty runs folder per test, a trained model made once, a running app.

Nothing here downloads: training uses the embedded MNIST sample.
"""

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import app_server  # noqa: E402
from core import jobs, runs  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_runs(tmp_path, monkeypatch):
    """Each test gets its own empty runs folder and training queue, and no Streamlit cache from another test."""
    folder = tmp_path / "runs"
    monkeypatch.setenv(runs.RUNS_DIR_VARIABLE, str(folder))
    # The class's saved drawings (core.class_set) live beside the runs; each test gets its own, empty.
    monkeypatch.setenv("NEURAL_CANVAS_DRAWINGS", str(tmp_path / "drawings"))
    monkeypatch.setattr(jobs, "_default_queue", None)
    # No warm worker process per test's queue (tests/test_jobs.py turns it on where it is tested); the app
    # servers of the browser tests keep theirs, as the app runs.
    monkeypatch.setenv(jobs.WARM_WORKER_VARIABLE, "0")
    # Wrong teacher keys typed by one test do not make the next one wait.
    from core import classroom

    classroom.forget_wrong_keys()
    try:
        import streamlit as st

        st.cache_data.clear()
        st.cache_resource.clear()
    except ImportError:
        pass
    return folder


@pytest.fixture(scope="session")
def _trained_run_folder(tmp_path_factory):
    """A small CNN trained once per test session on part of the sample (about ten seconds)."""
    from core import training

    store = runs.RunStore(tmp_path_factory.mktemp("trained") / "runs")
    meta = training.train("mnist_sample", "cnn", {"epochs": 1, "seed": 1}, store=store,
                          name="test cnn", limit_train=3000)
    assert meta["status"] == "completed"
    return store.root / meta["id"]


@pytest.fixture
def trained_run(_trained_run_folder, isolated_runs) -> str:
    """The id of a completed run (cnn on mnist_sample), copied into this test's runs folder."""
    shutil.copytree(_trained_run_folder, isolated_runs / _trained_run_folder.name)
    return _trained_run_folder.name


def open_page(page: str | None = None, **session_state):
    """Runs the app through its router, as a browser does, then opens `page`; fails on any exception shown."""
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    for key, value in session_state.items():
        app.session_state[key] = value
    app.run()
    if page is not None:
        app.switch_page(page)
        app.run()
    assert not app.exception, app.exception
    return app


@pytest.fixture
def app_url(isolated_runs, tmp_path):
    """Starts `streamlit run streamlit_app.py` on a free local port and yields its URL."""
    with app_server.running_app(isolated_runs, tmp_path / "streamlit.log") as url:
        yield url


@pytest.fixture
def browser_page():
    """A Playwright page in Debian's Chromium, 1280 px wide (skips if Playwright or Chromium is missing)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(app_server.CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=app_server.CHROMIUM, args=app_server.CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def wait_for_app(page) -> None:
    """Waits until the app has rendered and its script has finished running."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_selector("[data-test-script-state='notRunning']")


def shown(markdown_source: str) -> str:
    """What a reader sees of Markdown that escapes user text (core.text.markdown_escape): the backslashes gone."""
    import re

    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(markdown_source)).replace("\u2060", "")
