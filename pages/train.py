"""Train page: choose an architecture and its settings, train it with live curves, see the result, compare runs.

From top to bottom the screen shows: the dataset; a panel with the architecture, its own settings, the common
training settings and the model's layer table with its parameter count (which update before anything
trains); a line that sums up what will train, a run name and the Train button; the training this visitor
watches (its place in the queue, then a progress bar with live loss and accuracy curves, then the test
results); the other trainings on this server, which follow by themselves while anything trains; and the
finished runs of this dataset, their validation curves overlaid. The settings panel folds away when a training
starts, so that its curves come up on the screen.
Under the curves, live and finished, one sentence says what they show (still learning, or overfitting since
the best epoch, which the curves mark with a dashed line).

The page's address carries the whole setup (`core.share`): opening /train?dataset=...&arch=...&epochs=...
restores it, and "Share this setup" shows the link to send to the class.

Training never happens in this page's thread: the Train button hands the job to the server's training queue
(`core.jobs`), and a fragment that reruns once a second draws its progress. Leaving the page, or reloading
it, neither stops nor loses the training; the page finds it again by its run id.

The machinery lives beside this file: the settings panel and the shared link in `_train_settings`, the watched
training in `_train_watch`, the other trainings on the server in `_train_others`.
"""

import streamlit as st

from core import architectures, charts, datasets, runs, text
from pages import _common, _train_others, _train_settings, _train_watch

RUN_NAME_KEY = "train_run_name"
# Whether the settings panel is open; it folds away when a training starts, to bring the live view up.
SETUP_OPEN_KEY = "train_setup_open"
FOLD_SETUP_KEY = "train_fold_setup"
FINISHED_STATUSES = ("completed", "stopped")


def page_header(dataset_info: datasets.DatasetInfo) -> bool:
    """The title and the dataset; returns whether the dataset is on this machine."""
    st.title(":material/model_training: 2 · Train a model")
    available = datasets.is_available(dataset_info.name)
    # The link keeps the width of its label at 1024 px; the sentence takes the rest. On a phone the link goes under
    # the sentence (beside it, the sentence was squeezed to a word or two a line).
    _common.phone_row_wraps("train_dataset_row")
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium", wrap=False,
                      key="train_dataset_row"):
        st.markdown(
            f"Dataset: **{dataset_info.title}** · {dataset_info.num_train:,} training images of "
            f"{' × '.join(map(str, dataset_info.image_shape))} pixels, {dataset_info.num_classes} classes.",
            width="stretch")
        st.page_link("pages/datasets.py", label="Choose another dataset", icon=":material/photo_library:",
                     width="content")
    if not available:
        st.warning(
            f"**{dataset_info.title}** is not on this machine yet, so it cannot be trained on. "
            "Download it on the Datasets page first, or choose the offline MNIST sample there."
        )
        st.page_link("pages/datasets.py", label="Open the Datasets page", icon=":material/download:")
    return available


def train_button(dataset: str, architecture: str, settings: dict, *, enabled: bool) -> None:
    """The run name and the Train button, which queues the training and starts watching it."""
    name_column, button_column = st.columns([3, 1], vertical_alignment="bottom")
    name = name_column.text_input("Run name (optional)", key=RUN_NAME_KEY, max_chars=runs.MAX_NAME_LENGTH,
                                  placeholder=f"{architecture} on {dataset}")
    if not button_column.button("Train", type="primary", icon=":material/play_arrow:", disabled=not enabled,
                                width="stretch"):
        return
    try:
        run_id = _common.training_queue().submit(dataset, architecture, settings, name=name,
                                                 owner=_common.owner())
    except runs.RunStoreError as error:
        st.error(f"**The training could not start.** {text.markdown_escape(error)}", icon=":material/hard_drive:")
        return
    except ValueError as error:
        st.error(f"The training could not start: {text.markdown_escape(error)}")
        return
    st.session_state[_train_watch.WATCHED_RUN_KEY] = run_id
    # The sidebar is drawn now, with the run queued: the live view redraws the page once it sees it running,
    # even when the training has already started by its first look.
    st.session_state.setdefault(_train_watch.SEEN_STATE_KEY, {})[run_id] = "queued"
    st.session_state[FOLD_SETUP_KEY] = True
    _common.set_run(run_id)
    # Run the whole page again so that the sidebar names the new model, and the settings fold away.
    st.rerun()


def compare_runs(dataset_info: datasets.DatasetInfo) -> None:
    """The finished runs of this dataset, their validation curves overlaid on one chart."""
    st.divider()
    st.subheader("Compare runs")
    finished = [run for run in _common.run_store().list()
                if run.dataset == dataset_info.name and run.status in FINISHED_STATUSES
                and run.history.get("loss")]
    if len(finished) < 2:
        st.caption(f"Train at least two models on {dataset_info.title} to compare their curves here.")
        return
    by_id = {run.id: run for run in finished}
    chosen = st.multiselect("Runs to compare", list(by_id), default=list(by_id)[:3],
                            format_func=lambda run_id: by_id[run_id].label)
    if not chosen:
        st.caption("Choose runs above to see their curves.")
        return
    names = [by_id[run_id].name for run_id in chosen]
    histories = {}
    for run_id in chosen:
        run = by_id[run_id]
        # Two runs may share a name: the end of the run id tells them apart in the legend.
        label = run.name if names.count(run.name) == 1 else f"{run.name} · {run.id[-6:]}"
        histories[label] = run.history
    accuracy_column, loss_column = st.columns(2)
    with accuracy_column:
        _common.chart(charts.compare_runs(histories, "accuracy"), key="compare_accuracy")
    with loss_column:
        _common.chart(charts.compare_runs(histories, "loss"), key="compare_loss")
    rows = []
    for label, run_id in zip(histories, chosen):
        run = by_id[run_id]
        rows.append({"Run": label, "Architecture": runs.readable_architecture(run.architecture),
                     "Epochs": run.epochs_done,
                     "Test accuracy": None if run.test_accuracy is None else 100 * run.test_accuracy,
                     "Training time": _common.format_duration(run.duration)})
    st.dataframe(rows, hide_index=True,
                 column_config={"Test accuracy": st.column_config.NumberColumn(format="%.1f%%")})


def setup_section(dataset_info: datasets.DatasetInfo) -> tuple[architectures.Architecture, dict, dict | None]:
    """The architecture, its settings and its layer table, in a panel that folds away while a training runs."""
    # Both are set before the panel is drawn: Streamlit refuses changes to a widget's state once it is drawn.
    if st.session_state.pop(FOLD_SETUP_KEY, False):
        st.session_state[SETUP_OPEN_KEY] = False
    elif SETUP_OPEN_KEY not in st.session_state and _train_watch.watched_training_is_active():
        # Back from another page while a training runs: its curves matter more than the settings.
        st.session_state[SETUP_OPEN_KEY] = False
    with st.expander("Architecture and settings", expanded=True, key=SETUP_OPEN_KEY, on_change="rerun",
                     icon=":material/tune:"):
        architecture = _train_settings.architecture_choice(dataset_info)
        # The layer table beside the settings, or below them where the window is too narrow for its four
        # columns (at 1024 px it scrolled sideways and cut "Output shape"). Then two settings to a row, or one
        # where a box is too narrow for two whole labels and values (at 1024 px "constar" for "constant").
        st.html("<style>"
                ".st-key-train_setup [data-testid='stHorizontalBlock'] { flex-wrap: wrap; }"
                ".st-key-train_setup [data-testid='stColumn']:has(.st-key-train_model_box) "
                "{ min-width: min(23.5rem, 100%); }"
                "[class*='st-key-train_settings_box'] [data-testid='stColumn'] { min-width: 9.5rem; }</style>")
        settings_column, model_column = st.container(key="train_setup").columns([1, 1.12], gap="medium")
        with settings_column:
            with st.container(border=True, key="train_settings_box_architecture"):
                own_settings = _train_settings.architecture_settings(architecture)
            with st.container(border=True, key="train_settings_box_training"):
                common_settings = _train_settings.training_settings(architecture)
        with model_column.container(border=True, key="train_model_box"):
            st.markdown("**The model**")
            summary = _train_settings.model_table(architecture, dataset_info.name, own_settings)
    return architecture, {**own_settings, **common_settings}, summary


def setup_summary(architecture: architectures.Architecture, settings: dict, summary: dict | None) -> None:
    """One line that says what the Train button will train, readable with the panel folded."""
    parts = [f"**{architecture.title}**"]
    if summary is not None:
        parts.append(f"{summary['total']:,} parameters")
    parts.append(f"{settings['epochs']} epoch{'s' if settings['epochs'] != 1 else ''} of batches of "
                 f"{settings['batch_size']}, {settings['optimizer']} at learning rate {settings['learning_rate']:g}")
    if settings.get(_train_settings.EARLY_STOPPING):
        parts.append(f"early stopping after {settings[_train_settings.EARLY_STOPPING]} epochs without improvement")
    st.markdown(" · ".join(parts), width="stretch")


def train_page() -> None:
    # A link opened in the browser decides the dataset, architecture and settings before any widget is drawn.
    _train_settings.apply_shared_link()
    _train_watch.watch_own_training()
    dataset_info = datasets.get_info(_common.dataset_name())
    available = page_header(dataset_info)
    _train_settings.shared_link_problems()
    architecture, settings, summary = setup_section(dataset_info)
    link = _train_settings.keep_address_in_step(dataset_info.name, architecture.name, settings)
    problem = _train_settings.settings_problem(dataset_info, settings)
    if problem:
        st.error(text.markdown_escape(problem))
    # The popover button keeps the width of its label ("Share this setup" whole at 1024 px); the summary the rest,
    # at least 15rem of it: on a phone the button goes under the summary instead of squeezing it a word a line.
    st.html("<style>.st-key-train_summary_row [data-testid='stElementContainer']:has([data-testid='stMarkdown'])"
            " { min-width: min(15rem, 100%); flex: 1 1 15rem; }"
            # The share link's words beside its QR code, or under it where the popover is narrower.
            "[data-testid='stLayoutWrapper']:has(> .st-key-share_link_words), .st-key-share_link_words"
            " { min-width: min(14rem, 100%); flex: 1 1 14rem; }</style>")
    with st.container(horizontal=True, vertical_alignment="center", gap="medium", wrap=True, key="train_summary_row"):
        setup_summary(architecture, settings, summary)
        _train_settings.share_setup(link)
    train_button(dataset_info.name, architecture.name, settings, enabled=available and problem is None)
    _train_watch.watched_training()
    _train_others.other_trainings()
    compare_runs(dataset_info)



train_page()
