"""The training queue: trainings run one at a time in a background thread, whoever asked for them.

The app never trains in the thread that draws a page: a page `submit`s a training and gets its run id back,
then polls `status(run_id)` to draw progress. Training goes on while the user looks at another page or
closes the tab, and a page finds it again by run id (a full page reload starts a new browser session).
Thirty students pressing Train at once queue up instead of exhausting memory: by default one training runs
at a time per device and the others see their place in the queue.

The interface is three calls, `submit`, `status` and `stop`, so that another implementation (a job system
that trains on other machines) can replace this one without touching the pages.
"""

import collections
import dataclasses
import queue
import threading
import time

from core import architectures, backend, datasets, training
from core.runs import RunStore, RunStoreError

MAX_BATCH_EVENTS = 3000


@dataclasses.dataclass
class Job:
    run_id: str
    owner: str
    dataset: str
    architecture: str
    hyperparameters: dict
    name: str
    limit_train: int | None = None
    state: str = "queued"          # queued -> running -> finished
    status: str = "queued"          # the run's status: queued, running, completed, stopped, failed
    message: str = ""
    submitted: float = dataclasses.field(default_factory=time.time)
    stop_event: threading.Event = dataclasses.field(default_factory=threading.Event)
    events: list = dataclasses.field(default_factory=list)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def add_event(self, event: dict) -> None:
        with self.lock:
            self.events.append(event)
            if event["kind"] == "start":
                self.state = self.status = "running"
            elif event["kind"] == "end":
                self.status, self.message = event["status"], event.get("message", "")
            batch_events = sum(1 for item in self.events if item["kind"] == "batch")
            if batch_events > MAX_BATCH_EVENTS:
                # Keep the live chart's resolution bounded on very long runs: drop every other batch point.
                batch_seen = 0
                kept = []
                for item in self.events:
                    if item["kind"] == "batch":
                        batch_seen += 1
                        if batch_seen % 2:
                            continue
                    kept.append(item)
                self.events = kept


@dataclasses.dataclass(frozen=True)
class JobStatus:
    run_id: str
    owner: str
    state: str                 # queued, running or finished
    status: str                # the run's status
    message: str
    queue_position: int        # 1 = next to start; 0 when not waiting
    events: tuple

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


class TrainingQueue:
    """Runs submitted trainings in order, `workers` at a time (one per device by default)."""

    def __init__(self, store: RunStore | None = None, workers: int = 1):
        self.store = store or RunStore()
        self._jobs: dict[str, Job] = {}
        self._waiting: collections.deque[str] = collections.deque()
        self._queue: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._workers = workers
        self._threads: list[threading.Thread] = []

    def submit(self, dataset: str, architecture: str, hyperparameters: dict | None = None, *,
               name: str = "", owner: str = "", limit_train: int | None = None) -> str:
        """Queues a training and returns its run id.

        Bad settings raise ValueError before anything is queued; a runs folder that cannot be written raises
        RunStoreError with a message that says what to do, and leaves no run behind.
        """
        hp = architectures.resolve_hyperparameters(architecture, hyperparameters)
        datasets.get_info(dataset)
        # TensorFlow is imported here, in the caller's thread, before any worker thread starts: importing it
        # for the first time from two threads at once fails half-way ("partially initialized module").
        backend.keras()
        try:
            run = self.store.create(dataset=dataset, architecture=architecture, hyperparameters=hp, name=name,
                                    owner=owner, status="queued")
        except OSError as error:
            # The store removes what it had begun to write: no half-made run is left to list.
            raise RunStoreError(f"{training.storage_problem(error, self.store.root)} No run was saved.") from error
        job = Job(run.id, owner, dataset, architecture, hp, run.meta["name"], limit_train)
        with self._lock:
            self._jobs[run.id] = job
            self._waiting.append(run.id)
            self._start_workers()
        self._queue.put(run.id)
        return run.id

    def status(self, run_id: str) -> JobStatus | None:
        """What a job is doing now, or None if this queue never had it (look in the run store instead)."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None:
                return None
            position = self._waiting.index(run_id) + 1 if run_id in self._waiting else 0
        with job.lock:
            return JobStatus(job.run_id, job.owner, job.state, job.status, job.message, position,
                             tuple(job.events))

    def stop(self, run_id: str, owner: str | None = "") -> bool:
        """Asks a job to stop (at its next batch). Only the session that submitted it may, or the teacher
        (owner=None, passed only after the teacher key was checked); False if it cannot."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is None or (owner is not None and job.owner and job.owner != owner) or job.state == "finished":
                return False
            job.stop_event.set()
            if run_id in self._waiting:
                # Not started yet: it leaves the queue now and the worker skips it.
                self._waiting.remove(run_id)
                job.state, job.status, job.message = "finished", "stopped", "Cancelled before it started."
                self.store.update(run_id, status="stopped", problem=job.message)
        return True

    def active(self, owner: str | None = None) -> list[JobStatus]:
        """Jobs queued or running, optionally of one owner, in the order they will run."""
        with self._lock:
            run_ids = [run_id for run_id, job in self._jobs.items() if job.state != "finished"
                       and (owner is None or job.owner == owner)]
        return [status for status in map(self.status, run_ids) if status is not None]

    def _start_workers(self) -> None:
        while len(self._threads) < self._workers:
            thread = threading.Thread(target=self._work, name=f"training-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        while True:
            run_id = self._queue.get()
            with self._lock:
                job = self._jobs[run_id]
                if run_id not in self._waiting:
                    continue  # cancelled while waiting
                self._waiting.remove(run_id)
                job.state = "running"
            try:
                training.train(
                    job.dataset, job.architecture, job.hyperparameters, store=self.store, run_id=run_id,
                    on_event=job.add_event, stop_event=job.stop_event, limit_train=job.limit_train,
                )
            except Exception as error:  # noqa: BLE001 - a failed training must never kill the worker
                if isinstance(error, OSError):
                    message = training.storage_problem(error, self.store.root)
                else:
                    message = str(error) or type(error).__name__
                try:
                    self.store.update(run_id, status="failed", problem=message)
                except Exception:  # noqa: BLE001 - the runs folder itself may be the problem
                    pass
                job.add_event({"kind": "end", "status": "failed", "message": message, "run_id": run_id})
            finally:
                with job.lock:
                    job.state = "finished"


_default_queue: TrainingQueue | None = None
_default_lock = threading.Lock()


def get_queue() -> TrainingQueue:
    """The process-wide queue the app uses (every browser session shares it)."""
    global _default_queue
    with _default_lock:
        if _default_queue is None:
            _default_queue = TrainingQueue()
        return _default_queue
