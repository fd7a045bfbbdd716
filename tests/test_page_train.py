"""The Train page in AppTest: settings built from the hyperparameter specs, training through the queue with
its result, Stop, re-attaching to a training from a new session, and runs compared on one chart.

Trainings are tiny (the CNN for one epoch, or on a few hundred images) so that the file stays near a minute.
"""

import json
import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import datasets, jobs, runs

from conftest import open_page

ROOT = Path(__file__).resolve().parent.parent


def open_train_page(**session_state) -> AppTest:
    return open_page("pages/train.py", **session_state)


def metric_value(app: AppTest, label: str) -> str:
    return next(metric.value for metric in app.metric if metric.label == label)


def wait_for(condition, timeout: float = 240.0, message: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"Timed out after {timeout:.0f} s waiting for {message}.")


def only_run_id() -> str:
    listed = runs.RunStore().list()
    assert len(listed) == 1, [run.id for run in listed]
    return listed[0].id


def plotly_specs(app: AppTest) -> dict:
    """The plotly figures on the page by their key's end ("compare_accuracy" ...), as parsed JSON."""
    specs = {}
    for element in app.get("plotly_chart"):
        specs[element.proto.id.rsplit("-", 1)[-1]] = json.loads(element.proto.spec)
    return specs


def test_widgets_follow_the_architecture_and_the_parameter_count_updates():
    app = open_train_page()
    assert app.selectbox(key="train_architecture").value == "cnn"
    assert metric_value(app, "Parameters") == "804,554"

    app.selectbox(key="train_architecture").set_value("dnn").run()
    depth = app.slider(key="train_dnn_depth")
    assert depth.label == "Hidden layers" and (depth.min, depth.max) == (1, 30)
    depth.set_value(20).run()
    assert not app.exception
    # 784·100+100, then twenty 100·100+100 layers, then 100·10+10.
    assert metric_value(app, "Parameters") == "281,510"
    layer_names = list(app.dataframe[0].value["Layer"])
    assert layer_names[:3] == ["image", "rescale", "flatten"] and "hidden_20" in layer_names
    # The DNN has no filters; the CNN's control is gone with it.
    assert not [widget for widget in app.number_input if widget.key == "train_cnn_filters"]


def test_out_of_range_settings_cannot_be_entered():
    app = open_train_page()
    limits = {widget.key: (widget.min, widget.max) for widget in app.number_input}
    assert limits["train_cnn_epochs"] == (1, 200)
    assert limits["train_cnn_batch_size"] == (1, 4096)
    assert limits["train_cnn_filters"] == (1, 256)
    dropout = app.slider(key="train_cnn_dropout")
    assert (dropout.min, dropout.max) == (0.0, 0.9)
    # The learning rate is chosen on a log scale among positive values only.
    rates = [float(option) for option in app.select_slider(key="train_cnn_learning_rate").options]
    assert min(rates) == pytest.approx(1e-5) and max(rates) == 1.0 and 0.001 in rates
    assert app.selectbox(key="train_cnn_optimizer").options == ["adam", "sgd", "rmsprop"]

    # A value typed outside the limits never reaches the settings.
    app.number_input(key="train_cnn_epochs").set_value(0)
    app.number_input(key="train_cnn_batch_size").set_value(100_000).run()
    assert not app.exception
    assert 1 <= app.number_input(key="train_cnn_epochs").value <= 200
    assert 1 <= app.number_input(key="train_cnn_batch_size").value <= 4096


def test_a_dataset_not_on_this_machine_cannot_be_trained_on(monkeypatch):
    monkeypatch.setattr(datasets, "is_available", lambda name: name == "mnist_sample")
    app = open_train_page(dataset="cifar10")
    assert any("not on this machine yet" in warning.value for warning in app.warning)
    assert app.button[0].label == "Train" and app.button[0].disabled
    # Colour photos list the architectures made for them first.
    options = app.selectbox(key="train_architecture").options
    assert options[:2] == ["CIFAR CNN: colour images", "Modern CNN: batch norm and augmentation"]


def test_training_shows_live_progress_then_the_test_results():
    app = open_train_page()
    app.number_input(key="train_cnn_epochs").set_value(1)
    app.number_input(key="train_cnn_batch_size").set_value(256)
    app.text_input(key="train_run_name").set_value("tiny cnn")
    app.button[0].click().run()
    assert not app.exception
    run_id = only_run_id()
    assert app.session_state["run_id"] == run_id
    assert any(header.value == "Training: tiny cnn" for header in app.subheader)

    queue = jobs.get_queue()
    wait_for(lambda: queue.status(run_id).state == "finished", message="the training to finish")
    app.run()
    assert not app.exception
    assert runs.RunStore().get(run_id).status == "completed"
    assert metric_value(app, "Test accuracy").endswith("%")
    assert float(metric_value(app, "Test accuracy").rstrip("%")) > 50
    assert metric_value(app, "Epochs trained") == "1 of 1"
    assert {"final_loss", "final_accuracy", "per_class"} <= set(plotly_specs(app))
    per_class = plotly_specs(app)["per_class"]["data"][0]
    assert per_class["x"] == list(datasets.get_info("mnist_sample").class_names)


def test_stop_keeps_the_run_with_its_history(monkeypatch):
    # Train on a few hundred images so that an epoch ends within seconds; Stop must come long before 20.
    submit = jobs.TrainingQueue.submit
    monkeypatch.setattr(jobs.TrainingQueue, "submit",
                        lambda self, *args, **kwargs: submit(self, *args, limit_train=640, **kwargs))
    app = open_train_page()
    app.number_input(key="train_cnn_epochs").set_value(20)
    app.button[0].click().run()
    run_id = only_run_id()
    queue = jobs.get_queue()
    wait_for(lambda: queue.status(run_id).epochs, message="the first epoch")

    # Leaving the page does not stop the training, and coming back shows it live again.
    app.switch_page("pages/home.py").run()
    assert queue.status(run_id).state == "running"
    app.switch_page("pages/train.py").run()
    assert not app.exception
    assert any(header.value.startswith("Training: ") for header in app.subheader)
    # The live view: a progress bar that says where training is, and curves with points inside the epoch.
    assert app.get("progress")[0].proto.text.startswith("Epoch ")
    live_loss = {trace["name"]: trace for trace in plotly_specs(app)["live_loss"]["data"]}
    assert live_loss["Training (live)"]["x"] and len(live_loss["Validation"]["y"]) >= 1
    app.button(key=f"stop_{run_id}").click().run()
    assert not app.exception
    stopped_at = time.time()
    wait_for(lambda: queue.status(run_id).state == "finished", timeout=30, message="the training to stop")
    assert time.time() - stopped_at < 15

    run = runs.RunStore().get(run_id)
    assert run.status == "stopped"
    assert 1 <= len(run.meta["history"]["val_accuracy"]) < 20
    assert run.has_model
    app.run()
    assert any("epochs had finished; the model kept is epoch" in warning.value for warning in app.warning)


def test_a_new_session_finds_a_running_training_and_may_watch_but_not_stop_it():
    queue = jobs.get_queue()
    run_id = queue.submit("mnist_sample", "cnn", {"epochs": 20, "batch_size": 64}, name="teacher's cnn",
                          owner="teacher", limit_train=640)
    try:
        app = open_train_page()
        assert any(header.value == "Trainings on this server" for header in app.subheader)
        assert any("teacher's cnn" in text.value for text in app.markdown)
        app.button(key=f"watch_{run_id}").click().run()
        assert not app.exception
        assert any(header.value == "Training: teacher's cnn" for header in app.subheader)
        assert not [button for button in app.button if button.key == f"stop_{run_id}"]
        assert any("Only the browser session that started" in caption.value for caption in app.caption)
    finally:
        queue.stop(run_id, "teacher")
        wait_for(lambda: queue.status(run_id).state == "finished", timeout=60, message="the training to stop")


def test_a_failed_run_says_why():
    store = runs.RunStore()
    run = store.create(dataset="mnist_sample", architecture="cnn", hyperparameters={"epochs": 3}, status="failed")
    problem = "The loss became NaN (not a number) at batch 3 of epoch 1: the learning rate is too high."
    store.update(run.id, problem=problem, history={"loss": []})
    app = open_train_page(train_watched_run=run.id)
    assert any(problem in error.value for error in app.error)
    assert metric_value(app, "Epochs trained") == "0 of 3"


def copy_run(store_root: Path, run_id: str, new_id: str, name: str) -> None:
    shutil.copytree(store_root / run_id, store_root / new_id)
    meta_path = store_root / new_id / "run.json"
    meta = json.loads(meta_path.read_text())
    meta.update(id=new_id, name=name)
    meta["history"] = {key: [value * 0.9 for value in values] for key, values in meta["history"].items()}
    meta_path.write_text(json.dumps(meta))


def test_finished_runs_are_compared_on_one_chart(trained_run, isolated_runs):
    app = open_train_page()
    assert any("Train at least two models" in caption.value for caption in app.caption)

    copy_run(isolated_runs, trained_run, "20000101-000000-cnn-abcdef", "second cnn")
    app.run()
    assert not app.exception
    chosen = app.multiselect[0]
    assert chosen.label == "Runs to compare" and len(chosen.value) == 2
    figures = plotly_specs(app)
    accuracy_names = {trace["name"] for trace in figures["compare_accuracy"]["data"]}
    assert accuracy_names == {"test cnn", "second cnn"}
    assert {trace["name"] for trace in figures["compare_loss"]["data"]} == accuracy_names
    assert all(len(trace["y"]) == 1 for trace in figures["compare_accuracy"]["data"])
