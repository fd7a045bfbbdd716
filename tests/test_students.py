"""Who a student is (core/students.py): a token cookie checked strictly, an owner id that is its hash, and the
app's per-session fallback where no browser sends cookies (AppTest). The real browser side (the cookie kept
across a reload and a new tab) is in tests/test_browser_sessions.py."""

import re

import pytest

from conftest import open_page
from core import students


@pytest.mark.parametrize("value", [
    None, "", "0" * 31, "0" * 33, "A" * 32, "g" * 32, " " + "0" * 31, "0" * 32 + "\n", "../../" + "0" * 26,
    "0" * 16 + "<script>", 12345, b"0" * 32,
])
def test_anything_but_exactly_32_lowercase_hex_characters_is_not_a_token(value):
    assert not students.valid_token(value)
    if isinstance(value, str):
        with pytest.raises(ValueError, match="32 lowercase hex"):
            students.owner_id(value)
        with pytest.raises(ValueError, match="32 lowercase hex"):
            students.cookie_script(value)


def test_the_owner_id_is_a_hash_of_the_token_never_the_token():
    token = students.new_token()
    assert students.valid_token(token) and token != students.new_token()
    owner = students.owner_id(token)
    assert re.fullmatch(r"[0-9a-f]{16}", owner) and owner == students.owner_id(token)
    assert owner not in token and owner != students.owner_id(students.new_token())


def test_the_cookie_script_keeps_the_token_for_this_app_for_30_days():
    token = "0123456789abcdef" * 2
    script = students.cookie_script(token)
    assert f"{students.COOKIE_NAME}={token}; path=/; max-age=2592000; SameSite=Strict" in script
    assert script.startswith("<script>") and script.endswith("</script>")


def test_without_cookies_each_session_is_a_student_of_its_own():
    first, second = open_page(), open_page()
    owners = [app.session_state["owner"] for app in (first, second)]
    assert all(re.fullmatch(r"[0-9a-f]{16}", owner) for owner in owners) and owners[0] != owners[1]
    # The new token waits to be stored in the browser; the owner id is its hash.
    token = first.session_state["student_token_to_store"]
    assert students.owner_id(token) == owners[0]
    # An owner the session already has is kept (the tests give one).
    assert open_page(owner="student-a").session_state["owner"] == "student-a"
