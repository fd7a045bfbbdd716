"""Learn my handwriting: fine-tuning a digit model on the class drawings, measured on drawings held back, as a job
of the job engine (a worker process, never the web server)."""

import os
import time

import numpy as np
import pytest

from core import handwriting, jobs, pen_digits, runs
from tests.job_helpers import finished, wait_for


def one_writers_digits(writer: int = 3, count: int = 80):
    """A stand-in for a class's drawings: one held-out pen writer's digits, drawn as the Draw page draws them."""
    indices = np.flatnonzero(pen_digits.load().writers == writer)[:count]
    return pen_digits.all_images()[indices], pen_digits.load().labels[indices]


def test_split_holds_back_a_quarter_of_each_digit_and_never_a_single_drawing():
    labels = np.array([0] * 8 + [1] * 4 + [2] * 1 + [3] * 2)
    learn, held = handwriting.split_drawings(labels, seed=1)
    assert sorted(np.concatenate([learn, held]).tolist()) == list(range(len(labels)))
    assert np.bincount(labels[held], minlength=4).tolist() == [2, 1, 0, 1]
    np.testing.assert_array_equal(handwriting.split_drawings(labels, seed=1)[1], held)
    with pytest.raises(ValueError, match="between 0 and 1"):
        handwriting.split_drawings(labels, 1.0)


def test_fine_tuning_makes_a_new_run_that_reads_the_class_better(trained_run):
    store = runs.RunStore()
    images, labels = one_writers_digits()
    meta = handwriting.learn_handwriting(store, trained_run, images, labels, epochs=3)
    assert meta["id"] != trained_run and meta["status"] == "completed"
    assert meta["fine_tuned_from"] == trained_run
    figures = meta["handwriting"]
    assert figures["held_back"] + figures["learnt_from"] == len(labels) and figures["epochs"] == 3
    assert figures["after"] >= figures["before"]
    assert 0.5 < meta["test"]["accuracy"] <= 1.0 and meta["pen_writers"]["count"] == 2498
    assert store.get(meta["id"]).has_model
    # The original run is left as it was.
    assert "handwriting" not in store.get(trained_run).meta


@pytest.mark.parametrize("change, message", [
    (lambda images, labels: (images[:10], labels[:10]), "at least 20 saved drawings"),
    (lambda images, labels: (images.astype(np.float32), labels), "28x28 uint8"),
    (lambda images, labels: (images, labels + 5), "digits from 0 to 9"),
    (lambda images, labels: (images, labels[:-1]), "but 79 labels"),
])
def test_bad_drawings_are_refused_with_a_clear_message(trained_run, change, message):
    images, labels = change(*one_writers_digits())
    with pytest.raises(ValueError, match=message):
        handwriting.learn_handwriting(runs.RunStore(), trained_run, images, labels)


def test_bad_epochs_are_refused(trained_run):
    with pytest.raises(ValueError, match="Epochs must be a whole number from 1 to 50"):
        handwriting.learn_handwriting(runs.RunStore(), trained_run, *one_writers_digits(), epochs=0)


# As a job: the server queues it, a worker process trains.


def test_learning_the_handwriting_is_a_job_that_trains_in_a_worker_process(trained_run):
    queue = jobs.TrainingQueue(runs.RunStore())
    images, labels = one_writers_digits(count=24)
    new_id = queue.submit_finetune(trained_run, images, labels, epochs=2, owner="alice")
    new_run = queue.store.get(new_id)
    assert new_run.name == "test cnn + class handwriting" and new_run.meta["owner"] == "alice"
    assert new_run.meta["fine_tuned_from"] == trained_run and new_run.status in ("queued", "running")
    status = finished(queue, new_id, timeout=180)
    assert status.status == "completed" and status.kind == "finetune", status
    assert [event["epoch"] for event in status.epochs] == [1, 2] and status.start["train_images"] > 0
    meta = queue.store.get(new_id).meta
    assert meta["status"] == "completed" and meta["fine_tuned_from"] == trained_run
    figures = meta["handwriting"]
    assert 0 <= figures["before"] <= 1 and 0 <= figures["after"] <= 1 and figures["epochs"] == 2
    assert figures["held_back"] + figures["learnt_from"] == 24
    assert 0.5 < meta["test"]["accuracy"] <= 1.0 and queue.store.get(new_id).has_model
    # Trained in a worker process, not in this one (the web server's, in the app).
    assert meta["worker"]["pid"] != os.getpid()
    # The drawings were lent to the job only.
    assert not list((queue.store.root / new_id).glob("finetune_*.npy"))
    assert "handwriting" not in queue.store.get(trained_run).meta


def test_a_stopped_fine_tuning_ends_stopped_without_a_model(trained_run):
    queue = jobs.TrainingQueue(runs.RunStore())
    new_id = queue.submit_finetune(trained_run, *one_writers_digits(count=24), epochs=50, owner="alice")
    wait_for(queue, new_id, lambda status: status.latest_batch is not None, 180, "a batch of")
    assert not queue.stop(new_id, "bob") and queue.stop(new_id, "alice")
    status = finished(queue, new_id, timeout=60)
    assert status.status == "stopped" and "no new model was saved" in status.message
    assert not queue.store.get(new_id).has_model


def test_a_fine_tuning_left_waiting_by_an_earlier_app_is_queued_again_and_runs(trained_run):
    store = runs.RunStore()
    spec = jobs.create_finetune_run(store, "local", trained_run, *one_writers_digits(count=24), epochs=1,
                                    owner="alice", seconds=600)
    store.update(spec["run_id"], process="an-earlier-app")
    queue = jobs.TrainingQueue(store)
    status = finished(queue, spec["run_id"], timeout=180)
    assert status.status == "completed" and status.kind == "finetune"
    assert store.get(spec["run_id"]).meta["handwriting"]["epochs"] == 1


def test_a_fine_tuning_that_cannot_work_is_refused_before_anything_is_queued(trained_run, monkeypatch):
    store = runs.RunStore()
    queue = jobs.TrainingQueue(store)
    images, labels = one_writers_digits(count=24)
    with pytest.raises(ValueError, match="at least 20 saved drawings"):
        queue.submit_finetune(trained_run, images[:10], labels[:10], epochs=2)
    with pytest.raises(ValueError, match="was not found"):
        queue.submit_finetune("20250101-000000-cnn-abcdef", images, labels, epochs=2)
    clothes = store.create(dataset="fashion_mnist", architecture="cnn", hyperparameters={}, name="clothes",
                           status="completed")
    with pytest.raises(ValueError, match="clothes is not a digit model"):
        queue.submit_finetune(clothes.id, images, labels, epochs=2)
    with pytest.raises(ValueError, match="Epochs must be a whole number"):
        queue.submit_finetune(trained_run, images, labels, epochs=0)
    assert sorted(run.id for run in store.list()) == sorted([trained_run, clothes.id])
    # The same limit per student as trainings: the second job waits for the first to end.
    monkeypatch.setenv(jobs.JOBS_PER_STUDENT_VARIABLE, "1")
    first = queue.submit_finetune(trained_run, images, labels, epochs=1, owner="alice")
    with pytest.raises(jobs.JobRefused, match="the most one student may have at once"):
        queue.submit_finetune(trained_run, images, labels, epochs=1, owner="alice")
    queue.stop(first, "alice")
    finished(queue, first, timeout=120)


# The section on the Class drawings page.


def test_the_class_drawings_page_learns_the_class_s_handwriting_into_a_new_run(trained_run):
    from conftest import open_page, shown
    from core import class_set

    drawings = class_set.ClassSet()
    images, labels = one_writers_digits(count=40)
    for image, label in zip(images, labels):
        drawings.add(np.ascontiguousarray(image), int(label))
    at = open_page("pages/class_set.py")
    assert any(header.value == "Learn this class's handwriting" for header in at.subheader)
    at.slider(key="learn_handwriting_epochs").set_value(2).run()
    [learn] = [button for button in at.button if button.label == "Learn the class's handwriting"]
    learn.click().run()
    assert not at.exception and not at.error
    # The page trains nothing: the job runs in a worker process while the page is drawn again and again.
    deadline = time.time() + 180
    while not any(metric.label == "Held-back drawings, after" for metric in at.metric):
        assert time.time() < deadline, "the fine-tuning did not finish"
        time.sleep(1)
        at.run()
        assert not at.exception and not at.error
        if not any(metric.label == "Held-back drawings, after" for metric in at.metric):
            # While it runs, a second one cannot be started from here.
            assert at.button(key="learn_handwriting_button").disabled
    metrics = {metric.label: metric.value for metric in at.metric}
    new_runs = [run for run in runs.RunStore().list() if run.meta.get("fine_tuned_from") == trained_run]
    [new_run] = new_runs
    figures = new_run.meta["handwriting"]
    assert figures["epochs"] == 2
    assert metrics["Held-back drawings, before"] == f"{figures['before']:.1%}"
    assert metrics["Held-back drawings, after"] == f"{figures['after']:.1%}"
    assert metrics["Drawings held back"] == f"{figures['held_back']:,}"
    assert new_run.meta["worker"]["pid"] != os.getpid()
    assert any("test cnn + class handwriting" in shown(block.value) for block in at.markdown)
    at.button(key="learn_handwriting_use").click().run()
    assert at.selectbox(key="class_set_run").value == new_run.id


def test_with_too_few_drawings_the_page_says_how_many_are_needed(trained_run):
    from conftest import open_page
    from core import class_set

    drawings = class_set.ClassSet()
    images, labels = one_writers_digits(count=5)
    for image, label in zip(images, labels):
        drawings.add(np.ascontiguousarray(image), int(label))
    at = open_page("pages/class_set.py")
    assert any("save at least 20 on the Draw page" in info.value for info in at.info)
    assert not [button for button in at.button if button.label == "Learn the class's handwriting"]


def test_the_class_drawings_never_stay_in_a_fine_tuning_that_ends_outside_its_worker(trained_run):
    import signal

    # A stand-in worker that never trains (and so never deletes the drawings itself): the first job holds the
    # only slot, the second waits.
    queue = jobs.TrainingQueue(runs.RunStore(), workers=1, worker_command=lambda spec_path: ["sleep", "120"])
    images, labels = one_writers_digits(count=24)
    running = queue.submit_finetune(trained_run, images, labels, epochs=1, owner="alice")
    waiting = queue.submit_finetune(trained_run, images, labels, epochs=1, owner="bob")

    def lent(run_id):
        return sorted(path.name for path in (queue.store.root / run_id).glob("finetune_*.npy"))

    wait_for(queue, running, lambda status: status.state == "running", 30, "the start of")
    assert lent(waiting) == ["finetune_images.npy", "finetune_labels.npy"]
    # Cancelled before it started.
    assert queue.stop(waiting, "bob")
    assert lent(waiting) == [] and queue.store.get(waiting).status == "stopped"
    # Its worker killed.
    os.kill(queue._jobs[running].process.pid, signal.SIGKILL)
    status = finished(queue, running, timeout=30)
    assert status.status == "interrupted"
    assert lent(running) == []


def test_a_long_name_is_shortened_so_the_fine_tuned_run_never_carries_its_source_s_name(tmp_path):
    store = runs.RunStore(tmp_path)
    long_name = "x" * (runs.MAX_NAME_LENGTH - 5) + " abcd"
    assert len(long_name) == runs.MAX_NAME_LENGTH
    source = store.create(dataset="mnist_sample", architecture="cnn", hyperparameters={}, name=long_name)
    name = handwriting.new_run_name(source)
    assert name != long_name and name.endswith("… + class handwriting") and name.startswith("xxxxx")
    assert len(name) == runs.MAX_NAME_LENGTH
    stored = store.create(dataset="mnist_sample", architecture="cnn", hyperparameters={}, name=name)
    assert stored.name == name
    # Fine-tuning the fine-tuned run again adds nothing; a short name is kept whole.
    assert handwriting.new_run_name(stored) == name
    short = store.create(dataset="mnist_sample", architecture="cnn", hyperparameters={}, name="digits")
    assert handwriting.new_run_name(short) == "digits + class handwriting"
