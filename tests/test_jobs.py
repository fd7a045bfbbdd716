"""The training queue: order, queue positions, owners, stop and cancel, failures that never kill the worker."""

import time

import pytest

from core import jobs, runs


def _wait(queue, run_id, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = queue.status(run_id)
        if status.state == "finished":
            return status
        time.sleep(0.1)
    raise AssertionError(f"{run_id} did not finish")


TINY = {"epochs": 1, "batch_size": 64}


def wait_for_running(queue, run_id, timeout=60):
    deadline = time.time() + timeout
    while queue.status(run_id).state != "running":
        assert time.time() < deadline, f"{run_id} did not start"
        time.sleep(0.05)


def test_trainings_run_one_at_a_time_in_order(tmp_path):
    queue = jobs.TrainingQueue(runs.RunStore(tmp_path))
    first = queue.submit("mnist_sample", "ann", TINY, owner="a", limit_train=600)
    second = queue.submit("mnist_sample", "ann", TINY, owner="b", limit_train=600)
    third = queue.submit("mnist_sample", "ann", TINY, owner="c", limit_train=600)
    assert queue.status(third).queue_position >= 2
    for run_id in (first, second, third):
        assert _wait(queue, run_id).status == "completed"
    starts = [queue.store.get(run_id).meta["started"] for run_id in (first, second, third)]
    assert starts == sorted(starts)
    durations = [queue.store.get(run_id).meta["duration"] for run_id in (first, second)]
    # One at a time: each training started after the one before had ended.
    assert starts[1] >= starts[0] + durations[0] - 0.5 and starts[2] >= starts[1] + durations[1] - 0.5


def test_a_warm_worker_takes_the_next_job_and_a_new_one_waits_after_it(tmp_path, monkeypatch):
    monkeypatch.setenv(jobs.WARM_WORKER_VARIABLE, "1")
    queue = jobs.TrainingQueue(runs.RunStore(tmp_path), warm_worker=True)
    queue.warm_up()
    warm = queue._spare
    assert warm is not None and warm.poll() is None
    queue.warm_up()
    assert queue._spare is warm, "one warm worker at a time"
    run_id = queue.submit("mnist_sample", "ann", {**TINY, "epochs": 3}, owner="a", limit_train=600)
    wait_for_running(queue, run_id)
    # None is started beside a training (it would slow it down); a new one once the queue is empty.
    queue.warm_up()
    assert queue._spare is None
    assert _wait(queue, run_id).status == "completed"
    # The job ran in the process started before it was submitted, and wrote its log in the run's folder.
    assert queue.store.get(run_id).meta["worker"]["pid"] == warm.pid
    assert warm.wait(timeout=30) == 0
    assert (tmp_path / run_id / "worker.log").exists()
    # A new warm worker waits for the next job; when the app goes (its pipe closes), it ends by itself.
    following = queue._spare
    assert following is not None and following is not warm and following.poll() is None
    queue.close()
    assert following.wait(timeout=60) == 0 and queue._spare is None
    # Closed: the dispatcher, still running, starts no other, and no file of it is left behind.
    time.sleep(1)
    assert queue._spare is None and queue._spare_log is None


def test_a_dead_warm_worker_is_replaced_by_a_fresh_process(tmp_path, monkeypatch):
    monkeypatch.setenv(jobs.WARM_WORKER_VARIABLE, "1")
    queue = jobs.TrainingQueue(runs.RunStore(tmp_path), warm_worker=True)
    queue.warm_up()
    dead = queue._spare
    dead.kill()
    dead.wait()
    run_id = queue.submit("mnist_sample", "ann", TINY, owner="a", limit_train=600)
    assert _wait(queue, run_id).status == "completed"
    assert queue.store.get(run_id).meta["worker"]["pid"] != dead.pid
    queue.close()


def test_the_warm_worker_is_off_by_setting_and_with_a_stand_in_worker(tmp_path, monkeypatch):
    monkeypatch.setenv(jobs.WARM_WORKER_VARIABLE, "0")
    queue = jobs.TrainingQueue(runs.RunStore(tmp_path), warm_worker=True)
    queue.warm_up()
    assert queue._spare is None
    monkeypatch.setenv(jobs.WARM_WORKER_VARIABLE, "1")
    stand_in = jobs.TrainingQueue(runs.RunStore(tmp_path / "other"), worker_command=lambda spec: ["true"],
                                  warm_worker=True)
    stand_in.warm_up()
    assert stand_in._spare is None
    # Only the app's queue has one (jobs.get_queue): a queue made by a script or a benchmark does not.
    plain = jobs.TrainingQueue(runs.RunStore(tmp_path / "plain"))
    plain.warm_up()
    assert plain._spare is None


def test_the_size_check_of_an_offered_training_is_done_before_the_click():
    hyperparameters = {"epochs": 1, "batch_size": 48, "width": 37}
    cached = jobs._parameter_count.cache_info().currsize
    jobs.count_parameters_ahead("mnist_sample", "ann", hyperparameters)
    jobs.count_parameters_ahead("mnist_sample", "ann", hyperparameters)
    deadline = time.time() + 60
    while jobs._parameter_count.cache_info().currsize == cached:
        assert time.time() < deadline, "the count was not made in the background"
        time.sleep(0.1)
    time.sleep(0.5)
    assert jobs._parameter_count.cache_info().currsize == cached + 1, "counted once, however often it is asked"
    # The submit's check finds it: no model is built after the click.
    hits = jobs._parameter_count.cache_info().hits
    resolved = jobs.architectures.resolve_hyperparameters("ann", hyperparameters)
    jobs.check_step_work("mnist_sample", "ann", resolved)
    assert jobs._parameter_count.cache_info().hits == hits + 1
    # 784 inputs x 37 + 37, then 37 x 10 + 10.
    assert jobs.parameter_count("mnist_sample", "ann", resolved) == 784 * 37 + 37 + 37 * 10 + 10


def test_only_the_owner_can_stop_and_stop_keeps_the_run(tmp_path):
    queue = jobs.TrainingQueue(runs.RunStore(tmp_path))
    run_id = queue.submit("mnist_sample", "ann", {"epochs": 200, "batch_size": 32}, owner="alice")
    deadline = time.time() + 60
    while not queue.status(run_id).epochs and time.time() < deadline:
        time.sleep(0.1)
    assert not queue.stop(run_id, owner="bob")
    asked = time.time()
    assert queue.stop(run_id, owner="alice")
    status = _wait(queue, run_id)
    assert time.time() - asked < 10
    assert status.status == "stopped"
    run = queue.store.get(run_id)
    assert run.status == "stopped" and run.has_model and run.meta["history"]["loss"]


def test_the_class_s_one_click_training_is_stopped_by_the_teacher_only(tmp_path):
    """The Draw page's one click trains the model every visitor follows: the student who happened to click cannot
    stop or cancel it for everybody."""
    queue = jobs.TrainingQueue(runs.RunStore(tmp_path))
    first = queue.submit("mnist_sample", "ann", TINY, owner="a", limit_train=600)
    shared = queue.submit("mnist_sample", "ann", TINY, owner="clicker", limit_train=600)
    queue.store.update(shared, one_click=True)
    assert jobs.shared_by_the_class(queue.store, shared) and not jobs.shared_by_the_class(queue.store, first)
    assert not queue.stop(shared, owner="clicker")
    assert queue.status(shared).state == "queued"
    assert queue.stop(shared, by_teacher=True)
    assert queue.status(shared).status == "stopped"
    _wait(queue, first)


def test_a_waiting_job_can_be_cancelled(tmp_path):
    queue = jobs.TrainingQueue(runs.RunStore(tmp_path))
    first = queue.submit("mnist_sample", "ann", TINY, owner="a", limit_train=600)
    second = queue.submit("mnist_sample", "ann", TINY, owner="b", limit_train=600)
    assert queue.stop(second, owner="b")
    assert queue.status(second).status == "stopped"
    _wait(queue, first)
    assert queue.store.get(second).status == "stopped"
    assert "Cancelled" in queue.store.get(second).meta["problem"]


def test_bad_settings_are_refused_before_queueing(tmp_path):
    queue = jobs.TrainingQueue(runs.RunStore(tmp_path))
    with pytest.raises(ValueError, match="Epochs must be between"):
        queue.submit("mnist_sample", "cnn", {"epochs": 0})
    with pytest.raises(ValueError, match="Unknown dataset|mnist_sample"):
        queue.submit("imagenet", "cnn")
    assert queue.store.list() == []


def test_a_failing_training_is_reported_and_the_worker_goes_on(tmp_path):
    queue = jobs.TrainingQueue(runs.RunStore(tmp_path))
    failing = queue.submit("mnist_sample", "ann", {"batch_size": 4096}, limit_train=100)
    working = queue.submit("mnist_sample", "ann", TINY, limit_train=600)
    status = _wait(queue, failing)
    assert status.status == "failed" and "larger than" in status.message
    assert queue.store.get(failing).status == "failed"
    assert _wait(queue, working).status == "completed"


def test_a_runs_folder_that_cannot_be_written_refuses_the_job_and_says_what_to_do(tmp_path, monkeypatch):
    import errno

    def disk_full(self, folder, meta):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runs.RunStore, "_write_meta", disk_full)
    queue = jobs.TrainingQueue(runs.RunStore(tmp_path / "runs"))
    with pytest.raises(runs.RunStoreError, match="is full. Free some disk space .* NEURAL_CANVAS_RUNS"):
        queue.submit("mnist_sample", "ann", TINY)
    assert queue.store.list() == [] and queue.active() == []
