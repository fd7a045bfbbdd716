"""Tests for pages/home.py: the steps of a lesson with their links, the offline note, no TensorFlow.

Run: python -m pytest tests/test_page_home.py -q
"""

import pathlib
import subprocess
import sys
import textwrap
import time

from streamlit.testing.v1 import AppTest

from conftest import open_page
from core import jobs

ROOT = pathlib.Path(__file__).resolve().parent.parent



def run_home() -> AppTest:
    return open_page()


def test_home_explains_the_app_and_links_every_step_in_order():
    app = run_home()
    assert app.title[0].value.endswith("Neural Canvas")
    links = app.get("page_link")
    assert [link.proto.page for link in links] == ["datasets", "train", "results", "draw", "inside",
                                                   "class_set"]
    assert [link.proto.label for link in links] == ["Open Datasets", "Open Train", "Open Results", "Open Draw",
                                                    "Open Inside the network", "Open Class drawings"]
    headings = [markdown.value for markdown in app.markdown]
    for step in ("1 · Datasets", "2 · Train", "3 · Results", "4 · Draw", "5 · Inside the network",
                 "6 · Class drawings"):
        assert any(step in heading for heading in headings), step


def test_home_says_it_works_offline_on_the_sample():
    app = run_home()
    assert "Works offline" in app.info[0].value
    assert "10,000 MNIST digits" in app.info[0].value


def test_home_renders_without_importing_tensorflow():
    # In a fresh interpreter: other tests in this process may already have imported TensorFlow.
    script = textwrap.dedent(
        """
        import sys
        from streamlit.testing.v1 import AppTest

        app = AppTest.from_file("streamlit_app.py", default_timeout=120)
        app.run()
        assert not app.exception, app.exception
        assert app.get("page_link"), "the home page did not render"
        heavy = sorted(name for name in ("tensorflow", "keras") if name in sys.modules)
        assert not heavy, f"the home page imported {heavy}"
        print("ok")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("ok")


def _sidebar_model_line(app) -> str:
    line = next(element.value for element in app.sidebar.markdown if element.value.startswith("**Model:**"))
    return line.replace("\\", "")  # as shown: without the escaping of the text's punctuation


def test_the_sidebar_says_where_to_find_a_model_or_make_one(trained_run, isolated_runs):
    # A saved model on the server, none chosen yet by this visitor: not "none yet".
    assert _sidebar_model_line(run_home()) == ("**Model:** none chosen yet: the Draw, Results and Inside pages "
                                               "choose one for you")
    (isolated_runs / trained_run / "model.keras").unlink()
    assert _sidebar_model_line(run_home()).startswith("**Model:** none yet: train one on the Train page")
    # While the first model trains (someone's one click, say), not an offer to train one.
    queue = jobs.get_queue()
    run_id = queue.submit("mnist_sample", "cnn", {"epochs": 20, "batch_size": 64}, owner="student-a", limit_train=640)
    try:
        assert _sidebar_model_line(run_home()) == "**Model:** none yet: the first one is training"
    finally:
        queue.stop(run_id, by_teacher=True)
        deadline = time.time() + 60
        while queue.status(run_id).state != "finished" and time.time() < deadline:
            time.sleep(0.2)
