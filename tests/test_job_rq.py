"""The RQ backend with real components: a redis-server on a free port and two `python -m core worker`
processes. Every training is tiny (300 images); the machine's CPU is shared."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core import jobs, model_import, runs
from tests.job_helpers import finished, has_epoch, has_saved_epoch, poisoned_model_bytes, wait_for, worker_pid

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed (.ci/run installs it)")

ROOT = Path(__file__).resolve().parent.parent
TINY = {"epochs": 1, "batch_size": 32}
# Runs until stopped: 200 epochs of about 1 s each even on a quiet machine, no early stopping.
LONG = {"epochs": 200, "batch_size": 16, "early_stopping_patience": 0}
LONG_IMAGES = 2000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A real redis-server without persistence: a restart forgets everything, the worst case."""

    def __init__(self, folder: Path):
        self.port = _free_port()
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None
        self.start()

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if redis.Redis.from_url(self.url).ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()


class Workers:
    """`python -m core worker` processes, each in its own process group with its work horses."""

    def __init__(self, url: str, runs_folder: Path, count: int):
        env = dict(os.environ, NEURAL_CANVAS_REDIS_URL=url, NEURAL_CANVAS_RUNS=str(runs_folder),
                   PYTHONPATH=str(ROOT))
        self.processes = []
        for index in range(count):
            with open(runs_folder.parent / f"worker{index}.log", "wb") as log:
                self.processes.append(subprocess.Popen(
                    [sys.executable, "-m", "core", "worker", "--name", f"test{index}"], cwd=ROOT, env=env,
                    stdout=subprocess.DEVNULL, stderr=log, start_new_session=True))

    def stop(self) -> None:
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    if server.process.poll() is None:
        server.kill()


@pytest.fixture
def class_setup(redis_server, tmp_path, monkeypatch):
    """Redis, two workers, and the app's backend (an RQBackend on the same runs folder)."""
    from core import job_rq

    folder = tmp_path / "runs"
    folder.mkdir()
    monkeypatch.setenv(jobs.REDIS_URL_VARIABLE, redis_server.url)
    workers = Workers(redis_server.url, folder, 2)
    backend = jobs.get_queue()
    assert isinstance(backend, job_rq.RQBackend) and backend.store.root == folder
    yield redis_server, workers, backend
    workers.stop()


def _both_running(backend, first, second, timeout=240):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(backend.status(run_id).epochs and backend.status(run_id).state == "running"
               for run_id in (first, second)):
            return True
        time.sleep(0.1)
    raise AssertionError(f"not both running: {backend.status(first)} {backend.status(second)}")


def test_two_students_train_in_parallel_live_stop_and_an_app_restart(class_setup):
    from core import job_rq

    _, _, backend = class_setup
    alice = backend.submit("mnist_sample", "ann", LONG, owner="alice", limit_train=LONG_IMAGES)
    bob = backend.submit("mnist_sample", "ann", LONG, owner="bob", limit_train=LONG_IMAGES)
    _both_running(backend, alice, bob)

    # Events arrive live: each seen within a second of the worker writing it.
    delays, seen, start = [], len(backend.status(alice).events), time.time()
    while time.time() - start < 3:
        events = backend.status(alice).events
        delays += [time.time() - event["at"] for event in events[seen:]]
        seen = len(events)
        time.sleep(0.05)
    assert delays and max(delays) < 1.0, delays

    # The app restarts: a new backend object finds the job by its run id.
    restarted = job_rq.RQBackend(backend.url, runs.RunStore(backend.store.root))
    status = restarted.status(alice)
    assert status.state == "running" and status.epochs
    assert {item.run_id for item in restarted.active()} == {alice, bob}
    assert not restarted.stop(alice, owner="bob")
    asked = time.time()
    assert restarted.stop(alice, owner="alice")
    status = wait_for(restarted, alice, lambda status: status.end is not None, 60, "Stop of")
    stopped_in = status.end["at"] - asked
    status = finished(restarted, alice)
    assert status.status == "stopped", status.message
    assert stopped_in < 5, stopped_in  # about 1 s on an idle machine; the CPU is shared during tests
    run = restarted.store.get(alice)
    assert run.status == "stopped" and run.has_model and run.meta["best_epoch"] >= 1
    # The teacher may stop anyone's job.
    assert restarted.stop(bob, by_teacher=True)
    assert finished(restarted, bob).status == "stopped"
    assert "teacher" in restarted.store.get(bob).meta["problem"]


def test_flood_kill_minus_nine_and_a_poisoned_import_leave_others_training(class_setup, tmp_path):
    import keras

    _, _, backend = class_setup
    accepted, refused = [], 0
    for _ in range(50):
        try:
            accepted.append(backend.submit("mnist_sample", "ann", LONG, owner="mallory", limit_train=LONG_IMAGES))
        except jobs.JobRefused:
            refused += 1
    assert len(accepted) == 2 and refused == 48
    bob = backend.submit("mnist_sample", "ann", TINY, owner="bob", limit_train=300)
    has_epoch(backend, accepted[0])
    has_epoch(backend, accepted[1])
    has_saved_epoch(backend.store, accepted[0])
    # A worker's training process killed mid-epoch: its run is interrupted with its best epoch, the worker
    # goes on with the next job (bob's).
    os.kill(worker_pid(backend.store, accepted[0]), signal.SIGKILL)
    status = finished(backend, accepted[0], timeout=120)
    assert status.status == "interrupted" and "best finished epoch" in status.message, status.message
    assert backend.store.get(accepted[0]).has_model
    assert finished(backend, bob).status == "completed"
    # The poisoned import runs on a worker and is refused; Keras here is untouched.
    with pytest.raises(model_import.ModelRejected):
        backend.import_model(poisoned_model_bytes(tmp_path), "poison.keras", dataset="mnist_sample", owner="mallory")
    assert keras.config.max_epochs() is None
    carol = backend.submit("mnist_sample", "ann", TINY, owner="carol", limit_train=300)
    assert finished(backend, carol).status == "completed"
    assert backend.stop(accepted[1], by_teacher=True)
    assert finished(backend, accepted[1]).status == "stopped"


def test_redis_restarted_while_jobs_wait_loses_nothing(class_setup):
    redis_server, _, backend = class_setup
    alice = backend.submit("mnist_sample", "ann", LONG, owner="alice", limit_train=LONG_IMAGES)
    bob = backend.submit("mnist_sample", "ann", LONG, owner="bob", limit_train=LONG_IMAGES)
    carol = backend.submit("mnist_sample", "ann", TINY, owner="carol", limit_train=300)
    _both_running(backend, alice, bob)
    assert backend.status(carol).state == "queued"
    redis_server.kill()
    redis_server.start()
    # Redis forgot every queue; the runs folder did not: carol's job is queued again, the running ones go on.
    assert {status.run_id for status in backend.active()} == {alice, bob, carol}
    assert backend.status(carol).state == "queued"
    assert backend.status(alice).state == "running"
    assert backend.stop(alice, owner="alice") and backend.stop(bob, owner="bob")
    assert finished(backend, alice).status == "stopped"
    assert finished(backend, carol).status == "completed"


def test_trainings_go_to_the_gpu_queue_while_a_gpu_worker_has_room(redis_server, tmp_path):
    import redis
    from rq import Queue, Worker

    from core import job_rq

    backend = job_rq.RQBackend(redis_server.url, runs.RunStore(tmp_path / "runs"))
    assert backend._queue_name() == "cpu"
    connection = redis.Redis.from_url(redis_server.url)
    # A GPU machine's worker registers itself in Redis with the queues it serves.
    gpu_worker = Worker([Queue("gpu", connection=connection), Queue("cpu", connection=connection)],
                        connection=connection, name="gpu-box")
    gpu_worker.register_birth()
    try:
        assert backend._queue_name() == "gpu"
        run_id = backend.submit("mnist_sample", "ann", TINY, owner="alice", limit_train=300)
        assert backend.status(run_id).queue_position == 1
        assert Queue("gpu", connection=connection).job_ids == [run_id]
        # Its one job waits for it; the next training goes to the CPU workers.
        assert backend._queue_name() == "cpu"
    finally:
        gpu_worker.register_death()


def test_learning_the_class_s_handwriting_runs_on_an_rq_worker(class_setup, trained_run):
    import numpy as np

    from core import pen_digits

    _, _, backend = class_setup
    indices = np.flatnonzero(pen_digits.load().writers == 3)[:24]
    images, labels = pen_digits.all_images()[indices], pen_digits.load().labels[indices]
    new_id = backend.submit_finetune(trained_run, images, labels, epochs=2, owner="alice")
    assert backend.status(new_id).kind == "finetune"
    status = finished(backend, new_id)
    assert status.status == "completed" and [event["epoch"] for event in status.epochs] == [1, 2], status
    meta = backend.store.get(new_id).meta
    assert meta["fine_tuned_from"] == trained_run and meta["handwriting"]["held_back"] > 0
    assert meta["worker"]["pid"] != os.getpid() and backend.store.get(new_id).has_model
    with pytest.raises(ValueError, match="at least 20 saved drawings"):
        backend.submit_finetune(trained_run, images[:5], labels[:5], epochs=2, owner="alice")


def test_no_worker_yet_one_model_check_per_student_and_a_cancelled_fine_tuning_keeps_no_drawings(
        redis_server, trained_run, tmp_path, monkeypatch):
    """Without any worker, jobs wait in Redis: what is refused, and what is cleaned, before any worker runs."""
    import threading

    from core import job_rq
    from tests.test_handwriting import one_writers_digits

    monkeypatch.setattr(job_rq, "IMPORT_WAIT_SECONDS", 3)
    backend = job_rq.RQBackend(redis_server.url, runs.RunStore())
    data = poisoned_model_bytes(tmp_path)
    outcome = []

    def first_import():
        try:
            backend.import_model(data, "first.keras", dataset="mnist_sample", owner="alice")
        except Exception as error:  # noqa: BLE001 - the test reads what happened
            outcome.append(error)

    thread = threading.Thread(target=first_import)
    thread.start()
    deadline = time.time() + 30
    while not backend.redis.exists(f"{job_rq.PREFIX}:importing:alice"):
        assert time.time() < deadline and thread.is_alive(), outcome
        time.sleep(0.01)
    with pytest.raises(jobs.ImportBusy, match="Your previous model is still being checked"):
        backend.import_model(data, "again.keras", dataset="mnist_sample", owner="alice")
    thread.join(timeout=30)
    assert len(outcome) == 1 and "No worker checked this model" in str(outcome[0])
    assert not backend.redis.exists(f"{job_rq.PREFIX}:importing:alice")

    # A "learn my handwriting" job cancelled while it waits leaves no class drawing in its run folder.
    new_id = backend.submit_finetune(trained_run, *one_writers_digits(count=24), epochs=1, owner="alice")
    folder = backend.store.root / new_id
    assert sorted(path.name for path in folder.glob("finetune_*.npy")) == ["finetune_images.npy",
                                                                           "finetune_labels.npy"]
    assert backend.status(new_id).state == "queued"
    assert backend.stop(new_id, "alice")
    assert not list(folder.glob("finetune_*.npy")) and backend.store.get(new_id).status == "stopped"

    # The class's one-click training, waiting: the student who clicked cannot cancel it for everybody; the teacher
    # can.
    shared = backend.submit("mnist_sample", "ann", {"epochs": 1}, owner="alice")
    backend.store.update(shared, one_click=True)
    assert not backend.stop(shared, "alice")
    assert backend.status(shared).state == "queued"
    assert backend.stop(shared, by_teacher=True)
    assert backend.store.get(shared).status == "stopped"
