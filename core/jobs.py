"""The job engine: every training, fine-tuning and imported model runs in a worker process, never in the web server.

A page `submit`s a training and gets its run id back, then reads `status(run_id)` (with the events so far) to
draw progress; `stop` asks it to end (the best finished epoch is kept); `active` and `list` show the queue.
Training goes on while the user looks at another page or closes the tab, and a page finds it again by run id,
even from a new backend object after the app restarted.

Two backends behind the same calls:

  * `TrainingQueue` (the local backend, the default, nothing to install): the app starts one worker process
    per job (`python -m core.job_worker`), at most `slots` at a time, so Keras's process-wide state and memory
    never carry from one job into the next and never touch the server. Progress comes back through the run
    folder (`events.jsonl`, tailed here), Stop is a file the training's callback polls.
  * `core.job_rq.RQBackend` (when NEURAL_CANVAS_REDIS_URL is set): jobs go to RQ queues on a Redis server and
    `python -m core worker` processes on any number of machines run them (see the README, "A class on several
    machines").

"Learn my handwriting" (`core.handwriting`) is a job too (`submit_finetune`, kind "finetune"): a new run,
queued like a training, that fine-tunes a digit model on the class drawings saved beside it.

Both apply the same limits, read when a job is submitted: at most `per_student_limit()` jobs queued or
running per student, a wall-time limit per job (the run ends "stopped: time limit" with its best epoch),
and a cap on the work of one training step (parameters x batch size). Waiting jobs are served round-robin
between students: a job's *round* is how many jobs its student already had queued or running, and it waits
behind every job of a lower or equal round, so a student with many jobs delays the others by one job at most.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from core import architectures, datasets, job_worker, training
from core.runs import ACTIVE_STATUSES, HEARTBEAT_STALE_SECONDS, PROCESS_TOKEN, RunNotFound, RunStore, RunStoreError

MAX_BATCH_EVENTS = 3000

REDIS_URL_VARIABLE = "NEURAL_CANVAS_REDIS_URL"
JOBS_PER_STUDENT_VARIABLE = "NEURAL_CANVAS_JOBS_PER_STUDENT"
TIME_LIMIT_VARIABLE = "NEURAL_CANVAS_JOB_TIME_LIMIT"
MAX_STEP_WORK_VARIABLE = "NEURAL_CANVAS_MAX_STEP_WORK"
SLOTS_VARIABLE = "NEURAL_CANVAS_JOB_SLOTS"
IMPORT_SLOTS_VARIABLE = "NEURAL_CANVAS_IMPORT_SLOTS"
# "0" turns off the local backend's warm worker (see TrainingQueue.warm_up).
WARM_WORKER_VARIABLE = "NEURAL_CANVAS_WARM_WORKER"
# A warm worker that ended without a job is started again only after this long.
SPARE_RETRY_SECONDS = 60.0

DEFAULT_JOBS_PER_STUDENT = 2
DEFAULT_TIME_LIMIT = 600.0
# Parameters x batch size of one step. The largest default model (modern_cnn, ~1.3 M parameters, batch 64)
# is about 1e8; dnn at depth 30, width 2048 with batch 128 would be 1.6e10.
DEFAULT_MAX_STEP_WORK = 2_000_000_000
# Stop is a flag the training polls at every batch; a worker that has not ended this long after it is killed.
HARD_STOP_SECONDS = 15.0
# The time limit counts from the training's start; a worker still alive this long past it (stuck while
# loading, not answering) is killed.
TIME_LIMIT_GRACE_SECONDS = 120.0
# A worker handed its job gets this long to start its heartbeat (importing TensorFlow takes 3-4 s on two idle cores,
# much longer on a busy one): until then an app that restarts takes it for alive while its process is.
WORKER_START_SECONDS = 120.0
IMPORT_MEMORY_LIMIT = 4 * 2**30
IMPORT_CPU_SECONDS = 120
# Each model check is a whole TensorFlow process (up to IMPORT_MEMORY_LIMIT): at most this many at once on the
# server, one per student, beside the training slots. Another upload waits this long for a free slot, then is
# refused rather than piling up.
DEFAULT_IMPORT_SLOTS = 1
IMPORT_QUEUE_WAIT_SECONDS = 15.0
IMPORT_BUSY_MESSAGE = "Another model is being checked; try again in a minute."
IMPORT_OWN_BUSY_MESSAGE = "Your previous model is still being checked; wait for it, then try again."
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class JobRefused(ValueError):
    """A job the limits do not allow (too many queued for this student, too much work per step)."""


class ImportBusy(JobRefused):
    """A model upload refused because the model checks it would run beside are already at their limit."""


def _env_number(name: str, default: float, kind=float):
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = kind(value)
    except ValueError:
        raise ValueError(f"{name} must be a number; it is {value!r}.") from None
    if number <= 0:
        raise ValueError(f"{name} must be above 0; it is {value!r}.")
    return number


def per_student_limit() -> int:
    """At most this many jobs queued or running per student: the teacher's class setting (the sidebar's teacher
    panel, `core.classroom`), else NEURAL_CANVAS_JOBS_PER_STUDENT, else 2. The one place that reads it."""
    from core import classroom

    return classroom.max_jobs_per_student(default=_env_number(JOBS_PER_STUDENT_VARIABLE, DEFAULT_JOBS_PER_STUDENT, int))


def import_slots() -> int:
    """How many uploaded models may be checked at once on this server (NEURAL_CANVAS_IMPORT_SLOTS, default 1)."""
    return _env_number(IMPORT_SLOTS_VARIABLE, DEFAULT_IMPORT_SLOTS, int)


def time_limit() -> float:
    """Seconds one job may run (NEURAL_CANVAS_JOB_TIME_LIMIT, default 600)."""
    return _env_number(TIME_LIMIT_VARIABLE, DEFAULT_TIME_LIMIT)


def max_step_work() -> int:
    """The largest parameters x batch size one training step may have (NEURAL_CANVAS_MAX_STEP_WORK)."""
    return _env_number(MAX_STEP_WORK_VARIABLE, DEFAULT_MAX_STEP_WORK, int)


def warm_worker_enabled() -> bool:
    return os.environ.get(WARM_WORKER_VARIABLE, "1").strip().lower() not in ("0", "false", "no", "off")


def default_slots() -> int:
    """How many local worker processes train at once (NEURAL_CANVAS_JOB_SLOTS).

    One per two cores: TensorFlow already spreads one training over every core, so two at once on a 2-core
    machine each run at half speed, finish no sooner in total, and hold twice the memory.
    """
    return _env_number(SLOTS_VARIABLE, max(1, (os.cpu_count() or 2) // 2), int)


@functools.lru_cache(maxsize=256)
def _parameter_count(dataset: str, architecture: str, hp_json: str) -> int:
    from core import backend

    info = datasets.get_info(dataset)
    backend.keras()
    outline = architectures.model_outline(architecture, info.image_shape, info.num_classes, json.loads(hp_json))
    return int(outline.count_params())


def parameter_count(dataset: str, architecture: str, hyperparameters: dict) -> int:
    """The model's number of parameters, from its outline (no weight is made, however large the setting asked)."""
    return _parameter_count(dataset, architecture, json.dumps(hyperparameters, sort_keys=True))


_counting: set[str] = set()
_counting_lock = threading.Lock()


def count_parameters_ahead(dataset: str, architecture: str, hyperparameters: dict) -> None:
    """Counts the model's parameters in a background thread (once per setting), so that the submit of a training
    a page offers finds it done: the first count imports TensorFlow into the app, about 3.5 s on two cores
    that the student would otherwise wait after their click. Call it when the page shows the button, with
    settings the app chose (each new setting keeps a thread and a cache entry in the server)."""
    # Resolved as submit resolves them, so that the count is cached under the same key.
    hyperparameters = architectures.resolve_hyperparameters(architecture, hyperparameters)
    key = json.dumps([dataset, architecture, hyperparameters], sort_keys=True)
    with _counting_lock:
        if key in _counting:
            return
        _counting.add(key)

    def count():
        try:
            parameter_count(dataset, architecture, hyperparameters)
        except Exception:  # noqa: BLE001 - the submit counts again and reports what is wrong
            with _counting_lock:
                _counting.discard(key)

    threading.Thread(target=count, name="count-parameters", daemon=True).start()


def check_step_work(dataset: str, architecture: str, hyperparameters: dict) -> None:
    """Refuses a training whose single step would be too much work for a shared machine."""
    limit = max_step_work()
    parameters = parameter_count(dataset, architecture, hyperparameters)
    work = parameters * hyperparameters["batch_size"]
    if work > limit:
        largest_batch = int(limit // parameters)
        fix = (f"Choose a batch size of {largest_batch} or less, or a smaller model." if largest_batch >= 1 else
               "Even one image per step is too much: choose a smaller model (fewer or narrower layers).")
        raise JobRefused(
            f"This model is too big to train here with batch size {hyperparameters['batch_size']}: "
            f"{parameters:,} parameters x {hyperparameters['batch_size']} images per step is {work:,.0f}, and "
            f"the limit is {limit:,.0f}. {fix}")


def refuse_over_limit(count: int, limit: int) -> None:
    if count >= limit:
        raise JobRefused(
            f"You already have {count} training{'s' if count != 1 else ''} queued or running, the most one "
            f"student may have at once ({limit}). Wait for one to finish, or stop one, then train again.")


FINETUNE_IMAGES = "finetune_images"
FINETUNE_LABELS = "finetune_labels"


def discard_finetune_drawings(runs_root, run_id: str) -> None:
    """Deletes the class drawings a "learn my handwriting" job was lent (nothing for any other run).

    They belong to the class set, not to a run that may be shared or exported: every way such a job ends (its
    worker, a cancel before it started, a worker that died, a worker that could not start) calls this.
    """
    for name in (FINETUNE_IMAGES, FINETUNE_LABELS):
        try:
            (Path(runs_root) / run_id / f"{name}.npy").unlink(missing_ok=True)
        except OSError:
            pass


def create_finetune_run(store: RunStore, backend: str, from_run: str, images, labels, *, epochs: int, owner: str,
                        seconds: float) -> dict:
    """Checks a "learn my handwriting" job, creates its run (queued) with the drawings beside it; returns the spec.

    The drawings go into the new run's folder (two .npy files, written whole or not at all), which the worker
    reads wherever it runs: the runs folder is the one thing every worker of a class shares. A job that cannot
    work (too few drawings, not a digit model, a deleted model) raises ValueError here, before anything is queued.
    """
    # Imported here: the RQ worker's own process imports this module and must not import Keras.
    import numpy as np

    from core import handwriting

    source = handwriting.check(store, from_run, images, labels, epochs=epochs)
    try:
        run = store.create(dataset=source.dataset, architecture=source.architecture,
                           hyperparameters=dict(source.meta.get("hyperparameters") or {}),
                           name=handwriting.new_run_name(source), owner=owner, status="queued")
        store.save_array(run.id, FINETUNE_IMAGES, np.asarray(images, dtype=np.uint8))
        store.save_array(run.id, FINETUNE_LABELS, np.asarray(labels, dtype=np.int64))
        spec = {"kind": "finetune", "run_id": run.id, "runs_root": str(store.root), "from_run": from_run,
                "epochs": int(epochs), "architecture": source.architecture, "time_limit": seconds, "owner": owner}
        store.update(run.id, fine_tuned_from=from_run,
                     job={"backend": backend, "spec": spec, "time_limit": seconds, "submitted": time.time()})
    except OSError as error:
        if "run" in locals():
            import shutil

            shutil.rmtree(store.root / run.id, ignore_errors=True)
        raise RunStoreError(f"{training.storage_problem(error, store.root)} No run was saved.") from error
    return spec


def shared_by_the_class(store: RunStore, run_id: str) -> bool:
    """A training every visitor of the Draw page watches and then draws with (its one click, `Run.one_click`): only
    the teacher stops it, not the student who happened to click."""
    try:
        return store.get(run_id).one_click
    except (RunNotFound, ValueError, OSError):
        return False


def insert_round_robin(waiting: list, new_round: int, rounds: dict) -> int:
    """The index where a job of `new_round` goes: behind every waiting job of a lower or equal round."""
    for index, other in enumerate(waiting):
        if rounds.get(other, 0) > new_round:
            return index
    return len(waiting)


@dataclasses.dataclass(frozen=True)
class JobStatus:
    run_id: str
    owner: str
    state: str                 # queued, running or finished
    status: str                # the run's status: queued, running, completed, stopped, failed, interrupted
    message: str
    queue_position: int        # 1 = next to start; 0 when not waiting
    events: tuple
    kind: str = "train"
    backend: str = "local"

    @property
    def latest_batch(self) -> dict | None:
        return next((event for event in reversed(self.events) if event["kind"] == "batch"), None)

    @property
    def epochs(self) -> list[dict]:
        return [event for event in self.events if event["kind"] == "epoch"]

    @property
    def start(self) -> dict | None:
        return next((event for event in self.events if event["kind"] == "start"), None)

    @property
    def end(self) -> dict | None:
        return next((event for event in reversed(self.events) if event["kind"] == "end"), None)

    @property
    def over(self) -> bool:
        """The run has ended and its results are saved: it sent its "end" event (after its model, test figures and
        pen scores) or its worker has exited, which the queue notices a moment later."""
        return self.state == "finished" or self.end is not None


def thin_events(events: list) -> list:
    """Keeps a very long run's live chart bounded: past MAX_BATCH_EVENTS batch points, every other is dropped."""
    if sum(1 for item in events if item["kind"] == "batch") <= MAX_BATCH_EVENTS:
        return events
    kept, seen = [], 0
    for item in events:
        if item["kind"] == "batch":
            seen += 1
            if seen % 2:
                continue
        kept.append(item)
    return kept


class EventLog:
    """Reads a job's `events.jsonl` as it grows (whole lines only: the worker may be mid-write)."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.events: list[dict] = []
        self.ended = False

    def read(self) -> list[dict]:
        try:
            with open(self.path, "rb") as file:
                file.seek(self.offset)
                chunk = file.read()
        except FileNotFoundError:
            return self.events
        end = chunk.rfind(b"\n") + 1
        if end:
            self.offset += end
            for line in chunk[:end].splitlines():
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                self.add(event)
        return self.events

    def add(self, event: dict) -> None:
        self.events.append(event)
        if event.get("kind") == "end":
            self.ended = True
        if len(self.events) > MAX_BATCH_EVENTS:
            self.events = thin_events(self.events)


def best_saved_epoch(run) -> int | None:
    """The epoch whose model the run folder holds: training saves the best one as each epoch ends, and
    records it in run.json only at the end, so a run cut short finds it from its history."""
    if run is None or not run.has_model:
        return None
    if run.meta.get("best_epoch"):
        return run.meta["best_epoch"]
    history = run.meta.get("history") or {}
    values = history.get("val_loss") or history.get("loss") or []
    finite = [(value, index) for index, value in enumerate(values) if isinstance(value, (int, float))]
    return min(finite)[1] + 1 if finite else None


def _interrupted_message(run, reason: str) -> str:
    best = best_saved_epoch(run)
    done = run.meta.get("epochs_done") if run is not None else None
    kept = (f" It keeps its best finished epoch ({best})." if best else
            " No epoch had finished, so there is no model to keep.")
    where = f" after {done} finished epoch{'s' if done != 1 else ''}" if done else ""
    return f"Interrupted{where}: {reason}.{kept}"


def mark_interrupted(store: RunStore, run_id: str, reason: str) -> tuple[str, dict]:
    """Records that a run's worker died; returns the status and the end event to show."""
    try:
        run = store.get(run_id)
    except Exception:  # noqa: BLE001 - a run folder gone or unreadable: say what happened anyway
        run = None
    message = _interrupted_message(run, reason)
    discard_finetune_drawings(store.root, run_id)
    try:
        store.update(run_id, status="interrupted", problem=message, best_epoch=best_saved_epoch(run))
    except Exception:  # noqa: BLE001 - the runs folder itself may be the problem
        pass
    return "interrupted", {"kind": "end", "status": "interrupted", "message": message, "run_id": run_id}


@dataclasses.dataclass
class _LocalJob:
    run_id: str
    owner: str
    spec: dict
    round: int = 0
    state: str = "queued"
    status: str = "queued"
    message: str = ""
    log: EventLog | None = None
    process: subprocess.Popen | None = None
    pid: int | None = None           # an adopted worker (started by an earlier app process)
    started: float = 0.0
    stop_asked: float = 0.0
    warm_log: str | None = None      # what its warm worker printed before it had this job (a temporary file)


class TrainingQueue:
    """The local backend: trainings run in worker processes of this machine, `workers` at a time."""

    backend = "local"

    def __init__(self, store: RunStore | None = None, workers: int | None = None, *,
                 time_limit_seconds: float | None = None, worker_command=None, warm_worker: bool = False):
        self.store = store or RunStore()
        # How a worker process is started for a job spec file (tests give a stand-in for the training).
        self.worker_command = worker_command or _worker_command
        self.slots = workers or default_slots()
        self.time_limit = time_limit_seconds
        self._jobs: dict[str, _LocalJob] = {}
        self._waiting: list[str] = []
        self._lock = threading.RLock()
        # Owners whose uploaded model is being checked now (see import_model).
        self._importing: list[str] = []
        self._import_freed = threading.Condition()
        self.import_wait = IMPORT_QUEUE_WAIT_SECONDS
        self._wake = threading.Event()
        self._dispatcher: threading.Thread | None = None
        # A worker process started ahead of its job (see warm_up): the app's queue has one (get_queue), with the
        # real worker command only; its output goes to a file of its own until it has a job.
        self._spare: subprocess.Popen | None = None
        self._spare_log: str | None = None
        self._spare_died: float = 0.0
        self.warm_worker = warm_worker and worker_command is None and warm_worker_enabled()
        self._adopt()

    # --- the interface the pages use ---------------------------------------------------------------------

    def submit(self, dataset: str, architecture: str, hyperparameters: dict | None = None, *,
               name: str = "", owner: str = "", limit_train: int | None = None) -> str:
        """Queues a training and returns its run id.

        Bad settings raise ValueError, limits JobRefused (a ValueError), before anything is queued; a runs
        folder that cannot be written raises RunStoreError with a message that says what to do.
        """
        hp = architectures.resolve_hyperparameters(architecture, hyperparameters)
        datasets.get_info(dataset)
        with self._lock:
            refuse_over_limit(self._count_active(owner), per_student_limit())
        check_step_work(dataset, architecture, hp)
        seconds = self.time_limit or time_limit()
        try:
            run = self.store.create(dataset=dataset, architecture=architecture, hyperparameters=hp, name=name,
                                    owner=owner, status="queued")
            self.store.update(run.id, job={"backend": self.backend, "limit_train": limit_train,
                                           "time_limit": seconds, "submitted": time.time()})
        except OSError as error:
            if "run" in locals():
                self._remove_run(run.id)
            raise RunStoreError(f"{training.storage_problem(error, self.store.root)} No run was saved.") from error
        spec = {"kind": "train", "run_id": run.id, "runs_root": str(self.store.root), "dataset": dataset,
                "architecture": architecture, "hyperparameters": hp, "limit_train": limit_train,
                "time_limit": seconds, "owner": owner}
        with self._lock:
            self._enqueue(_LocalJob(run.id, owner, spec))
        return run.id

    def submit_finetune(self, run_id: str, images, labels, *, epochs: int, owner: str = "") -> str:
        """Queues "learn my handwriting" on run `run_id`'s model (`core.handwriting`); returns the new run's id.

        The same limits as a training (jobs per student, time limit); a job that cannot work raises ValueError
        before anything is queued.
        """
        with self._lock:
            refuse_over_limit(self._count_active(owner), per_student_limit())
        spec = create_finetune_run(self.store, self.backend, run_id, images, labels, epochs=epochs, owner=owner,
                                   seconds=self.time_limit or time_limit())
        with self._lock:
            self._enqueue(_LocalJob(spec["run_id"], owner, spec))
        return spec["run_id"]

    def status(self, run_id: str) -> JobStatus | None:
        """What a job is doing now, or None if this backend does not know it (look in the run store)."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None:
                return None
            if job.state == "running" and job.log is not None:
                job.log.read()
            position = self._waiting.index(run_id) + 1 if run_id in self._waiting else 0
            events = tuple(job.log.events) if job.log is not None else ()
            status, message = job.status, job.message
            end = next((event for event in reversed(events) if event.get("kind") == "end"), None)
            if end is not None and job.state == "running":
                # Ended, its process exiting: say how it ended already.
                status, message = end["status"], end.get("message", "")
            return JobStatus(job.run_id, job.owner, job.state, status, message, position, events,
                             job.spec["kind"], self.backend)

    def events(self, run_id: str, since: int = 0) -> list[dict]:
        status = self.status(run_id)
        return list(status.events[since:]) if status else []

    def stop(self, run_id: str, owner: str = "", *, by_teacher: bool = False) -> bool:
        """Asks a job to stop (at its next batch; a waiting one is cancelled). Only its owner, or a teacher; the
        class's shared one-click training only a teacher."""
        if not by_teacher and shared_by_the_class(self.store, run_id):
            return False
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None or job.state == "finished" or not (by_teacher or not job.owner or job.owner == owner):
                return False
            if run_id in self._waiting:
                self._waiting.remove(run_id)
                job.state, job.status = "finished", "stopped"
                job.message = ("Cancelled by the teacher before it started." if by_teacher
                               else "Cancelled before it started.")
                self.store.update(run_id, status="stopped", problem=job.message)
                discard_finetune_drawings(self.store.root, run_id)
                return True
            job.stop_asked = job.stop_asked or time.time()
        (self.store.root / run_id / job_worker.STOP_FILE).write_text("teacher" if by_teacher else "owner")
        return True

    def active(self, owner: str | None = None) -> list[JobStatus]:
        """Jobs queued or running, optionally of one owner: the running ones, then the waiting in order."""
        with self._lock:
            running = [run_id for run_id, job in self._jobs.items() if job.state == "running"]
            run_ids = [run_id for run_id in running + self._waiting
                       if owner is None or self._jobs[run_id].owner == owner]
        return [status for status in map(self.status, run_ids) if status is not None]

    def list(self) -> list[JobStatus]:
        """Every job this backend knows, finished ones too."""
        with self._lock:
            run_ids = list(self._jobs)
        return [status for status in map(self.status, run_ids) if status is not None]

    def import_model(self, data: bytes, filename: str, store: RunStore | None = None, *, dataset: str,
                     owner: str = "", name: str = ""):
        """Checks, loads and evaluates an uploaded model in a worker process with memory and CPU-time limits.

        Same contract as `core.model_import.import_model`: the new Run, or ModelRejected with the reason.
        """
        store = store or self.store
        datasets.get_info(dataset)
        self._take_import_slot(owner)
        try:
            return self._import_in_worker(data, filename, store, dataset=dataset, owner=owner, name=name)
        finally:
            with self._import_freed:
                self._importing.remove(owner)
                self._import_freed.notify_all()

    def imports_in_progress(self) -> int:
        """How many uploaded models are being checked now."""
        with self._import_freed:
            return len(self._importing)

    def _take_import_slot(self, owner: str) -> None:
        """Waits (at most `import_wait` seconds) for a free model-check slot; ImportBusy when none came free.

        One check per student at a time (a second upload of theirs is refused at once: waiting would not help
        them), at most `import_slots()` on the server.
        """
        deadline = time.monotonic() + self.import_wait
        with self._import_freed:
            while True:
                if owner in self._importing:
                    raise ImportBusy(IMPORT_OWN_BUSY_MESSAGE)
                if len(self._importing) < import_slots():
                    self._importing.append(owner)
                    return
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ImportBusy(IMPORT_BUSY_MESSAGE)
                self._import_freed.wait(left)

    def _import_in_worker(self, data: bytes, filename: str, store: RunStore, *, dataset: str, owner: str,
                          name: str):
        with tempfile.TemporaryDirectory(prefix="neural-canvas-import-") as folder:
            upload = Path(folder) / "upload.keras"
            upload.write_bytes(data)
            spec = {"kind": "import", "upload_path": str(upload), "filename": filename, "dataset": dataset,
                    "owner": owner, "name": name, "runs_root": str(store.root),
                    "result_path": str(Path(folder) / job_worker.RESULT_FILE),
                    "memory_limit": IMPORT_MEMORY_LIMIT, "cpu_limit": IMPORT_CPU_SECONDS}
            spec_path = Path(folder) / "job.json"
            spec_path.write_text(json.dumps(spec), encoding="utf-8")
            try:
                completed = subprocess.run(_worker_command(spec_path), cwd=PROJECT_ROOT, env=_worker_env(),
                                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                           timeout=IMPORT_CPU_SECONDS * 2, check=False)
                code, stderr = completed.returncode, completed.stderr
            except subprocess.TimeoutExpired:
                code, stderr = None, b""
            result_path = Path(spec["result_path"])
            result = json.loads(result_path.read_text()) if result_path.is_file() else None
        return finish_import(result, code, stderr, store)

    # --- the worker processes ----------------------------------------------------------------------------

    def _count_active(self, owner: str) -> int:
        return sum(1 for job in self._jobs.values() if job.owner == owner and job.state != "finished")

    def _enqueue(self, job: _LocalJob) -> None:
        job.round = self._count_active(job.owner)
        self._jobs[job.run_id] = job
        rounds = {run_id: self._jobs[run_id].round for run_id in self._waiting}
        self._waiting.insert(insert_round_robin(self._waiting, job.round, rounds), job.run_id)
        self._start_dispatcher()
        self._wake.set()

    def _remove_run(self, run_id: str) -> None:
        import shutil

        shutil.rmtree(self.store.root / run_id, ignore_errors=True)

    def _start_dispatcher(self) -> None:
        if self._dispatcher is None or not self._dispatcher.is_alive():
            self._dispatcher = threading.Thread(target=self._dispatch, name="job-dispatcher", daemon=True)
            self._dispatcher.start()

    def _dispatch(self) -> None:
        while True:
            self._wake.wait(0.2)
            self._wake.clear()
            try:
                with self._lock:
                    self._watch_running()
                    self._start_waiting()
            except Exception:  # noqa: BLE001 - the dispatcher must outlive any one job's trouble
                pass

    def warm_up(self) -> None:
        """Starts the next job's worker process now, so that it has imported TensorFlow (about 3.5 s on two cores)
        before a student clicks: the next job is handed to it instead of to a fresh process.

        Still one process per job: the warm worker takes one job and ends. A new one is started only when no job
        runs or waits (when the app's queue is made, when the last job ends): never beside a training, which it
        would slow down on two cores, and a job that waits gets a fresh process at the same cost. It waits on a
        pipe from this process, so it ends with the app. Its output goes to a temporary file that the job's
        worker.log takes over. Off with NEURAL_CANVAS_WARM_WORKER=0.
        """
        if not self.warm_worker:
            return
        with self._lock:
            if self._spare is not None:
                if self._spare.poll() is None:
                    return
                # It ended without a job (killed, or TensorFlow failed to import): not again for a minute.
                self._spare, self._spare_died = None, time.time()
            if time.time() - self._spare_died < SPARE_RETRY_SECONDS:
                return
            if self._waiting or any(job.state == "running" for job in self._jobs.values()):
                return
            self._drop_spare_log()
            try:
                handle, self._spare_log = tempfile.mkstemp(prefix="neural-canvas-warm-worker-", suffix=".log")
                with os.fdopen(handle, "wb") as log:
                    self._spare = subprocess.Popen(
                        _worker_command(job_worker.WAIT_ARGUMENT), cwd=PROJECT_ROOT, env=_worker_env(),
                        stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            except OSError:
                self._spare = None
                self._drop_spare_log()

    def close(self) -> None:
        """Lets the warm worker go (it ends when its pipe closes) and starts no other; jobs already running go on.
        The app's queue does this when the app exits."""
        with self._lock:
            self.warm_worker = False
            spare, self._spare = self._spare, None
            if spare is not None:
                try:
                    spare.stdin.close()
                except OSError:
                    pass
                spare.wait()
            self._drop_spare_log()

    def _drop_spare_log(self) -> None:
        if self._spare_log:
            try:
                os.unlink(self._spare_log)
            except OSError:
                pass
            self._spare_log = None

    def _hand_to_spare(self, job: _LocalJob, spec_path: Path) -> subprocess.Popen | None:
        """The warm worker, given the job at `spec_path`; None if none is alive (then a fresh process starts).

        From then on the worker writes to the run's worker.log (job_worker.wait_for_job); what it printed before
        (its import of TensorFlow, or why it failed) is added to that log when the job ends (_keep_warm_log)."""
        spare, self._spare = self._spare, None
        if spare is None:
            return None
        try:
            if spare.poll() is not None:
                return None
            spare.stdin.write(os.fsencode(str(spec_path)) + b"\n")
            spare.stdin.close()
        except Exception:  # noqa: BLE001 - whatever went wrong, the job gets a fresh process instead
            spare.kill()
            spare.wait()
            return None
        job.warm_log, self._spare_log = self._spare_log, None
        return spare

    def _keep_warm_log(self, job: _LocalJob) -> None:
        if not job.warm_log:
            return
        try:
            with open(job.warm_log, "rb") as source:
                printed = source.read()
            if printed.strip():
                with open(self.store.root / job.run_id / "worker.log", "ab") as log:
                    log.write(b"\n--- printed by the warm worker before it had this job ---\n" + printed)
            os.unlink(job.warm_log)
        except OSError:
            pass
        job.warm_log = None

    def _start_waiting(self) -> None:
        while self._waiting and sum(1 for job in self._jobs.values() if job.state == "running") < self.slots:
            run_id = self._waiting.pop(0)
            job = self._jobs[run_id]
            folder = self.store.root / run_id
            spec_path = folder / "job.json"
            try:
                spec_path.write_text(json.dumps(job.spec), encoding="utf-8")
                job.process = self._hand_to_spare(job, spec_path)
                if job.process is None:
                    with open(folder / "worker.log", "ab") as log:
                        job.process = subprocess.Popen(
                            self.worker_command(spec_path), cwd=PROJECT_ROOT, env=_worker_env(),
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            # Its own session: Ctrl-C on the app's terminal does not kill it; a restarted app
                            # adopts it.
                            start_new_session=True)
            except OSError as error:
                job.state, job.status = "finished", "failed"
                job.message = training.storage_problem(error, self.store.root)
                discard_finetune_drawings(self.store.root, run_id)
                try:
                    self.store.update(run_id, status="failed", problem=job.message)
                except OSError:
                    pass
                continue
            job.state, job.status, job.started = "running", "running", time.time()
            job.log = EventLog(folder / job_worker.EVENTS_FILE)
            # The run is this worker's from now on, before it has even imported TensorFlow: an app restarted in
            # those seconds finds the run still "queued" and would otherwise start a second worker on it.
            try:
                self.store.update(run_id, worker={"pid": job.process.pid, "host": os.uname().nodename,
                                                  "dispatched": job.started})
            except OSError:
                pass

    def _watch_running(self) -> None:
        self._watch_each_running()
        # The next job's worker gets ready when the queue has emptied.
        self.warm_up()

    def _watch_each_running(self) -> None:
        for job in self._jobs.values():
            if job.state != "running":
                continue
            job.log.read()
            exited, code = self._exited(job)
            limit = job.spec.get("time_limit") or 0
            overdue = (job.stop_asked and time.time() - job.stop_asked > HARD_STOP_SECONDS) or \
                (limit and time.time() - job.started > limit + TIME_LIMIT_GRACE_SECONDS)
            if not exited and overdue:
                self._kill(job)
                exited, code = True, -9
            if not exited:
                continue
            job.log.read()
            end = next((event for event in reversed(job.log.events) if event.get("kind") == "end"), None)
            job.state = "finished"
            self._keep_warm_log(job)
            if end is not None:
                job.status, job.message = end["status"], end.get("message", "")
                continue
            if job.stop_asked:
                reason = "stopped by request, the worker did not answer and was ended"
                status, event = mark_interrupted(self.store, job.run_id, reason)
                self.store.update(job.run_id, status="stopped")
                job.status, job.message = "stopped", event["message"]
            else:
                how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                status, event = mark_interrupted(self.store, job.run_id, f"its worker process ended ({how})")
                job.status, job.message = status, event["message"]
                event["status"] = status
            job.log.add({**event, "status": job.status})

    def _exited(self, job: _LocalJob) -> tuple[bool, int | None]:
        if job.process is not None:
            code = job.process.poll()
            return code is not None, code
        # Adopted from an earlier app process: alive while its heartbeat is fresh.
        if job.log.ended:
            return True, 0
        heartbeat = self.store.root / job.run_id / job_worker.HEARTBEAT_FILE
        try:
            fresh = time.time() - heartbeat.stat().st_mtime < HEARTBEAT_STALE_SECONDS
        except OSError:
            # No heartbeat yet: a worker still starting (importing TensorFlow) is alive while its process is.
            fresh = time.time() - job.started < WORKER_START_SECONDS and _process_alive(job.pid)
        return (not fresh), (None if fresh else -9)

    def _kill(self, job: _LocalJob) -> None:
        import signal

        pid = job.process.pid if job.process is not None else job.pid
        try:
            os.kill(pid, signal.SIGKILL)
        except (OSError, TypeError):
            pass
        if job.process is not None:
            job.process.wait()

    def _adopt(self) -> None:
        """Takes over the local jobs an earlier app process left: waiting ones queue again, live ones are
        watched, dead ones are marked interrupted with their best epoch."""
        for folder, meta, job_info in unfinished_jobs(self.store, self.backend):
            run_id = meta["id"]
            spec = {"kind": "train", "run_id": run_id, "runs_root": str(self.store.root),
                    "dataset": meta["dataset"], "architecture": meta["architecture"],
                    "hyperparameters": meta["hyperparameters"], "limit_train": job_info.get("limit_train"),
                    "time_limit": job_info.get("time_limit") or time_limit(), "owner": meta.get("owner", "")}
            if isinstance(job_info.get("spec"), dict) and job_info["spec"].get("kind") == "finetune":
                spec = job_info["spec"]
            job = _LocalJob(run_id, meta.get("owner", ""), spec)
            if meta["status"] == "queued" and _dispatched_worker_alive(meta):
                # Handed to a worker that has not marked the run running yet: it is watched, not queued again.
                meta["status"] = "running"
            if meta["status"] == "queued":
                # This app process owns the waiting run now: the run store lists it as queued again.
                try:
                    self.store.update(run_id, process=PROCESS_TOKEN)
                except OSError:
                    continue
                with self._lock:
                    self._enqueue(job)
                continue
            job.log = EventLog(folder / job_worker.EVENTS_FILE)
            job.pid = (meta.get("worker") or {}).get("pid")
            job.state = job.status = "running"
            job.started = (meta.get("worker") or {}).get("dispatched") or job_info.get("submitted") or time.time()
            with self._lock:
                self._jobs[run_id] = job
                self._start_dispatcher()


def _process_alive(pid) -> bool:
    """Whether a process with this id runs on this machine (signal 0 checks without sending anything)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True   # it exists, owned by someone else
    return True


def _dispatched_worker_alive(meta: dict) -> bool:
    """Whether a queued run was handed to a worker process of this machine that is still starting up."""
    worker = meta.get("worker")
    if not isinstance(worker, dict) or not isinstance(worker.get("dispatched"), (int, float)):
        return False
    return (worker.get("host") == os.uname().nodename and time.time() - worker["dispatched"] < WORKER_START_SECONDS
            and _process_alive(worker.get("pid")))


def unfinished_jobs(store: RunStore, backend: str):
    """(folder, run.json, its "job" entry) of each run that `backend` queued or runs, read from the runs folder.

    How a backend finds its jobs again after the app or Redis restarted. The run.json is read as written, with
    the job's own entries (`job`, `worker`) that the typed Run does not hold; a run that cannot be read is skipped.
    """
    try:
        folders = sorted(path for path in store.root.iterdir() if path.is_dir())
    except OSError:
        return
    for folder in folders:
        try:
            meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        job_info = meta.get("job") if isinstance(meta, dict) else None
        if isinstance(job_info, dict) and job_info.get("backend") == backend \
                and meta.get("status") in ACTIVE_STATUSES and isinstance(meta.get("id"), str):
            yield folder, meta, job_info


def finish_import(result: dict | None, code, stderr: bytes, store: RunStore):
    """The outcome of an import job as the page expects it: the Run, or ModelRejected / RunStoreError."""
    from core import model_import

    if result is None or (not result.get("ok") and result.get("message") == "memory"):
        if code is None:
            reason = "it took longer than the time limit to check"
        elif result is not None or b"MemoryError" in (stderr or b"") or b"memory" in (stderr or b"").lower():
            reason = f"it needed more than the {IMPORT_MEMORY_LIMIT // 2**30} GB of memory an import may use"
        elif code < 0:
            reason = f"checking it ended the checking process (signal {-code}): it needed too much memory or time"
        else:
            tail = (stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or [f"exit code {code}"]
            reason = f"checking it failed ({tail[0][:200]})"
        raise model_import.ModelRejected(f"This model was not imported: {reason}.")
    if result["ok"]:
        return store.get(result["run_id"])
    if result["kind"] == "storage":
        raise RunStoreError(result["message"])
    raise model_import.ModelRejected(result["message"])


def _worker_command(spec_path: Path | str) -> list[str]:
    return [sys.executable, "-m", "core.job_worker", str(spec_path)]


def _worker_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH", "")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


_default_queue = None
_default_lock = threading.Lock()


def get_queue():
    """The process-wide job backend the app uses (every browser session shares it): RQ on Redis when
    NEURAL_CANVAS_REDIS_URL is set, else the local worker processes."""
    global _default_queue
    with _default_lock:
        if _default_queue is None:
            url = os.environ.get(REDIS_URL_VARIABLE, "").strip()
            if url:
                from core import job_rq

                _default_queue = job_rq.RQBackend(url)
            else:
                # The app's queue keeps a warm worker: the first student's training does not wait for a worker
                # to import TensorFlow either.
                _default_queue = TrainingQueue(warm_worker=True)
                _default_queue.warm_up()
                atexit.register(_default_queue.close)
        return _default_queue
