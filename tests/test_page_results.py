"""The Results page in Streamlit's AppTest, and the helpers in core/results_view.py that it draws with.

The page tests use `trained_run` (a small CNN on the MNIST sample, with its test probabilities saved) and
check the figures the page shows against numbers computed here from the saved probabilities.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import open_page, shown
from core import charts, datasets, evaluation, export, model_import, replay, results_view, runs

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/results.py"


def open_results_page() -> AppTest:
    return open_page(PAGE)


def reference_evaluation(run_id: str) -> evaluation.Evaluation:
    probabilities = runs.RunStore().load_array(run_id, "test_probabilities")
    return evaluation.evaluate_probabilities(probabilities, datasets.load("mnist_sample").y_test)


def markdown_texts(container) -> list[str]:
    return [shown(element.value) for element in container.markdown]


def captions_in(container) -> list[str]:
    """The captions under the images of a grid: two lines, the first saying the true class."""
    return [text for text in markdown_texts(container) if "[✓ true" in text or "[✗ true" in text]


# --- the page ---------------------------------------------------------------------------------------------------


def test_summary_shows_the_stored_test_accuracy(trained_run):
    app = open_results_page()
    stored = runs.RunStore().get(trained_run).meta["test"]
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Test accuracy"] == charts.percent(stored["accuracy"])
    assert metrics["ROC AUC (macro)"] == f"{stored['roc_auc']:.4f}"
    assert metrics["Mistakes"] == f"{stored['mistakes']:,}"


def test_in_presenter_mode_the_curves_grow_with_the_page_and_keep_no_toolbar(trained_run):
    """The loss and accuracy curves go through the app's chart helper like every other chart: larger type on a
    projector (they stayed at 12 px), and no toolbar over the legend."""
    import json

    from pages import _common, _presenter

    def curves(app):
        return {key: chart for chart in app.get("plotly_chart")
                for key in ("results_page_loss_curve", "results_page_accuracy_curve") if chart.proto.id.endswith(key)}

    normal = curves(open_results_page())
    presenter = curves(open_page(PAGE, **{_presenter.KEY: True}))
    assert len(normal) == len(presenter) == 2
    for key, chart in presenter.items():
        spec = json.loads(chart.proto.spec)
        assert spec["layout"]["font"]["size"] > json.loads(normal[key].proto.spec)["layout"]["font"]["size"]
        assert json.loads(chart.proto.config) == _common.PLOTLY_CONFIG


def test_mistakes_count_is_every_misclassified_test_image(trained_run):
    app = open_results_page()
    reference = reference_evaluation(trained_run)
    count = int((reference.probabilities.argmax(axis=1) != reference.labels).sum())
    mistakes_tab = app.tabs[2]
    assert f"**{count:,} mistakes of {len(reference.labels):,}** test images." in markdown_texts(mistakes_tab)
    captions = captions_in(mistakes_tab)
    assert len(captions) == min(count, results_view.MISTAKES_PER_PAGE)
    assert all(caption.startswith(":red[✗") for caption in captions)


def test_filtering_mistakes_by_true_class_shows_only_that_class(trained_run):
    app = open_results_page()
    reference = reference_evaluation(trained_run)
    wrong = reference.predictions != reference.labels
    # The class with the most mistakes, so that the filter has something to show.
    true_class = int(np.bincount(reference.labels[wrong], minlength=10).argmax())
    expected = int((wrong & (reference.labels == true_class)).sum())

    app.selectbox(key="results_page_mistakes_true").set_value(true_class).run()
    assert not app.exception

    mistakes_tab = app.tabs[2]
    assert any(f"Of those, **{expected:,}** with true class **{true_class}**" in text
               for text in markdown_texts(mistakes_tab))
    captions = captions_in(mistakes_tab)
    assert len(captions) == min(expected, results_view.MISTAKES_PER_PAGE)
    assert all(caption.startswith(f":red[✗ true {true_class}]") for caption in captions)


def test_mistakes_sorted_least_confident_first(trained_run):
    app = open_results_page()
    reference = reference_evaluation(trained_run)
    app.selectbox(key="results_page_mistakes_order").set_value("Least confident first").run()
    assert not app.exception
    first = captions_in(app.tabs[2])[0]
    least_sure = reference.mistakes(most_confident_first=False)[0]
    assert f"({reference.confidence[least_sure]:.0%})" in first


def test_choosing_a_confusion_cell_shows_its_images(trained_run):
    app = open_results_page()
    reference = reference_evaluation(trained_run)
    off_diagonal = reference.confusion.copy()
    np.fill_diagonal(off_diagonal, 0)
    # The second most frequent mistake, so that the choice differs from the cell the page starts on.
    order = np.argsort(off_diagonal, axis=None)[::-1]
    true_class, predicted_class = np.unravel_index(order[1], off_diagonal.shape)
    expected = int(reference.confusion[true_class, predicted_class])
    assert expected > 0

    app.selectbox(key="results_page_cell_true").set_value(int(true_class))
    app.selectbox(key="results_page_cell_predicted").set_value(int(predicted_class)).run()
    assert not app.exception

    confusion_tab = app.tabs[3]
    heading = f"#### True {true_class}, predicted {predicted_class}: {expected:,} mistake"
    assert any(text.startswith(heading) for text in markdown_texts(confusion_tab))
    captions = captions_in(confusion_tab)
    assert len(captions) == min(expected, results_view.CELL_IMAGE_LIMIT)
    assert all(f"true {true_class}]" in caption and f"predicted {predicted_class}\N{NO-BREAK SPACE}(" in caption
               for caption in captions)


def test_a_diagonal_cell_shows_at_most_the_image_limit(trained_run):
    app = open_results_page()
    app.selectbox(key="results_page_cell_true").set_value(1)
    app.selectbox(key="results_page_cell_predicted").set_value(1).run()
    assert not app.exception
    captions = captions_in(app.tabs[3])
    assert len(captions) == results_view.CELL_IMAGE_LIMIT
    assert all(caption.startswith(":green[✓ true 1]") for caption in captions)


def test_predictions_grid_resamples(trained_run):
    app = open_results_page()
    before = captions_in(app.tabs[1])
    assert len(before) == 24
    app.button(key="results_page_resample").click().run()
    assert not app.exception
    after = captions_in(app.tabs[1])
    assert len(after) == 24 and after != before


def test_without_runs_the_page_says_to_train_first():
    app = open_results_page()
    assert any("No trained model yet" in shown(element.value) for element in app.info)
    assert not app.metric


def test_a_damaged_run_is_listed_with_its_problem(trained_run, isolated_runs):
    damaged = isolated_runs / "20991231-235959-cnn-abcdef"
    damaged.mkdir()
    (damaged / "run.json").write_text("{ this is not json", encoding="utf-8")

    app = open_results_page()
    picker = app.selectbox(key="results_page_run")
    damaged_labels = [label for label in picker.options if damaged.name in label]
    assert damaged_labels == [f"damaged · {damaged.name}"]
    # Finished runs with a model come first, even when a damaged run is newer.
    assert picker.value == trained_run

    picker.set_value(damaged.name).run()
    assert not app.exception
    assert any("This run is damaged" in shown(element.value) for element in app.error)
    assert not app.metric


def test_a_run_without_saved_probabilities_is_scored_from_its_model(trained_run, isolated_runs):
    (isolated_runs / trained_run / "test_probabilities.npy").unlink()
    app = open_results_page()
    stored = runs.RunStore().get(trained_run).meta["test"]
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Test accuracy"] == charts.percent(stored["accuracy"])


def test_a_run_still_training_says_so(isolated_runs):
    store = runs.RunStore()
    run = store.create(dataset="mnist_sample", architecture="cnn", hyperparameters={}, status="running")
    store.update(run.id, history={"loss": [0.5], "accuracy": [0.8], "val_loss": [0.4], "val_accuracy": [0.85]})
    app = open_results_page()
    assert any("still training" in shown(element.value) for element in app.info)


# --- core/results_view.py ---------------------------------------------------------------------------------------


def test_page_count_and_page_of():
    indices = np.arange(50)
    assert results_view.page_count(0) == 1
    assert results_view.page_count(48, 24) == 2
    assert results_view.page_count(49, 24) == 3
    assert list(results_view.page_of(indices, 3, 24)) == [48, 49]
    # A page past the end shows the last page rather than nothing.
    assert list(results_view.page_of(indices, 99, 24)) == [48, 49]
    with pytest.raises(ValueError, match="per_page"):
        results_view.page_count(10, 0)


def small_evaluation() -> evaluation.Evaluation:
    probabilities = np.array([
        [0.9, 0.1, 0.0],   # true 0, right
        [0.2, 0.7, 0.1],   # true 0, predicted 1 (70%)
        [0.4, 0.6, 0.0],   # true 0, predicted 1 (60%)
        [0.1, 0.1, 0.8],   # true 2, right
        [0.0, 0.95, 0.05],  # true 2, predicted 1 (95%)
    ], dtype=np.float32)
    return evaluation.evaluate_probabilities(probabilities, np.array([0, 0, 0, 2, 2]))


def test_confusion_cell_lists_its_images_surest_first():
    result = small_evaluation()
    assert list(results_view.confusion_cell(result, 0, 1)) == [1, 2]
    assert list(results_view.confusion_cell(result, 1, 1)) == []
    assert results_view.most_confused_cell(result.confusion) == (0, 1)
    assert results_view.most_confused_cell(np.diag([3, 4])) == (0, 0)


def test_prediction_caption_colours_and_probability():
    result = small_evaluation()
    names = ("zero", "one", "two")
    space = "\N{NO-BREAK SPACE}"
    assert (results_view.prediction_caption(result, 0, names)
            == f":green[✓ true zero]  \n:green[predicted zero{space}(90%)]")
    assert results_view.prediction_caption(result, 4, names) == f":red[✗ true two]  \n:red[predicted one{space}(95%)]"
    # A long class name wraps as a whole, never at its hyphen or space.
    caption = results_view.prediction_caption(result, 4, ("x", "T-shirt/top", "Ankle boot"))
    assert "T\N{NON-BREAKING HYPHEN}shirt/top" in caption and f"Ankle{space}boot" in caption
    assert results_view.count_sentence(118, 2000) == "118 mistakes of 2,000"


def test_selected_cell_reads_the_clicked_marker():
    # What Streamlit reported for a click on the cell (true 2, predicted 8) of a ten-class matrix.
    points = [{"curve_number": 1, "point_number": 28, "point_index": 28, "x": "8", "y": "2",
               "customdata": {"0": 2}}]
    assert results_view.selected_cell(points, 10) == (2, 8)
    assert results_view.selected_cell([], 10) is None
    assert results_view.selected_cell([{"curve_number": 0, "point_index": 3}], 10) is None


def test_confusion_figure_has_a_clickable_marker_per_cell():
    confusion = np.array([[5, 1], [0, 7]])
    figure = results_view.confusion_figure(confusion, ["cat", "dog"], selected=(0, 1))
    heatmap, markers = figure.data
    assert [list(row) for row in heatmap.text] == [["5", "1"], ["0", "7"]]
    # Marker i is cell divmod(i, classes): the order selected_cell relies on.
    assert list(markers.x) == ["cat", "dog", "cat", "dog"]
    assert list(markers.y) == ["cat", "cat", "dog", "dog"]
    assert list(markers.customdata) == [5, 1, 0, 7]
    assert len(figure.layout.shapes) == 1


# --- epoch replay -----------------------------------------------------------------------------------------------


def replay_of(labels, predictions_per_epoch, num_classes=10):
    """A Replay whose answer after each epoch is `predictions_per_epoch[epoch - 1]`, 80% sure."""
    labels = np.asarray(labels)
    probabilities = np.full((len(predictions_per_epoch), len(labels), num_classes), 0.2 / (num_classes - 1))
    for epoch, predictions in enumerate(predictions_per_epoch):
        probabilities[epoch, np.arange(len(labels)), predictions] = 0.8
    images = np.zeros((len(labels), 28, 28), np.uint8)
    return replay.Replay(images, labels, probabilities.astype(np.float16))


def save_two_epoch_replay(run_id: str) -> replay.Replay:
    """A replay on 100 of the run's test images: 60 right after epoch 1, then 12 fixed and 2 broken."""
    labels = datasets.load("mnist_sample").y_test[replay.pick_images(datasets.load("mnist_sample").y_test, 100)]
    first = labels.copy()
    first[:40] = (labels[:40] + 1) % 10                      # 40 wrong after epoch 1
    second = first.copy()
    second[:12] = labels[:12]                                  # 12 of them right after epoch 2
    second[50:52] = (labels[50:52] + 2) % 10                   # 2 that were right are now wrong
    recorded = replay_of(labels, [first, second])
    replay.save_replay(runs.RunStore(), run_id, recorded.images, recorded.labels, recorded.probabilities)
    return recorded


def test_epoch_replay_shows_each_epochs_answers_and_what_changed(trained_run):
    recorded = save_two_epoch_replay(trained_run)
    app = open_results_page()
    replay_tab = app.tabs[4]
    slider = app.slider(key=f"results_page_replay_epoch_{trained_run}")
    assert (slider.min, slider.max, slider.value) == (1, 2, 1)
    assert any("After the first epoch the model already gets **60 of the 100**" in text
               for text in markdown_texts(replay_tab))
    metrics = {metric.label: metric.value for metric in replay_tab.metric}
    assert metrics["Accuracy after epoch 1"] == "60.0%"
    captions = captions_in(replay_tab)
    assert len(captions) == 30
    # The epoch the run keeps (its best by loss) is marked on the replay's chart, and said under the words.
    assert any(caption.value.startswith("On the chart, the dashed line is the epoch the run keeps (1)")
               for caption in replay_tab.caption)
    figure = results_view.replay_accuracy_figure(recorded, 2, kept_epoch=1)
    assert [shape.x0 for shape in figure.layout.shapes] == [1]
    assert [annotation.text for annotation in figure.layout.annotations] == ["kept: epoch 1"]
    assert not results_view.replay_accuracy_figure(recorded, 2).layout.shapes
    first_right = sum(caption.startswith(":green[✓") for caption in captions)

    slider.set_value(2).run()
    assert not app.exception
    replay_tab = app.tabs[4]
    assert any(text.startswith(":green[**12 images** that were wrong after epoch 1 are right after epoch 2], and "
                               ":red[**2** that were right are now wrong]: accuracy on these images rose from "
                               "60.0% to 70.0%.") for text in markdown_texts(replay_tab))
    metrics = {metric.label: metric.value for metric in replay_tab.metric}
    assert metrics["Accuracy after epoch 2"] == "70.0%"
    captions = captions_in(replay_tab)
    shown = results_view.replay_shown_images(recorded)
    expected_right = int((recorded.predictions(2)[shown] == recorded.labels[shown]).sum())
    assert sum(caption.startswith(":green[✓") for caption in captions) == expected_right != first_right


def test_a_run_without_a_replay_says_replays_come_with_new_runs(trained_run, isolated_runs):
    for path in (isolated_runs / trained_run).glob("replay_*.npy"):
        path.unlink()  # a run trained before replays were recorded
    app = open_results_page()
    assert any("Replays are recorded for runs trained from now on" in shown(element.value)
               for element in app.tabs[4].info)


def test_replay_change_sentence_and_shown_images():
    labels = np.repeat(np.arange(10), 10)
    wrong_then_right = labels.copy()
    wrong_then_right[::10] = (labels[::10] + 1) % 10   # one image per class wrong after epoch 1
    recorded = replay_of(labels, [wrong_then_right, labels, labels])
    assert results_view.replay_change_sentence(recorded, 2).startswith(
        ":green[**10 images** that were wrong after epoch 1 are right after epoch 2]: accuracy on these "
        "images rose from 90.0% to 100.0%.")
    assert "not one answer went from wrong to right" in results_view.replay_change_sentence(recorded, 3)
    shown = results_view.replay_shown_images(recorded)
    assert len(shown) == 30 and list(np.bincount(labels[shown])) == [3] * 10
    # The image each class learned along the way is among those shown.
    assert set(range(0, 100, 10)) <= set(shown.tolist())
    assert list(results_view.replay_shown_images(recorded)) == list(shown)


# --- export -----------------------------------------------------------------------------------------------------


def test_export_offers_the_model_file_and_the_script(trained_run, monkeypatch):
    from streamlit.runtime.media_file_manager import MediaFileManager

    deferred = {}
    original = MediaFileManager.add_deferred

    def remember(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        deferred[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", remember)
    app = open_results_page()
    run = runs.RunStore().get(trained_run)
    # The model's bytes are read only on a click: what the click gives is the file on disk.
    assert deferred[export.model_file_name(run)]() == (run.path / "model.keras").read_bytes()
    script = app.tabs[5].code[0].value
    compile(script, "exported.py", "exec")
    assert "keras.datasets.mnist.load_data()" in script
    assert f"batch_size = {run.meta['hyperparameters']['batch_size']}" in script


# --- deleting a run ---------------------------------------------------------------------------------------------


def own(run_id: str, owner: str) -> None:
    runs.RunStore().update(run_id, owner=owner)


def test_the_owner_deletes_a_run_after_confirming(trained_run, isolated_runs):
    own(trained_run, "student-a")
    app = open_page(PAGE, owner="student-a")
    delete = app.button(key="results_page_delete")
    assert delete.disabled  # nothing happens before the confirmation
    app.checkbox(key=f"results_page_delete_confirm_{trained_run}").check().run()
    app.button(key="results_page_delete").click().run()
    assert not app.exception
    assert not (isolated_runs / trained_run).exists()
    assert any("Deleted “test cnn”" in shown(element.value) for element in app.success)
    assert any("No trained model yet" in shown(element.value) for element in app.info)
    assert app.session_state["run_id"] is None


def test_another_session_cannot_delete_a_run(trained_run, isolated_runs):
    own(trained_run, "student-a")
    app = open_page(PAGE, owner="student-b")
    refused = app.button(key="results_page_delete_refused")
    assert refused.disabled
    assert any("Only the student who trained this model can delete it" in shown(element.value)
               for element in app.caption)
    assert not [button for button in app.button if button.key == "results_page_delete"]
    assert (isolated_runs / trained_run / "model.keras").is_file()


def test_a_run_still_training_cannot_be_deleted(isolated_runs):
    store = runs.RunStore()
    run = store.create(dataset="mnist_sample", architecture="cnn", hyperparameters={}, owner="student-a",
                       status="running")
    app = open_page(PAGE, owner="student-a")
    assert app.button(key="results_page_delete_refused").disabled
    assert any("still training: stop it on the Train page first" in shown(element.value) for element in app.caption)
    assert (isolated_runs / run.id).is_dir()


def test_deletion_refusal_reasons():
    def run_with(owner, status="completed"):
        return runs.Run("20261123-000000-cnn-abcdef", Path("."), {"owner": owner}, status)

    assert results_view.deletion_refusal(run_with("me"), "me") is None
    assert "Only the student who trained" in results_view.deletion_refusal(run_with("you"), "me")
    assert "not trained in a browser" in results_view.deletion_refusal(run_with(""), "me")
    assert "still training" in results_view.deletion_refusal(run_with("me", "running"), "me")
    # The class's default digit model (the Draw page's one click): not even the student who clicked deletes it.
    shared = runs.Run("20261123-000000-modern_cnn-abcdef", Path("."), {"owner": "me", "one_click": True}, "completed")
    assert "only the teacher can delete it" in results_view.deletion_refusal(shared, "me")
    assert results_view.deletion_refusal(shared, "me", teacher=True) is None


# --- importing a colleague's model ------------------------------------------------------------------------------


def keras_file(model, tmp_path) -> bytes:
    path = tmp_path / "upload.keras"
    model.save(path)
    return path.read_bytes()


def upload(app: AppTest, filename: str, data: bytes) -> AppTest:
    app.file_uploader(key="results_page_import_file_0").set_value((filename, data, "application/octet-stream"))
    app.run()
    app.button(key="results_page_import").click().run()
    assert not app.exception
    return app


def small_digit_model(input_shape=(28, 28, 1), classes=10):
    import keras
    from keras import layers

    return keras.Sequential([keras.Input(input_shape), layers.Flatten(), layers.Dense(classes, activation="softmax")])


def test_an_imported_model_becomes_a_run_the_pages_list(tmp_path, isolated_runs):
    app = upload(open_results_page(), "colleague.keras", keras_file(small_digit_model(), tmp_path))
    assert not app.error
    imported = runs.RunStore().list()
    assert len(imported) == 1 and imported[0].architecture == "imported"
    assert imported[0].meta["owner"] == app.session_state["owner"]
    assert any("Imported **colleague**" in shown(element.value) for element in app.success)
    assert app.selectbox(key="results_page_run").value == imported[0].id
    assert any(metric.label == "Test accuracy" for metric in app.metric)
    assert any("no epoch replay" in shown(element.value) for element in app.tabs[4].info)
    # Its owner may delete it again (after confirming).
    assert [button for button in app.button if button.key == "results_page_delete"]
    assert app.session_state["run_id"] == imported[0].id


def _lambda_model():
    import keras
    from keras import layers

    inputs = keras.Input((28, 28))
    x = layers.Lambda(lambda tensor: tensor * 2)(inputs)
    return keras.Model(inputs, layers.Dense(10, activation="softmax")(layers.Flatten()(x)))


def _zip_without_config() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return buffer.getvalue()


@pytest.mark.parametrize(
    "filename, make_data, message",
    [
        ("model.keras", lambda tmp_path: b"not a zip at all", "a .keras file is a zip archive"),
        ("model.keras", lambda tmp_path: _zip_without_config(), "it has no config.json"),
        ("evil.keras", lambda tmp_path: keras_file(_lambda_model(), tmp_path), "Lambda layer"),
        ("model.h5", lambda tmp_path: b"\x89HDF\r\n\x1a\n", "Legacy .h5 model files are refused"),
        ("cifar.keras", lambda tmp_path: keras_file(small_digit_model((32, 32, 3)), tmp_path),
         r"takes images of shape (32, 32, 3)"),
        ("big.keras", lambda tmp_path: b"x" * (50 * 2**20 + 1), "models up to 50 MB can be imported"),
    ],
    ids=["not-a-zip", "no-config", "lambda", "h5", "wrong-input-shape", "too-large"],
)
def test_a_bad_model_file_is_refused_and_nothing_is_stored(filename, make_data, message, tmp_path, isolated_runs):
    app = upload(open_results_page(), filename, make_data(tmp_path))
    errors = [shown(element.value) for element in app.error]
    assert len(errors) == 1 and f"{filename} was not imported" in errors[0] and message in errors[0], errors
    assert runs.RunStore().list() == []
    assert not any(isolated_runs.glob("*/model.keras"))


def test_the_import_size_limit_is_the_servers_upload_limit():
    import tomllib

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert model_import.MAX_FILE_BYTES == config["server"]["maxUploadSize"] * 2**20


def test_the_teacher_deletes_any_run(trained_run, isolated_runs):
    own(trained_run, "student-a")
    app = open_page(PAGE, owner="teacher-session", teacher=True)
    app.checkbox(key=f"results_page_delete_confirm_{trained_run}").check().run()
    app.button(key="results_page_delete").click().run()
    assert not app.exception
    assert not (isolated_runs / trained_run).exists()


def copy_with(runs_folder, run_id, new_id, *, owner, accuracy):
    """Another run with the same model, its own id, owner and test accuracy."""
    import shutil

    shutil.copytree(runs_folder / run_id, runs_folder / new_id)
    meta = json.loads((runs_folder / new_id / "run.json").read_text())
    meta.update(id=new_id, owner=owner, test=dict(meta["test"], accuracy=accuracy))
    (runs_folder / new_id / "run.json").write_text(json.dumps(meta))
    return new_id


@pytest.mark.parametrize("page, key", [("pages/results.py", "results_page_run"),
                                       ("pages/inside.py", "inside_page_run")])
def test_a_visitor_starts_on_their_own_newest_model_else_the_most_accurate_not_the_newest(
        trained_run, isolated_runs, page, key):
    """In a class the newest run is anyone's latest try, perhaps one trained badly on purpose."""
    from pages import _common

    best = copy_with(isolated_runs, trained_run, "20000101-000000-cnn-bbbbbb", owner="someone", accuracy=0.99)
    copy_with(isolated_runs, trained_run, "20990101-000000-cnn-aaaaaa", owner="mischief", accuracy=0.11)
    # Nor a model imported with a perfect score (trained at home on the sample's test images, which ship with the
    # app), nor a clothes model that scores more on its own test set.
    imported = copy_with(isolated_runs, trained_run, "20980101-000000-imported-dddddd", owner="mischief",
                         accuracy=1.0)
    meta = json.loads((isolated_runs / imported / "run.json").read_text())
    meta.update(architecture="imported", imported_from="perfect.keras")
    (isolated_runs / imported / "run.json").write_text(json.dumps(meta))
    clothes = copy_with(isolated_runs, trained_run, "20970101-000000-cnn-eeeeee", owner="someone", accuracy=0.995)
    meta = json.loads((isolated_runs / clothes / "run.json").read_text())
    meta.update(dataset="fashion_mnist")
    (isolated_runs / clothes / "run.json").write_text(json.dumps(meta))
    at = open_page(page, **{_common.OWNER_KEY: "me"})
    assert at.selectbox(key=key).value == best
    mine = copy_with(isolated_runs, trained_run, "20010101-000000-cnn-cccccc", owner="me", accuracy=0.5)
    at = open_page(page, **{_common.OWNER_KEY: "me"})
    assert at.selectbox(key=key).value == mine
