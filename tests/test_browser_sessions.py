"""Two students in two browsers on one app: the training queue keeps their trainings apart.

Bob and Alice each open the Train page in their own browser context (their own cookies and Streamlit session,
as two laptops would). Bob starts a long training; Alice presses Train while it runs and sees her place in the
queue. Each page shows only its own training as the one it watches and may stop; the other's is listed, never
marked "(yours)", with no Stop for it. Bob presses Stop: only his run stops (it keeps its finished epochs), and
Alice's training then starts by itself and completes. Afterwards both see both runs: finished runs are shared.

A student is their browser, not their Streamlit session (core/students.py): after a reload, or in a new tab,
Alice still watches and may stop her own training; Bob, even with a hostile cookie, may not.

Run it alone with `python -m pytest -m browser tests/test_browser_sessions.py` (about a minute on two cores).
"""

import re
import time
from pathlib import Path

import pytest

from bench import app_server
from conftest import wait_for_app
from core import runs

pytestmark = pytest.mark.browser

TRAINING_TIMEOUT_MS = 180_000
ALICE, BOB = "Alice's quick cnn", "Bob's long cnn"
# Bob's training is long enough never to end by itself during the test: he stops it.
BOB_EPOCHS = 200


@pytest.fixture
def students(app_url, tmp_path):
    """Two pages on the app, each in its own browser context: (alice, bob). Screenshots kept on the way out."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(app_server.CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=app_server.CHROMIUM, args=app_server.CHROMIUM_ARGS)
        pages = []
        for _ in range(2):
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(f"{app_url}/train")
            pages.append(page)
        yield pages
        for name, page in zip(("alice", "bob"), pages):
            page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        browser.close()


def idle(page) -> None:
    """Waits until the app's script has finished the rerun that the last action started."""
    time.sleep(0.4)
    wait_for_app(page)


def main_text(page) -> str:
    return page.locator("[data-testid='stMain']").inner_text()


def wait_for_text(page, text: str, timeout: float = 60.0, after: str = "") -> str:
    """Waits until the page's main area shows `text` (below the heading `after`, if given), and returns it all.

    The live view redraws itself once a second, and a page draws from the top down: waiting for the text
    itself, not for the page to be idle, is what works for both.
    """
    deadline = time.time() + timeout
    while time.time() < deadline:
        shown = main_text(page)
        below = shown.split(after, 1)[1] if after and after in shown else ("" if after else shown)
        if text in below:
            return shown
        time.sleep(0.5)
    raise AssertionError(f"{text!r} did not appear{f' below {after!r}' if after else ''} within {timeout:.0f} s; "
                         f"the page shows:\n{main_text(page)}")


def set_up_training(page, name: str, epochs: int) -> None:
    """A small CNN (8 filters) for `epochs` epochs on the offline sample, named `name`."""
    page.get_by_role("heading", name="Train a model").wait_for()
    wait_for_app(page)
    if not page.get_by_label("Epochs", exact=True).is_visible():
        page.locator("[data-testid='stExpander'] summary").filter(has_text="settings").first.click()
        idle(page)
    for label, value in (("Filters", "8"), ("Epochs", str(epochs)), ("Run name (optional)", name)):
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        field.press("Enter")
        idle(page)
        assert page.get_by_label(label, exact=True).input_value() == value


def open_page(page, title: str) -> None:
    """Follows a link of the sidebar navigation: the same browser session, as a student clicking there."""
    page.locator("[data-testid='stSidebarNav'] a").filter(has_text=title).click()
    idle(page)


def press_train(page) -> None:
    page.get_by_role("button", name="Train", exact=True).click()
    idle(page)


def test_two_students_train_at_once_and_stop_only_their_own(students, isolated_runs):
    alice, bob = students
    set_up_training(bob, BOB, epochs=BOB_EPOCHS)
    set_up_training(alice, ALICE, epochs=1)

    # Bob starts first: his training runs.
    press_train(bob)
    bob.get_by_role("button", name="Stop training").wait_for(timeout=TRAINING_TIMEOUT_MS)

    # Alice presses Train while Bob's runs: she waits, and sees her place and a Cancel of her own.
    press_train(alice)
    shown = wait_for_text(alice, "Waiting: 1 training ahead of yours")
    assert f"Training: {ALICE}" in shown
    alice.get_by_role("button", name="Cancel").wait_for()
    # Bob's training is listed on her page, as someone else's: no "(yours)", nothing she could stop.
    shown = wait_for_text(alice, BOB)
    assert "(yours)" not in shown
    assert alice.get_by_role("button", name="Stop training").count() == 0

    # On Bob's page (back from another page, the same session) his own training is the one he watches and may
    # stop; Alice's waits in the list of the server's trainings, not his either.
    open_page(bob, "Results")
    open_page(bob, "Train")
    shown = wait_for_text(bob, ALICE)
    assert f"Training: {BOB}" in shown and "(yours)" not in shown
    assert bob.get_by_role("button", name="Stop training").count() == 1
    assert bob.get_by_role("button", name="Cancel").count() == 0

    # Once an epoch of his has finished (the live view shows epoch 2 or later), Bob stops his training.
    deadline = time.time() + TRAINING_TIMEOUT_MS / 1000
    while not any(int(epoch) >= 2 for epoch in re.findall(rf"Epoch (\d+)/{BOB_EPOCHS}", main_text(bob))):
        assert time.time() < deadline, f"Bob's training shows no second epoch:\n{main_text(bob)}"
        time.sleep(0.5)
    bob.get_by_role("button", name="Stop training").click()
    wait_for_text(bob, "Stopped by request", timeout=60)

    # Alice's training starts by itself and completes, with its test scores on her page.
    alice.locator("[data-testid='stMetric']").filter(has_text="Test accuracy").wait_for(
        timeout=TRAINING_TIMEOUT_MS)
    idle(alice)
    shown = main_text(alice)
    # Her result says nothing of Bob's run; his stays listed below it among the server's trainings.
    result = shown.split(f"Result: {ALICE}", 1)[-1].split("Trainings on this server")[0]
    assert f"Result: {ALICE}" in shown and "Finished in" in result and BOB not in result

    # On disk: Bob's run stopped with its finished epochs, Alice's completed after it, each with its owner.
    by_name = {run.name: run for run in runs.RunStore(isolated_runs).list()}
    assert set(by_name) == {ALICE, BOB}
    alice_run, bob_run = by_name[ALICE], by_name[BOB]
    assert bob_run.status == "stopped" and bob_run.meta["epochs_done"] >= 1 and bob_run.has_model
    assert alice_run.status == "completed" and alice_run.test_accuracy > 0.5
    assert alice_run.meta["owner"] and bob_run.meta["owner"] and alice_run.meta["owner"] != bob_run.meta["owner"]
    # One at a time: Alice's began only after Bob's had ended.
    assert alice_run.meta["started"] >= bob_run.meta["started"] + bob_run.meta["duration"] - 0.5

    # Finished runs are shared: each student's page compares both.
    bob.reload()
    wait_for_app(bob)
    for page, other in ((alice, BOB), (bob, ALICE)):
        wait_for_text(page, other, after="Compare runs")


def test_a_student_is_their_browser_a_reload_or_a_new_tab_keeps_their_training(students, isolated_runs, app_url):
    from core import students as student_ids

    alice, bob = students
    wait_for_app(alice)
    # Her first visit stored a new random token in her browser, for this app only, for 30 days.
    cookie = next(cookie for cookie in alice.context.cookies() if cookie["name"] == student_ids.COOKIE_NAME)
    assert re.fullmatch(r"[0-9a-f]{32}", cookie["value"]), cookie
    assert cookie["path"] == "/" and cookie["sameSite"] == "Strict" and not cookie["httpOnly"]
    assert 29 * 24 * 3600 < cookie["expires"] - time.time() <= 30 * 24 * 3600
    # The script that stored it takes no room on the page.
    assert alice.locator(".st-key-student_cookie").count() == 1
    assert alice.locator(".st-key-student_cookie").bounding_box() is None

    name = "Alice's long cnn"
    set_up_training(alice, name, epochs=BOB_EPOCHS)
    press_train(alice)
    alice.get_by_role("button", name="Stop training").wait_for(timeout=TRAINING_TIMEOUT_MS)

    # A reload is a new Streamlit session, but the same student: she still watches and may stop her training.
    alice.reload()
    wait_for_app(alice)
    wait_for_text(alice, f"Training: {name}")
    alice.get_by_role("button", name="Stop training").wait_for()
    # Her browser sent the token: nothing new to store.
    assert alice.locator(".st-key-student_cookie").count() == 0
    # A new tab of her browser too.
    tab = alice.context.new_page()
    tab.goto(f"{app_url}/train")
    wait_for_app(tab)
    wait_for_text(tab, f"Training: {name}")
    tab.get_by_role("button", name="Stop training").wait_for()
    tab.close()

    # Bob, in another browser, sees it listed as someone else's, with nothing he could stop: not even with a
    # hostile cookie of his own making (it is ignored and replaced by a new token).
    hostile = "../../owners<b>x</b>"
    bob.context.add_cookies([{"name": student_ids.COOKIE_NAME, "value": hostile, "url": app_url}])
    bob.reload()
    wait_for_app(bob)
    shown = wait_for_text(bob, name)
    assert "(yours)" not in shown and bob.get_by_role("button", name="Stop training").count() == 0
    # The page's hidden script stores the new token a moment after the page shows (a CI run read the cookie first).
    deadline = time.time() + 15
    while True:
        bob_cookie = next(cookie for cookie in bob.context.cookies() if cookie["name"] == student_ids.COOKIE_NAME)
        if bob_cookie["value"] != hostile or time.time() > deadline:
            break
        time.sleep(0.2)
    assert re.fullmatch(r"[0-9a-f]{32}", bob_cookie["value"]) and bob_cookie["value"] != cookie["value"]

    # On disk the run's owner is a hash of her token, never the token: reading it does not let anyone be her.
    run = runs.RunStore(isolated_runs).list()[0]
    assert run.owner == student_ids.owner_id(cookie["value"]) and cookie["value"] not in json_text(run)

    alice.get_by_role("button", name="Stop training").click()
    deadline = time.time() + 60
    while runs.RunStore(isolated_runs).get(run.id).status in runs.ACTIVE_STATUSES:
        assert time.time() < deadline, "Alice's Stop did not stop her training"
        time.sleep(0.5)


def json_text(run) -> str:
    return (run.path / "run.json").read_text(encoding="utf-8")


def test_a_draw_page_left_untouched_gets_the_model_another_student_trains(students, isolated_runs, app_url):
    """Alice opened the Draw page before any model existed and leaves it alone; Bob trains a small CNN on the Train
    page. Alice's page finds Bob's model by itself (it looks every few seconds while it offers the one click): its
    canvas gets a model to read with, without a click or a reload."""
    alice, bob = students
    alice.goto(f"{app_url}/draw")
    wait_for_app(alice)
    wait_for_text(alice, "No digit model yet")
    # The list's place is kept, empty (the canvas under it does not move when a model comes).
    assert alice.locator("[class*='st-key-draw_model_']").count() == 1
    assert alice.locator(".st-key-draw_model_waiting input").is_disabled()

    set_up_training(bob, BOB, epochs=1)
    press_train(bob)
    bob.locator("[data-testid='stMetric']").filter(has_text="Test accuracy").wait_for(timeout=TRAINING_TIMEOUT_MS)

    # Nothing done on Alice's page: Bob's model appears in its list, chosen, within a few seconds.
    picker = alice.locator("[class*='st-key-draw_model_']:not(.st-key-draw_model_waiting) input")
    picker.wait_for(timeout=15_000)
    idle(alice)
    assert BOB in picker.input_value()
    assert "No digit model yet" not in main_text(alice)
    # The one click is still offered beside it (Bob's small model is not the default digit model).
    alice.get_by_role("button", name="Train the default digit model").wait_for()

    # Alice draws. A reload is a new session of the same student: her drawing comes back on the canvas with its
    # answer (the server remembers each student's last one), while Bob's Draw page starts with an empty canvas.
    from test_browser import CANVAS, draw_digit, prediction_metric, shown_prediction

    draw_digit(alice, 1)
    answer = shown_prediction(alice)
    alice.reload()
    alice.wait_for_selector(CANVAS)
    assert shown_prediction(alice) == answer
    assert _ink(alice) > 1000
    bob.goto(f"{app_url}/draw")
    bob.wait_for_selector(CANVAS)
    idle(bob)
    assert _ink(bob) == 0 and prediction_metric(bob).count() == 0


def _ink(page) -> int:
    """How many of the canvas's pixels are drawn (its strokes are painted on the lower of its two layers)."""
    return page.locator("canvas.dc-canvas.lower-canvas").evaluate(
        "canvas => { const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;"
        " let ink = 0; for (let i = 0; i < data.length; i += 4) { if (data[i] > 128) { ink++; } } return ink; }")
