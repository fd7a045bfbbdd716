"""The run store: every training is a folder on disk that survives restarts, crashes and bad input.

    runs/<run id>/run.json               what was trained, how, its history, metrics and status
    runs/<run id>/model.keras            the weights of the best finished epoch (absent until one finishes)
    runs/<run id>/test_probabilities.npy the model's probabilities on the test set, for the Results page

The folder is `NEURAL_CANVAS_RUNS` if set, else `runs/` beside the code. Run ids are made here, never from
what a user types: names are labels stored inside run.json. Every write goes to a temporary file that is then
renamed over the old one, so a crash leaves the previous version, never half a file; a full or read-only disk
raises `RunStoreError`, whose message says what to do, and leaves no half-made run. A folder that cannot be
read, or whose model failed to load, is listed as damaged and never breaks the listing.

run.json is read through one typed schema (`RUN_SCHEMA`): a file that is valid JSON but holds the wrong types
(`"status": ["completed"]`, `"name": 12345`) marks the run damaged, and the `Run` object's properties
(`status`, `name`, `history`, `duration`, `best_epoch`, `test_accuracy`, `owner` ...) always have their
stated types, so no page or command ever fails on what a file says. Every change to a run.json holds one
lock per run, a file lock (`run.lock` in the run's folder), which holds across RunStore objects, threads and
processes (the job workers write runs too).
"""

import contextlib
import dataclasses
import datetime
import errno
import fcntl
import json
import numbers
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import unicodedata
import uuid
import zipfile
from pathlib import Path

import numpy as np

from core import text

RUNS_DIR_VARIABLE = "NEURAL_CANVAS_RUNS"
MAX_NAME_LENGTH = 80
_RUN_ID = re.compile(r"^[0-9]{8}-[0-9]{6}-[a-z0-9_]{1,20}-[0-9a-f]{6}$")

# Statuses a run.json can hold, and two that listing derives: "interrupted" (it says running, but the process
# that ran it is gone) and "damaged" (its folder cannot be read).
ACTIVE_STATUSES = ("queued", "running")
FINAL_STATUSES = ("completed", "stopped", "failed")

# Identifies this process, so that a run left "running" by a process that died is seen as interrupted.
PROCESS_TOKEN = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"


# A run trained by a job worker (core.jobs) touches this file every few seconds; older than this, its worker
# is gone (kill -9, a machine switched off).
HEARTBEAT_FILE = "heartbeat"
HEARTBEAT_STALE_SECONDS = 15.0


def _job_alive(folder: Path, meta: dict) -> bool:
    """Whether a run handed to a job worker is still alive though another process made it: waiting in a queue
    that outlives the app (Redis), or training with a fresh heartbeat."""
    job = meta.get("job")
    if not isinstance(job, dict):
        return False
    if meta.get("status") == "queued":
        return job.get("backend") == "rq"
    try:
        return time.time() - (folder / HEARTBEAT_FILE).stat().st_mtime < HEARTBEAT_STALE_SECONDS
    except OSError:
        return False


class RunNotFound(KeyError):
    def __str__(self):
        return str(self.args[0]) if self.args else "Run not found."


class RunStoreError(OSError):
    """The runs folder cannot be written: the message says why and what to do."""


def default_runs_dir() -> Path:
    configured = os.environ.get(RUNS_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parent.parent / "runs"


# The one escaping helper lives in core/text.py; this name stays for the code that already calls it.
markdown_safe = text.markdown_escape


# Dots that look like the " · " between the parts of a run's label: in a name they become hyphens, so that a name
# cannot pass for a label's accuracy or status.
_LABEL_SEPARATORS = "·•∙⋅・‧･●"


def clean_name(name) -> str:
    """A run name as a safe one-line label: no control characters, no surrounding space, no label separator
    (a hyphen instead), 80 characters at most."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = "".join(" " if unicodedata.category(char)[0] in "CZ" else "-" if char in _LABEL_SEPARATORS else char
                   for char in text)
    text = re.sub(r"\s+", " ", text).strip()
    return text[:MAX_NAME_LENGTH]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _store_error(action: str, error: OSError) -> "RunStoreError":
    """A RunStoreError for a failed write, whose message says what happened and what to do about it."""
    reason = error.strerror or str(error)
    if error.errno == errno.ENOSPC or error.errno == errno.EDQUOT:
        advice = ("The disk is full: delete old runs (Results page) or free some space on the server, "
                  "then try again.")
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        advice = (f"The runs folder cannot be written to: give the server permission to write there, or set "
                  f"{RUNS_DIR_VARIABLE} to a folder it can write to.")
    else:
        advice = f"Check the disk and the runs folder, or set {RUNS_DIR_VARIABLE} to another folder."
    store_error = RunStoreError(f"{action} ({reason}). {advice}")
    store_error.errno = error.errno
    return store_error


def write_atomically(path: Path, write) -> None:
    """Calls write(temporary_path), then renames the temporary file over `path`.

    A failure of the disk (full, read-only) raises RunStoreError and leaves the previous `path` as it was,
    with no temporary file beside it.
    """
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    except OSError as error:
        raise _store_error(f"Cannot save {path.name} in {path.parent}", error) from error
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException as error:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        if isinstance(error, OSError) and not isinstance(error, RunStoreError):
            raise _store_error(f"Cannot save {path.name} in {path.parent}; the previous version is kept",
                               error) from error
        raise


# --- the schema of run.json ---------------------------------------------------------------------------------


def _is_text(value) -> bool:
    return isinstance(value, str)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_fraction(value) -> bool:
    # (NaN, the infinities and a huge whole number fail the comparison, the last without being turned into a float.)
    return _is_number(value) and 0 <= value <= 1


def is_pen_summary(value) -> bool:
    """A pen-writer score as `core.pen_shift` writes it: an accuracy between 0 and 1 over a whole number of digits."""
    return isinstance(value, dict) and _is_fraction(value.get("accuracy")) and _is_count(value.get("count"))


def _optional(check):
    return lambda value: value is None or check(value)


def _is_history(value) -> bool:
    return isinstance(value, dict) and all(
        isinstance(key, str) and isinstance(values, list) and all(item is None or _is_number(item) for item in values)
        for key, values in value.items())


def _is_settings(value) -> bool:
    return isinstance(value, dict) and all(
        isinstance(key, str) and (item is None or isinstance(item, (str, bool, int, float)))
        for key, item in value.items())


def _is_test(value) -> bool:
    if not isinstance(value, dict):
        return False
    numbers_ok = (all(_optional(_is_fraction)(value.get(key)) for key in ("accuracy", "roc_auc"))
                  and _optional(_is_number)(value.get("loss")))
    per_class = value.get("per_class_accuracy", [])
    confusion = value.get("confusion", [])
    return (numbers_ok and _optional(_is_count)(value.get("mistakes"))
            and isinstance(per_class, list) and all(item is None or _is_number(item) for item in per_class)
            and isinstance(confusion, list)
            and all(isinstance(row, list) and all(_is_count(item) for item in row) for row in confusion))


def _is_early_stop(value) -> bool:
    return isinstance(value, dict) and _is_count(value.get("epoch")) and _is_count(value.get("patience")) \
        and _optional(_is_count)(value.get("best_epoch")) and isinstance(value.get("monitor", "val_loss"), str)


# Every field a run.json may hold, with the check its value must pass. Absent fields take their defaults
# (see Run); a present field that fails its check marks the run damaged. Unknown fields are kept as they are.
RUN_SCHEMA = {
    "id": _is_text,
    "name": _is_text,
    "dataset": _is_text,
    "architecture": _is_text,
    "hyperparameters": _is_settings,
    # "interrupted" is also written by the job engine when a worker died (core/jobs.py).
    "status": lambda value: value in ACTIVE_STATUSES + FINAL_STATUSES + ("interrupted",),
    "owner": _is_text,
    "created": _is_text,
    "updated": _is_text,
    "process": _is_text,
    "history": _is_history,
    "epochs_done": _optional(_is_count),
    "best_epoch": _optional(_is_count),
    "duration": _optional(_is_number),
    "started": _optional(_is_number),
    "train_images": _optional(_is_count),
    "validation_images": _optional(_is_count),
    "replay_seconds_per_epoch": _optional(_is_number),
    "device": _optional(_is_text),
    "problem": _optional(_is_text),
    "model_problem": _optional(_is_text),
    "imported_from": _optional(_is_text),
    # Set by the Draw page on the training its one click started (not by any setting a student chooses).
    "one_click": _optional(lambda value: isinstance(value, bool)),
    # The run a "learn my handwriting" run started from (core/jobs.py).
    "fine_tuned_from": _optional(_is_text),
    "test": _optional(_is_test),
    # Written by core/pen_shift.py once the model is tested.
    "pen_writers": _optional(is_pen_summary),
    "stopped_early": _optional(_is_early_stop),
}


def schema_problems(meta) -> list[str]:
    """What in a parsed run.json does not fit RUN_SCHEMA, one short line per field; empty if it all fits."""
    if not isinstance(meta, dict):
        return ["run.json does not hold a run"]
    problems = []
    for key, check in RUN_SCHEMA.items():
        if key in meta:
            try:
                fits = check(meta[key])
            except Exception:  # noqa: BLE001 - a check never raises for any JSON value; if it did, it does not fit
                fits = False
            if not fits:
                problems.append(f"{key} has the wrong type ({type(meta[key]).__name__})")
    return problems


@dataclasses.dataclass(frozen=True)
class Run:
    """A run folder as listing reads it. Every property has its stated type whatever run.json holds: a run
    whose run.json does not fit RUN_SCHEMA is damaged and its `meta` holds only its id."""

    id: str
    path: Path
    meta: dict
    status: str
    problem: str = ""

    def _field(self, key: str, default=None):
        """meta[key] if it fits the schema, else `default`."""
        value = self.meta.get(key, default) if isinstance(self.meta, dict) else default
        check = RUN_SCHEMA.get(key)
        if check is not None and value is not None:
            try:
                if not check(value):
                    return default
            except Exception:  # noqa: BLE001 - see schema_problems
                return default
        return value

    @property
    def name(self) -> str:
        return self._field("name") or self.id

    @property
    def damaged(self) -> bool:
        return self.status == "damaged"

    @property
    def has_model(self) -> bool:
        return self.path is not None and (self.path / "model.keras").is_file()

    @property
    def dataset(self) -> str | None:
        return self._field("dataset")

    @property
    def architecture(self) -> str | None:
        return self._field("architecture")

    @property
    def owner(self) -> str:
        return self._field("owner") or ""

    @property
    def hyperparameters(self) -> dict:
        return dict(self._field("hyperparameters") or {})

    @property
    def epochs(self) -> int | None:
        """The epochs it was asked to train."""
        epochs = self.hyperparameters.get("epochs")
        return epochs if _is_count(epochs) else None

    @property
    def epochs_done(self) -> int:
        return self._field("epochs_done") or 0

    @property
    def history(self) -> dict[str, list]:
        return self._field("history") or {}

    @property
    def duration(self) -> float | None:
        """Seconds the training took."""
        return self._field("duration")

    @property
    def best_epoch(self) -> int | None:
        return self._field("best_epoch")

    @property
    def stopped_early(self) -> dict | None:
        return self._field("stopped_early")

    @property
    def test(self) -> dict:
        """The test figures (accuracy, loss, roc_auc, per_class_accuracy, confusion, mistakes), or {}."""
        return self._field("test") or {}

    @property
    def test_accuracy(self) -> float | None:
        return self.test.get("accuracy")

    @property
    def imported_from(self) -> str | None:
        return self._field("imported_from")

    @property
    def imported(self) -> bool:
        """A model trained elsewhere and imported: its test score is not comparable with the class's runs (it may
        have been trained on these very test images, which ship with the app)."""
        return self.architecture == "imported" or self.imported_from is not None

    @property
    def one_click(self) -> bool:
        """Started by the Draw page's one click (the default digit model's training), not by the Train page: the
        class's shared model, which only the teacher stops or deletes."""
        return self._field("one_click") is True

    @property
    def fine_tuned_from(self) -> str | None:
        """The run this one continued on other images ("learn my handwriting"), if any."""
        return self._field("fine_tuned_from")

    @property
    def device(self) -> str | None:
        return self._field("device")

    @property
    def updated(self) -> str:
        """When run.json last changed: a key for caches of what is computed from the run."""
        return self._field("updated") or self._field("created") or ""

    @property
    def label(self) -> str:
        """One line for a select box: accuracy, status, name, then the architecture and dataset in words.

        "98.8% · Default digit model · Modern CNN on MNIST sample + pen-drawn digits": the registry's names, not
        its keys ("modern_cnn on digits_mix"); a run without a name of its own (named by its keys) is called by
        them ("97.9% · CNN on MNIST sample (offline)"). What the app measured comes before anything a student
        typed, so that no name can pass for another run's accuracy or status (names cannot hold the " · "
        separator either, see `clean_name`); and a phone's narrow select box, which cuts the end of the line,
        still shows it.
        """
        trained = f"{self.architecture} on {self.dataset}"
        readable = readable_training(self.architecture, self.dataset)
        parts = []
        if self.test_accuracy is not None:
            parts.append(f"{self.test_accuracy:.1%}")
        if self.status != "completed":
            # (A model still training can already be drawn with: "running" alone read as cryptic to a teacher.)
            parts.append("still training" if self.status == "running" else self.status)
        parts.append(readable if self.name == trained else self.name)
        if self.architecture and self.name != trained:
            parts.append(readable)
        return " · ".join(parts)


def readable_training(architecture: str | None, dataset: str | None) -> str:
    """"Modern CNN on MNIST sample + pen-drawn digits" for ("modern_cnn", "digits_mix"): the short names in the
    registries, or the keys themselves when a registry does not know them (a model imported from elsewhere)."""
    return f"{readable_architecture(architecture)} on {readable_dataset(dataset)}"


def readable_architecture(architecture: str | None) -> str | None:
    """"Modern CNN" for "modern_cnn": the registry's short name, or the key itself when it knows none."""
    from core import architectures  # here, not at the top: it imports more than a run needs

    title = architectures.title_of(architecture)
    return title.split(":")[0] if title else architecture


def readable_dataset(dataset: str | None) -> str | None:
    """"MNIST sample + pen-drawn digits" for "digits_mix": the registry's title, or the key itself."""
    from core import datasets  # here, not at the top: it imports more than a run needs

    try:
        return datasets.get_info(dataset).title
    except (ValueError, TypeError):
        return dataset


def best_epoch_words(run: "Run") -> str:
    """"epoch 6, the best on validation": which epoch the saved model is, and by what it was chosen (the
    validation loss, or the training loss when the run kept no validation images)."""
    held_out = (run.hyperparameters.get("validation_fraction") or 0) > 0
    return f"epoch {run.best_epoch}, the best on {'validation' if held_out else 'training loss'}"


# --- one lock per run, across objects, threads and processes -------------------------------------------------


class _RunLock:
    """A re-entrant lock on one run folder: a threading lock within this process (shared by every RunStore),
    and an exclusive flock on `run.lock` in the folder against other processes, held by the outermost holder."""

    def __init__(self):
        self.thread_lock = threading.RLock()
        self.depth = 0
        self.file = None


_run_locks: dict[str, _RunLock] = {}
_run_locks_guard = threading.Lock()


@contextlib.contextmanager
def run_lock(folder: Path):
    """Holds the lock of the run in `folder` (see _RunLock); RunNotFound if the folder is gone."""
    key = os.path.realpath(folder)
    with _run_locks_guard:
        lock = _run_locks.setdefault(key, _RunLock())
    with lock.thread_lock:
        if lock.depth == 0:
            try:
                lock.file = open(Path(folder) / "run.lock", "a")
            except FileNotFoundError:
                raise RunNotFound(f"No run in {folder}: it may have been deleted.") from None
            except OSError as error:
                raise _store_error(f"Cannot lock the run in {folder}", error) from error
            fcntl.flock(lock.file.fileno(), fcntl.LOCK_EX)
        lock.depth += 1
        try:
            yield
        finally:
            lock.depth -= 1
            if lock.depth == 0:
                fcntl.flock(lock.file.fileno(), fcntl.LOCK_UN)
                lock.file.close()
                lock.file = None


class RunStore:
    """Runs in one folder. Safe to share and to duplicate: every change to a run holds that run's lock, which
    every RunStore object, thread and process shares (see run_lock)."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_runs_dir()

    # --- paths and ids -----------------------------------------------------------------------------------

    def _folder(self, run_id: str) -> Path:
        # Ids come from this module; anything else (a typed name, "../x") is refused before it touches a path.
        if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
            raise RunNotFound(f"No run {run_id!r}: run ids look like 20261123-154210-cnn-1a2b3c.")
        return self.root / run_id

    def _ensure_root(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RunStoreError(
                f"Cannot create the runs folder {self.root} ({error.strerror}). "
                f"Set {RUNS_DIR_VARIABLE} to a folder you can write to."
            ) from error

    # --- writing -----------------------------------------------------------------------------------------

    def create(self, *, dataset: str, architecture: str, hyperparameters: dict, name: str = "",
               owner: str = "", status: str = "queued") -> Run:
        """Makes a new run folder with its run.json and returns it."""
        self._ensure_root()
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        run_id = f"{stamp}-{architecture}-{secrets.token_hex(3)}"
        meta = {
            "id": run_id,
            "name": clean_name(name) or f"{architecture} on {dataset}",
            "dataset": dataset,
            "architecture": architecture,
            "hyperparameters": dict(hyperparameters),
            "status": status,
            "owner": owner,
            "created": _now(),
            "history": {},
            "process": PROCESS_TOKEN,
        }
        folder = self.root / run_id
        try:
            folder.mkdir()
            self._write_meta(folder, meta)
        except OSError as error:
            # No half-made run is left behind: a folder without its run.json would be listed as damaged.
            shutil.rmtree(folder, ignore_errors=True)
            cause = error.__cause__ if isinstance(error, RunStoreError) and error.__cause__ else error
            raise _store_error(f"Cannot save a new run in {self.root}, so nothing was started", cause) from error
        return Run(run_id, folder, meta, status)

    def _write_meta(self, folder: Path, meta: dict) -> None:
        text = json.dumps(_finite(meta), indent=1, allow_nan=False, default=_json_default)

        def write(path):
            with open(path, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())

        write_atomically(folder / "run.json", write)

    def update(self, run_id: str, **fields) -> dict:
        """Changes fields of a run's run.json atomically and returns the new metadata."""
        folder = self._folder(run_id)
        with run_lock(folder):
            meta = self._read_meta(folder)
            meta.update(fields)
            meta["updated"] = _now()
            self._write_meta(folder, meta)
        return meta

    def save_model(self, run_id: str, model) -> None:
        """Saves a Keras model as the run's model.keras, replacing the previous one only once complete."""
        folder = self._folder(run_id)
        # Keras insists on the .keras suffix, which write_atomically keeps.
        write_atomically(folder / "model.keras", lambda path: model.save(path))
        with run_lock(folder):
            if self._read_meta(folder).get("model_problem"):
                self.update(run_id, model_problem=None)

    def save_array(self, run_id: str, name: str, array: np.ndarray) -> None:
        if not re.fullmatch(r"[a-z_]+", name):
            raise ValueError(f"Array names are lower-case words; got {name!r}.")
        folder = self._folder(run_id)

        def write(path):
            with open(path, "wb") as file:
                np.save(file, np.asarray(array), allow_pickle=False)

        write_atomically(folder / f"{name}.npy", write)

    def rename(self, run_id: str, name: str) -> dict:
        cleaned = clean_name(name)
        if not cleaned:
            raise ValueError("A run name cannot be empty.")
        return self.update(run_id, name=cleaned)

    def delete(self, run_id: str, owner: str | None = None) -> None:
        """Deletes a run. With `owner` (a student), only a run created by that owner may be deleted; a run
        without an owner (trained from the command line) only without `owner` (the teacher, the command line)."""
        folder = self._folder(run_id)
        with run_lock(folder):
            run = self.get(run_id)
            if owner is not None and (not run.owner or run.owner != owner):
                raise PermissionError("Only the student who trained this run (or the teacher) can delete it."
                                      if run.owner else
                                      "This run has no owner: only the teacher can delete it.")
            if run.status in ("running", "queued"):
                raise ValueError("This run is still training: stop it before deleting it.")
            # Rename first, so that a half-deleted folder is never listed as a run.
            trash = self.root / f".deleted-{run_id}-{secrets.token_hex(3)}"
            os.replace(run.path, trash)
        shutil.rmtree(trash, ignore_errors=True)

    # --- reading -----------------------------------------------------------------------------------------

    @staticmethod
    def _read_meta(folder: Path) -> dict:
        with open(folder / "run.json", encoding="utf-8") as file:
            meta = json.load(file)
        if not isinstance(meta, dict):
            raise ValueError("run.json does not hold a run")
        return meta

    def _to_run(self, folder: Path) -> Run:
        try:
            meta = self._read_meta(folder)
        except FileNotFoundError:
            return Run(folder.name, folder, {"id": folder.name}, "damaged", "run.json is missing")
        except (OSError, ValueError) as error:
            return Run(folder.name, folder, {"id": folder.name}, "damaged", f"run.json cannot be read ({error})")
        problems = schema_problems(meta)
        if problems:
            # Valid JSON with the wrong types: nothing in it is trusted, so no page ever reads a wrong type.
            return Run(folder.name, folder, {"id": folder.name}, "damaged",
                       f"run.json does not fit the run schema: {'; '.join(problems)[:300]}")
        status = meta.get("status", "damaged")
        problem = ""
        if status in ACTIVE_STATUSES and meta.get("process") != PROCESS_TOKEN and not _job_alive(folder, meta):
            # The process that trained it is gone (a crash, a restart): what it saved is still there.
            status, problem = "interrupted", "the server stopped while this run was training"
        elif status == "completed" and not (folder / "model.keras").is_file():
            status, problem = "damaged", "model.keras is missing"
        elif status not in ACTIVE_STATUSES and meta.get("model_problem"):
            # Loading its model failed once (see load_model): no page offers it again until it is saved anew.
            status, problem = "damaged", meta["model_problem"]
        return Run(folder.name, folder, meta, status, problem or meta.get("problem", ""))

    def get(self, run_id: str) -> Run:
        folder = self._folder(run_id)
        if not folder.is_dir():
            raise RunNotFound(f"No run {run_id!r} in {self.root}: it may have been deleted.")
        return self._to_run(folder)

    def list(self) -> list[Run]:
        """All runs, newest first; unreadable folders are listed as damaged."""
        if not self.root.is_dir():
            return []
        runs = [self._to_run(folder) for folder in self.root.iterdir()
                if folder.is_dir() and _RUN_ID.match(folder.name)]
        return sorted(runs, key=lambda run: run.id, reverse=True)

    def load_model(self, run_id: str):
        """The run's model, loaded safely (no code from the file runs) and uncompiled (for prediction)."""
        from core import backend

        keras = backend.keras()
        path = self._folder(run_id) / "model.keras"
        if not path.is_file():
            raise RunNotFound(f"Run {run_id} has no saved model yet (no epoch finished).")
        try:
            return keras.saving.load_model(path, safe_mode=True, compile=False)
        except (MemoryError, OSError):
            # Out of memory, too many open files, a flaky disk: passing troubles, not a damaged file. The run
            # must not be marked damaged for them.
            raise
        except Exception as error:  # A damaged file fails in many ways; each gets one message.
            kind = "not a complete Keras file" if not zipfile.is_zipfile(path) else type(error).__name__
            problem = f"model.keras is damaged ({kind})"
            try:
                # Listing shows the run as damaged from now on, so that no page offers its model again.
                self.update(run_id, model_problem=problem)
            except (OSError, ValueError):
                pass  # the folder itself may be damaged too; the message below still says what to do
            raise ValueError(
                f"The model of run {run_id} cannot be loaded: {problem}: {error}. Train the model again, or "
                "delete this run."
            ) from error

    def load_array(self, run_id: str, name: str) -> np.ndarray | None:
        path = self._folder(run_id) / f"{name}.npy"
        if not path.is_file():
            return None
        return np.load(path, allow_pickle=False)


def _finite(value):
    """JSON has no NaN: a loss that exploded is stored as null."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, np.floating):
        return _finite(float(value))
    return value


def _json_default(value):
    # numpy numbers and arrays end up in histories and metrics.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
