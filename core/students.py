"""Who a student is: a random token in a cookie of their browser, and the owner id the app derives from it.

The app has no accounts. A student is a browser: the first page they open without a valid token cookie gets a
new random token (32 hex characters), which their browser keeps for 30 days (`COOKIE_NAME`); every later page,
reload or new tab of that browser sends it, so the student keeps their trainings (Stop, delete), their class
drawings and their per-student limits. A private window or cleared cookies is a new student; the teacher can
stop or remove anything.

What the app stores and shows (run.json's `owner`, a class drawing's owner, an export) is `owner_id(token)`, a
hash of the token, never the token: an owner id seen somewhere does not let anyone act as its owner. A cookie
value that is not exactly a token (`valid_token`) is ignored and replaced; it never reaches anything else.

    from core import students
    token = cookie if students.valid_token(cookie) else students.new_token()
    owner = students.owner_id(token)
    script = students.cookie_script(token)     # for the page to run in the browser when the cookie was missing
"""

import hashlib
import re
import secrets

COOKIE_NAME = "neural_canvas_student"
TOKEN_HEX_LENGTH = 32
COOKIE_MAX_AGE_SECONDS = 30 * 24 * 3600
OWNER_ID_HEX_LENGTH = 16
_TOKEN = re.compile(rf"[0-9a-f]{{{TOKEN_HEX_LENGTH}}}")


def valid_token(value) -> bool:
    """Whether `value` is a token this app makes: exactly 32 lowercase hex characters, nothing else."""
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


def new_token() -> str:
    """A new student's token (128 random bits)."""
    return secrets.token_hex(TOKEN_HEX_LENGTH // 2)


def owner_id(token: str) -> str:
    """The owner id of the student holding `token` (16 hex characters of its SHA-256); ValueError for a bad token."""
    if not valid_token(token):
        raise ValueError("A student token is 32 lowercase hex characters.")
    return hashlib.sha256(f"neural-canvas-student:{token}".encode()).hexdigest()[:OWNER_ID_HEX_LENGTH]


def cookie_script(token: str) -> str:
    """A <script> that stores `token` in the browser's cookie for this app (the server cannot set cookies).

    SameSite=Strict: no other site's page makes the browser send it; Secure when the app is served over https.
    """
    if not valid_token(token):
        raise ValueError("A student token is 32 lowercase hex characters.")
    return ("<script>(function () {"
            f"var cookie = '{COOKIE_NAME}={token}; path=/; max-age={COOKIE_MAX_AGE_SECONDS}; SameSite=Strict';"
            "if (window.location.protocol === 'https:') { cookie += '; Secure'; }"
            "document.cookie = cookie;"
            "})();</script>")
