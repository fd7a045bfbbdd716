"""The Results page's first four tabs: Summary (figures, curves, per-class accuracy), Predictions (random test
images), Mistakes (every misclassified image, filtered and sorted) and the Confusion matrix (click a cell to see
its images). Each tab but the summary is a fragment: its widgets redraw only the tab.
"""

import functools

import streamlit as st

from core import charts, datasets, evaluation, gallery, results_view, runs, text
from pages import _common, _pen_shift

GRID_COLUMNS = 6
GRID_CAPTION_STYLE = """<style>[class*='st-key-results_grid_'] [data-testid='stMarkdownContainer'] p {
  font-size: 0.8rem; overflow-wrap: normal; word-break: normal; }</style>"""
PREDICTION_ROWS = 4

SEED_KEY = "results_page_prediction_seed"
TRUE_FILTER_KEY = "results_page_mistakes_true"
PREDICTED_FILTER_KEY = "results_page_mistakes_predicted"
ORDER_KEY = "results_page_mistakes_order"
CELL_TRUE_KEY = "results_page_cell_true"
CELL_PREDICTED_KEY = "results_page_cell_predicted"
CHART_KEY = "results_page_confusion_chart"

MOST_CONFIDENT_FIRST = "Most confident first"
LEAST_CONFIDENT_FIRST = "Least confident first"


def summary(run: runs.Run, result: evaluation.Evaluation | None, dataset: datasets.Dataset | None) -> None:
    figures = result.summary() if result is not None else run.test
    if figures:
        total = len(result.labels) if result is not None else datasets.get_info(run.dataset).num_test
        accuracy, loss, auc, mistakes = st.columns(4)
        accuracy.metric("Test accuracy", _percent(figures.get("accuracy")), border=True,
                        help="The share of test images the model classifies right.")
        loss.metric("Test loss", _number(figures.get("loss"), ".3f"), border=True,
                    help="Cross-entropy on the test set: lower is better; it also punishes unsure right answers.")
        auc.metric("ROC AUC (macro)", _number(figures.get("roc_auc"), ".4f"), border=True,
                   help="For each class, the chance that one of its images scores higher than an image of "
                        "another class, averaged over the classes. 1 is perfect, 0.5 is guessing.")
        mistakes_count = figures.get("mistakes")
        mistakes.metric("Mistakes", "–" if mistakes_count is None else f"{mistakes_count:,}", border=True,
                        help=f"Misclassified test images, out of {total:,}.")
    _pen_shift.domain_shift(run)
    st.caption(_training_facts(run))
    history = run.history
    if history.get("loss"):
        # Through the app's chart helper: larger type in presenter mode, and no toolbar over the legend on a phone.
        loss_column, accuracy_column = st.columns(2)
        with loss_column:
            _common.chart(charts.history_curves(history, "loss"), key="results_page_loss_curve")
        with accuracy_column:
            _common.chart(charts.history_curves(history, "accuracy"), key="results_page_accuracy_curve")
    elif not run.imported_from:
        st.info("No epoch finished, so there are no curves to show.")
    per_class = figures.get("per_class_accuracy") if figures else None
    if per_class:
        class_names = datasets.get_info(run.dataset).class_names if run.dataset in datasets.DATASETS else \
            [str(index) for index in range(len(per_class))]
        _common.chart(charts.per_class_accuracy(class_names, per_class), key="results_page_per_class")
        st.caption(_weakest_class_sentence(class_names, per_class))


def _training_facts(run: runs.Run) -> str:
    parts = [runs.readable_training(run.architecture, run.dataset)]
    if run.imported_from:
        parts.append(f"imported from {text.markdown_escape(run.imported_from)}, so there are no training curves")
    epochs_done = run.epochs_done
    if not run.imported_from:
        parts.append(f"{epochs_done} epoch{'s' if epochs_done != 1 else ''}")
    best_epoch = run.best_epoch
    if best_epoch:
        parts.append(f"results from {runs.best_epoch_words(run)}")
    duration = run.duration
    if isinstance(duration, (int, float)):
        parts.append(f"trained in {_common.format_duration(duration)}")
    if run.device:
        parts.append(f"on {run.device}")
    return " · ".join(parts)


def _weakest_class_sentence(class_names, per_class) -> str:
    known = [(value, name) for value, name in zip(per_class, class_names) if value is not None]
    if not known:
        return ""
    value, name = min(known)
    return (f"The hardest class for this model is **{name}**: {charts.percent(value)} of its test images are "
            "classified right.")


def _percent(value) -> str:
    return "–" if value is None else f"{charts.percent(value)}"


def _number(value, form: str) -> str:
    return "–" if value is None else format(value, form)


def image_grid(dataset: datasets.Dataset, result: evaluation.Evaluation, indices, *, key: str) -> None:
    """Test images in rows of GRID_COLUMNS, each enlarged so that its pixels stay sharp, captioned with its
    true class and its prediction in green or red."""
    if len(indices) == 0:
        return
    captions = [results_view.prediction_caption(result, int(index), dataset.class_names) for index in indices]
    captioned_grid(dataset.x_test[indices], captions, key=key)


def captioned_grid(images, captions, *, key: str) -> None:
    """Images in rows of GRID_COLUMNS, enlarged so that their pixels stay sharp, each over its caption."""
    # Narrow cells at 1024 px broke captions inside a word ("predicte / d"): smaller type, breaks between words.
    st.html(GRID_CAPTION_STYLE)
    with st.container(key=f"results_grid_{key}"):
        for column, position, image in _common.grid_cells(images, GRID_COLUMNS, key=f"results_{key}"):
            column.image(image, width="stretch")
            column.markdown(captions[position])


def _class_options(dataset: datasets.Dataset) -> list:
    return [None, *range(dataset.num_classes)]


def class_label(dataset: datasets.Dataset):
    return lambda index: "any" if index is None else f"{dataset.class_names[index]}" + (
        "" if dataset.class_names[index] == str(index) else f" ({index})")


def _resample() -> None:
    st.session_state[SEED_KEY] = st.session_state.get(SEED_KEY, 0) + 1


@st.fragment
def random_predictions(dataset: datasets.Dataset, result: evaluation.Evaluation) -> None:
    title, button = st.columns([4, 1], vertical_alignment="bottom")
    title.subheader("Random test predictions")
    button.button("Resample", icon=":material/shuffle:", on_click=_resample, width="stretch",
                  key="results_page_resample")
    count = PREDICTION_ROWS * GRID_COLUMNS
    indices = gallery.random_indices(len(result.labels), count, seed=st.session_state.get(SEED_KEY, 0))
    right = int((result.predictions[indices] == result.labels[indices]).sum())
    st.markdown(f"{len(indices)} test images picked at random: :green[**{right} right**], "
                f":red[**{len(indices) - right} wrong**]. Under each image, its true class and what the model "
                "predicted, with how sure it was.")
    image_grid(dataset, result, indices, key="predictions")


@st.fragment
def mistakes(dataset: datasets.Dataset, result: evaluation.Evaluation) -> None:
    st.subheader("Every mistake")
    options, label = _class_options(dataset), class_label(dataset)
    true_column, predicted_column, order_column, page_column = st.columns([2, 2, 2, 1.3])
    true_class = true_column.selectbox("True class", options, format_func=label, key=TRUE_FILTER_KEY)
    predicted_class = predicted_column.selectbox("Predicted class", options, format_func=label,
                                                 key=PREDICTED_FILTER_KEY)
    order = order_column.selectbox("Order", [MOST_CONFIDENT_FIRST, LEAST_CONFIDENT_FIRST], key=ORDER_KEY,
                                   help="Most confident first shows the mistakes the model was surest about: "
                                        "often a badly written digit, sometimes a wrong label.")
    indices = result.mistakes(true_class, predicted_class, most_confident_first=order == MOST_CONFIDENT_FIRST)
    all_mistakes = int((result.predictions != result.labels).sum())
    pages = results_view.page_count(len(indices))
    # The page control is new whenever the filters change, so a new filter starts on its first page.
    page = page_column.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1,
                                    key=f"results_page_mistakes_page_{true_class}_{predicted_class}_{order}")
    st.markdown(_mistakes_sentence(len(indices), all_mistakes, len(result.labels), true_class, predicted_class,
                                   dataset.class_names))
    shown = results_view.page_of(indices, page)
    if len(shown) == 0:
        st.info("No mistakes match these filters." if all_mistakes else "This model makes no mistakes on the "
                "test set.", icon=":material/check_circle:")
        return
    first = (min(max(1, page), pages) - 1) * results_view.MISTAKES_PER_PAGE
    st.caption(f"Showing {first + 1:,}–{first + len(shown):,} of {len(indices):,}, "
               f"{order.lower()}.")
    image_grid(dataset, result, shown, key="mistakes")


def _mistakes_sentence(count, all_mistakes, total, true_class, predicted_class, class_names) -> str:
    sentence = f"**{results_view.count_sentence(all_mistakes, total)}** test images."
    filters = []
    if true_class is not None:
        filters.append(f"true class **{class_names[true_class]}**")
    if predicted_class is not None:
        filters.append(f"predicted **{class_names[predicted_class]}**")
    if filters:
        sentence += f" Of those, **{count:,}** with " + " and ".join(filters) + "."
    return sentence


def _cell_from_chart(num_classes: int) -> None:
    """Copies the clicked cell into the two class boxes, before they are drawn again."""
    state = st.session_state.get(CHART_KEY) or {}
    cell = results_view.selected_cell((state.get("selection") or {}).get("points"), num_classes)
    if cell is not None:
        st.session_state[CELL_TRUE_KEY], st.session_state[CELL_PREDICTED_KEY] = cell


@st.fragment
def confusion_matrix(dataset: datasets.Dataset, result: evaluation.Evaluation) -> None:
    st.subheader("Confusion matrix")
    classes = list(range(dataset.num_classes))
    if st.session_state.get(CELL_TRUE_KEY) not in classes or st.session_state.get(CELL_PREDICTED_KEY) not in classes:
        st.session_state[CELL_TRUE_KEY], st.session_state[CELL_PREDICTED_KEY] = \
            results_view.most_confused_cell(result.confusion)
    chart_column, choice_column = st.columns([3, 1.2], gap="large")
    with choice_column:
        st.markdown("Each row is a **true** class, each column a **predicted** class: the diagonal holds the "
                    "right answers, every other cell one kind of mistake. **Click a cell** to see its images, "
                    "or choose its two classes here.")
        label = class_label(dataset)
        true_class = st.selectbox("True class", classes, format_func=label, key=CELL_TRUE_KEY)
        predicted_class = st.selectbox("Predicted class", classes, format_func=label, key=CELL_PREDICTED_KEY)
    with chart_column:
        figure = results_view.confusion_figure(result.confusion, dataset.class_names,
                                               selected=(true_class, predicted_class))
        _common.chart(figure, key=CHART_KEY, on_select=functools.partial(_cell_from_chart, len(classes)),
                      selection_mode="points")
    cell = results_view.confusion_cell(result, true_class, predicted_class)
    shown = cell[:results_view.CELL_IMAGE_LIMIT]
    names = dataset.class_names
    kind = "right answer" if true_class == predicted_class else "mistake"
    st.markdown(f"#### True {names[true_class]}, predicted {names[predicted_class]}: "
                f"{len(cell):,} {kind}{'' if len(cell) == 1 else 's'}")
    if len(cell) > len(shown):
        st.caption(f"The {len(shown)} the model was surest about are shown.")
    if len(shown) == 0:
        st.info("No test image falls in this cell.", icon=":material/check_circle:")
    image_grid(dataset, result, shown, key="cell")

