"""What a mischievous student could try on a classroom server, on every page: each attack refused or harmless.

Model files and labels files have their own tests (test_model_import.py, test_class_set.py); here are the
pages: a run.json with the wrong types, and text a user controls (run names, link values) rendered on other
people's pages.
"""

import json
import re
import sys
import types

import pytest

from conftest import open_page
from core import runs, text

PAGES = ["pages/home.py", "pages/datasets.py", "pages/train.py", "pages/results.py", "pages/draw.py",
         "pages/inside.py", "pages/class_set.py"]


@pytest.fixture(autouse=True)
def canvas(monkeypatch):
    """The Draw page's canvas component, which AppTest cannot run, replaced by a blank one."""
    module = types.ModuleType("streamlit_drawable_canvas")
    module.st_canvas = lambda **arguments: types.SimpleNamespace(image_bytes=None)
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


# --- text a user controls stays text ----------------------------------------------------------------------

HOSTILE_NAME = "![t](http://attacker/x.png) [Log in again](http://attacker/)"
HOSTILE_LINK = {"dataset": "![s](http://attacker/s.png)", "arch": "[Log in](http://attacker/)",
                "epochs": "![e](http://attacker/e.png)"}


def _markdown_sources(at) -> list[str]:
    """The Markdown source of everything the page renders as Markdown: text, captions, alerts, headers, and
    the labels of buttons, expanders, tabs, checkboxes, radios (with their options) and metrics."""
    sources = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "header", "subheader",
                 "toast"):
        sources += [element.value for element in getattr(at, kind)]
    for kind in ("button", "expander", "tabs", "checkbox", "toggle", "metric", "radio", "selectbox",
                 "multiselect", "text_input", "number_input", "slider", "select_slider", "download_button"):
        try:
            elements = getattr(at, kind)
        except AttributeError:
            continue
        for element in elements:
            sources.append(str(getattr(element, "label", "") or ""))
            if kind == "radio":
                sources += [str(option) for option in element.options]
    return [source for source in sources if isinstance(source, str)]


def _assert_no_attacker_markup(at):
    import markdown_it

    renderer = markdown_it.MarkdownIt("commonmark")
    for source in _markdown_sources(at):
        html = renderer.render(source)
        assert "<img" not in html and 'href="http://attacker' not in html, source
        # GitHub-style Markdown (Streamlit's) also links a bare http:// address: it must not appear unescaped.
        assert "http://attacker" not in source, source


@pytest.mark.parametrize("page", PAGES)
def test_a_hostile_run_name_shows_as_text_on_every_page(page, trained_run, isolated_runs):
    runs.RunStore(isolated_runs).rename(trained_run, HOSTILE_NAME)
    at = open_page(page, run_id=trained_run)
    sources = _markdown_sources(at)
    _assert_no_attacker_markup(at)
    assert sources  # the page rendered something to look at


def test_hostile_link_values_show_as_text_on_the_train_page(isolated_runs):
    from streamlit.testing.v1 import AppTest

    from conftest import ROOT

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/train.py")
    for key, value in HOSTILE_LINK.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception
    assert any("attacker" in source for source in _markdown_sources(at))  # the warning names what was ignored
    _assert_no_attacker_markup(at)


def test_a_hostile_run_name_shows_as_text_in_the_sidebar(trained_run, isolated_runs):
    # AppTest shows the sidebar only on the page the router opens first (after switch_page it comes back
    # empty), so the sidebar is looked at here, on the home page.
    runs.RunStore(isolated_runs).rename(trained_run, HOSTILE_NAME)
    at = open_page(None, run_id=trained_run)
    assert any("attacker" in source for source in _markdown_sources(at))
    _assert_no_attacker_markup(at)


# --- the teacher key ----------------------------------------------------------------------------------------


def _every_text(at) -> str:
    texts = _markdown_sources(at)
    for kind in ("text_input", "number_input"):
        texts += [str(element.value) for element in getattr(at, kind)]
    return " ".join(texts)


def _teacher_panel():
    from pages import _teacher

    _teacher.sidebar_panel()


def test_the_teacher_key_unlocks_the_class_wide_actions_and_is_never_shown(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from core import classroom

    # AppTest loses the router's sidebar on a rerun, so the panel is run on its own, as the sidebar runs it.
    monkeypatch.setenv(classroom.TEACHER_KEY_VARIABLE, "classroom-key-1234")
    at = AppTest.from_function(_teacher_panel, default_timeout=60)
    at.run()
    unlock = "FormSubmitter:teacher_unlock-Unlock the class-wide actions"
    at.text_input(key="teacher_key_typed").input("a guess")
    at.button(key=unlock).click().run()
    assert "teacher" not in at.session_state
    assert "That is not the teacher key" in " ".join(element.value for element in at.error)
    at.text_input(key="teacher_key_typed").input("classroom-key-1234")
    at.button(key=unlock).click().run()
    assert at.session_state["teacher"] is True
    assert "classroom-key-1234" not in _every_text(at)
    at.number_input(key="teacher_max_jobs").set_value(4).run()
    assert classroom.max_jobs_per_student() == 4
    at.button(key="teacher_lock").click().run()
    assert "teacher" not in at.session_state


def test_guessing_the_teacher_key_in_the_sidebar_is_slowed_down(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from core import classroom

    monkeypatch.setenv(classroom.TEACHER_KEY_VARIABLE, "classroom-key-1234")
    monkeypatch.setattr(classroom, "_clock", lambda: 1000.0)  # however slowly the reruns run
    at = AppTest.from_function(_teacher_panel, default_timeout=60)
    at.run()
    unlock = "FormSubmitter:teacher_unlock-Unlock the class-wide actions"
    for guess in range(classroom.FREE_WRONG_KEYS):
        at.text_input(key="teacher_key_typed").input(f"guess {guess}")
        at.button(key=unlock).click().run()
        assert "That is not the teacher key" in " ".join(element.value for element in at.error)
    # The right key now waits too, with a message that says how long.
    at.text_input(key="teacher_key_typed").input("classroom-key-1234")
    at.button(key=unlock).click().run()
    assert "teacher" not in at.session_state
    assert ("Your key was not checked: too many wrong keys from this computer just now. Wait 2 s, then type it "
            "again." in [element.value for element in at.error])


def test_a_hostile_file_name_shows_as_text_when_a_model_import_is_refused(isolated_runs):
    at = open_page("pages/results.py")
    name = "![f](http://attacker/f.png) [Log in](http://attacker/).keras"
    at.file_uploader(key="results_page_import_file_0").set_value((name, b"not a zip", "application/octet-stream"))
    at.run()
    at.button(key="results_page_import").click().run()
    assert not at.exception
    assert any("attacker" in element.value for element in at.error)  # the refusal names the file
    _assert_no_attacker_markup(at)


def test_a_hostile_entry_name_in_a_drawings_zip_shows_as_text(isolated_runs):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../![z](http://attacker/z.png).png", b"x")
    at = open_page("pages/class_set.py", teacher=True)
    at.file_uploader[0].set_value(("[Log in](http://attacker/).zip", buffer.getvalue(), "application/zip")).run()
    assert not at.exception
    assert any("attacker" in element.value for element in at.error)
    _assert_no_attacker_markup(at)


@pytest.mark.parametrize("hostile", ["http://evil.example/x", "Log in at www.evil.example/login",
                                     "HTTPS://EVIL.EXAMPLE", "mail teacher@evil.example", "Www.evil.example"])
def test_bare_addresses_in_user_text_are_no_links(hostile):
    # GitHub-style Markdown links bare addresses whatever backslashes stand in them (seen in Streamlit 1.67):
    # the escaped text keeps no address mark whole, and still reads exactly as typed.
    escaped = text.markdown_escape(hostile)
    unescaped = re.sub(r"\\(.)", r"\1", escaped)
    for mark in ("://", "www."):
        assert mark not in unescaped.lower()
    assert unescaped.count("@") == unescaped.count(text.WORD_JOINER + "@")
    assert unescaped.replace(text.WORD_JOINER, "") == hostile
