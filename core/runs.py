"""The run store: every training is a folder on disk that survives restarts, crashes and bad input.

    runs/<run id>/run.json               what was trained, how, its history, metrics and status
    runs/<run id>/model.keras            the weights of the best finished epoch (absent until one finishes)
    runs/<run id>/test_probabilities.npy the model's probabilities on the test set, for the Results page

The folder is `NEURAL_CANVAS_RUNS` if set, else `runs/` beside the code. Run ids are made here, never from
what a user types: names are labels stored inside run.json. Every write goes to a temporary file that is then
renamed over the old one, so a crash leaves the previous version, never half a file; a full or read-only disk
raises `RunStoreError`, whose message says what to do, and leaves no half-made run. A folder that cannot be
read, or whose model failed to load, is listed as damaged and never breaks the listing.
"""

import dataclasses
import datetime
import errno
import json
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


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!<>|~$])")


def markdown_safe(text) -> str:
    """`text` (a run name, a value from a link) escaped so that Markdown shows it as typed: no links, no
    images, no formatting a visitor could slip into a page other students see."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def clean_name(name) -> str:
    """A run name as a safe one-line label: no control characters, no surrounding space, 80 characters at most."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = "".join(" " if unicodedata.category(char)[0] in "CZ" else char for char in text)
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


def _write_atomically(path: Path, write) -> None:
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


@dataclasses.dataclass(frozen=True)
class Run:
    """What listing knows about a run folder."""

    id: str
    path: Path
    meta: dict
    status: str
    problem: str = ""

    @property
    def name(self) -> str:
        return self.meta.get("name") or self.id

    @property
    def damaged(self) -> bool:
        return self.status == "damaged"

    @property
    def has_model(self) -> bool:
        return (self.path / "model.keras").is_file()

    @property
    def dataset(self) -> str | None:
        return self.meta.get("dataset")

    @property
    def architecture(self) -> str | None:
        return self.meta.get("architecture")

    @property
    def test_accuracy(self) -> float | None:
        return (self.meta.get("test") or {}).get("accuracy")

    @property
    def label(self) -> str:
        """One line for a select box: name, architecture, dataset, accuracy, status."""
        parts = [self.name]
        trained = f"{self.architecture} on {self.dataset}"
        if self.architecture and self.name != trained:
            parts.append(trained)
        if self.test_accuracy is not None:
            parts.append(f"{self.test_accuracy:.1%}")
        if self.status != "completed":
            parts.append(self.status)
        return " · ".join(parts)


class RunStore:
    """Runs in one folder. Thread-safe: the app's training thread and its pages write at the same time."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_runs_dir()
        self._lock = threading.RLock()

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

        _write_atomically(folder / "run.json", write)

    def update(self, run_id: str, **fields) -> dict:
        """Changes fields of a run's run.json atomically and returns the new metadata."""
        folder = self._folder(run_id)
        with self._lock:
            meta = self._read_meta(folder)
            meta.update(fields)
            meta["updated"] = _now()
            self._write_meta(folder, meta)
        return meta

    def save_model(self, run_id: str, model) -> None:
        """Saves a Keras model as the run's model.keras, replacing the previous one only once complete."""
        folder = self._folder(run_id)
        # Keras insists on the .keras suffix, which _write_atomically keeps.
        _write_atomically(folder / "model.keras", lambda path: model.save(path))
        with self._lock:
            if self._read_meta(folder).get("model_problem"):
                self.update(run_id, model_problem=None)

    def save_array(self, run_id: str, name: str, array: np.ndarray) -> None:
        if not re.fullmatch(r"[a-z_]+", name):
            raise ValueError(f"Array names are lower-case words; got {name!r}.")
        folder = self._folder(run_id)

        def write(path):
            with open(path, "wb") as file:
                np.save(file, np.asarray(array), allow_pickle=False)

        _write_atomically(folder / f"{name}.npy", write)

    def rename(self, run_id: str, name: str) -> dict:
        cleaned = clean_name(name)
        if not cleaned:
            raise ValueError("A run name cannot be empty.")
        return self.update(run_id, name=cleaned)

    def delete(self, run_id: str, owner: str | None = None) -> None:
        """Deletes a run. With `owner`, only a run created by that owner (or with none) may be deleted."""
        run = self.get(run_id)
        if owner is not None and run.meta.get("owner") and run.meta.get("owner") != owner:
            raise PermissionError("Only the session that trained this run can delete it.")
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
