"""The RQ backend of the job engine: jobs on a Redis server, run by `python -m core worker` on any machine.

    redis-server --bind 0.0.0.0 --protected-mode no          # one machine, reachable by the others
    NEURAL_CANVAS_REDIS_URL=redis://HOST:6379/0 NEURAL_CANVAS_RUNS=/mnt/runs python -m core worker
    NEURAL_CANVAS_REDIS_URL=redis://HOST:6379/0 NEURAL_CANVAS_RUNS=/mnt/runs streamlit run streamlit_app.py

The app (`RQBackend`) validates a job, creates its run (status queued) in the shared runs folder and enqueues
`core.job_worker.rq_train` with the run id as the RQ job id, on the `gpu` queue when a GPU worker is
registered, else on `cpu`. Workers are RQ's `SpawnWorker`: each job runs in a freshly started Python process
(posix_spawn, not fork), so TensorFlow is never forked with its threads running and no Keras state carries
from one job to the next; the worker's own process never imports TensorFlow.

Redis holds, per job: the events (a list the worker pushes to and the page reads, within a fraction of a
second), the stop flag (a key the training's watcher polls; RQ's `send_stop_job_command` kills the work horse
if the flag is not obeyed in HARD_STOP_SECONDS) and a liveness key. The run folder stays the record: if
Redis restarts and forgets its queues, `reconcile` enqueues the runs that were waiting again, from their
run.json; a run whose worker died (its heartbeat file stopped) is marked interrupted, keeping its best epoch.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import threading
import time

from core import architectures, datasets, job_worker, jobs, training
from core.runs import HEARTBEAT_STALE_SECONDS, RunNotFound, RunStore, RunStoreError

PREFIX = job_worker.Keys.PREFIX
ACTIVE_SET = f"{PREFIX}:active"
ROUNDS_HASH = f"{PREFIX}:rounds"
RECONCILE_SECONDS = 3.0
IMPORT_WAIT_SECONDS = 300

# Places a job behind every waiting job of a lower or equal round (see core.jobs), atomically: a worker may
# take jobs off the list meanwhile. KEYS: queue list, rounds hash; ARGV: job id, its round.
_ROUND_ROBIN = """
local ids = redis.call('LRANGE', KEYS[1], 0, -1)
local mine = tonumber(ARGV[2])
for i, id in ipairs(ids) do
  if id ~= ARGV[1] then
    local r = tonumber(redis.call('HGET', KEYS[2], id) or '0')
    if r > mine then
      if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
        redis.call('LINSERT', KEYS[1], 'BEFORE', id, ARGV[1])
      end
      return i
    end
  end
end
return #ids
"""


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else (value or "")


class RQBackend:
    """Jobs on RQ + Redis; the same calls as `core.jobs.TrainingQueue`."""

    backend = "rq"

    def __init__(self, url: str, store: RunStore | None = None, *, time_limit_seconds: float | None = None):
        import redis
        from rq import Queue

        self.url = url
        self.redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.store = store or RunStore()
        self.time_limit = time_limit_seconds
        self._queues = {name: Queue(name, connection=self.redis) for name in ("cpu", "gpu")}
        self._events: dict[str, jobs.EventLog] = {}
        self._redis_events: dict[str, int] = {}
        self._file_mode: set[str] = set()
        self._finished: dict[str, jobs.JobStatus] = {}
        self._lock = threading.RLock()
        self._last_reconcile = 0.0
        self._round_robin = self.redis.register_script(_ROUND_ROBIN)

    # --- the interface the pages use ---------------------------------------------------------------------

    def submit(self, dataset: str, architecture: str, hyperparameters: dict | None = None, *,
               name: str = "", owner: str = "", limit_train: int | None = None) -> str:
        hp = architectures.resolve_hyperparameters(architecture, hyperparameters)
        datasets.get_info(dataset)
        with self._lock:
            count = len(self._active_ids(owner))
            jobs.refuse_over_limit(count, jobs.per_student_limit())
            jobs.check_step_work(dataset, architecture, hp)
            seconds = self.time_limit or jobs.time_limit()
            try:
                run = self.store.create(dataset=dataset, architecture=architecture, hyperparameters=hp,
                                        name=name, owner=owner, status="queued")
            except OSError as error:
                raise RunStoreError(f"{training.storage_problem(error, self.store.root)} No run was saved.") \
                    from error
            spec = {"kind": "train", "run_id": run.id, "runs_root": str(self.store.root), "dataset": dataset,
                    "architecture": architecture, "hyperparameters": hp, "limit_train": limit_train,
                    "time_limit": seconds, "owner": owner}
            self.store.update(run.id, job={"backend": self.backend, "spec": spec, "round": count,
                                           "submitted": time.time()})
            self._enqueue(spec, count)
        return run.id

    def submit_finetune(self, run_id: str, images, labels, *, epochs: int, owner: str = "") -> str:
        """Queues "learn my handwriting" on run `run_id`'s model; see `core.jobs.TrainingQueue.submit_finetune`."""
        with self._lock:
            count = len(self._active_ids(owner))
            jobs.refuse_over_limit(count, jobs.per_student_limit())
            spec = jobs.create_finetune_run(self.store, self.backend, run_id, images, labels, epochs=epochs,
                                            owner=owner, seconds=self.time_limit or jobs.time_limit())
            self.store.update(spec["run_id"], job={**self.store.get(spec["run_id"]).meta["job"], "round": count})
            self._enqueue(spec, count)
        return spec["run_id"]

    def status(self, run_id: str) -> jobs.JobStatus | None:
        with self._lock:
            if run_id in self._finished:
                return self._finished[run_id]
            try:
                meta = self.store.get(run_id).meta
            except (RunNotFound, ValueError, OSError):
                return None
            info = meta.get("job")
            if not isinstance(info, dict) or info.get("backend") != self.backend:
                return None
            events = self._read_events(run_id)
            end = next((event for event in reversed(events) if event.get("kind") == "end"), None)
            owner = meta.get("owner", "")
            if end is not None:
                return self._finish(run_id, owner, end["status"], end.get("message", ""), events)
            if meta.get("status") not in ("queued", "running"):
                return self._finish(run_id, owner, meta["status"], meta.get("problem", ""), events)
            state, position = self._rq_state(run_id, meta)
            if state == "lost-waiting":
                # Redis forgot the job (a restart without persistence): it waits again, nothing is lost.
                self._enqueue(info["spec"], info.get("round", 0))
                state, position = self._rq_state(run_id, meta)
            if state in ("dead", "lost-running"):
                return self._interrupted(run_id, owner, events)
            if state == "running":
                self._hard_stop_if_ignored(run_id)
            return jobs.JobStatus(run_id, owner, "queued" if state == "queued" else "running",
                                  "queued" if state == "queued" else "running", "", position, tuple(events),
                                  (info.get("spec") or {}).get("kind", "train"), self.backend)

    def events(self, run_id: str, since: int = 0) -> list[dict]:
        status = self.status(run_id)
        return list(status.events[since:]) if status else []

    def stop(self, run_id: str, owner: str = "", *, by_teacher: bool = False) -> bool:
        from rq.job import Job

        status = self.status(run_id)
        if status is None or status.state == "finished" or not (by_teacher or not status.owner
                                                                or status.owner == owner):
            return False
        if not by_teacher and jobs.shared_by_the_class(self.store, run_id):
            return False
        keys = job_worker.Keys(run_id)
        reason = "teacher" if by_teacher else "owner"
        if status.state == "queued":
            try:
                Job.fetch(run_id, connection=self.redis).cancel()
            except Exception:  # noqa: BLE001 - already gone from Redis: the run folder still says what happened
                pass
            message = "Cancelled by the teacher before it started." if by_teacher else "Cancelled before it started."
            self.store.update(run_id, status="stopped", problem=message)
            jobs.discard_finetune_drawings(self.store.root, run_id)
            self._finish(run_id, status.owner, "stopped", message, list(status.events))
            return True
        self.redis.set(keys.stop, reason, ex=7 * 24 * 3600)
        self.redis.set(f"{keys.stop}:asked", str(time.time()), ex=7 * 24 * 3600)
        (self.store.root / run_id / job_worker.STOP_FILE).write_text(reason)
        return True

    def active(self, owner: str | None = None) -> list[jobs.JobStatus]:
        self._reconcile()
        statuses = [status for status in map(self.status, self._active_ids(owner)) if status is not None]
        running = [status for status in statuses if status.state == "running"]
        waiting = sorted((status for status in statuses if status.state == "queued"),
                         key=lambda status: status.queue_position or 10**9)
        return running + waiting

    def list(self) -> list[jobs.JobStatus]:
        return self.active() + list(self._finished.values())

    def import_model(self, data: bytes, filename: str, store: RunStore | None = None, *, dataset: str,
                     owner: str = "", name: str = ""):
        """Checks and evaluates an uploaded model as a job on a worker (memory and CPU-time limits); one per
        student at a time (ImportBusy)."""
        store = store or self.store
        datasets.get_info(dataset)
        # One check per student at a time, on every app process of the class: a key in Redis while it runs
        # (it expires by itself if this process dies mid-check). The workers bound how many run at once.
        busy_key = f"{PREFIX}:importing:{owner}"
        if not self.redis.set(busy_key, "1", nx=True, ex=IMPORT_WAIT_SECONDS + jobs.IMPORT_CPU_SECONDS * 2):
            raise jobs.ImportBusy(jobs.IMPORT_OWN_BUSY_MESSAGE)
        try:
            return self._import_on_worker(data, filename, store, dataset=dataset, owner=owner, name=name)
        finally:
            self.redis.delete(busy_key)

    def _import_on_worker(self, data: bytes, filename: str, store: RunStore, *, dataset: str, owner: str,
                          name: str):
        from rq.job import Job, JobStatus

        uploads = store.root / ".imports"
        uploads.mkdir(parents=True, exist_ok=True)
        upload = uploads / f"{secrets.token_hex(8)}.keras"
        upload.write_bytes(data)
        spec = {"kind": "import", "upload_path": str(upload), "filename": filename, "dataset": dataset,
                "owner": owner, "name": name, "runs_root": str(store.root),
                "memory_limit": jobs.IMPORT_MEMORY_LIMIT, "cpu_limit": jobs.IMPORT_CPU_SECONDS}
        try:
            # At the front: a teacher importing a model in class waits for the checks, not for trainings.
            job = self._queues["cpu"].enqueue("core.job_worker.rq_import", spec, at_front=True,
                                              job_timeout=jobs.IMPORT_CPU_SECONDS * 2, result_ttl=3600,
                                              failure_ttl=3600)
            deadline = time.time() + IMPORT_WAIT_SECONDS
            while time.time() < deadline:
                state = job.get_status(refresh=True)
                if state == JobStatus.FINISHED:
                    return jobs.finish_import(job.return_value(), 0, b"", store)
                if state in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
                    result = Job.fetch(job.id, connection=self.redis).latest_result()
                    text = (getattr(result, "exc_string", "") or "").encode()
                    return jobs.finish_import(None, -9, text, store)
                time.sleep(0.2)
            job.cancel()
            from core import model_import

            raise model_import.ModelRejected(
                f"No worker checked this model within {IMPORT_WAIT_SECONDS // 60} minutes: is a "
                "`python -m core worker` running?")
        finally:
            upload.unlink(missing_ok=True)

    # --- Redis bookkeeping -------------------------------------------------------------------------------

    def _queue_name(self) -> str:
        from rq import Worker

        try:
            gpu_workers = len(Worker.all(queue=self._queues["gpu"]))
            # To the GPU while it has room; GPU workers also take from `cpu` when their own queue is empty.
            return "gpu" if gpu_workers and self._queues["gpu"].count < gpu_workers else "cpu"
        except Exception:  # noqa: BLE001 - listing workers is a hint, not a requirement
            return "cpu"

    def _enqueue(self, spec: dict, round_: int) -> None:
        queue = self._queues[self._queue_name()]
        run_id = spec["run_id"]
        self.redis.hset(ROUNDS_HASH, run_id, round_)
        self.redis.sadd(ACTIVE_SET, run_id)
        function, verb = ("rq_finetune", "fine-tune") if spec.get("kind") == "finetune" else ("rq_train", "train")
        queue.enqueue(f"core.job_worker.{function}", spec, job_id=run_id,
                      job_timeout=int(spec["time_limit"] + jobs.TIME_LIMIT_GRACE_SECONDS), result_ttl=7 * 24 * 3600,
                      failure_ttl=7 * 24 * 3600, description=f"{verb} {spec['architecture']} for {spec['owner']}")
        self._round_robin(keys=[queue.key, ROUNDS_HASH], args=[run_id, round_])

    def _active_ids(self, owner: str | None) -> list[str]:
        ids = sorted(_text(value) for value in self.redis.smembers(ACTIVE_SET))
        result = []
        for run_id in ids:
            try:
                meta = self.store.get(run_id).meta
            except (RunNotFound, ValueError, OSError):
                self.redis.srem(ACTIVE_SET, run_id)
                continue
            if meta.get("status") not in ("queued", "running"):
                self.redis.srem(ACTIVE_SET, run_id)
                continue
            if owner is None or meta.get("owner", "") == owner:
                result.append(run_id)
        return result

    def _rq_state(self, run_id: str, meta: dict) -> tuple[str, int]:
        """queued / running / dead (its worker died) / lost-waiting / lost-running (Redis forgot it)."""
        from rq.exceptions import NoSuchJobError
        from rq.job import Job, JobStatus

        try:
            job = Job.fetch(run_id, connection=self.redis)
            state = job.get_status()
        except NoSuchJobError:
            job, state = None, None
        heartbeat = self.store.root / run_id / job_worker.HEARTBEAT_FILE
        try:
            beat_age = time.time() - heartbeat.stat().st_mtime
        except OSError:
            beat_age = None
        if job is None:
            if meta.get("status") == "queued" and beat_age is None:
                return "lost-waiting", 0
            return ("running", 0) if beat_age is not None and beat_age < HEARTBEAT_STALE_SECONDS \
                else ("lost-running", 0)
        if state in (JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED, JobStatus.CREATED):
            position = self.redis.lpos(f"rq:queue:{job.origin}", run_id)
            return "queued", (position + 1 if position is not None else 0)
        if state == JobStatus.STARTED:
            started = job.started_at.timestamp() if job.started_at else time.time()
            if beat_age is None:
                # Between the worker taking the job and the training's first heartbeat (TensorFlow loading).
                return ("running", 0) if time.time() - started < 60 else ("dead", 0)
            return ("running", 0) if beat_age < HEARTBEAT_STALE_SECONDS else ("dead", 0)
        if state == JobStatus.FINISHED:
            # The job function returned; its end event may be a moment behind in the file.
            return "running", 0
        return "dead", 0

    def _read_events(self, run_id: str) -> list[dict]:
        keys = job_worker.Keys(run_id)
        log = self._events.setdefault(run_id, jobs.EventLog(self.store.root / run_id / job_worker.EVENTS_FILE))
        seen = self._redis_events.get(run_id, 0)
        new = None
        if run_id not in self._file_mode:
            try:
                new = self.redis.lrange(keys.events, seen, -1) if self.redis.exists(keys.events) else None
            except Exception:  # noqa: BLE001 - Redis down: read the run folder
                new = None
        if new is None:
            if run_id not in self._file_mode and not log.path.is_file():
                return log.events  # not started yet
            # Redis lost the list (a restart) or cannot be reached: from now on this run is read from its
            # events file, which holds every event, read whole once.
            if run_id not in self._file_mode:
                self._file_mode.add(run_id)
                log.events.clear()
                log.offset = 0
            return log.read()
        for raw in new:
            try:
                log.add(json.loads(raw))
            except ValueError:
                continue
        self._redis_events[run_id] = seen + len(new)
        return log.events

    def _finish(self, run_id, owner, status, message, events) -> jobs.JobStatus:
        result = jobs.JobStatus(run_id, owner, "finished", status, message, 0, tuple(events), "train",
                                self.backend)
        self._finished[run_id] = result
        try:
            self.redis.srem(ACTIVE_SET, run_id)
            self.redis.hdel(ROUNDS_HASH, run_id)
        except Exception:  # noqa: BLE001 - Redis down: the run folder already says it is over
            pass
        return result

    def _interrupted(self, run_id, owner, events) -> jobs.JobStatus:
        asked = self.redis.get(f"{job_worker.Keys(run_id).stop}:asked")
        if asked:
            status, event = jobs.mark_interrupted(self.store, run_id, "its worker was ended after Stop")
            self.store.update(run_id, status="stopped")
            status = "stopped"
        else:
            status, event = jobs.mark_interrupted(self.store, run_id, "its worker stopped answering "
                                                                      "(killed, or its machine went away)")
        return self._finish(run_id, owner, status, event["message"], list(events) + [{**event, "status": status}])

    def _hard_stop_if_ignored(self, run_id: str) -> None:
        from rq.command import send_stop_job_command

        asked = self.redis.get(f"{job_worker.Keys(run_id).stop}:asked")
        if asked and time.time() - float(asked) > jobs.HARD_STOP_SECONDS:
            try:
                send_stop_job_command(self.redis, run_id)
            except Exception:  # noqa: BLE001 - the job may have just ended
                pass

    def _reconcile(self) -> None:
        """After a Redis restart: finds the runs this backend owns that Redis forgot, from the runs folder."""
        if time.time() - self._last_reconcile < RECONCILE_SECONDS:
            return
        self._last_reconcile = time.time()
        for _folder, meta, info in jobs.unfinished_jobs(self.store, self.backend):
            if not self.redis.sismember(ACTIVE_SET, meta["id"]):
                self.redis.sadd(ACTIVE_SET, meta["id"])
                self.redis.hset(ROUNDS_HASH, meta["id"], info.get("round", 0))


def worker_main(queues: list[str], url: str | None = None, *, burst: bool = False, name: str | None = None) -> int:
    """`python -m core worker`: runs RQ jobs until stopped, and waits out a Redis restart."""
    import redis
    from rq import Queue

    try:
        from rq.worker import SpawnWorker as WorkerClass
    except ImportError:  # an older rq: a forking worker, safe because this process never imports TensorFlow
        from rq import Worker as WorkerClass

    url = url or os.environ.get(jobs.REDIS_URL_VARIABLE, "").strip()
    if not url:
        raise SystemExit(f"Set {jobs.REDIS_URL_VARIABLE} (for example redis://localhost:6379/0) or pass --url.")
    # The work horses must find `core` wherever the worker was started from.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(jobs.PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    if str(jobs.PROJECT_ROOT) not in sys.path:
        sys.path.insert(0, str(jobs.PROJECT_ROOT))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    assert "tensorflow" not in sys.modules, "the worker's own process must not import TensorFlow"
    connection = redis.Redis.from_url(url)
    while True:
        try:
            worker = WorkerClass([Queue(queue, connection=connection) for queue in queues], connection=connection,
                                 name=name and f"{name}-{secrets.token_hex(3)}")
            worker.work(burst=burst, logging_level="WARNING")
            return 0
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
            # Redis restarting: wait for it and register again, rather than leaving the class without workers.
            print(f"Redis is not answering ({error}); trying again in 2 s.", file=sys.stderr, flush=True)
            time.sleep(2)
