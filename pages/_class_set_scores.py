"""The Class drawings page's first two tabs: one digit model scored on the class drawings (accuracy beside its
test-set accuracy, the hardest digit, the confusion matrix, every mistake), and every digit model in one table.
"""

import pandas
import streamlit as st

from core import charts, class_evaluation, class_set, results_view, runs, text
from pages import _class_set_data, _common, _learn_handwriting, _pen_shift

MISTAKE_COLUMNS = 6
MISTAKES_PER_PAGE = 24
CLASS_NAMES = class_set.CLASS_NAMES
RUN_KEY = "class_set_run"
SCORE_ALL_KEY = "class_set_score_all"


def no_digit_model() -> None:
    st.info("**No digit model yet.** Train one on the Train page (a CNN on the MNIST sample takes about a "
            "minute), or with one click on the Draw page, then score it here.", icon=":material/model_training:")
    st.page_link("pages/train.py", label="Go to the Train page", icon=":material/arrow_forward:")


def score_a_model(candidates: list[runs.Run], drawings: class_set.ClassSet, snapshot, version: str) -> None:
    st.subheader("Evaluate a model on the class drawings")
    if not candidates:
        no_digit_model()
        return
    run = _common.run_picker(candidates, label="Model", key=RUN_KEY,
                             help="Every model trained on handwritten digits (MNIST or its sample).")
    with st.spinner(f"Reading the {len(snapshot):,} drawings with {text.markdown_escape(run.name)}…"):
        result = _class_set_data.evaluate(run, drawings, version)
    if result is None:
        return
    right = int((result.predictions == result.labels).sum())
    accuracy, right_column, mistakes_column, test_column = st.columns(4)
    accuracy.metric("Class drawings accuracy", f"{charts.percent(result.accuracy)}", border=True)
    right_column.metric("Read right", f"{right:,} of {len(result.labels):,}", border=True)
    mistakes_column.metric("Mistakes", f"{len(result.labels) - right:,}", border=True)
    test_column.metric("Test set accuracy", "–" if run.test_accuracy is None else charts.percent(run.test_accuracy),
                       border=True, help="The accuracy on the test images of the dataset it was trained on.")
    st.markdown(class_evaluation.comparison_sentence(run, result))
    _pen_shift.domain_shift(run)
    hardest = class_evaluation.hardest_digit_sentence(result)
    if hardest:
        st.markdown(hardest)
    shaky = class_evaluation.few_drawings_warning(result.labels)
    if shaky:
        st.caption(f":material/info: {shaky}")
    matrix, per_digit = st.columns([1.15, 1], gap="large")
    with matrix:
        st.markdown("**Confusion matrix**: each row is the digit drawn, each column the digit the model read.")
        figure = results_view.confusion_figure(result.confusion, CLASS_NAMES, height=430)
        _common.chart(figure, key="class_set_confusion")
    with per_digit:
        _common.chart(charts.per_class_accuracy(CLASS_NAMES, result.per_class_accuracy, height=360,
                                                    measured_on="Accuracy on class drawings"),
                      key="class_set_per_digit")
        st.caption("The share of each digit's drawings the model reads right. With a handful of drawings per "
                   "digit, one drawing moves a bar a lot.")
    mistake_grid(snapshot, result)
    _learn_handwriting.learn_section(run, drawings, len(snapshot), RUN_KEY)


def mistake_grid(snapshot, result) -> None:
    indices = result.mistakes()
    if len(indices) == 0:
        st.success("**No mistakes:** the model reads every class drawing right.", icon=":material/check_circle:")
        return
    st.markdown(f"#### The mistakes: {len(indices):,}")
    st.caption("Each drawing with the digit the student meant and what the model read, the mistakes it was "
               "surest about first. Would you have read them right?")
    pages = results_view.page_count(len(indices), MISTAKES_PER_PAGE)
    # The page controls are new whenever the number of pages changes (another model, a drawing removed), so
    # they never hold a page past the end.
    page = 1
    if pages > 1:
        page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1,
                               key=f"class_set_mistakes_page_{pages}")
    shown = results_view.page_of(indices, page, MISTAKES_PER_PAGE)
    with st.container(key="class_set_grid_mistakes"):
        cells = _common.grid_cells(snapshot.images[shown], MISTAKE_COLUMNS, key="class_mistakes")
        for column, position, image in cells:
            column.image(image, width="stretch")
            column.markdown(results_view.prediction_caption(result, int(shown[position]), CLASS_NAMES))


def _score_all() -> None:
    st.session_state[SCORE_ALL_KEY] = True


def every_model(candidates: list[runs.Run], drawings: class_set.ClassSet, snapshot, version: str) -> None:
    st.subheader("Every model on the same drawings")
    if not candidates:
        no_digit_model()
        return
    st.markdown("The same drawings for every digit model: which architecture copes best with your class's "
                "handwriting, and which one learnt MNIST's test set best but reads the class worst?")
    if not st.session_state.get(SCORE_ALL_KEY):
        st.button(f"Score every model ({len(candidates)})", type="primary", icon=":material/leaderboard:",
                  on_click=_score_all, key="class_set_score_all_button")
        st.caption("Each model reads every drawing once; a model not used since the app started takes a few "
                   "seconds to load.")
        return
    rows = []
    progress = st.progress(0.0)
    for number, run in enumerate(candidates, start=1):
        progress.progress((number - 1) / len(candidates), text=f"Scoring {text.markdown_escape(run.name)} "
                          f"({number} of {len(candidates)})…")
        result = _class_set_data.evaluate(run, drawings, version)
        if result is not None:
            rows.append(class_evaluation.score_row(run, result))
    progress.empty()
    if not rows:
        return
    rows.sort(key=lambda row: (-row["Class drawings accuracy"], -(row["Test set accuracy"] or 0)))
    # Percentages with one decimal, as every other page shows them (a fraction column would show two).
    table = pandas.DataFrame(rows)
    for column in ("Test set accuracy", "Class drawings accuracy"):
        table[column] = table[column] * 100
    st.dataframe(
        table, hide_index=True, width="stretch",
        # Short headers, so that every column fits beside the model's name at 1280 px.
        column_config={
            "Test set accuracy": st.column_config.NumberColumn("Test set", format="%.1f%%",
                                                               help="Accuracy on the model's own test set."),
            "Class drawings accuracy": st.column_config.NumberColumn(
                "Drawings", format="%.1f%%", help="Accuracy on the class drawings."),
            "Likely range": st.column_config.TextColumn(
                "Likely range", help="Where the model's accuracy on such drawings likely lies (a 95% interval): "
                                     "with few drawings it is wide, and a difference inside it is no finding."),
            "Difference": st.column_config.NumberColumn(
                format="%+.1f pt", help="Class drawings accuracy minus test set accuracy, in percentage points."),
        },
    )
    st.markdown(class_evaluation.best_sentence(rows))

