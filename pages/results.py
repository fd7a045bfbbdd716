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

Beside the run choice, **Delete** removes a run (only from the browser session that trained it, after a
confirmation), and **Import a model** turns a colleague's `.keras` file into a run like the others, after
checking it safely (see `core/model_import.py`).

The figures come from the test probabilities that training saved with the run; an older run without them is
scored again from its model, once, behind a spinner. Images are enlarged with nearest-neighbour and drawn with
sharp pixels (the router's `image-rendering: pixelated`), so a 28x28 digit stays crisp on a projector.
"""

import functools

import streamlit as st

from core import charts, datasets, evaluation, export, gallery, model_import, replay, results_view, runs
from pages import _common

GRID_COLUMNS = 6
PREDICTION_ROWS = 4

SEED_KEY = "results_page_prediction_seed"
TRUE_FILTER_KEY = "results_page_mistakes_true"
PREDICTED_FILTER_KEY = "results_page_mistakes_predicted"
ORDER_KEY = "results_page_mistakes_order"
CELL_TRUE_KEY = "results_page_cell_true"
CELL_PREDICTED_KEY = "results_page_cell_predicted"
CHART_KEY = "results_page_confusion_chart"
PICKER_KEY = "results_page_run"
FLASH_KEY = "results_page_flash"
PENDING_RUN_KEY = "results_page_pending_run"
UPLOAD_ROUND_KEY = "results_page_upload_round"
REPLAY_EPOCH_KEY = "results_page_replay_epoch"

MOST_CONFIDENT_FIRST = "Most confident first"
LEAST_CONFIDENT_FIRST = "Least confident first"

PAGE_STYLE = _common.image_grid_style("results_grid")


# --- choosing a run --------------------------------------------------------------------------------------------


def _shown_first(run: runs.Run) -> int:
    """Finished runs with a model come first, then runs still training, then the rest."""
    if run.has_model and run.status in runs.FINAL_STATUSES + ("interrupted",):
        return 0
    if run.status in runs.ACTIVE_STATUSES:
        return 1
    return 2


def choose_run() -> runs.Run | None:
    st.title(":material/analytics: Results")
    _show_flash()
    candidates = _common.listed_runs()
    if candidates is None:
        return None
    if not candidates:
        _common.no_model_yet("study its results")
        import_section()
        return None
    candidates = sorted(candidates, key=_shown_first)
    ids = [run.id for run in candidates]
    pending = st.session_state.pop(PENDING_RUN_KEY, None)
    if pending in ids:
        # A run just imported: show it. Setting the picker's state (not only dropping it) also moves the
        # select box the browser shows, which would otherwise keep the run it showed before.
        _common.set_run(pending)
        st.session_state[PICKER_KEY] = pending
    if st.session_state.get(PICKER_KEY) not in (None, *ids):
        # The run shown last was deleted (here or by its owner elsewhere): start again on the first one.
        st.session_state.pop(PICKER_KEY, None)
    picker_column, delete_column = st.columns([6, 1], vertical_alignment="bottom")
    with picker_column:
        run = _common.run_picker(candidates, label="Run", key=PICKER_KEY,
                                 help="Every saved training run; finished runs with a model come first.")
    with delete_column:
        delete_control(run)
    import_section()
    return run


def _flash(kind: str, text: str) -> None:
    """A message for the next run of the page (after a delete or an import, which rerun it)."""
    st.session_state[FLASH_KEY] = (kind, text)


def _show_flash() -> None:
    kind, text = st.session_state.pop(FLASH_KEY, (None, None))
    # Always one container here, filled or not, so that the widgets below keep their place in the page and
    # an open popover stays open when the message goes away.
    slot = st.container()
    if kind == "success":
        slot.success(text, icon=":material/check_circle:")
    elif kind == "error":
        slot.error(text, icon=":material/error:")


# --- deleting a run --------------------------------------------------------------------------------------------


def _delete(run_id: str, name: str) -> None:
    """Deletes the run as this session, then draws the whole page again without it (with a message)."""
    try:
        _common.run_store().delete(run_id, owner=_common.owner())
    except (PermissionError, ValueError, runs.RunNotFound, OSError) as error:
        reason = error.args[0] if isinstance(error, runs.RunNotFound) else error
        _flash("error", f"**“{name}” was not deleted:** {reason}")
        st.rerun()
    if _common.run_id() == run_id:
        _common.set_run(None)
    # Show the run the page lists first now, in the select box too (see choose_run).
    remaining = sorted(_common.run_store().list(), key=_shown_first)
    if remaining:
        _common.set_run(remaining[0].id)
        st.session_state[PICKER_KEY] = remaining[0].id
    else:
        st.session_state.pop(PICKER_KEY, None)
    _flash("success", f"Deleted “{name}”, with its model and results.")
    st.rerun()


@st.fragment
def delete_control(run: runs.Run) -> None:
    # A fragment: ticking the confirmation redraws only this popover, which stays open.
    with st.popover("Delete", icon=":material/delete:", width="stretch",
                    help="Delete this run for everyone: only the student who trained it can."):
        refusal = results_view.deletion_refusal(run, _common.owner())
        if refusal:
            st.button("Delete this run", icon=":material/delete_forever:", disabled=True,
                      key="results_page_delete_refused")
            st.caption(refusal)
            return
        st.markdown(f"Delete **{run.name}**, its model and its results, for everyone? This cannot be undone.")
        confirmed = st.checkbox("Yes, delete this run", key=f"results_page_delete_confirm_{run.id}")
        if st.button("Delete this run", icon=":material/delete_forever:", type="primary", disabled=not confirmed,
                     key="results_page_delete"):
            _delete(run.id, run.name)


# --- importing a model -----------------------------------------------------------------------------------------


def import_section() -> None:
    limit = model_import.MAX_FILE_BYTES // 2**20
    with st.expander("Import a model someone else trained (.keras)", icon=":material/upload_file:"):
        st.markdown("A colleague's Keras model becomes a run like the others: its test results appear here and "
                    "it reads drawings on the Draw page. The file is checked before anything is stored.")
        upload_round = st.session_state.get(UPLOAD_ROUND_KEY, 0)
        uploaded = st.file_uploader(
            "Model file (.keras)", key=f"results_page_import_file_{upload_round}",
            help=f"A file saved with model.save('model.keras'), up to {limit} MB. Legacy .h5 files and models "
                 "with a Lambda layer are refused, because loading them could run someone else's code.")
        dataset_column, name_column = st.columns(2)
        names = list(datasets.DATASETS)
        chosen = _common.dataset_name()
        dataset = dataset_column.selectbox(
            "It was trained on", names, index=names.index(chosen) if chosen in names else 0,
            format_func=lambda name: datasets.get_info(name).title, key="results_page_import_dataset",
            help="The model is tested on this dataset's test images; its input must fit them.")
        name = name_column.text_input("Name (optional)", max_chars=100, key="results_page_import_name",
                                      placeholder=uploaded.name.rsplit(".", 1)[0] if uploaded else "the file's name")
        st.caption(f"Up to {limit} MB. A model trained the usual way (pixels divided by 255 outside the model) "
                   "is wrapped so that it takes the app's raw images.")
        if not st.button("Import", icon=":material/upload:", disabled=uploaded is None, key="results_page_import"):
            return
        try:
            with st.spinner("Checking the file, loading it safely and testing it on the test images…"):
                run = _common.training_queue().import_model(uploaded.getvalue(), uploaded.name, _common.run_store(),
                                                dataset=dataset, owner=_common.owner(), name=name)
        except model_import.ModelRejected as error:
            st.error(f"**{uploaded.name} was not imported.** {error}", icon=":material/block:")
            return
        except (runs.RunStoreError, OSError) as error:
            st.error(f"**{uploaded.name} could not be saved:** {error}", icon=":material/error:")
            return
        st.session_state[UPLOAD_ROUND_KEY] = upload_round + 1
        st.session_state[PENDING_RUN_KEY] = run.id
        _flash("success", f"Imported **{run.name}**: {run.test_accuracy:.1%} right on the "
                          f"{datasets.get_info(dataset).title} test images. It is listed here and on the Draw page.")
        st.rerun()


def say_what_is_wrong(run: runs.Run) -> bool:
    """Says why a run cannot be studied (or not fully), and returns whether the page can go on with it."""
    if run.damaged:
        st.error(f"**This run is damaged:** {run.problem}. It cannot be shown; choose another run, or delete "
                 f"its folder ({run.path}) if you no longer need it.", icon=":material/broken_image:")
        return False
    if run.status in runs.ACTIVE_STATUSES:
        st.info("**This run is still training.** Its curves so far are below; the test results appear when "
                "it finishes.", icon=":material/hourglass_top:")
        st.page_link("pages/train.py", label="Watch it on the Train page", icon=":material/arrow_forward:")
        return False
    if run.status in ("failed", "interrupted"):
        what = "failed" if run.status == "failed" else "was interrupted"
        st.warning(f"**This run {what}:** {run.problem or 'no reason was recorded.'} The results below are those "
                   "of its best finished epoch.", icon=":material/warning:")
    elif run.status == "stopped":
        st.info("This run was stopped before its last epoch: the results are those of its best finished epoch.",
                icon=":material/stop_circle:")
    if not run.has_model:
        st.warning("No epoch of this run finished, so there is no model to test. Train it again on the Train "
                   "page.", icon=":material/block:")
        return False
    if run.dataset not in datasets.DATASETS:
        st.error(f"This run names a dataset this app does not know ({run.dataset!r}), so its test images "
                 "cannot be shown.", icon=":material/broken_image:")
        return False
    return True


# --- loading the test set and the evaluation -------------------------------------------------------------------


def load_test_set(run: runs.Run) -> datasets.Dataset | None:
    """The run's dataset, if it is on this machine (the Results page never starts a download)."""
    try:
        with st.spinner("Loading the test images…"):
            return datasets.load(run.dataset, download=False)
    except datasets.DatasetUnavailable as error:
        st.warning(f"**The test images of {datasets.get_info(run.dataset).title} are not on this machine,** "
                   f"so only the figures saved with the run are shown. {error}", icon=":material/cloud_off:")
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
            return _cached_evaluation(str(store.root), run.id, dataset.name, str(run.meta.get("updated", "")))
    except Exception as error:  # A damaged model file can fail in many ways; none may reach the screen raw.
        st.error(f"**This run's results cannot be computed:** {error}. Its model file may be damaged; train it "
                 "again on the Train page.", icon=":material/broken_image:")
        return None


# --- Summary ---------------------------------------------------------------------------------------------------


def summary(run: runs.Run, result: evaluation.Evaluation | None, dataset: datasets.Dataset | None) -> None:
    figures = result.summary() if result is not None else (run.meta.get("test") or {})
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
    st.caption(_training_facts(run))
    history = run.meta.get("history") or {}
    if history.get("loss"):
        loss_column, accuracy_column = st.columns(2)
        loss_column.plotly_chart(charts.history_curves(history, "loss"), key="results_page_loss_curve")
        accuracy_column.plotly_chart(charts.history_curves(history, "accuracy"),
                                     key="results_page_accuracy_curve")
    elif not run.meta.get("imported_from"):
        st.info("No epoch finished, so there are no curves to show.")
    per_class = figures.get("per_class_accuracy") if figures else None
    if per_class:
        class_names = datasets.get_info(run.dataset).class_names if run.dataset in datasets.DATASETS else \
            [str(index) for index in range(len(per_class))]
        st.plotly_chart(charts.per_class_accuracy(class_names, per_class), key="results_page_per_class")
        st.caption(_weakest_class_sentence(class_names, per_class))


def _training_facts(run: runs.Run) -> str:
    parts = [f"{run.architecture} on {datasets.get_info(run.dataset).title}" if run.dataset in datasets.DATASETS
             else str(run.architecture)]
    if run.meta.get("imported_from"):
        parts.append(f"imported from {run.meta['imported_from']}, so there are no training curves")
    epochs_done = run.meta.get("epochs_done")
    if epochs_done is not None:
        parts.append(f"{epochs_done} epoch{'s' if epochs_done != 1 else ''}")
    best_epoch = run.meta.get("best_epoch")
    if best_epoch:
        parts.append(f"results from epoch {best_epoch}, the best on validation")
    duration = run.meta.get("duration")
    if isinstance(duration, (int, float)):
        parts.append(f"trained in {_duration(duration)}")
    if run.meta.get("device"):
        parts.append(f"on {run.meta['device']}")
    return " · ".join(parts)


def _weakest_class_sentence(class_names, per_class) -> str:
    known = [(value, name) for value, name in zip(per_class, class_names) if value is not None]
    if not known:
        return ""
    value, name = min(known)
    return f"The hardest class for this model is **{name}**: {value:.0%} of its test images are classified right."


def _percent(value) -> str:
    return "–" if value is None else f"{value:.2%}"


def _number(value, form: str) -> str:
    return "–" if value is None else format(value, form)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds:02d} s"


# --- image grids -----------------------------------------------------------------------------------------------


def image_grid(dataset: datasets.Dataset, result: evaluation.Evaluation, indices, *, key: str) -> None:
    """Test images in rows of GRID_COLUMNS, each enlarged so that its pixels stay sharp, captioned with its
    true class and its prediction in green or red."""
    if len(indices) == 0:
        return
    captions = [results_view.prediction_caption(result, int(index), dataset.class_names) for index in indices]
    captioned_grid(dataset.x_test[indices], captions, key=key)


def captioned_grid(images, captions, *, key: str) -> None:
    """Images in rows of GRID_COLUMNS, enlarged so that their pixels stay sharp, each over its caption."""
    enlarged = gallery.enlarge(images)
    with st.container(key=f"results_grid_{key}"):
        for row_start in range(0, len(images), GRID_COLUMNS):
            for column, image, text in zip(st.columns(GRID_COLUMNS, gap="small"),
                                           enlarged[row_start:row_start + GRID_COLUMNS],
                                           captions[row_start:row_start + GRID_COLUMNS]):
                column.image(image, width="stretch")
                column.markdown(text)


def _class_options(dataset: datasets.Dataset) -> list:
    return [None, *range(dataset.num_classes)]


def _class_label(dataset: datasets.Dataset):
    return lambda index: "any" if index is None else f"{dataset.class_names[index]}" + (
        "" if dataset.class_names[index] == str(index) else f" ({index})")


# --- Predictions -----------------------------------------------------------------------------------------------


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


# --- Mistakes --------------------------------------------------------------------------------------------------


@st.fragment
def mistakes(dataset: datasets.Dataset, result: evaluation.Evaluation) -> None:
    st.subheader("Every mistake")
    options, label = _class_options(dataset), _class_label(dataset)
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


# --- Confusion matrix ------------------------------------------------------------------------------------------


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
        label = _class_label(dataset)
        true_class = st.selectbox("True class", classes, format_func=label, key=CELL_TRUE_KEY)
        predicted_class = st.selectbox("Predicted class", classes, format_func=label, key=CELL_PREDICTED_KEY)
    with chart_column:
        figure = results_view.confusion_figure(result.confusion, dataset.class_names,
                                               selected=(true_class, predicted_class))
        st.plotly_chart(figure, key=CHART_KEY, on_select=functools.partial(_cell_from_chart, len(classes)),
                        selection_mode="points",
                        config={"displayModeBar": False})
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


# --- Epoch replay ----------------------------------------------------------------------------------------------


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
        f"Accuracy after epoch {epoch}", f"{accuracy:.1%}", border=True,
        delta=None if epoch == 1 else f"{(accuracy - recorded.accuracy(epoch - 1)) * 100:+.1f} points",
        help=f"The share of the {total:,} replay images the model classified right after this epoch.")
    right_column.metric(f"Right, of {total:,}", f"{right:,}", border=True,
                        help="How many of the replay images the model classified right after this epoch.")
    if recorded.epochs > 1:
        chart_column.plotly_chart(results_view.replay_accuracy_figure(recorded, epoch, height=190),
                                  key="results_page_replay_accuracy", config={"displayModeBar": False})
    st.markdown(results_view.replay_change_sentence(recorded, epoch))
    shown = results_view.replay_shown_images(recorded)
    grid_column, confusion_column = st.columns([1.15, 1], gap="large")
    with grid_column:
        st.markdown(f"**{len(shown)} of these images** ({results_view.REPLAY_PER_CLASS} per class, some that "
                    "the model learned along the way), with the answer after this epoch:")
        captioned_grid(recorded.images[shown], results_view.replay_captions(recorded, shown, epoch, names),
                        key="replay")
    with confusion_column:
        st.markdown(f"**Confusion matrix after epoch {epoch}**, on all {total:,} images: rows are the true "
                    "classes, columns the predictions.")
        st.plotly_chart(results_view.confusion_figure(recorded.confusion(epoch), names, height=520),
                        key="results_page_replay_confusion", config={"displayModeBar": False})


# --- Export ----------------------------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=16)
def _cached_script(runs_folder: str, run_id: str, version: str) -> str:
    # `version` (the run's last update) is part of the key, so a run saved again gets a new script.
    store = runs.RunStore(runs_folder)
    run = store.get(run_id)
    return export.standalone_script(run, store.load_model(run_id))


def export_section(run: runs.Run) -> None:
    st.subheader("Take this model home")
    model_column, script_column = st.columns(2, gap="large")
    with model_column:
        st.markdown("**The trained model**, as a Keras file. Load it with `keras.saving.load_model(path)` and it "
                    "classifies raw 0–255 images, as here; another Neural Canvas can import it.")
        try:
            size = (run.path / "model.keras").stat().st_size if run.has_model else 0
        except OSError:  # deleted in another session a moment ago
            st.warning("This run's model file is gone: it was deleted a moment ago.", icon=":material/delete:")
            return
        # The bytes are read only when the button is clicked, not at every run of the page.
        st.download_button(f"Download {export.model_file_name(run)}", data=functools.partial(export.model_bytes, run),
                           file_name=export.model_file_name(run), mime="application/octet-stream",
                           icon=":material/download:", on_click="ignore", key="results_page_download_model")
        st.caption(f"{size / 2**20:.1f} MB · the weights of "
                   + (f"epoch {run.meta['best_epoch']}, the best on validation" if run.meta.get("best_epoch")
                      else "the saved model"))
    with script_column:
        st.markdown("**A training script** in the style of the Keras examples: one Python file that loads the "
                    "data, builds the same layers, and trains them with the same settings.")
        try:
            with st.spinner("Writing the script…"):
                script = _cached_script(str(_common.run_store().root), run.id, str(run.meta.get("updated", "")))
        except export.NotExportable as error:
            st.info(str(error), icon=":material/code_off:")
            return
        except Exception as error:  # A damaged model file can fail in many ways; none may reach the screen raw.
            st.error(f"**The script cannot be written:** {error}. The model file may be damaged.",
                     icon=":material/broken_image:")
            return
        st.download_button(f"Download {export.script_file_name(run)}", data=script,
                           file_name=export.script_file_name(run), mime="text/x-python", icon=":material/code:",
                           on_click="ignore", key="results_page_download_script")
        st.caption(f"Run it with `python {export.script_file_name(run)}`; it needs only Keras 3"
                   + (" and downloads the whole MNIST (the app's sample is part of it)."
                      if run.dataset == "mnist_sample" else "."))
    with st.expander("Read the script", icon=":material/description:"):
        st.code(script, language="python", line_numbers=True, height=560)


# --- the page --------------------------------------------------------------------------------------------------


def main() -> None:
    st.html(PAGE_STYLE)
    run = choose_run()
    if run is None:
        return
    if not say_what_is_wrong(run):
        if run.status in runs.ACTIVE_STATUSES and (run.meta.get("history") or {}).get("loss"):
            summary(run, None, None)
        return
    dataset = load_test_set(run)
    result = run_evaluation(run, dataset) if dataset is not None else None
    summary_tab, predictions_tab, mistakes_tab, confusion_tab, replay_tab, export_tab = st.tabs(
        ["Summary", "Predictions", "Mistakes", "Confusion matrix", "Epoch replay", "Export"])
    with summary_tab:
        summary(run, result, dataset)
    # The replay carries its own images and the export needs none, so both work without the test set.
    with replay_tab:
        epoch_replay(run)
    with export_tab:
        export_section(run)
    if result is None:
        for tab in (predictions_tab, mistakes_tab, confusion_tab):
            tab.info("The test images are needed here: see the message above.", icon=":material/image_not_supported:")
        return
    with predictions_tab:
        random_predictions(dataset, result)
    with mistakes_tab:
        mistakes(dataset, result)
    with confusion_tab:
        confusion_matrix(dataset, result)


main()
