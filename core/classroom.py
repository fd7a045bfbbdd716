"""The classroom: who the teacher is, and the limits the teacher sets for students.

A classroom server is open to every student on the network, so the actions that touch the whole class (remove
any or all class drawings, delete any run, stop any training, change the limits) need the teacher key. It is
`NEURAL_CANVAS_TEACHER_KEY` if set; otherwise a random key made once per server process and printed in the
terminal that started it (`announce_teacher_key`), which only the teacher sees. A key is compared in constant
time, and no page or link ever shows it.

The per-student limits live in `classroom.json` in the runs folder, so that every process of the server (the
web server and the training workers) reads the same values:

    from core import classroom
    classroom.is_teacher_key(typed)              # True only for the right key
    classroom.try_teacher_key(typed, address)    # the same, but guesses are slowed down (TooManyWrongKeys)
    classroom.max_jobs_per_student()             # 2 until the teacher sets another
    classroom.set_max_jobs_per_student(3)
"""

import hmac
import ipaddress
import json
import math
import os
import secrets
import sys
import threading
import time
from pathlib import Path

from core import runs

TEACHER_KEY_VARIABLE = "NEURAL_CANVAS_TEACHER_KEY"
SETTINGS_FILE = "classroom.json"
DEFAULT_MAX_JOBS_PER_STUDENT = 2
MAX_JOBS_PER_STUDENT_LIMIT = 20
MIN_KEY_LENGTH = 8
MAX_KEY_LENGTH = 200

_generated_key: str | None = None
_announced = False
_key_lock = threading.Lock()


def teacher_key() -> str:
    """The teacher key of this server: NEURAL_CANVAS_TEACHER_KEY, else one made at random once per process."""
    global _generated_key
    configured = os.environ.get(TEACHER_KEY_VARIABLE, "").strip()
    if configured:
        if len(configured) < MIN_KEY_LENGTH:
            raise ValueError(f"{TEACHER_KEY_VARIABLE} must be at least {MIN_KEY_LENGTH} characters long, so that "
                             "students cannot guess it.")
        if len(configured) > MAX_KEY_LENGTH:
            raise ValueError(f"{TEACHER_KEY_VARIABLE} may be at most {MAX_KEY_LENGTH} characters long, what the "
                             "sidebar's key field takes.")
        return configured
    with _key_lock:
        if _generated_key is None:
            _generated_key = secrets.token_urlsafe(12)
        return _generated_key


def announce_teacher_key(stream=None) -> None:
    """Prints, once per process, where the teacher finds the key: the key itself when it was generated here."""
    global _announced
    with _key_lock:
        if _announced:
            return
        _announced = True
    stream = stream or sys.stderr
    if os.environ.get(TEACHER_KEY_VARIABLE, "").strip():
        print(f"Neural Canvas: the teacher key is the one set in {TEACHER_KEY_VARIABLE}.", file=stream, flush=True)
    else:
        print(f"Neural Canvas: teacher key for this server: {teacher_key()}\n"
              f"  (enter it in the app's sidebar; set {TEACHER_KEY_VARIABLE} to choose your own)",
              file=stream, flush=True)


def is_teacher_key(candidate) -> bool:
    """Whether `candidate` is the teacher key, compared in constant time (no timing tells how much matched)."""
    if not isinstance(candidate, str) or not candidate or len(candidate) > MAX_KEY_LENGTH:
        return False
    return hmac.compare_digest(candidate.strip().encode("utf-8"), teacher_key().encode("utf-8"))


# --- guessing the key ---------------------------------------------------------------------------------------
# A key the teacher chose may be guessable: every wrong key slows the next guesses from the same place down. A
# place is the network address the browser connects from (`st.context.ip_address`), not the browser: a student
# who opens a new private window, or makes up a cookie, is still at the same address. Each address has a few
# tries for typos, then waits twice as long after each wrong key, up to a minute: about one guess a minute. No
# key is checked while an address waits, the right one included, so a guess made then tells nothing. The
# teacher, at another address, is never slowed down by a student's guesses. Behind a reverse proxy on the server
# (or one listed in FORWARDED_ALLOW_IPS), Streamlit's web server takes the address from the proxy's
# X-Forwarded-For header: see docs/security.md.
FREE_WRONG_KEYS = 3
MAX_WAIT_SECONDS = 60.0
FORGET_AFTER_SECONDS = 15 * 60
_MAX_ADDRESSES_TRACKED = 10_000


class TooManyWrongKeys(Exception):
    """Too many wrong teacher keys from one network address: `seconds` to wait before the next is checked."""

    def __init__(self, seconds: float):
        self.seconds = max(1, math.ceil(seconds))
        super().__init__(f"Your key was not checked: too many wrong keys from this computer just now. Wait "
                         f"{self.seconds} s, then type it again.")


_clock = time.monotonic
_attempts_lock = threading.Lock()
_wrong_by_address: dict[str, tuple[int, float]] = {}   # address -> (wrong keys in a row, time of the last)


def _wait(address: str, now: float) -> float:
    count, last = _wrong_by_address.get(address, (0, now))
    if count < FREE_WRONG_KEYS or now - last > FORGET_AFTER_SECONDS:
        return 0.0
    return last + min(MAX_WAIT_SECONDS, 2.0 ** (count - FREE_WRONG_KEYS + 1)) - now


def guess_place(address) -> str:
    """Where wrong keys are counted for a network `address` (Streamlit's `st.context.ip_address`).

    An IPv4 address is itself (also when a dual-stack server writes it ::ffff:a.b.c.d). An IPv6 address counts
    by its /64 network: a computer can give itself any number of addresses in its own network, and would
    otherwise get three free guesses with each. None is this machine itself. Anything that is not an address (a
    proxy that lets the browser's own X-Forwarded-For through hands that on as the address) is one shared place,
    so that made-up values neither escape the limit nor fill the memory.
    """
    if address is None or address == "":
        return "this machine"
    try:
        parsed = ipaddress.ip_address(str(address)[:64].strip())
    except ValueError:
        return "not an address"
    mapped = getattr(parsed, "ipv4_mapped", None)
    if mapped is not None:
        return str(mapped)
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def try_teacher_key(candidate, address: str | None, *, clock=None) -> bool:
    """Whether `candidate` is the teacher key, typed at network `address` (None: this machine itself).

    Raises TooManyWrongKeys, without checking the key, while the address (`guess_place`) must wait after wrong
    keys. The right key clears the address's count; fifteen quiet minutes forget it too.
    """
    address = guess_place(address)
    with _attempts_lock:
        now = (clock or _clock)()
        wait = _wait(address, now)
        if wait > 0:
            raise TooManyWrongKeys(wait)
        if is_teacher_key(candidate):
            _wrong_by_address.pop(address, None)
            return True
        count, last = _wrong_by_address.get(address, (0, now))
        if now - last > FORGET_AFTER_SECONDS:
            count = 0
        _wrong_by_address[address] = (count + 1, now)
        if len(_wrong_by_address) > _MAX_ADDRESSES_TRACKED:
            _forget_the_oldest(now)
        return False


def _forget_the_oldest(now: float) -> None:
    """Keeps the memory of wrong keys bounded: the quiet addresses go first, then the least recent ones, down to
    nine tenths of the limit (so that this runs once per thousand new addresses, not on every wrong key)."""
    for stale in [key for key, (_, when) in _wrong_by_address.items() if now - when > FORGET_AFTER_SECONDS]:
        del _wrong_by_address[stale]
    excess = len(_wrong_by_address) - _MAX_ADDRESSES_TRACKED * 9 // 10
    if excess > 0:
        for key, _ in sorted(_wrong_by_address.items(), key=lambda item: item[1][1])[:excess]:
            del _wrong_by_address[key]


def forget_wrong_keys() -> None:
    """Clears every count of wrong keys (tests; a server restart does the same)."""
    with _attempts_lock:
        _wrong_by_address.clear()


# --- the limits the teacher sets -------------------------------------------------------------------------


def _settings_path() -> Path:
    return runs.default_runs_dir() / SETTINGS_FILE


def _read_settings() -> dict:
    try:
        with open(_settings_path(), encoding="utf-8") as file:
            settings = json.load(file)
    except (OSError, ValueError):
        return {}  # no file yet, or a damaged one: the defaults stand
    return settings if isinstance(settings, dict) else {}


def max_jobs_per_student(default: int = DEFAULT_MAX_JOBS_PER_STUDENT) -> int:
    """How many trainings one student (one browser session) may have queued or running at once: the teacher's
    setting, or `default` while the teacher has set none."""
    value = _read_settings().get("max_jobs_per_student")
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_JOBS_PER_STUDENT_LIMIT:
        return value
    return default


def set_max_jobs_per_student(value) -> int:
    """Stores a new limit (a whole number from 1 to 20) for every process of the server; returns it."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_JOBS_PER_STUDENT_LIMIT:
        raise ValueError(f"The trainings per student must be a whole number from 1 to "
                         f"{MAX_JOBS_PER_STUDENT_LIMIT}; got {value!r}.")
    settings = {**_read_settings(), "max_jobs_per_student": value}
    path = _settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole or not at all: a server process reading it meanwhile sees the old file or the new one.
    runs.write_atomically(path, lambda temporary: Path(temporary).write_text(json.dumps(settings), encoding="utf-8"))
    return value
