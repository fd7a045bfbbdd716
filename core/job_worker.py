"""What runs inside a job worker process: one training, one fine-tuning or one model import, and nothing else.

The web server never trains and never loads an uploaded model: it hands a job *spec* (a plain dict) to a worker
process, which runs `run_training`, `run_finetune` or `run_import` here and talks back only through a *channel*:

  * events: one JSON line per event appended to `events.jsonl` in the run folder (and, for the RQ backend,
    pushed to a Redis list as well, so that a page on another machine sees them within a second);
  * stop: a file `stop` in the run folder (local backend) or a Redis key (RQ backend) that a small watcher
    thread polls five times a second and turns into the training's stop event;
  * liveness: the file `heartbeat` in the run folder, touched every two seconds; a run whose heartbeat is
    older than `runs.HEARTBEAT_STALE_SECONDS` has lost its worker (kill -9, a machine off) and lists as
    interrupted, keeping its best finished epoch.

Each job gets a process of its own (a fresh `python -m core.job_worker` for the local backend, a fresh process
started by RQ's SpawnWorker for the RQ backend), so Keras's process-wide settings and memory never carry from
one job into the next.

This module imports nothing heavy at the top: the RQ worker's own process imports it and never TensorFlow.
"""

import json
import os
import sys
import threading
import time
from pathlib import Path

EVENTS_FILE = "events.jsonl"
STOP_FILE = "stop"
HEARTBEAT_FILE = "heartbeat"
RESULT_FILE = "result.json"
HEARTBEAT_SECONDS = 2.0
POLL_SECONDS = 0.2

TIME_LIMIT_MESSAGE = "Stopped: time limit ({minutes})."
TEACHER_STOP_MESSAGE = "Stopped by the teacher."


class Keys:
    """The Redis keys of one job (RQ backend); the RQ job id is the run id."""

    PREFIX = "neural_canvas"

    def __init__(self, run_id: str):
        self.events = f"{self.PREFIX}:events:{run_id}"
        self.stop = f"{self.PREFIX}:stop:{run_id}"
        self.alive = f"{self.PREFIX}:alive:{run_id}"


def time_limit_text(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:g} min" if minutes >= 1 else f"{seconds:g} s"


class FileChannel:
    """Events, stop flag and heartbeat through the run folder (the local backend; a shared NFS folder works)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._lock = threading.Lock()

    def emit(self, event: dict) -> None:
        # `at` lets the page (and the tests) see how long an event took to arrive.
        event.setdefault("at", time.time())
        line = json.dumps(event, default=str) + "\n"
        with self._lock, open(self.folder / EVENTS_FILE, "a", encoding="utf-8") as file:
            file.write(line)

    def stop_reason(self) -> str | None:
        try:
            return (self.folder / STOP_FILE).read_text(encoding="utf-8").strip() or "owner"
        except FileNotFoundError:
            return None

    def heartbeat(self) -> None:
        path = self.folder / HEARTBEAT_FILE
        path.touch()
        os.utime(path)


class RedisChannel(FileChannel):
    """The file channel plus Redis: events pushed to a list, the stop flag read from a key.

    The events file stays the record of the run: if Redis restarts while a job trains, the pushes fail, the
    training goes on, and the page reads the file instead.
    """

    def __init__(self, folder: Path, connection, run_id: str):
        super().__init__(folder)
        self.redis = connection
        self.keys = Keys(run_id)

    def emit(self, event: dict) -> None:
        event.setdefault("at", time.time())
        # Redis first: a page that finds the events file but no Redis list knows Redis lost it.
        try:
            pipe = self.redis.pipeline()
            pipe.rpush(self.keys.events, json.dumps(event, default=str))
            pipe.expire(self.keys.events, 7 * 24 * 3600)
            pipe.execute()
        except Exception:  # noqa: BLE001 - Redis down: the file keeps the event, the training goes on
            pass
        super().emit(event)

    def stop_reason(self) -> str | None:
        try:
            value = self.redis.get(self.keys.stop)
        except Exception:  # noqa: BLE001 - Redis down: fall back to the run folder's flag
            value = None
        if value:
            return value.decode() if isinstance(value, bytes) else str(value)
        return super().stop_reason()

    def heartbeat(self) -> None:
        super().heartbeat()
        try:
            self.redis.set(self.keys.alive, str(os.getpid()), ex=int(HEARTBEAT_SECONDS * 5))
        except Exception:  # noqa: BLE001 - Redis down: the file heartbeat still tells
            pass


class Watcher(threading.Thread):
    """Turns the channel's stop flag and the wall-time limit into the training's stop event; beats the heart."""

    def __init__(self, channel: FileChannel, stop_event: threading.Event, time_limit: float | None):
        super().__init__(name="job-watcher", daemon=True)
        self.channel, self.stop_event, self.time_limit = channel, stop_event, time_limit
        self.reason: str | None = None
        self.started = time.monotonic()
        self.done = threading.Event()

    def run(self) -> None:
        last_beat = 0.0
        while not self.done.is_set():
            now = time.monotonic()
            if now - last_beat >= HEARTBEAT_SECONDS:
                try:
                    self.channel.heartbeat()
                except OSError:
                    pass
                last_beat = now
            if self.reason is None:
                reason = self.channel.stop_reason()
                if reason is None and self.time_limit and now - self.started > self.time_limit:
                    reason = "time limit"
                if reason is not None:
                    self.reason = reason
                    self.stop_event.set()
            self.done.wait(POLL_SECONDS)


def _stop_message(reason: str, time_limit: float | None) -> str | None:
    if reason == "time limit":
        return TIME_LIMIT_MESSAGE.format(minutes=time_limit_text(time_limit or 0))
    if reason == "teacher":
        return TEACHER_STOP_MESSAGE
    return None


def _start_job(spec: dict, channel: FileChannel):
    """What every job of a run does first: its store, the run marked as this worker's, and a watcher started
    that turns the stop flag and the time limit into `stop_event`. Returns (store, watcher, stop_event, on_event)."""
    from core.runs import RunStore

    store = RunStore(spec["runs_root"])
    stop_event = threading.Event()
    watcher = Watcher(channel, stop_event, spec.get("time_limit"))
    store.update(spec["run_id"], worker={"pid": os.getpid(), "host": os.uname().nodename})
    channel.heartbeat()
    watcher.start()

    def on_event(event: dict) -> None:
        if event["kind"] == "start":
            # The time limit counts the training itself, not the seconds TensorFlow took to load.
            watcher.started = time.monotonic()
        channel.emit(event)

    return store, watcher, stop_event, on_event


def _fail(store, channel: FileChannel, run_id: str, error: Exception, prefix: str = "") -> str:
    """Marks the run failed with a message the page can show (the server reads it, not a traceback)."""
    from core import training

    if isinstance(error, OSError):
        message = training.storage_problem(error, store.root)
    else:
        message = str(error) or type(error).__name__
    message = prefix + message
    try:
        store.update(run_id, status="failed", problem=message)
    except Exception:  # noqa: BLE001 - the runs folder itself may be the problem
        pass
    channel.emit({"kind": "end", "status": "failed", "message": message, "run_id": run_id})
    return "failed"


def run_training(spec: dict, channel: FileChannel) -> str:
    """Trains the run `spec["run_id"]` (already created by the server, status queued); returns its status."""
    from core import training

    run_id = spec["run_id"]
    store, watcher, stop_event, on_event = _start_job(spec, channel)

    def stop_details() -> dict:
        """Who stopped it (the teacher, the time limit), written with the run's status in one update."""
        message = _stop_message(watcher.reason, spec.get("time_limit")) if watcher.reason else None
        return {"problem": message, "stop_reason": watcher.reason} if message else {}

    try:
        meta = training.train(spec["dataset"], spec["architecture"], spec["hyperparameters"], store=store,
                              run_id=run_id, on_event=on_event, stop_event=stop_event,
                              stop_details=stop_details, limit_train=spec.get("limit_train"))
        return meta.get("status", "completed")
    except Exception as error:  # noqa: BLE001 - the server reads the failure from the run, not from a traceback
        return _fail(store, channel, run_id, error)
    finally:
        watcher.done.set()


def run_finetune(spec: dict, channel: FileChannel) -> str:
    """Learns the class's handwriting into the run `spec["run_id"]` (created queued by the server, the drawings
    saved in its folder) from the model of run `spec["from_run"]`; returns its status."""
    from core import handwriting, jobs

    run_id = spec["run_id"]
    store, watcher, stop_event, on_event = _start_job(spec, channel)

    def stop_details() -> dict:
        # A fine-tuning keeps no half-trained model, unlike a training's best finished epoch.
        message = {"time limit": f"Stopped: time limit ({time_limit_text(spec.get('time_limit') or 0)}). "
                                 "No new model was saved.",
                   "teacher": "Stopped by the teacher: no new model was saved."}.get(watcher.reason)
        return {"problem": message, "stop_reason": watcher.reason} if message else {}

    try:
        images = store.load_array(run_id, jobs.FINETUNE_IMAGES)
        labels = store.load_array(run_id, jobs.FINETUNE_LABELS)
        if images is None or labels is None:
            raise ValueError("The class drawings this job was given are missing from its run folder.")
        meta = handwriting.learn_handwriting(store, spec["from_run"], images, labels, epochs=spec["epochs"],
                                             new_run_id=run_id, on_event=on_event, stop_event=stop_event,
                                             stop_details=stop_details)
        status = meta.get("status", "completed")
    except Exception as error:  # noqa: BLE001 - the server reads the failure from the run, not from a traceback
        status = _fail(store, channel, run_id, error, prefix="It could not learn the class's handwriting: ")
    finally:
        watcher.done.set()
    # The drawings were only lent to the job: they stay with the class set, not in a run that may be shared.
    jobs.discard_finetune_drawings(spec["runs_root"], run_id)
    return status


def limit_resources(memory_bytes: int | None, cpu_seconds: int | None) -> None:
    """Caps this process's memory (address space) and CPU time: an import that asks for more dies alone."""
    import resource

    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    if cpu_seconds:
        # The soft limit sends SIGXCPU (the process ends); the hard one, a little later, SIGKILL.
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))


def run_import(spec: dict) -> dict:
    """Checks, loads and evaluates an uploaded model (`core.model_import`) under resource limits.

    Returns {"ok": True, "run_id": ...} or {"ok": False, "kind": "rejected" | "storage", "message": ...}.
    """
    limit_resources(spec.get("memory_limit"), spec.get("cpu_limit"))
    from core import model_import
    from core.runs import RunStore

    data = Path(spec["upload_path"]).read_bytes()
    try:
        run = model_import.import_model(data, spec["filename"], RunStore(spec["runs_root"]),
                                        dataset=spec["dataset"], owner=spec.get("owner", ""),
                                        name=spec.get("name", ""))
    except model_import.ModelRejected as error:
        return {"ok": False, "kind": "rejected", "message": str(error)}
    except MemoryError:
        return {"ok": False, "kind": "rejected", "message": "memory"}
    except OSError as error:
        return {"ok": False, "kind": "storage", "message": str(error)}
    return {"ok": True, "run_id": run.id}


def rq_train(spec: dict) -> str:
    """The RQ job of a training: runs in a work horse that starts without TensorFlow (see core.job_rq)."""
    from rq import get_current_job

    folder = Path(spec["runs_root"]) / spec["run_id"]
    return run_training(spec, RedisChannel(folder, get_current_job().connection, spec["run_id"]))


def rq_finetune(spec: dict) -> str:
    """The RQ job of "learn my handwriting", in a fresh work horse like a training."""
    from rq import get_current_job

    folder = Path(spec["runs_root"]) / spec["run_id"]
    return run_finetune(spec, RedisChannel(folder, get_current_job().connection, spec["run_id"]))


def rq_import(spec: dict) -> dict:
    """The RQ job of a model import, under the same memory and CPU-time limits as the local one."""
    try:
        return run_import(spec)
    except MemoryError:
        return {"ok": False, "kind": "rejected", "message": "memory"}


WAIT_ARGUMENT = "--wait"


def wait_for_job() -> Path | None:
    """A warm worker (`python -m core.job_worker --wait`): imports TensorFlow and Keras first, then waits for the
    local queue to write its job's spec path on stdin; from then on its output goes to the run's worker.log.
    None when stdin closes first (the app ended): nothing to do."""
    from core import backend

    backend.keras()
    line = sys.stdin.buffer.readline().rstrip(b"\n")
    if not line:
        return None
    spec_path = Path(os.fsdecode(line))
    sys.stdout.flush()
    sys.stderr.flush()
    log = os.open(spec_path.parent / "worker.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    return spec_path


def main(argv: list[str] | None = None) -> int:
    """`python -m core.job_worker SPEC.json`: the local backend's worker process for one job (or `--wait`: see
    `wait_for_job`)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[0] == WAIT_ARGUMENT:
        spec_path = wait_for_job()
        if spec_path is None:
            return 0
    else:
        spec_path = Path(argv[0])
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    if spec["kind"] == "train":
        folder = Path(spec["runs_root"]) / spec["run_id"]
        run_training(spec, FileChannel(folder))
        return 0
    if spec["kind"] == "finetune":
        run_finetune(spec, FileChannel(Path(spec["runs_root"]) / spec["run_id"]))
        return 0
    if spec["kind"] == "import":
        try:
            result = run_import(spec)
        except MemoryError:
            result = {"ok": False, "kind": "rejected", "message": "memory"}
        Path(spec["result_path"]).write_text(json.dumps(result), encoding="utf-8")
        return 0
    raise ValueError(f"Unknown job kind {spec['kind']!r}")


if __name__ == "__main__":
    sys.exit(main())
