"""The Results page's Epoch replay tab: a slider over the epochs, and for each the answers on the same fixed
test images, the confusion matrix on them, and what changed since the epoch before (`core.replay`).
"""

import streamlit as st

from core import charts, datasets, replay, results_view, runs
from pages import _common, _results_tabs

REPLAY_EPOCH_KEY = "results_page_replay_epoch"


def _class_names(run: runs.Run, num_classes: int) -> list:
    if run.dataset in datasets.DATASETS:
        names = datasets.get_info(run.dataset).class_names
        if len(names) == num_classes:
            return list(names)
    return [str(index) for index in range(num_classes)]


@st.fragment
def epoch_replay(run: runs.Run) -> None:
    st.subheader("Epoch replay")
    recorded = replay.load_replay(_common.run_store(), run.id)
    if recorded is None:
        if run.architecture == "imported":
            st.info("**An imported model has no epoch replay:** the replay is recorded while a model trains in "
                    "this app.", icon=":material/history:")
        else:
            st.info("**No epoch replay for this run.** Replays are recorded for runs trained from now on: train "
                    "a model on the Train page, then come back to watch it learn epoch by epoch.",
                    icon=":material/history:")
        return
    names = _class_names(run, recorded.num_classes)
    total = len(recorded.labels)
    st.markdown(f"After every epoch of its training, the model answered the same **{total:,} test images**. "
                "Slide through the epochs to watch its answers, and its mistakes, change as it learned.")
    if run.has_model and run.best_epoch is not None and recorded.epochs > 1:
        st.caption(f"On the chart, the dashed line is the epoch the run keeps ({run.best_epoch}), chosen by its "
                   f"loss. Its test accuracy on the Summary tab counts every test image, not only these {total:,}, "
                   "so the two may differ a little.")
    if recorded.epochs > 1:
        epoch = st.slider("Epoch", 1, recorded.epochs, 1, key=f"{REPLAY_EPOCH_KEY}_{run.id}",
                          help="The model's answers after this epoch of training.")
    else:
        epoch = 1
        st.caption("Only one epoch was recorded, so there is nothing to slide through.")
    accuracy = recorded.accuracy(epoch)
    right = int((recorded.predictions(epoch) == recorded.labels).sum())
    accuracy_column, right_column, chart_column = st.columns([1, 1, 2.4], vertical_alignment="center")
    accuracy_column.metric(
        f"Accuracy after epoch {epoch}", f"{charts.percent(accuracy)}", border=True,
        delta=None if epoch == 1 else f"{(accuracy - recorded.accuracy(epoch - 1)) * 100:+.1f} points",
        help=f"The share of the {total:,} replay images the model classified right after this epoch.")
    right_column.metric(f"Right, of {total:,}", f"{right:,}", border=True,
                        help="How many of the replay images the model classified right after this epoch.")
    if recorded.epochs > 1:
        with chart_column:
            _common.chart(results_view.replay_accuracy_figure(
                recorded, epoch, height=190, kept_epoch=run.best_epoch if run.has_model else None),
                key="results_page_replay_accuracy")
    st.markdown(results_view.replay_change_sentence(recorded, epoch))
    shown = results_view.replay_shown_images(recorded)
    grid_column, confusion_column = st.columns([1.15, 1], gap="large")
    with grid_column:
        st.markdown(f"**{len(shown)} of these images** ({results_view.REPLAY_PER_CLASS} per class, some that "
                    "the model learned along the way), with the answer after this epoch:")
        _results_tabs.captioned_grid(recorded.images[shown],
                                     results_view.replay_captions(recorded, shown, epoch, names),
                        key="replay")
    with confusion_column:
        st.markdown(f"**Confusion matrix after epoch {epoch}**, on all {total:,} images: rows are the true "
                    "classes, columns the predictions.")
        _common.chart(results_view.confusion_figure(recorded.confusion(epoch), names, height=520),
                      key="results_page_replay_confusion")

