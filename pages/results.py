"""Results: how good a trained model is on the test set, and where it goes wrong.

From top to bottom: a choice of run (finished runs with a model first; a damaged, failed or unfinished run
says what is wrong with it instead of breaking the page), then six tabs.

- **Summary**: test accuracy, loss, macro ROC AUC and the number of mistakes; the loss and accuracy curves of
  training and validation, one point per epoch; the accuracy of each class.
- **Predictions**: random test images, each captioned with its true class and the prediction, green when
  right and red when wrong, and a Resample button.
- **Mistakes**: every misclassified test image, a page at a time, filtered by true and by predicted class and
  sorted by how sure the model was.
- **Confusion matrix**: a heatmap of true against predicted classes; clicking a cell, or choosing its two
  classes, shows the images of that cell.
- **Epoch replay**: a slider over the epochs; for each, the answers on the same fixed test images, the
  confusion matrix on them, and what changed since the epoch before (recorded while the run trained).
- **Export**: the trained model as a `.keras` file, and a standalone Python script in the style of the Keras
  examples that builds and trains the same model with the same settings.

Beside the run choice, **Delete** removes a run (only by the student who trained it, after a
confirmation), and **Import a model** turns a colleague's `.keras` file into a run like the others, after
checking it safely (see `core/model_import.py`).

The figures come from the test probabilities that training saved with the run; an older run without them is
scored again from its model, once, behind a spinner. Images are enlarged with nearest-neighbour and drawn with
sharp pixels (the router's `image-rendering: pixelated`), so a 28x28 digit stays crisp on a projector.

The machinery lives beside this file: deleting and importing runs in `_run_admin`, the first four tabs in
`_results_tabs`, the epoch replay in `_results_replay`, the export in `_results_export`.
"""

import streamlit as st

from core import datasets, evaluation, results_view, runs, text
from pages import _common, _results_export, _results_replay, _results_tabs, _run_admin

PAGE_STYLE = _common.image_grid_style("results_grid")


def choose_run() -> runs.Run | None:
    st.title(":material/analytics: 3 · Results")
    _run_admin.show_flash()
    candidates = _common.listed_runs()
    if candidates is None:
        return None
    if not candidates:
        _common.no_model_yet("study its results")
        _run_admin.import_section()
        return None
    candidates = sorted(candidates, key=_run_admin.shown_first)
    ids = [run.id for run in candidates]
    pending = st.session_state.pop(_run_admin.PENDING_RUN_KEY, None)
    if pending in ids:
        # A run just imported: show it. Setting the picker's state (not only dropping it) also moves the
        # select box the browser shows, which would otherwise keep the run it showed before.
        _common.set_run(pending)
        st.session_state[_run_admin.PICKER_KEY] = pending
    if st.session_state.get(_run_admin.PICKER_KEY) not in (None, *ids):
        # The run shown last was deleted (here or by its owner elsewhere): start again on the first one.
        st.session_state.pop(_run_admin.PICKER_KEY, None)
    # One row: the picker takes the room the Delete button leaves (a 1/7 column squeezed "Delete" to one
    # letter a line at 1024 px).
    # On a phone the picker takes a line of its own, Delete goes under it: beside it, the label was cut after
    # about 30 characters.
    _common.phone_row_wraps("results_run_row")
    with st.container(horizontal=True, vertical_alignment="bottom", wrap=False, key="results_run_row"):
        run = _common.run_picker(candidates, label="Run", key=_run_admin.PICKER_KEY,
                                 help="Every saved training run; finished runs with a model come first.",
                                 start_on_best=True)
        with st.container(width="content"):
            _run_admin.delete_control(run)
    _run_admin.import_section()
    return run


def say_what_is_wrong(run: runs.Run) -> bool:
    """Says why a run cannot be studied (or not fully), and returns whether the page can go on with it."""
    if run.damaged:
        st.error(f"**This run is damaged:** "
                 f"{text.markdown_escape(run.problem)}. It cannot be shown; choose another run, or delete "
                 f"its folder ({run.path}) if you no longer need it.", icon=":material/broken_image:")
        return False
    if run.status in runs.ACTIVE_STATUSES:
        st.info("**This run is still training.** Its curves so far are below; the test results appear when "
                "it finishes.", icon=":material/hourglass_top:")
        st.page_link("pages/train.py", label="Watch it on the Train page", icon=":material/arrow_forward:")
        return False
    if run.status in ("failed", "interrupted"):
        what = "failed" if run.status == "failed" else "was interrupted"
        st.warning(f"**This run {what}:** "
                   f"{text.markdown_escape(run.problem or 'no reason was recorded.')} The results below are those "
                   "of its best finished epoch.", icon=":material/warning:")
    elif run.status == "stopped":
        st.info("This run was stopped before its last epoch: the results are those of its best finished epoch.",
                icon=":material/stop_circle:")
    if not run.has_model:
        st.warning("No epoch of this run finished, so there is no model to test. Train it again on the Train "
                   "page.", icon=":material/block:")
        return False
    if run.dataset not in datasets.DATASETS:
        st.error(f"This run names a dataset this app does not know ("
                 f"{text.markdown_escape(repr(run.dataset))}), so its test images "
                 "cannot be shown.", icon=":material/broken_image:")
        return False
    return True


def load_test_set(run: runs.Run) -> datasets.Dataset | None:
    """The run's dataset, if it is on this machine (the Results page never starts a download)."""
    try:
        with st.spinner("Loading the test images…"):
            return datasets.load(run.dataset, download=False)
    except datasets.DatasetUnavailable as error:
        st.warning(f"**The test images of {datasets.get_info(run.dataset).title} are not on this machine,** "
                   f"so only the figures saved with the run are shown. {text.markdown_escape(error)}",
                   icon=":material/cloud_off:")
        st.page_link("pages/datasets.py", label="Download it on the Datasets page", icon=":material/download:")
        return None


@st.cache_data(show_spinner=False, max_entries=16)
def _cached_evaluation(runs_folder: str, run_id: str, dataset_name: str, version: str) -> evaluation.Evaluation:
    # `version` (the run's last update) is part of the key, so a run saved again is evaluated again.
    store = runs.RunStore(runs_folder)
    return results_view.evaluate_run(store, store.get(run_id), datasets.load(dataset_name, download=False))


def run_evaluation(run: runs.Run, dataset: datasets.Dataset) -> evaluation.Evaluation | None:
    store = _common.run_store()
    if results_view.has_test_probabilities(run):
        message = "Reading the saved test predictions…"
    else:
        message = (f"This run saved no test predictions: the model is predicting the {len(dataset.y_test):,} "
                   "test images…")
    try:
        with st.spinner(message):
            return _cached_evaluation(str(store.root), run.id, dataset.name, run.updated)
    except Exception as error:  # A damaged model file can fail in many ways; none may reach the screen raw.
        st.error(f"**This run's results cannot be computed:** "
                 f"{text.markdown_escape(error)}. Its model file may be damaged; train it "
                 "again on the Train page.", icon=":material/broken_image:")
        return None


def main() -> None:
    st.html(PAGE_STYLE)
    run = choose_run()
    if run is None:
        return
    if not say_what_is_wrong(run):
        if run.status in runs.ACTIVE_STATUSES and run.history.get("loss"):
            _results_tabs.summary(run, None, None)
        return
    dataset = load_test_set(run)
    result = run_evaluation(run, dataset) if dataset is not None else None
    summary_tab, predictions_tab, mistakes_tab, confusion_tab, replay_tab, export_tab = st.tabs(
        ["Summary", "Predictions", "Mistakes", "Confusion matrix", "Epoch replay", "Export"])
    with summary_tab:
        _results_tabs.summary(run, result, dataset)
    # The replay carries its own images and the export needs none, so both work without the test set.
    with replay_tab:
        _results_replay.epoch_replay(run)
    with export_tab:
        _results_export.export_section(run)
    if result is None:
        for tab in (predictions_tab, mistakes_tab, confusion_tab):
            tab.info("The test images are needed here: see the message above.", icon=":material/image_not_supported:")
        return
    with predictions_tab:
        _results_tabs.random_predictions(dataset, result)
    with mistakes_tab:
        _results_tabs.mistakes(dataset, result)
    with confusion_tab:
        _results_tabs.confusion_matrix(dataset, result)



main()
