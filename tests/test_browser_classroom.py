"""A classroom in real browsers: the app asks nothing of the internet, and the teacher key decides who may
remove what.

- The first visits every page and records every request the browser makes: all go to the app's own address
  (the page icon ships with the app; the Material favicon used to come from the internet).
- The second opens the app in three browser contexts (three laptops): two students and the teacher. Each
  student imports a few class drawings and may remove only those; neither may delete a run trained by
  someone else, nor remove every drawing. The teacher enters the key in the sidebar and then may do all that.
- The third is the class behind a reverse proxy on the server: each browser sends the X-Forwarded-For header
  the proxy would add, and a student's wrong keys make only that student wait.

Run them alone with `python -m pytest -m browser tests/test_browser_classroom.py`.
"""

import io
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import app_server
from conftest import wait_for_app
from core import class_set, runs

pytestmark = pytest.mark.browser

TEACHER_KEY = "teacher-key-for-the-test"
PAGES = ["", "datasets", "train", "results", "draw", "inside", "class_set"]


def idle(page) -> None:
    time.sleep(0.4)
    wait_for_app(page)


def open_page(page, url_path: str) -> None:
    """Follows the sidebar navigation's link to `url_path`, in the same browser session."""
    page.locator(f"[data-testid='stSidebarNav'] a[href$='/{url_path}']").click()
    idle(page)


@pytest.fixture
def classroom(isolated_runs, tmp_path, monkeypatch):
    """The app with a known teacher key, and a Chromium to open it in: (url, browser)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(app_server.CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    monkeypatch.setenv("NEURAL_CANVAS_TEACHER_KEY", TEACHER_KEY)
    with app_server.running_app(isolated_runs, tmp_path / "streamlit.log") as url:
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=app_server.CHROMIUM,
                                                 args=app_server.CHROMIUM_ARGS)
            yield url, browser
            browser.close()


def _new_page(browser, url: str, path: str = "", headers: dict | None = None):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, extra_http_headers=headers)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{url}/{path}")
    wait_for_app(page)
    return page


def test_every_page_asks_only_the_apps_own_address(classroom, trained_run):
    url, browser = classroom
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    requested = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    wait_for_app(page)
    for path in PAGES[1:]:
        open_page(page, path)
    time.sleep(1)
    icons = page.eval_on_selector_all("link[rel~='icon']", "links => links.map(link => link.href)")
    assert icons and all(icon.startswith(url) for icon in icons), icons
    outside = [address for address in requested
               if not address.startswith((url, "data:", "blob:", url.replace("http", "ws")))]
    assert requested and outside == [], outside


def _drawings_zip(start: int, count: int) -> bytes:
    """A class-drawings zip of `count` different drawings (folders named after their labels)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(start, start + count):
            image = np.zeros((28, 28), np.uint8)
            image[4 + index % 10:20, 6 + index:9 + index] = 255
            png = io.BytesIO()
            Image.fromarray(image).save(png, format="PNG")
            archive.writestr(f"{index % 10}/drawing-{index}.png", png.getvalue())
    return buffer.getvalue()


def _import_drawings(page, name: str, data: bytes) -> None:
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
        files=[{"name": name, "mimeType": "application/zip", "buffer": data}])
    page.get_by_text("Added").first.wait_for()
    idle(page)


def _remove_buttons(page) -> int:
    return page.locator("[class*='st-key-class_set_remove_'] button").count()


def _type_key(page, key: str) -> None:
    summary = page.locator("[data-testid='stSidebar'] [data-testid='stExpander'] summary").filter(has_text="Teacher")
    field = page.get_by_label("Teacher key", exact=True).and_(page.locator("input"))
    if not field.is_visible():
        summary.click()
    field.fill(key)
    page.get_by_role("button", name="Unlock the class-wide actions").click()
    idle(page)


def _unlock(page) -> None:
    _type_key(page, TEACHER_KEY)
    page.get_by_text("Teacher mode: you can").wait_for()
    idle(page)


def test_a_teacher_and_two_students_in_three_browsers(classroom, trained_run, isolated_runs):
    url, browser = classroom
    runs.RunStore(isolated_runs).update(trained_run, owner="a-student-who-left")
    alice, bob, teacher = (_new_page(browser, url, "class_set") for _ in range(3))
    _import_drawings(alice, "alice.zip", _drawings_zip(0, 2))
    _import_drawings(bob, "bob.zip", _drawings_zip(10, 3))
    drawings = class_set.ClassSet()
    assert len(drawings) == 5

    # Each student may remove only their own drawings, and nobody but the teacher may remove them all.
    # (Through the sidebar, so each stays the same browser session: a reload would start a new one.)
    for page, own in ((alice, 2), (bob, 3)):
        open_page(page, "datasets")
        open_page(page, "class_set")
        assert _remove_buttons(page) == own
        assert page.get_by_text("Start a new collection").count() == 0

    # Neither student may delete the run someone else trained.
    for page in (alice, bob):
        open_page(page, "results")
        page.get_by_role("button", name="Delete").click()
        assert page.get_by_text("Only the student who trained this model can delete it").is_visible()
        assert page.get_by_role("button", name="Delete this run").is_disabled()

    # The teacher, with the key, removes one of Alice's drawings and deletes the run.
    open_page(teacher, "datasets")
    open_page(teacher, "class_set")
    assert _remove_buttons(teacher) == 0
    _unlock(teacher)
    assert TEACHER_KEY not in teacher.content()  # never shown, not even in the page's HTML
    assert _remove_buttons(teacher) == 5
    assert teacher.get_by_text("Start a new collection").count() == 1
    alices = sorted(drawings.drawings(), key=lambda drawing: drawing.id)[0]
    teacher.get_by_role("tab", name="Drawings").click()
    teacher.locator(f"[class*='st-key-class_set_remove_{alices.id}'] button").click()
    idle(teacher)
    teacher.locator(f"[class*='st-key-class_set_confirm_{alices.id}'] button").click()
    idle(teacher)
    assert len(class_set.ClassSet()) == 4
    open_page(teacher, "results")
    teacher.get_by_role("button", name="Delete").click()
    teacher.get_by_text("Yes, delete this run").click()
    idle(teacher)
    teacher.get_by_role("button", name="Delete this run").click()
    idle(teacher)
    assert not (isolated_runs / trained_run).exists()


def test_behind_a_reverse_proxy_a_students_guesses_slow_only_that_student(isolated_runs, tmp_path, monkeypatch):
    """Behind a reverse proxy on the server itself, every browser connects from this machine's address; Streamlit's
    web server (uvicorn) takes each browser's address from the X-Forwarded-For header that such a proxy adds (of
    peers at 127.0.0.1 and ::1, or at the addresses in FORWARDED_ALLOW_IPS), the right-most address that is not
    a proxy. The browsers send the header here as the proxy would add it, through Streamlit's real WebSocket."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(app_server.CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    monkeypatch.setenv("NEURAL_CANVAS_TEACHER_KEY", TEACHER_KEY)
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    with app_server.running_app(isolated_runs, tmp_path / "streamlit.log") as url:
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=app_server.CHROMIUM, args=app_server.CHROMIUM_ARGS)
            student = _new_page(browser, url, headers={"X-Forwarded-For": "192.168.5.7"})
            # Three typos cost nothing; then each wrong key doubles the wait (2, 4, 8 s, waited out here) until
            # this address must wait 16 s: longer than the teacher below takes to come in.
            for wait in (0, 0, 0, 2, 4, 8):
                time.sleep(wait + 0.3 if wait else 0)
                _type_key(student, f"guess {wait}")
                student.get_by_text("That is not the teacher key.").wait_for()
            _type_key(student, TEACHER_KEY)   # now the student's address waits: not even the right key is checked
            student.get_by_text("Your key was not checked: too many wrong keys").wait_for()
            assert not student.get_by_text("Teacher mode: you can").is_visible()
            # A new window that writes the teacher's address into the header itself gains nothing: the proxy
            # appends the address it saw, and only that right-most one is read.
            sly = _new_page(browser, url, headers={"X-Forwarded-For": "192.168.5.1, 192.168.5.7"})
            _type_key(sly, TEACHER_KEY)
            sly.get_by_text("Your key was not checked: too many wrong keys").wait_for()
            # The teacher, behind the same proxy at another address, is let in at once.
            teacher = _new_page(browser, url, headers={"X-Forwarded-For": "192.168.5.1"})
            _unlock(teacher)
            browser.close()
