"""The classroom: the teacher key, the per-student limit, and who may remove which class drawing."""

import io

import numpy as np
import pytest

from core import class_set, classroom


def test_the_teacher_key_from_the_environment_is_the_only_one_accepted(monkeypatch):
    monkeypatch.setenv(classroom.TEACHER_KEY_VARIABLE, "correct horse battery")
    assert classroom.is_teacher_key("correct horse battery")
    for guess in ("", "correct", "correct horse battery!", "CORRECT HORSE BATTERY", None, 12345, ["x"]):
        assert not classroom.is_teacher_key(guess)


def test_a_generated_key_is_stable_for_the_process_and_printed_once(monkeypatch):
    monkeypatch.delenv(classroom.TEACHER_KEY_VARIABLE, raising=False)
    monkeypatch.setattr(classroom, "_generated_key", None)
    monkeypatch.setattr(classroom, "_announced", False)
    key = classroom.teacher_key()
    assert len(key) >= classroom.MIN_KEY_LENGTH and classroom.teacher_key() == key
    assert classroom.is_teacher_key(key)
    terminal = io.StringIO()
    classroom.announce_teacher_key(terminal)
    classroom.announce_teacher_key(terminal)
    assert terminal.getvalue().count(key) == 1


class _Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_wrong_keys_make_an_address_wait_longer_and_longer_without_checking_the_key(monkeypatch):
    monkeypatch.setenv(classroom.TEACHER_KEY_VARIABLE, "correct horse battery")
    clock = _Clock()
    for _ in range(classroom.FREE_WRONG_KEYS):  # three typos cost nothing
        assert not classroom.try_teacher_key("correct horse", "10.0.0.7", clock=clock)
    waits = []
    for _ in range(8):
        with pytest.raises(classroom.TooManyWrongKeys, match="not checked: too many wrong keys") as refused:
            # Even the right key is not checked while the address waits: a guess made now tells nothing.
            classroom.try_teacher_key("correct horse battery", "10.0.0.7", clock=clock)
        waits.append(refused.value.seconds)
        clock.now += refused.value.seconds
        assert not classroom.try_teacher_key("a guess", "10.0.0.7", clock=clock)
    assert waits == [2, 4, 8, 16, 32, 60, 60, 60]
    # The teacher at another address is not slowed down by it, nor is this machine itself (no address).
    assert classroom.try_teacher_key("correct horse battery", "10.0.0.1", clock=clock)
    assert classroom.try_teacher_key("correct horse battery", None, clock=clock)
    # Fifteen quiet minutes forget the wrong keys; the right key clears them.
    clock.now += classroom.FORGET_AFTER_SECONDS + 1
    assert classroom.try_teacher_key("correct horse battery", "10.0.0.7", clock=clock)
    for _ in range(classroom.FREE_WRONG_KEYS):
        assert not classroom.try_teacher_key("typo", "10.0.0.7", clock=clock)


def test_wrong_keys_are_counted_by_address_and_an_ipv6_computer_by_its_network(monkeypatch):
    assert classroom.guess_place("10.0.0.7") == "10.0.0.7"
    # A dual-stack server writes an IPv4 browser as ::ffff:a.b.c.d: the same place.
    assert classroom.guess_place("::ffff:10.0.0.7") == "10.0.0.7"
    # Any address a computer may give itself in its own IPv6 network is the same place.
    assert classroom.guess_place("2001:db8:1:2::5") == classroom.guess_place("2001:db8:1:2:ab:cd:ef:1") \
        == "2001:db8:1:2::/64"
    assert classroom.guess_place("2001:db8:1:3::5") != classroom.guess_place("2001:db8:1:2::5")
    assert classroom.guess_place(None) == classroom.guess_place("") == "this machine"
    # What is no address at all (a header passed on unchecked) is one place, however long or varied.
    assert classroom.guess_place("x" * 4000) == classroom.guess_place("unknown") == "not an address"
    monkeypatch.setenv(classroom.TEACHER_KEY_VARIABLE, "correct horse battery")
    clock = _Clock()
    for suffix in range(classroom.FREE_WRONG_KEYS):
        assert not classroom.try_teacher_key("typo", f"2001:db8:1:2::{suffix + 1}", clock=clock)
    with pytest.raises(classroom.TooManyWrongKeys):
        classroom.try_teacher_key("correct horse battery", "2001:db8:1:2::99", clock=clock)


def test_the_memory_of_wrong_keys_stays_bounded(monkeypatch):
    monkeypatch.setenv(classroom.TEACHER_KEY_VARIABLE, "correct horse battery")
    monkeypatch.setattr(classroom, "_MAX_ADDRESSES_TRACKED", 100)
    clock = _Clock()
    teacher = "10.9.9.9"
    for _ in range(classroom.FREE_WRONG_KEYS):
        classroom.try_teacher_key("typo", teacher, clock=clock)
    # Thousands of addresses within the quiet quarter of an hour: never more than the limit is kept, and the
    # least recent go first.
    for number in range(5000):
        clock.now += 0.01
        classroom.try_teacher_key("guess", f"10.1.{number // 250}.{number % 250}", clock=clock)
        assert len(classroom._wrong_by_address) <= 100
    assert teacher not in classroom._wrong_by_address
    assert "10.1.19.249" in classroom._wrong_by_address


def test_a_huge_guess_is_refused_without_comparing_it(monkeypatch):
    monkeypatch.setenv(classroom.TEACHER_KEY_VARIABLE, "correct horse battery")
    assert not classroom.is_teacher_key("correct horse battery" + " " * classroom.MAX_KEY_LENGTH)
    monkeypatch.setenv(classroom.TEACHER_KEY_VARIABLE, "k" * (classroom.MAX_KEY_LENGTH + 1))
    with pytest.raises(ValueError, match="at most 200 characters"):
        classroom.teacher_key()


def test_a_short_configured_key_is_refused(monkeypatch):
    monkeypatch.setenv(classroom.TEACHER_KEY_VARIABLE, "1234")
    with pytest.raises(ValueError, match="at least 8 characters"):
        classroom.teacher_key()


def test_the_per_student_limit_is_stored_for_every_process(isolated_runs):
    assert classroom.max_jobs_per_student() == classroom.DEFAULT_MAX_JOBS_PER_STUDENT
    classroom.set_max_jobs_per_student(5)
    assert classroom.max_jobs_per_student() == 5
    assert (isolated_runs / classroom.SETTINGS_FILE).is_file()
    for bad in (0, 21, 2.5, "3", True, None):
        with pytest.raises(ValueError, match="whole number from 1 to 20"):
            classroom.set_max_jobs_per_student(bad)
    assert classroom.max_jobs_per_student() == 5


def test_a_damaged_settings_file_keeps_the_default(isolated_runs):
    isolated_runs.mkdir(parents=True, exist_ok=True)
    (isolated_runs / classroom.SETTINGS_FILE).write_text('{"max_jobs_per_student": ["many"]}')
    assert classroom.max_jobs_per_student() == classroom.DEFAULT_MAX_JOBS_PER_STUDENT


def _drawing(value: int) -> np.ndarray:
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 10 + value % 5] = 255
    return image


def test_a_student_removes_only_their_own_drawings_the_teacher_any(tmp_path):
    drawings = class_set.ClassSet(tmp_path / "drawings")
    alice = drawings.add(_drawing(1), 1, owner="alice")
    bob = drawings.add(_drawing(2), 2, owner="bob")
    assert drawings.owned_by("alice") == {alice} and drawings.owned_by("bob") == {bob}
    with pytest.raises(PermissionError, match="Only the student who saved this drawing"):
        drawings.remove(bob, owner="alice")
    assert len(drawings) == 2  # nothing lost
    assert drawings.remove(alice, owner="alice")
    assert drawings.remove(bob, owner=None)  # the teacher
    assert len(drawings) == 0 and drawings.owned_by("bob") == set()


def test_an_owner_id_is_never_a_path(tmp_path):
    drawings = class_set.ClassSet(tmp_path / "drawings")
    for owner in ("../x", "a/b", ".", "x" * 65):
        with pytest.raises(ValueError, match="owner id"):
            drawings.add(_drawing(1), 1, owner=owner)
        assert drawings.owned_by(owner) == set()
    assert not (tmp_path / "x").exists()
