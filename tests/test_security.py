"""What a mischievous student could try on a classroom server, on every page: each attack refused or harmless.

Model files and labels files have their own tests (test_model_import.py, test_class_set.py); here are the
pages: a run.json with the wrong types, and text a user controls (run names, link values) rendered on other
people's pages.
"""

import json
import sys
import types

import pytest

from conftest import open_page
from core import runs

PAGES = ["pages/home.py", "pages/datasets.py", "pages/train.py", "pages/results.py", "pages/draw.py",
         "pages/inside.py", "pages/class_set.py"]


@pytest.fixture(autouse=True)
def canvas(monkeypatch):
    """The Draw page's canvas component, which AppTest cannot run, replaced by a blank one."""
    module = types.ModuleType("streamlit_drawable_canvas")
    module.st_canvas = lambda **arguments: types.SimpleNamespace(image_data=None)
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", module)


def _run_with_wrong_types(isolated_runs) -> str:
    store = runs.RunStore(isolated_runs)
    run = store.create(dataset="mnist_sample", architecture="cnn", hyperparameters={"epochs": 1})
    (run.path / "model.keras").write_bytes(b"placeholder")
    (run.path / "run.json").write_text(json.dumps({
        "id": run.id, "status": ["completed"], "name": 12345, "test": "abc", "history": "none",
        "dataset": "mnist_sample", "architecture": "cnn", "hyperparameters": {"epochs": "many"}}))
    return run.id


@pytest.mark.parametrize("page", PAGES)
def test_a_run_json_with_wrong_types_breaks_no_page(page, isolated_runs):
    run_id = _run_with_wrong_types(isolated_runs)
    at = open_page(page, run_id=run_id)  # open_page fails on any exception the page shows
    assert not at.exception
