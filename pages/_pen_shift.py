"""The domain-shift panel of Results and Class drawings: a digit model's score on handwriting it never saw.

Shown under the test accuracy: one sentence with the share of the held-out pen writers' digits the run reads right
(scored when it was trained, `core.pen_shift`) next to its test accuracy, and, folded, the pen digits it reads
wrong, each captioned with what the model read.
"""

import streamlit as st

from core import datasets, gallery, pen_shift, runs

GRID_COLUMNS = 10
SHOWN_WRONG = 20


def domain_shift(run: runs.Run) -> None:
    """The sentence and the pen digits the run reads wrong; nothing for runs that were not scored on them."""
    summary = pen_shift.summary_of(run.meta)
    if summary is None:
        if pen_shift.applies_to(run.dataset):
            st.caption("This run was trained before digit models were scored on new writers' pen-drawn digits.")
    if summary is None or run.dataset not in datasets.DATASETS:
        return
    # The sentence holds the registry's own title and numbers only: nothing a user typed.
    st.markdown(pen_shift.sentence(run.test_accuracy, summary, datasets.get_info(run.dataset).title))
    with st.expander("Domain shift: the pen-drawn digits it reads wrong", expanded=False):
        st.markdown("A test set made like the training set flatters a model: new people write differently "
                    "(a crossed 7, a flagged 1, a curled 9). These are pen-drawn digits it reads wrong, each "
                    "with what it read:")
        wrong = [pair for pair in summary.get("wrong", []) if isinstance(pair, list) and len(pair) == 2]
        if not wrong:
            st.success("It reads every one of them right.", icon=":material/check_circle:")
            return
        try:
            images, labels = pen_shift.held_out()
        except datasets.DatasetUnavailable as error:
            st.warning(f"The pen-drawn digits cannot be shown: {error}")
            return
        shown = [(index, predicted) for index, predicted in wrong[:SHOWN_WRONG] if 0 <= index < len(labels)]
        enlarged = gallery.enlarge(images[[index for index, _ in shown]])
        for start in range(0, len(shown), GRID_COLUMNS):
            for column, image, (index, predicted) in zip(st.columns(GRID_COLUMNS, gap="small"),
                                                         enlarged[start:start + GRID_COLUMNS],
                                                         shown[start:start + GRID_COLUMNS]):
                column.image(image, width="stretch")
                column.caption(f"{labels[index]} read as {predicted}")
