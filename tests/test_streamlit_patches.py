"""The app's two patches of Streamlit internals (pages/_streamlit_patches.py): each has an effect, and a
Streamlit without what they patch is refused at start with its version named."""

import re

import pytest
import streamlit
from streamlit import config
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import script_runner

from conftest import wait_for_app
from core import backend
from pages import _streamlit_patches


@pytest.fixture
def streamlit_as_shipped(monkeypatch):
    """Streamlit's own cleaning after a script run and its garbage collection, put back for one test."""
    monkeypatch.setattr(script_runner, "_clean_problem_modules", _streamlit_patches.STREAMLIT_CLEAN_PROBLEM_MODULES)
    before = config.get_option("runner.postScriptGC")
    config.set_option("runner.postScriptGC", True)
    yield
    config.set_option("runner.postScriptGC", before)


def test_keras_keeps_its_state_after_a_script_run(streamlit_as_shipped):
    keras = backend.keras()
    # As shipped, Streamlit resets Keras after every script run: the name counters start again.
    keras.backend.get_uid("patch_probe")
    script_runner._clean_problem_modules()
    assert keras.backend.get_uid("patch_probe") == 1

    _streamlit_patches.keep_keras_between_runs()
    script_runner._clean_problem_modules()
    assert keras.backend.get_uid("patch_probe") == 2
    assert config.get_option("runner.postScriptGC") is False


@pytest.mark.parametrize("owner, name", [(script_runner, "_clean_problem_modules"),
                                         (PagesManager, "uses_pages_directory")])
def test_a_streamlit_without_what_is_patched_is_refused_with_its_version(monkeypatch, owner, name):
    monkeypatch.delattr(owner, name)
    with pytest.raises(_streamlit_patches.UnsupportedStreamlit, match=re.escape(f"Streamlit {streamlit.__version__}")):
        _streamlit_patches.apply()


@pytest.mark.browser
def test_a_bookmarked_page_on_a_fresh_server_comes_through_the_router(app_url, browser_page):
    # The first request of a fresh server names a page: without the patch, Streamlit's legacy mode runs that
    # file alone, with no router, no shared sidebar and every file of pages/ listed as a page.
    browser_page.goto(f"{app_url}/datasets")
    wait_for_app(browser_page)
    sidebar = browser_page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text("Neural Canvas · learn by training, testing and drawing").wait_for(timeout=30_000)
    assert sidebar.get_by_text("1 · Datasets").count() == 1
    assert sidebar.get_by_text("_common").count() == 0
