"""The two changes this app makes to Streamlit's internals, in one place, each checked before it is made.

1. `leave_legacy_page_mode`: Streamlit keeps an old mode for apps with a `pages/` folder beside the entry file:
   until some script calls `st.navigation`, it runs the page file a URL names on its own (no router, no
   sidebar, the folder's files listed as pages). A teacher who opens a bookmarked /draw on a fresh server would
   see that. A page run in that mode switches the mode off and runs the app again, now through the router.
2. `keep_keras_between_runs`: after each script run, and so after every tick of the Train page's live view,
   Streamlit 1.67 calls `keras.backend.clear_session()` and then `gc.collect(2)`. With TensorFlow loaded each
   holds the interpreter's lock for about half a second while the training thread waits: three epochs of the
   CNN on the sample took 378 s while the Train page watched them, and 7 s without these two calls. Keras keeps
   its session state per thread and each script run has a thread of its own, so skipping the reset loses
   nothing; Python's own garbage collector still runs as usual. `.streamlit/config.toml` turns the collection
   off as well (`runner.postScriptGC`); this covers a server started with another config.

The router (`streamlit_app.py`) calls `apply()` at every run; `pages/_common.py`, which every page imports,
calls `leave_legacy_page_mode()` once, because in the legacy mode the router does not run at all. If a
Streamlit upgrade removes what these patch, `apply()` raises an error that names the Streamlit version instead
of silently patching nothing: check `tests/test_streamlit_patches.py` when upgrading Streamlit.
"""

import streamlit as st
from streamlit.runtime.scriptrunner import script_runner as _script_runner_module

# Streamlit's own cleaning after a script run, kept before it is replaced (the tests put it back to check that
# the replacement has an effect).
STREAMLIT_CLEAN_PROBLEM_MODULES = getattr(_script_runner_module, "_clean_problem_modules", None)


class UnsupportedStreamlit(RuntimeError):
    """This Streamlit no longer has an internal the app patches."""


def _missing(what: str) -> UnsupportedStreamlit:
    return UnsupportedStreamlit(
        f"Streamlit {st.__version__} has no {what}, which Neural Canvas patches (see pages/_streamlit_patches.py). "
        "Install the Streamlit version in requirements.txt, or update the patch for this one.")


def _pages_manager():
    from streamlit.runtime.pages_manager import PagesManager

    if not hasattr(PagesManager, "uses_pages_directory"):
        raise _missing("PagesManager.uses_pages_directory")
    return PagesManager


def _script_runner():
    from streamlit import config
    from streamlit.runtime.scriptrunner import script_runner

    if not callable(getattr(script_runner, "_clean_problem_modules", None)):
        raise _missing("script_runner._clean_problem_modules")
    if "runner.postScriptGC" not in config._config_options_template:
        raise _missing("runner.postScriptGC option")
    return config, script_runner


def check() -> None:
    """Raises UnsupportedStreamlit, naming the version, if anything the patches change is missing."""
    _pages_manager()
    _script_runner()


def leave_legacy_page_mode() -> None:
    """Switches Streamlit's legacy `pages/` mode off and, if it was on, runs the app again through the router."""
    pages_manager = _pages_manager()
    if pages_manager.uses_pages_directory:
        pages_manager.uses_pages_directory = False
        st.rerun()


def _no_cleaning() -> None:
    """Stands in for Streamlit's `_clean_problem_modules`: Keras keeps its state between script runs."""


def keep_keras_between_runs() -> None:
    """Stops Streamlit from resetting Keras and collecting all garbage after every script run."""
    config, script_runner = _script_runner()
    config.set_option("runner.postScriptGC", False)
    script_runner._clean_problem_modules = _no_cleaning


def apply() -> None:
    """Checks, then makes both changes (each run of the router: they cost nothing once made)."""
    check()
    keep_keras_between_runs()
    leave_legacy_page_mode()
