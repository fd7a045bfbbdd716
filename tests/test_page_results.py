"""The Results page in Streamlit's AppTest, and the helpers in core/results_view.py that it draws with.

The page tests use `trained_run` (a small CNN on the MNIST sample, with its test probabilities saved) and
check the figures the page shows against numbers computed here from the saved probabilities.
"""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core import datasets, evaluation, results_view, runs

from conftest import open_page

ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/results.py"


def open_results_page() -> AppTest:
    return open_page(PAGE)


def reference_evaluation(run_id: str) -> evaluation.Evaluation:
    probabilities = runs.RunStore().load_array(run_id, "test_probabilities")
    return evaluation.evaluate_probabilities(probabilities, datasets.load("mnist_sample").y_test)


def markdown_texts(container) -> list[str]:
    return [element.value for element in container.markdown]


def captions_in(container) -> list[str]:
    """The captions under the images of a grid: two lines, the first saying the true class."""
    return [text for text in markdown_texts(container) if "[✓ true" in text or "[✗ true" in text]


# --- the page ---------------------------------------------------------------------------------------------------


def test_summary_shows_the_stored_test_accuracy(trained_run):
    app = open_results_page()
    stored = runs.RunStore().get(trained_run).meta["test"]
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Test accuracy"] == f"{stored['accuracy']:.2%}"
    assert metrics["ROC AUC (macro)"] == f"{stored['roc_auc']:.4f}"
    assert metrics["Mistakes"] == f"{stored['mistakes']:,}"


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
    assert any("No trained model yet" in element.value for element in app.info)
    assert not app.metric


def test_a_damaged_run_is_listed_with_its_problem(trained_run, isolated_runs):
    damaged = isolated_runs / "20991231-235959-cnn-abcdef"
    damaged.mkdir()
    (damaged / "run.json").write_text("{ this is not json", encoding="utf-8")

    app = open_results_page()
    picker = app.selectbox(key="results_page_run")
    damaged_labels = [label for label in picker.options if label.startswith(damaged.name)]
    assert len(damaged_labels) == 1 and "damaged" in damaged_labels[0]
    # Finished runs with a model come first, even when a damaged run is newer.
    assert picker.value == trained_run

    picker.set_value(damaged.name).run()
    assert not app.exception
    assert any("This run is damaged" in element.value for element in app.error)
    assert not app.metric


def test_a_run_without_saved_probabilities_is_scored_from_its_model(trained_run, isolated_runs):
    (isolated_runs / trained_run / "test_probabilities.npy").unlink()
    app = open_results_page()
    stored = runs.RunStore().get(trained_run).meta["test"]
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics["Test accuracy"] == f"{stored['accuracy']:.2%}"


def test_a_run_still_training_says_so(isolated_runs):
    store = runs.RunStore()
    run = store.create(dataset="mnist_sample", architecture="cnn", hyperparameters={}, status="running")
    store.update(run.id, history={"loss": [0.5], "accuracy": [0.8], "val_loss": [0.4], "val_accuracy": [0.85]})
    app = open_results_page()
    assert any("still training" in element.value for element in app.info)


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
