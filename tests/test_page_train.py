"""The Train page in AppTest: settings built from the hyperparameter specs, training through the queue with
its result, Stop, re-attaching to a training from a new session, runs compared on one chart, early stopping and
the overfitting sentence, the setup shared by link, and a runs folder that is full or cannot be written.

Trainings are tiny (the CNN for one epoch, or on a few hundred images) so that the file stays near a minute.
"""

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import open_page, shown
from core import datasets, jobs, runs, share
from pages import _presenter

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
    assert any("not on this machine yet" in shown(warning.value) for warning in app.warning)
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
    assert any(shown(header.value) == "Training: tiny cnn" for header in app.subheader)

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
    assert any(shown(header.value).startswith("Training: ") for header in app.subheader)
    # The live view: a progress bar that says where training is, and curves with points inside the epoch.
    assert app.get("progress")[0].proto.text.startswith("Epoch ")
    live_loss = {trace["name"]: trace for trace in plotly_specs(app)["live_loss"]["data"]}
    assert live_loss["Training (live)"]["x"] and len(live_loss["Validation"]["y"]) >= 1
    # Under the live curves, one sentence says what they show.
    assert any(shown(text.value).startswith("**What the curves say:**") for text in app.markdown)
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
    assert any("epochs had finished; the model kept is epoch" in shown(warning.value) for warning in app.warning)


def test_a_new_session_finds_a_running_training_and_may_watch_but_not_stop_it():
    queue = jobs.get_queue()
    run_id = queue.submit("mnist_sample", "cnn", {"epochs": 20, "batch_size": 64}, name="teacher's cnn",
                          owner="teacher", limit_train=640)
    try:
        app = open_train_page()
        assert any(shown(header.value) == "Trainings on this server" for header in app.subheader)
        assert any("teacher's cnn" in shown(text.value) for text in app.markdown)
        app.button(key=f"watch_{run_id}").click().run()
        assert not app.exception
        assert any(shown(header.value) == "Training: teacher's cnn" for header in app.subheader)
        assert not [button for button in app.button if button.key == f"stop_{run_id}"]
        assert any("Only the student who started this training" in shown(caption.value) for caption in app.caption)
    finally:
        queue.stop(run_id, "teacher")
        wait_for(lambda: queue.status(run_id).state == "finished", timeout=60, message="the training to stop")


def test_another_student_watching_the_one_click_training_reads_that_only_the_teacher_can_stop_it():
    """Not "only the student who started this training can stop it": the one who clicked cannot either."""
    queue = jobs.get_queue()
    run_id = queue.submit("mnist_sample", "cnn", {"epochs": 20, "batch_size": 64}, name="Default digit model",
                          owner="student-a", limit_train=640)
    queue.store.update(run_id, one_click=True)
    try:
        app = open_train_page()
        app.button(key=f"watch_{run_id}").click().run()
        assert not app.exception
        assert not [button for button in app.button if button.key == f"stop_{run_id}"]
        captions = [shown(caption.value) for caption in app.caption]
        assert ("The class's default digit model, from the Draw page's one click: only the teacher can stop it."
                in captions)
        assert not any("Only the student who started" in caption for caption in captions)
    finally:
        queue.stop(run_id, by_teacher=True)
        wait_for(lambda: queue.status(run_id).state == "finished", timeout=60, message="the training to stop")


def test_the_teacher_stops_a_students_training():
    queue = jobs.get_queue()
    run_id = queue.submit("mnist_sample", "cnn", {"epochs": 20, "batch_size": 64}, name="a student's cnn",
                          owner="student-a", limit_train=640)
    try:
        app = open_train_page(teacher=True)
        app.button(key=f"watch_{run_id}").click().run()
        app.button(key=f"stop_{run_id}").click().run()
        assert not app.exception
        wait_for(lambda: queue.status(run_id).state == "finished", timeout=60, message="the training to stop")
        assert queue.status(run_id).status == "stopped"
    finally:
        queue.stop(run_id, by_teacher=True)


def record_fragments(monkeypatch) -> list:
    """Makes every Streamlit fragment note its name and `run_every` each time a page draws it."""
    import streamlit

    drawn = []
    real_fragment = streamlit.fragment

    def recording_fragment(function=None, *, run_every=None, **options):
        def decorate(body):
            fragment = real_fragment(body, run_every=run_every, **options)

            def draw(*args, **kwargs):
                drawn.append((body.__name__, run_every))
                return fragment(*args, **kwargs)

            return draw

        return decorate(function) if function is not None else decorate

    monkeypatch.setattr(streamlit, "fragment", recording_fragment)
    return drawn


def test_other_trainings_follow_by_themselves_and_nothing_polls_once_all_is_quiet(monkeypatch):
    drawn = record_fragments(monkeypatch)
    app = open_train_page()
    # Nothing trains: no fragment redraws anything on a timer.
    assert drawn == []

    queue = jobs.get_queue()
    run_id = queue.submit("mnist_sample", "ann", {"epochs": 1, "batch_size": 64}, name="teacher's ann",
                          owner="teacher", limit_train=640)
    app.run()
    assert not app.exception
    # A classmate's training is listed by a fragment that redraws itself every few seconds.
    assert ("live_other_trainings", 2.0) in drawn
    line = next(shown(text.value) for text in app.markdown if "teacher's ann" in shown(text.value))
    assert any(state in line for state in ("queued", "starting", "running, epoch 1 of 1", "finished"))

    wait_for(lambda: queue.status(run_id).state == "finished", timeout=120, message="the training to finish")
    drawn.clear()
    app.run()
    assert not app.exception
    # It stays listed, finished with its score, and nothing polls any more.
    line = next(shown(text.value) for text in app.markdown if "teacher's ann" in shown(text.value))
    assert "finished, " in line and "% on the test images" in line
    assert drawn == []
    assert app.button(key=f"watch_{run_id}")

    # A visitor who never saw it train is not shown it: the Results page lists finished runs.
    other = open_train_page()
    assert not any(shown(header.value) == "Trainings on this server" for header in other.subheader)


def test_a_failed_run_says_why():
    store = runs.RunStore()
    run = store.create(dataset="mnist_sample", architecture="cnn", hyperparameters={"epochs": 3}, status="failed")
    problem = "The loss became NaN (not a number) at batch 3 of epoch 1: the learning rate is too high."
    store.update(run.id, problem=problem, history={"loss": []})
    app = open_train_page(train_watched_run=run.id)
    assert any(problem in shown(error.value) for error in app.error)
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
    assert any("Train at least two models" in shown(caption.value) for caption in app.caption)

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


# --- early stopping and overfitting ------------------------------------------------------------------------------


def test_early_stopping_is_a_switch_with_a_patience():
    app = open_train_page()
    switch = app.toggle(key="train_cnn_early_stopping")
    assert switch.label == "Early stopping" and switch.value is False
    assert not [slider for slider in app.slider if slider.key == "train_cnn_early_stopping_patience"]
    switch.set_value(True).run()
    patience = app.slider(key="train_cnn_early_stopping_patience")
    assert patience.value == 3 and (patience.min, patience.max) == (1, 50)
    patience.set_value(4).run()
    assert any("early stopping after 4 epochs without improvement" in shown(text.value) for text in app.markdown)
    assert app.query_params["early_stopping_patience"] == "4"


def test_a_run_stopped_early_says_so_and_the_curves_mark_its_best_epoch(trained_run, isolated_runs):
    meta_path = isolated_runs / trained_run / "run.json"
    meta = json.loads(meta_path.read_text())
    meta["hyperparameters"]["epochs"] = 20
    meta["history"] = {
        "loss": [0.9, 0.4, 0.2, 0.1, 0.06, 0.04, 0.03],
        "accuracy": [0.80, 0.90, 0.95, 0.971, 0.980, 0.988, 0.993],
        "val_loss": [0.5, 0.3, 0.2, 0.121, 0.13, 0.16, 0.183],
        "val_accuracy": [0.85, 0.9, 0.94, 0.96, 0.958, 0.957, 0.955],
    }
    meta.update(epochs_done=7, best_epoch=4,
                stopped_early={"epoch": 7, "patience": 3, "best_epoch": 4, "monitor": "val_loss"})
    meta_path.write_text(json.dumps(meta))
    app = open_train_page(train_watched_run=trained_run)
    assert any("Stopped early after epoch 7: the validation loss had not improved for 3 epochs; the model keeps "
               "epoch 4" in shown(success.value) for success in app.success)
    assert metric_value(app, "Epochs trained") == "7 of 20"
    assert any("Since epoch 4 the training accuracy has kept rising (97.1% → 99.3%)" in shown(text.value)
               and "(overfitting)" in shown(text.value) for text in app.markdown)
    for key in ("final_loss", "final_accuracy"):
        layout = plotly_specs(app)[key]["layout"]
        assert [shape["x0"] for shape in layout["shapes"]] == [4]
        assert [annotation["text"] for annotation in layout["annotations"]] == ["best epoch 4"]


def test_the_one_clicks_model_says_why_it_holds_no_images_out(trained_run, isolated_runs):
    """The Draw page's default digit model holds no validation images by design: its curves' sentence says so and
    where to see overfitting, instead of telling its watcher to set a fraction they never chose."""
    meta_path = isolated_runs / trained_run / "run.json"
    meta = json.loads(meta_path.read_text())
    meta["history"] = {"loss": [0.5, 0.2], "accuracy": [0.85, 0.95]}
    meta_path.write_text(json.dumps(dict(meta, one_click=True)))
    sentences = [shown(text.value) for text in open_train_page(train_watched_run=trained_run).markdown
                 if shown(text.value).startswith("**What the curves say:**")]
    assert sentences == ["**What the curves say:** The default digit model holds no images out for validation: it "
                         "learns from all of its training images, to read handwriting as well as it can, so these "
                         "curves cannot show overfitting. To see it, train a model on this page: it holds some images "
                         "out (its validation fraction)."]
    meta_path.write_text(json.dumps(meta))
    assert any("set a validation fraction above 0" in shown(text.value)
               for text in open_train_page(train_watched_run=trained_run).markdown)


# --- share by link -------------------------------------------------------------------------------------------------


def open_link(**query) -> AppTest:
    """The app opened at /train?<query>, as a browser opens a shared link: the Train page is the first to run."""
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    for key, value in query.items():
        app.query_params[key] = value
    app.switch_page("pages/train.py")
    app.run()
    assert not app.exception, app.exception
    return app


def test_a_shared_link_restores_the_dataset_architecture_and_every_setting():
    app = open_link(dataset="mnist_sample", arch="dnn", depth="3", width="64", dropout="0.25", epochs="7",
                    batch_size="100", optimizer="rmsprop", learning_rate="0.003", early_stopping_patience="4",
                    learning_rate_schedule="cosine", validation_fraction="0.2", seed="7")
    assert not app.warning
    assert app.session_state["dataset"] == "mnist_sample"
    assert app.selectbox(key="train_architecture").value == "dnn"
    assert app.slider(key="train_dnn_depth").value == 3
    assert app.number_input(key="train_dnn_width").value == 64
    assert app.slider(key="train_dnn_dropout").value == pytest.approx(0.25)
    assert app.number_input(key="train_dnn_epochs").value == 7
    assert app.number_input(key="train_dnn_batch_size").value == 100
    assert app.selectbox(key="train_dnn_optimizer").value == "rmsprop"
    # 0.003 is not one of the slider's 1-2-5 steps: it is offered because the link asks for it.
    assert app.select_slider(key="train_dnn_learning_rate").value == 0.003
    assert app.selectbox(key="train_dnn_learning_rate_schedule").value == "cosine"
    assert app.slider(key="train_dnn_validation_fraction").value == pytest.approx(0.2)
    assert app.toggle(key="train_dnn_early_stopping").value is True
    assert app.slider(key="train_dnn_early_stopping_patience").value == 4
    assert app.number_input(key="train_dnn_seed").value == 7
    # The link to share is the same setup.
    link = app.code[0].value
    assert "/train?dataset=mnist_sample&arch=dnn&depth=3&width=64&dropout=0.25&epochs=7" in link


def test_bad_values_in_a_link_are_named_and_their_defaults_kept():
    app = open_link(arch="cnn", epochs="0", learning_rate="-1", filters="many", colour="red", batch_size="64")
    warning = " ".join(shown(item.value) for item in app.warning)
    for part in ("epochs='0': Epochs must be between 1 and 200", "learning_rate='-1'", "filters='many'",
                 "colour='red': cnn has no such setting", "defaults kept"):
        assert part in warning
    assert app.number_input(key="train_cnn_epochs").value == 5
    assert app.select_slider(key="train_cnn_learning_rate").value == 0.003
    assert app.number_input(key="train_cnn_filters").value == 32
    assert app.number_input(key="train_cnn_batch_size").value == 64
    # The address now holds the setup actually used, without the bad values: the one setting that differs from
    # the defaults (the defaults are left out of an address: a link that opens gives them to every setting).
    assert app.query_params["batch_size"] == "64" and "colour" not in app.query_params
    assert "epochs" not in app.query_params and "learning_rate" not in app.query_params

    unknown = open_link(dataset="imagenet", arch="transformer")
    warning = " ".join(shown(item.value) for item in unknown.warning)
    assert "dataset='imagenet': there is no such dataset" in warning
    assert "arch='transformer': there is no such architecture" in warning
    assert unknown.selectbox(key="train_architecture").value == "cnn"


def test_the_address_follows_the_settings_and_survives_leaving_the_page():
    app = open_train_page()
    assert app.query_params["arch"] == "cnn" and "epochs" not in app.query_params
    app.number_input(key="train_cnn_epochs").set_value(9).run()
    assert app.query_params["epochs"] == "9"
    app.switch_page("pages/results.py").run()
    app.switch_page("pages/train.py").run()
    assert not app.exception
    assert app.number_input(key="train_cnn_epochs").value == 9
    assert app.query_params["epochs"] == "9"
    assert not app.warning


def html_sources(app) -> str:
    return " ".join(element.proto.body for element in app.get("html"))


def test_the_shared_link_is_on_the_address_students_reach_with_a_qr_code(monkeypatch):
    monkeypatch.setenv(share.BASE_URL_VARIABLE, "https://canvas.school.example/class")
    app = open_link(arch="cnn", epochs="3")
    link = app.code[0].value
    assert link.startswith("https://canvas.school.example/class/train?")
    assert "epochs=3" in link and "presenter" not in link
    assert any("Scan to open this setup" in image.captions for image in app.image)
    assert any("NEURAL_CANVAS_BASE_URL" in caption.value for caption in app.caption)


def test_presenter_mode_comes_from_the_link_is_switched_in_the_sidebar_and_stays_in_the_link():
    # (AppTest loses the router's elements and the sidebar once the Train page has run, though a browser keeps
    # them: the large type and the switch are looked at on the home page, before the Train page.)
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    app.query_params[share.PRESENTER_PARAMETER] = "on"
    app.run()
    assert not app.exception
    assert "html { font-size: 21px; }" in html_sources(app)
    assert app.toggle(key=_presenter.KEY).value is True

    shared = open_link(arch="cnn", presenter="on")
    assert shared.query_params[share.PRESENTER_PARAMETER] == "on"
    assert "presenter=on" in shared.code[0].value
    # The presenter value in a link is no setting of the training: nothing is reported as a bad one.
    assert not shared.warning

    app.toggle(key=_presenter.KEY).set_value(False).run()
    assert not app.exception
    assert "font-size: 21px" not in html_sources(app)


# A later run of the router, on the Results page or the Train page, with the Train page's settings and presenter
# mode in the address (as the browser's Back from the Train page can send them); prints the address after it.
LATER_RUN_OF_THE_ROUTER = """
import json, sys
from streamlit.testing.v1 import AppTest
script = '''
import streamlit as st
from pages import _presenter
st.session_state[_presenter.SESSION_STARTED_KEY] = True
_presenter.apply()
_presenter.keep_only_presenter_in_address(PAGE, own_query_pages=("train",))
'''
app = AppTest.from_string(script.replace("PAGE", repr(sys.argv[1])), default_timeout=60)
for key, value in json.loads(sys.argv[2]).items():
    app.query_params[key] = value
app.run()
assert not app.exception, app.exception
print(json.dumps(dict(app.query_params)))
"""


def test_another_page_drops_the_train_pages_settings_from_its_address_and_keeps_presenter_mode():
    query = {"dataset": "mnist_sample", "arch": "cnn", "epochs": "9", share.PRESENTER_PARAMETER: "on"}
    # A tab's first run leaves the address as the browser opened it (a change then would push a second history
    # entry for the same page).
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    assert not app.exception
    assert dict(app.query_params) == query

    # A later run (AppTest runs the router on its first run only; in a fresh interpreter, since a script without
    # the router changes how AppTest runs pages in this process).
    def address_after_a_later_run(page: str) -> dict:
        result = subprocess.run([sys.executable, "-c", LATER_RUN_OF_THE_ROUTER, page, json.dumps(query)], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    assert address_after_a_later_run("results") == {share.PRESENTER_PARAMETER: "on"}
    assert address_after_a_later_run("train") == query


def test_a_corrected_link_never_undoes_a_setting_changed_since():
    # (The page leaves the address as opened on a tab's first run, and keeps the opened link as applied until it
    # writes its own: the next run must not take the opened link for a new one.)
    shared = open_link(arch="cnn", epochs="9999", colour="red")
    # The link to share is the page's own from the start.
    assert "epochs=9999" not in shared.code[0].value and "colour" not in shared.code[0].value
    epochs = shared.number_input(key="train_cnn_epochs")
    assert epochs.value != 9999
    epochs.set_value(7).run()
    assert not shared.exception
    assert shared.number_input(key="train_cnn_epochs").value == 7
    assert shared.query_params["epochs"] == "7" and "colour" not in shared.query_params


# --- a runs folder that is full or cannot be written ---------------------------------------------------------------


@pytest.mark.parametrize("number, expected", [(errno.ENOSPC, "is full. Free some disk space"),
                                              (errno.EACCES, "not allowed to write to the runs folder")])
def test_a_runs_folder_that_cannot_be_written_when_pressing_train_leaves_no_run(monkeypatch, isolated_runs,
                                                                                number, expected):
    def cannot_write(self, folder, meta):
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(runs.RunStore, "_write_meta", cannot_write)
    app = open_train_page()
    app.button[0].click().run()
    assert not app.exception
    message = " ".join(shown(error.value) for error in app.error)
    assert "The training could not start." in message and expected in message
    assert "NEURAL_CANVAS_RUNS" in message and "No run was saved." in message
    assert runs.RunStore().list() == []
    assert not isolated_runs.exists() or not any(isolated_runs.iterdir())
    assert "train_watched_run" not in app.session_state


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any folder")
def test_a_runs_folder_that_cannot_be_written_says_so(isolated_runs):
    isolated_runs.mkdir(parents=True)
    isolated_runs.chmod(0o500)
    try:
        app = open_train_page()
        app.button[0].click().run()
        message = " ".join(shown(error.value) for error in app.error)
        assert "not allowed to write to the runs folder" in message and "NEURAL_CANVAS_RUNS" in message
        assert list(isolated_runs.iterdir()) == []
    finally:
        isolated_runs.chmod(0o700)


def test_a_disk_that_fills_during_training_fails_the_run_and_the_page_says_so(monkeypatch, tmp_path):
    # The training runs in a worker process: the full disk is simulated there, by a sitecustomize module
    # on the worker's PYTHONPATH that makes saving a model fail as a full disk does.
    hook = tmp_path / "worker_hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import errno\n"
        "from core import runs\n"
        "def disk_full(self, run_id, model):\n"
        "    raise OSError(errno.ENOSPC, 'No space left on device')\n"
        "runs.RunStore.save_model = disk_full\n")
    monkeypatch.setenv("PYTHONPATH", str(hook))
    submit = jobs.TrainingQueue.submit
    monkeypatch.setattr(jobs.TrainingQueue, "submit",
                        lambda self, *args, **kwargs: submit(self, *args, limit_train=640, **kwargs))
    app = open_train_page()
    app.number_input(key="train_cnn_epochs").set_value(2)
    app.button[0].click().run()
    run_id = only_run_id()
    wait_for(lambda: jobs.get_queue().status(run_id).state == "finished", message="the training to fail")
    app.run()
    assert not app.exception
    message = " ".join(shown(error.value) for error in app.error)
    assert "The training failed." in message and "could not be saved" in message and "is full" in message
    run = runs.RunStore().get(run_id)
    assert run.status == "failed" and not run.has_model


def test_a_long_layer_table_names_the_output_layers_under_it():
    app = open_train_page()
    app.selectbox(key="train_architecture").set_value("modern_cnn").run()
    assert not app.exception
    captions = " ".join(caption.value for caption in app.caption)
    assert "scroll the table for the rest" in captions and "probabilities" in captions
