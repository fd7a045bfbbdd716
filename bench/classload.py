"""A class at once: many simulated students submit a small training each, through the job engine.

    python3 -m bench.classload                     # 100 students: local backend, RQ with 1 and with 2 workers
    python3 -m bench.classload --students 12       # a shorter run (what was measured under load, see docs)
    python3 -m bench.classload --only rq2

Each student submits one tiny training (ann, 1 epoch, 200 images) at a random moment of the first ten
seconds (seeded), then reads its status like the Train page does, until it ends. Reported per setup: whether
every job completed and none was lost, the wait from submit to the training's start (p50, p95), jobs per
minute over the whole class, and the speedup of 2 RQ workers over 1. Every job starts a fresh worker
process (TensorFlow imported anew), which is most of a tiny job's time: that is the price of isolation.
Writes bench/classload.json.
"""

import argparse
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core import jobs, runs  # noqa: E402

SETTINGS = {"epochs": 1, "batch_size": 32}
LIMIT_TRAIN = 200
SUBMIT_WINDOW = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def simulate(backend, students: int, seed: int = 0, timeout: float = 7200) -> dict:
    generator = random.Random(seed)
    moments = sorted(generator.uniform(0, SUBMIT_WINDOW) for _ in range(students))
    submitted: dict[str, float] = {}
    errors: list[str] = []
    lock = threading.Lock()
    began = time.time()

    def student(index: int, moment: float) -> None:
        time.sleep(max(0.0, began + moment - time.time()))
        try:
            run_id = backend.submit("mnist_sample", "ann", SETTINGS, owner=f"student{index}",
                                    name=f"student {index}", limit_train=LIMIT_TRAIN)
        except Exception as error:  # noqa: BLE001 - a refused or lost submission is a result to report
            with lock:
                errors.append(f"{type(error).__name__}: {error}")
            return
        with lock:
            submitted[run_id] = time.time()

    threads = [threading.Thread(target=student, args=(index, moment)) for index, moment in enumerate(moments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes: dict[str, str] = {}
    deadline = time.time() + timeout
    while len(outcomes) < len(submitted) and time.time() < deadline:
        backend.active()  # the Train page's call: it also reconciles the queue
        for run_id in submitted:
            if run_id in outcomes:
                continue
            status = backend.status(run_id)
            if status is not None and status.state == "finished":
                outcomes[run_id] = status.status
        time.sleep(0.5)
    ended = time.time()
    waits = []
    for run_id, moment in submitted.items():
        started = backend.store.get(run_id).meta.get("started")
        if started:
            waits.append(started - moment)
    completed = sum(1 for status in outcomes.values() if status == "completed")
    makespan = ended - began
    return {
        "students": students, "submitted": len(submitted), "refused": errors, "completed": completed,
        "lost": len(submitted) - len(outcomes), "other_outcomes": sorted(set(outcomes.values()) - {"completed"}),
        "wait_p50_s": _percentile(waits, 0.5), "wait_p95_s": _percentile(waits, 0.95),
        "makespan_s": makespan, "jobs_per_minute": completed / makespan * 60,
    }


class RQClass:
    """redis-server on a free port and `count` workers, stopped by their pids when done."""

    def __init__(self, folder: Path, count: int):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.redis = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save",
                                       "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        time.sleep(1)
        env = dict(os.environ, NEURAL_CANVAS_REDIS_URL=self.url, NEURAL_CANVAS_RUNS=str(folder),
                   PYTHONPATH=str(ROOT))
        self.workers = [subprocess.Popen([sys.executable, "-m", "core", "worker"], cwd=ROOT, env=env,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         start_new_session=True) for _ in range(count)]

    def close(self) -> None:
        for worker in self.workers:
            try:
                os.killpg(worker.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            worker.wait()
        self.redis.kill()
        self.redis.wait()


def run_setup(name: str, students: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="neural-canvas-classload-"))
    os.environ[jobs.JOBS_PER_STUDENT_VARIABLE] = "2"
    # The machine's own load, before and after: the figures only mean something on a quiet machine.
    load_before = round(os.getloadavg()[0], 1)
    try:
        store = runs.RunStore(folder / "runs")
        if name == "local":
            result = simulate(jobs.TrainingQueue(store), students)
            result["workers"] = jobs.TrainingQueue(store).slots
        else:
            from core import job_rq

            count = 1 if name == "rq1" else 2
            setup = RQClass(store.root, count)
            try:
                result = simulate(job_rq.RQBackend(setup.url, store), students)
            finally:
                setup.close()
            result["workers"] = count
        result["setup"] = name
        result["load_average"] = [load_before, round(os.getloadavg()[0], 1)]
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.classload", description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--only", choices=["local", "rq1", "rq2"], action="append")
    parser.add_argument("--out", default=str(ROOT / "bench" / "classload.json"))
    options = parser.parse_args(argv)
    setups = options.only or ["local", "rq1", "rq2"]
    results = []
    for name in setups:
        print(f"{name}: {options.students} students…", file=sys.stderr, flush=True)
        result = run_setup(name, options.students)
        print(json.dumps(result), file=sys.stderr, flush=True)
        results.append(result)
    by_name = {result["setup"]: result for result in results}
    speedup = None
    if "rq1" in by_name and "rq2" in by_name and by_name["rq1"]["jobs_per_minute"]:
        speedup = by_name["rq2"]["jobs_per_minute"] / by_name["rq1"]["jobs_per_minute"]
    report = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, {platform.python_version()}",
              "training": {"architecture": "ann", **SETTINGS, "images": LIMIT_TRAIN},
              "results": results, "speedup_2_over_1_rq_workers": speedup}
    Path(options.out).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print("| setup | workers | completed | lost | wait p50 | wait p95 | jobs/min |")
    print("|---|---|---|---|---|---|---|")
    for result in results:
        print(f"| {result['setup']} | {result['workers']} | {result['completed']}/{result['submitted']} | "
              f"{result['lost']} | {result['wait_p50_s']:.0f} s | {result['wait_p95_s']:.0f} s | "
              f"{result['jobs_per_minute']:.1f} |")
    if speedup:
        print(f"Speedup of 2 RQ workers over 1: {speedup:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
