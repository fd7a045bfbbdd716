"""Train page: choose an architecture and its settings, train it with live curves, see the result, compare runs.

From top to bottom the screen shows: the dataset; a panel with the architecture, its own settings, the common
training settings and the model's layer table with its parameter count (which update before anything
trains); a line that sums up what will train, a run name and the Train button; the training this visitor
watches (its place in the queue, then a progress bar with live loss and accuracy curves, then the test
results); the other trainings on this server, which follow by themselves while anything trains; and the
finished runs of this dataset, their validation curves overlaid. The settings panel folds away when a training starts, so that its curves come up on the screen.
Under the curves, live and finished, one sentence says what they show (still learning, or overfitting since
the best epoch, which the curves mark with a dashed line).

The page's address carries the whole setup (`core.share`): opening /train?dataset=...&arch=...&epochs=...
restores it, and "Share this setup" shows the link to send to the class.

Training never happens in this page's thread: the Train button hands the job to the server's training queue
(`core.jobs`), and a fragment that reruns once a second draws its progress. Leaving the page, or reloading
it, neither stops nor loses the training; the page finds it again by its run id.
"""

import math

import streamlit as st

from core import architectures, charts, datasets, jobs, overfitting, runs, share, text, training
from pages import _common, _teacher

# The run this visitor watches on this page (the last one they started, or one they chose to watch).
WATCHED_RUN_KEY = "train_watched_run"
# The settings chosen for each architecture, kept while the visitor is on other pages (Streamlit forgets the
# values of widgets that a page stops drawing).
SETTINGS_KEY = "train_settings"
ARCHITECTURE_KEY = "train_architecture"
RUN_NAME_KEY = "train_run_name"
STOPPING_KEY = "train_stopping"
# Whether the settings panel is open; it folds away when a training starts, to bring the live view up.
SETUP_OPEN_KEY = "train_setup_open"
FOLD_SETUP_KEY = "train_fold_setup"
# The last state (queued, running) the live view saw of each run, to notice when a training starts.
SEEN_STATE_KEY = "train_seen_state"
# The query parameters this page last wrote into the address: a link that differs was opened, so it applies.
SHARE_QUERY_KEY = "train_share_query"
# What a link asked for that could not be used, shown once as a warning.
SHARE_PROBLEMS_KEY = "train_share_problems"
# Early stopping is a switch and a patience; the hyperparameter is the patience, 0 meaning off.
EARLY_STOPPING = "early_stopping_patience"
DEFAULT_PATIENCE = 3

# Learning rates offered on the log-scale slider: the 1-2-5 steps of each power of ten.
LEARNING_RATE_STEPS = (1, 2, 5)
# Integer settings with a range this small get a slider; wider ones a number box with the same limits.
SLIDER_MAXIMUM_RANGE = 50
FINISHED_STATUSES = ("completed", "stopped")
# How often the list of the other trainings on this server redraws itself while anything trains.
OTHER_TRAININGS_SECONDS = 2.0
# The trainings the list showed last, newest first, so that one that ends stays listed as finished.
OTHER_RUNS_KEY = "train_other_runs"
OTHER_RUNS_REMEMBERED = 5


# --- helpers -------------------------------------------------------------------------------------------------


def learning_rate_choices(spec: architectures.Hyperparameter, current: float | None = None) -> list[float]:
    """The values of a log-scale setting: 1, 2 and 5 times each power of ten between 1e-5 and its maximum,
    and the `current` one (a shared link may ask for 0.003) if it is allowed."""
    lowest = max(spec.minimum, 1e-5)
    values = {spec.default}
    try:
        values.add(spec.validate(current))
    except ValueError:
        pass
    for exponent in range(math.floor(math.log10(lowest)), math.ceil(math.log10(spec.maximum)) + 1):
        for step in LEARNING_RATE_STEPS:
            value = float(f"{step}e{exponent}")
            if lowest <= value <= spec.maximum:
                values.add(value)
    return sorted(values)


def format_duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def readable_shape(output_shape: str) -> str:
    """"(batch, 14, 14, 32)" as "14 × 14 × 32": every layer works on a whole batch, so the batch axis says nothing."""
    sizes = [size.strip() for size in output_shape.strip("()").split(",") if size.strip()]
    return " × ".join(size for size in sizes if size != "batch") or output_shape


def chart(figure, key: str) -> None:
    """A plotly chart as wide as its column, without the toolbar that would cover the legend on a projector."""
    st.plotly_chart(figure, key=key, config={"displayModeBar": False})


def saved_settings(architecture: str) -> dict:
    return st.session_state.setdefault(SETTINGS_KEY, {}).setdefault(architecture, {})


def is_done(status: jobs.JobStatus) -> bool:
    # The end event comes a moment before the queue marks the job finished: either means the result is saved.
    return status.state == "finished" or status.end is not None


@st.cache_data(show_spinner=False, max_entries=64)
def model_summary(architecture: str, dataset: str, settings: tuple) -> dict:
    """The layer table and parameter counts of a model, built once per architecture, dataset and settings.

    Only the table is cached, never the model: the cache is shared by every visitor.
    """
    info = datasets.get_info(dataset)
    model = architectures.build_model(architecture, info.image_shape, info.num_classes, dict(settings))
    return architectures.describe(model)


# --- choosing the model ----------------------------------------------------------------------------------------


def page_header(dataset_info: datasets.DatasetInfo) -> bool:
    """The title and the dataset; returns whether the dataset is on this machine."""
    st.title("Train a model")
    available = datasets.is_available(dataset_info.name)
    # The link keeps the width of its label at 1024 px; the sentence takes the rest.
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium", wrap=False):
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


def architecture_choice(dataset_info: datasets.DatasetInfo) -> architectures.Architecture:
    names = list(architectures.ARCHITECTURES)
    if len(dataset_info.image_shape) == 3:
        # Colour photos: the architectures made for them come first.
        names.sort(key=lambda name: not architectures.ARCHITECTURES[name].for_colour)
    if st.session_state.get(ARCHITECTURE_KEY) not in names:
        st.session_state[ARCHITECTURE_KEY] = st.session_state.get(f"{ARCHITECTURE_KEY}_saved",
                                                                   architectures.DEFAULT_ARCHITECTURE)
    name = st.selectbox("Architecture", names, key=ARCHITECTURE_KEY,
                        format_func=lambda value: architectures.ARCHITECTURES[value].title)
    st.session_state[f"{ARCHITECTURE_KEY}_saved"] = name
    architecture = architectures.ARCHITECTURES[name]
    st.caption(architecture.description)
    return architecture


def hyperparameter_widget(architecture: str, spec: architectures.Hyperparameter):
    """One setting, drawn from its spec with its limits, so that an out-of-range value cannot be entered."""
    saved = saved_settings(architecture)
    key = f"train_{architecture}_{spec.name}"
    if key not in st.session_state:
        st.session_state[key] = saved.get(spec.name, spec.default)
    if spec.choices is not None:
        value = st.selectbox(spec.title, spec.choices, key=key, help=spec.help)
    elif spec.kind is bool:
        value = st.toggle(spec.title, key=key, help=spec.help)
    elif spec.log_scale:
        choices = learning_rate_choices(spec, st.session_state[key])
        if st.session_state[key] not in choices:
            st.session_state[key] = spec.default
        value = st.select_slider(spec.title, choices, key=key, help=spec.help, format_func=lambda rate: f"{rate:g}")
    elif spec.kind is int and spec.maximum - spec.minimum <= SLIDER_MAXIMUM_RANGE:
        value = st.slider(spec.title, int(spec.minimum), int(spec.maximum), step=1, key=key, help=spec.help)
    elif spec.kind is int:
        value = st.number_input(spec.title, int(spec.minimum), int(spec.maximum), step=1, key=key, help=spec.help)
    else:
        step = 0.05 if spec.maximum - spec.minimum <= 1 else (spec.maximum - spec.minimum) / 100
        value = st.slider(spec.title, float(spec.minimum), float(spec.maximum), step=step, key=key, help=spec.help)
    saved[spec.name] = value
    return value


def early_stopping_widget(architecture: str, spec: architectures.Hyperparameter) -> int:
    """Early stopping as a switch, and its patience once it is on: clearer to a class than "patience 0 = off"."""
    saved = saved_settings(architecture)
    switch_key, patience_key = f"train_{architecture}_early_stopping", f"train_{architecture}_{spec.name}"
    saved_patience = saved.get(spec.name, spec.default)
    if switch_key not in st.session_state:
        st.session_state[switch_key] = saved_patience > 0
    if patience_key not in st.session_state:
        st.session_state[patience_key] = saved_patience or DEFAULT_PATIENCE
    on = st.toggle("Early stopping", key=switch_key,
                   help="Stop once the validation loss has not improved for a few epochs in a row, and keep the "
                        "best epoch. Off, every epoch trains (the best epoch is kept either way).")
    patience = 0
    if on:
        patience = st.slider("Patience (epochs without improvement)", 1, int(spec.maximum), step=1,
                             key=patience_key, help=spec.help)
    saved[spec.name] = patience
    return patience


def settings_grid(architecture: str, specs) -> dict:
    """Widgets for `specs`, two to a row."""
    values = {}
    # Early stopping (a switch and its patience) gets a row of its own: in half a column its label was cut.
    paired = [spec for spec in specs if spec.name != EARLY_STOPPING]
    for start in range(0, len(paired), 2):
        for column, spec in zip(st.columns(2), paired[start:start + 2]):
            with column:
                values[spec.name] = hyperparameter_widget(architecture, spec)
    for spec in specs:
        if spec.name == EARLY_STOPPING:
            values[spec.name] = early_stopping_widget(architecture, spec)
    return {spec.name: values[spec.name] for spec in specs}


# --- share by link ----------------------------------------------------------------------------------------------


def set_setting(architecture: str, name: str, value) -> None:
    """Puts a setting into its widget's state (before the widget is drawn) and into the saved settings."""
    saved_settings(architecture)[name] = value
    if name == EARLY_STOPPING:
        st.session_state[f"train_{architecture}_early_stopping"] = value > 0
        st.session_state[f"train_{architecture}_{name}"] = value or DEFAULT_PATIENCE
    else:
        st.session_state[f"train_{architecture}_{name}"] = value


def apply_shared_link() -> None:
    """Restores the setup in the address when it is not the one this page wrote there: a link was opened.

    Settings the link leaves out take their defaults, so that the class gets exactly the teacher's setup.
    """
    query = st.query_params.to_dict()
    if not query or query == st.session_state.get(SHARE_QUERY_KEY):
        return
    fallback = st.session_state.get(f"{ARCHITECTURE_KEY}_saved", architectures.DEFAULT_ARCHITECTURE)
    setup = share.setup_from_query(query, fallback_architecture=fallback)
    if setup.dataset is not None:
        _common.set_dataset(setup.dataset)
    name = setup.architecture or fallback
    st.session_state[ARCHITECTURE_KEY] = st.session_state[f"{ARCHITECTURE_KEY}_saved"] = name
    for spec in architectures.get_architecture(name).hyperparameters:
        set_setting(name, spec.name, setup.hyperparameters.get(spec.name, spec.default))
    st.session_state[SHARE_PROBLEMS_KEY] = setup.problems
    # Until the page writes its own address below, this one counts as applied.
    st.session_state[SHARE_QUERY_KEY] = query


def keep_address_in_step(dataset: str, architecture: str, settings: dict) -> str:
    """Writes the setup into the page's address and returns the link to share it."""
    query = share.setup_to_query(dataset, architecture, settings)
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)
    st.session_state[SHARE_QUERY_KEY] = query
    return share.share_url(st.context.url, query)


def shared_link_problems() -> None:
    problems = st.session_state.pop(SHARE_PROBLEMS_KEY, ())
    if problems:
        st.warning(share.problems_message(problems), icon=":material/link_off:")


def share_setup(link: str) -> None:
    with st.popover("Share this setup", icon=":material/share:"):
        st.markdown("Send this link to the class: it opens the Train page with this dataset, architecture and "
                    "every setting.")
        st.code(link, language=None, wrap_lines=True)


def architecture_settings(architecture: architectures.Architecture) -> dict:
    st.markdown("**Architecture settings**")
    if not architecture.own_hyperparameters:
        st.caption("This architecture has no settings of its own.")
    return settings_grid(architecture.name, architecture.own_hyperparameters)


def training_settings(architecture: architectures.Architecture) -> dict:
    st.markdown("**Training settings**")
    own = {spec.name for spec in architecture.own_hyperparameters}
    return settings_grid(architecture.name, [spec for spec in architecture.hyperparameters if spec.name not in own])


def model_table(architecture: architectures.Architecture, dataset: str, own_settings: dict) -> dict | None:
    """The layers of the model these settings build, and its parameter count, before anything trains."""
    try:
        with st.spinner("Building the model…"):
            summary = model_summary(architecture.name, dataset, tuple(sorted(own_settings.items())))
    except ValueError as error:
        st.error(f"This model cannot be built: {text.markdown_escape(error)}")
        return None
    st.metric("Parameters", f"{summary['total']:,}",
              help="Weights and biases the training adjusts" +
                   (f" ({summary['non_trainable']:,} of them are batch-normalisation statistics)."
                    if summary["non_trainable"] else "."))
    rows = [{"Layer": row["name"], "Type": row["type"], "Output shape": readable_shape(row["output_shape"]),
             "Parameters": row["parameters"]} for row in summary["layers"]]
    st.dataframe(rows, hide_index=True, height=min(38 + 35 * len(rows), 318),
                 column_config={"Layer": st.column_config.TextColumn(width=84),
                                "Type": st.column_config.TextColumn(width=92),
                                "Output shape": st.column_config.TextColumn(width=84),
                                "Parameters": st.column_config.NumberColumn(format="localized", width=76)})
    return summary


def settings_problem(dataset_info: datasets.DatasetInfo, settings: dict) -> str | None:
    """A setting that would make the training fail at once (a batch larger than the data), said in words."""
    hold_out = round(dataset_info.num_train * settings["validation_fraction"])
    try:
        training.validate_training_data(settings, dataset_info.num_train - hold_out)
    except ValueError as error:
        return str(error)
    return None


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
    st.session_state[WATCHED_RUN_KEY] = run_id
    # The sidebar is drawn now, with the run queued: the live view redraws the page once it sees it running,
    # even when the training has already started by its first look.
    st.session_state.setdefault(SEEN_STATE_KEY, {})[run_id] = "queued"
    st.session_state[FOLD_SETUP_KEY] = True
    _common.set_run(run_id)
    # Run the whole page again so that the sidebar names the new model, and the settings fold away.
    st.rerun()


# --- watching a training ---------------------------------------------------------------------------------------


def stop_button(status: jobs.JobStatus) -> None:
    """Stop, for the session that started the training only."""
    if status.owner != _common.owner() and not _teacher.is_teacher():
        st.caption("Only the browser session that started this training (or the teacher) can stop it.")
        return
    stopping = st.session_state.setdefault(STOPPING_KEY, set())
    label = "Cancel" if status.state == "queued" else "Stop training"
    if st.button(label, icon=":material/stop:", key=f"stop_{status.run_id}", disabled=status.run_id in stopping):
        if _common.training_queue().stop(status.run_id, None if _teacher.is_teacher() else _common.owner()):
            stopping.add(status.run_id)
            st.toast("Stopping at the next batch; the run keeps what it has learnt.")
    if status.run_id in stopping:
        st.caption("Stopping…")


def queue_place(status: jobs.JobStatus) -> None:
    running = sum(1 for other in _common.training_queue().active() if other.state == "running")
    ahead = running + status.queue_position - 1
    if ahead > 0:
        st.info(f"Waiting: {ahead} training{'s' if ahead != 1 else ''} ahead of yours. It starts by itself; "
                "you may leave this page meanwhile.", icon=":material/hourglass_top:")
    else:
        st.info("Starting…", icon=":material/hourglass_top:")


def progress_bar(status: jobs.JobStatus) -> None:
    latest = status.latest_batch
    if latest is None:
        st.progress(0.0, text="Preparing the data and building the model…")
        return
    text = (f"Epoch {latest['epoch']}/{latest['epochs']} · batch {latest['step']}/{latest['steps']} · "
            f"{latest['images_per_second']:,.0f} images/s · about {format_duration(latest['eta'])} left")
    st.progress(min(max(latest["progress"], 0.0), 1.0), text=text)


def live_charts(events, epochs: int | None, key: str) -> None:
    loss_column, accuracy_column = st.columns(2)
    with loss_column:
        chart(charts.training_curves(events, "loss", epochs=epochs), key=f"{key}_loss")
    with accuracy_column:
        chart(charts.training_curves(events, "accuracy", epochs=epochs), key=f"{key}_accuracy")


def what_the_curves_say(history: dict, patience: int = 0) -> None:
    """The one sentence under the curves (and, while early stopping watches, how close it is to stopping)."""
    st.markdown(f"**What the curves say:** {overfitting.overfitting_sentence(history)}")
    note = overfitting.early_stopping_progress(history, patience)
    if note:
        st.caption(note)


@st.fragment(run_every=1.0)
def live_training(run_id: str, name: str, epochs: int | None) -> None:
    """Redraws the progress of a queued or running training every second, and the whole page once at the end.

    Once a second is several times per epoch on any real dataset, and leaves the two cores of a classroom
    laptop to the training.
    """
    status = _common.training_queue().status(run_id)
    if status is None or is_done(status):
        # The result is saved: draw the whole page once, which shows it and stops this fragment.
        st.rerun(scope="app")
        return
    seen = st.session_state.setdefault(SEEN_STATE_KEY, {})
    if seen.setdefault(run_id, status.state) != status.state:
        # Queued -> running: draw the whole page once more, so that the sidebar says "running" too.
        seen[run_id] = status.state
        st.rerun(scope="app")
        return
    if status.owner == _common.owner():
        # A row that gives the button the width of its label ("Stop training" whole at 1024 px) and the heading
        # the rest: fixed column shares cut the label at narrow windows.
        with st.container(horizontal=True, vertical_alignment="center", gap="medium", wrap=False):
            st.subheader(f"Training: {text.markdown_escape(name)}", width="stretch")
            stop_button(status)
    else:
        st.subheader(f"Training: {text.markdown_escape(name)}")
        stop_button(status)
    if status.state == "queued":
        queue_place(status)
        return
    progress_bar(status)
    start = status.start or {}
    if start.get("device"):
        st.caption(f"On {start['device']} · {start.get('train_images', 0):,} training and "
                   f"{start.get('validation_images', 0):,} validation images. "
                   "You may leave this page: training goes on, and this view comes back when you return.")
    live_charts(status.events, epochs, key="live")
    what_the_curves_say(overfitting.history_from_events(status.events), start.get("early_stopping_patience", 0))


def outcome_message(run: runs.Run) -> None:
    meta = run.meta
    if run.status == "completed":
        best = meta.get("best_epoch")
        early = overfitting.early_stopping_sentence(meta.get("stopped_early"))
        if early:
            st.success(f"Finished in {format_duration(meta.get('duration'))}. {early} The figures below are its "
                       "scores on the test images.", icon=":material/check_circle:")
        else:
            st.success(f"Finished in {format_duration(meta.get('duration'))}. The saved model is the best epoch"
                       f"{f' ({best})' if best else ''}, and the figures below are its scores on the test images.",
                       icon=":material/check_circle:")
    elif run.status == "stopped":
        done = meta.get("epochs_done") or 0
        epochs = (meta.get("hyperparameters") or {}).get("epochs")
        kept = (f"; the model kept is epoch {meta.get('best_epoch')}, the best one." if run.has_model
                else ", so there is no model to use.")
        st.warning(f"{text.markdown_escape(run.problem or 'Stopped.')} {done} of {epochs} epochs had finished{kept}",
                   icon=":material/stop_circle:")
    elif run.status == "failed":
        st.error(f"The training failed. {text.markdown_escape(run.problem)}", icon=":material/error:")
    elif run.status == "interrupted":
        st.warning("The server stopped while this run was training. What it saved up to its last finished "
                   "epoch is kept.", icon=":material/warning:")
    else:
        st.error(f"This run cannot be shown: {text.markdown_escape(run.problem or run.status)}.")


def scores_on_test_set(run: runs.Run) -> None:
    meta = run.meta
    test = meta.get("test") or {}
    figures = {}
    if test:
        figures["Test accuracy"] = f"{test['accuracy']:.1%}"
        figures["Test loss"] = f"{test['loss']:.3f}"
    epochs = (meta.get("hyperparameters") or {}).get("epochs")
    figures["Epochs trained"] = f"{meta.get('epochs_done') or 0} of {epochs}"
    figures["Training time"] = format_duration(meta.get("duration"))
    for column, (label, value) in zip(st.columns(4), figures.items()):
        column.metric(label, value)


def finished_training(run: runs.Run) -> None:
    """The result of the watched training: how it ended, its test scores, its curves, its classes."""
    st.subheader(f"Result: {text.markdown_escape(run.name)}")
    outcome_message(run)
    scores_on_test_set(run)
    status = _common.training_queue().status(run.id)
    history = run.meta.get("history") or {}
    if status is not None and status.latest_batch is not None:
        # This server trained it: the curves keep the points drawn during each epoch.
        # The axis ends at the last epoch trained: a run that stopped early fills the chart too.
        live_charts(status.events, run.meta.get("epochs_done") or 1, key="final")
    elif history.get("loss"):
        loss_column, accuracy_column = st.columns(2)
        with loss_column:
            chart(charts.history_curves(history, "loss"), key="final_loss")
        with accuracy_column:
            chart(charts.history_curves(history, "accuracy"), key="final_accuracy")
    if history.get("loss"):
        what_the_curves_say(history)
    test = run.meta.get("test") or {}
    if test.get("per_class_accuracy"):
        info = datasets.get_info(run.dataset)
        chart(charts.per_class_accuracy(info.class_names, test["per_class_accuracy"]), key="per_class")
    if run.has_model:
        results_column, draw_column, _ = st.columns([1.3, 1, 1.2])
        results_column.page_link("pages/results.py", label="See its predictions and mistakes",
                                 icon=":material/analytics:")
        draw_column.page_link("pages/draw.py", label="Draw a digit for it", icon=":material/draw:")


def watched_training_is_active() -> bool:
    run_id = st.session_state.get(WATCHED_RUN_KEY)
    status = _common.training_queue().status(run_id) if run_id else None
    return status is not None and not is_done(status)


def watched_training() -> None:
    """The training this visitor started or chose to watch: live while it runs, its result once it ends."""
    run_id = st.session_state.get(WATCHED_RUN_KEY)
    if not run_id:
        return
    st.divider()
    try:
        run = _common.run_store().get(run_id)
    except (KeyError, ValueError):
        st.info("The run you were watching has been deleted.")
        st.session_state.pop(WATCHED_RUN_KEY, None)
        return
    status = _common.training_queue().status(run_id)
    if status is not None and not is_done(status):
        live_training(run_id, run.name, (run.meta.get("hyperparameters") or {}).get("epochs"))
        return
    if status is not None and status.status == "failed" and run.status in runs.ACTIVE_STATUSES:
        # The training failed and the runs folder could not even record it (a full disk): say so from the queue.
        st.subheader(f"Result: {text.markdown_escape(run.name)}")
        st.error(f"The training failed. {text.markdown_escape(status.message)}", icon=":material/error:")
        return
    if run.status in runs.ACTIVE_STATUSES:
        # Another server process is training it: this one can only read what it has saved so far.
        st.info(f"**{text.markdown_escape(run.name)}** is {run.status} on the server. "
                "Its curves appear here when it finishes.")
        return
    finished_training(run)


def progress_summary(run: runs.Run) -> str:
    """"running, epoch 2 of 5 (34%)" or "queued, 1 ahead": where a training is, in a few words."""
    status = _common.training_queue().status(run.id)
    if status is None:
        return run.status
    if status.state == "queued":
        return f"queued, number {status.queue_position} in the queue"
    latest = status.latest_batch
    if latest is None:
        return "starting"
    return f"running, epoch {latest['epoch']} of {latest['epochs']} ({latest['progress']:.0%})"


def other_training_line(run: runs.Run, me: str) -> str:
    """"**Bob's CNN** (yours) · cnn on mnist · *running, epoch 3 of 10 (25%)*": one training in one line."""
    whose = " (yours)" if run.meta.get("owner") == me else ""
    # A run named by default is already called "<architecture> on <dataset>": say it once.
    what = "" if run.name == f"{run.architecture} on {run.dataset}" else f" · {run.architecture} on {run.dataset}"
    if run.status in runs.ACTIVE_STATUSES:
        where = progress_summary(run)
    elif run.status == "completed" and run.test_accuracy is not None:
        where = f"finished, {run.test_accuracy:.1%} on the test images"
    elif run.status == "stopped":
        epochs = (run.meta.get("hyperparameters") or {}).get("epochs")
        where = f"stopped after {run.meta.get('epochs_done') or 0} of {epochs} epochs"
    else:
        where = run.status
    return f"**{text.markdown_escape(run.name)}**{whose}{what} · *{where}*"


def other_runs(run_ids: list[str]) -> list[runs.Run]:
    store = _common.run_store()
    found = []
    for run_id in run_ids:
        try:
            found.append(store.get(run_id))
        except (KeyError, ValueError):
            continue  # Deleted meanwhile.
    return found


def draw_other_trainings(shown: list[runs.Run]) -> None:
    if not shown:
        return
    st.divider()
    st.subheader("Trainings on this server")
    st.caption("They train one after another. One started before the page was reloaded is listed here too: "
               "watch it, but only the browser session that started it can stop it.")
    me = _common.owner()
    for run in shown:
        text_column, button_column = st.columns([4, 1], vertical_alignment="center")
        text_column.markdown(other_training_line(run, me))
        if button_column.button("Watch", key=f"watch_{run.id}", icon=":material/visibility:"):
            st.session_state[WATCHED_RUN_KEY] = run.id
            _common.set_run(run.id)
            st.rerun()


def remember_other_trainings(shown: list[runs.Run]) -> None:
    """Keeps the last few listed trainings, so that one that ends stays listed as finished for this visitor."""
    seen = [run.id for run in shown]
    seen += [run_id for run_id in st.session_state.get(OTHER_RUNS_KEY, []) if run_id not in seen]
    st.session_state[OTHER_RUNS_KEY] = seen[:OTHER_RUNS_REMEMBERED]


def other_trainings() -> None:
    """Trainings queued or running on this server other than the watched one, each of which can be watched,
    and the last few of them that ended since this visitor saw them.

    After a full page reload the browser is a new session: the training it started is found here.
    While anything trains the list follows by itself (places in the queue, epochs, the end); once all is
    quiet it is drawn once and polls nothing.
    """
    watched = st.session_state.get(WATCHED_RUN_KEY)
    active = [run.id for run in _common.run_store().list() if run.status in runs.ACTIVE_STATUSES]
    remembered = [run_id for run_id in st.session_state.get(OTHER_RUNS_KEY, []) if run_id not in active]
    listed = [run_id for run_id in active + remembered if run_id != watched]
    if active or _common.training_queue().active():
        live_other_trainings(listed)
    else:
        draw_other_trainings(other_runs(listed))


@st.fragment(run_every=OTHER_TRAININGS_SECONDS)
def live_other_trainings(listed: list[str]) -> None:
    """Redraws the other trainings every few seconds, with any a classmate queued meanwhile; once none is
    queued or running, draws the whole page once, which stops this fragment.

    Every few seconds is enough for epochs and places in the queue, and costs one small file read per
    training listed: the cores stay with the training.
    """
    watched = st.session_state.get(WATCHED_RUN_KEY)
    queued_here = [status.run_id for status in _common.training_queue().active()]
    run_ids = [run_id for run_id in dict.fromkeys(queued_here + listed) if run_id != watched]
    shown = other_runs(run_ids)
    remember_other_trainings(shown)
    draw_other_trainings(shown)
    if not queued_here and not any(run.status in runs.ACTIVE_STATUSES for run in shown):
        # All ended: the whole page once, which draws the list without this fragment.
        st.rerun(scope="app")


# --- comparing runs --------------------------------------------------------------------------------------------


def compare_runs(dataset_info: datasets.DatasetInfo) -> None:
    """The finished runs of this dataset, their validation curves overlaid on one chart."""
    st.divider()
    st.subheader("Compare runs")
    finished = [run for run in _common.run_store().list()
                if run.dataset == dataset_info.name and run.status in FINISHED_STATUSES
                and (run.meta.get("history") or {}).get("loss")]
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
        histories[label] = run.meta["history"]
    accuracy_column, loss_column = st.columns(2)
    with accuracy_column:
        chart(charts.compare_runs(histories, "accuracy"), key="compare_accuracy")
    with loss_column:
        chart(charts.compare_runs(histories, "loss"), key="compare_loss")
    rows = []
    for label, run_id in zip(histories, chosen):
        run = by_id[run_id]
        rows.append({"Run": label, "Architecture": run.architecture, "Epochs": run.meta.get("epochs_done"),
                     "Test accuracy": None if run.test_accuracy is None else 100 * run.test_accuracy,
                     "Training time": format_duration(run.meta.get("duration"))})
    st.dataframe(rows, hide_index=True,
                 column_config={"Test accuracy": st.column_config.NumberColumn(format="%.1f%%")})


# --- the page --------------------------------------------------------------------------------------------------


def setup_section(dataset_info: datasets.DatasetInfo) -> tuple[architectures.Architecture, dict, dict | None]:
    """The architecture, its settings and its layer table, in a panel that folds away while a training runs."""
    # Both are set before the panel is drawn: Streamlit refuses changes to a widget's state once it is drawn.
    if st.session_state.pop(FOLD_SETUP_KEY, False):
        st.session_state[SETUP_OPEN_KEY] = False
    elif SETUP_OPEN_KEY not in st.session_state and watched_training_is_active():
        # Back from another page while a training runs: its curves matter more than the settings.
        st.session_state[SETUP_OPEN_KEY] = False
    with st.expander("Architecture and settings", expanded=True, key=SETUP_OPEN_KEY, on_change="rerun",
                     icon=":material/tune:"):
        architecture = architecture_choice(dataset_info)
        settings_column, model_column = st.columns([1, 1.12], gap="medium")
        with settings_column:
            with st.container(border=True):
                own_settings = architecture_settings(architecture)
            with st.container(border=True):
                common_settings = training_settings(architecture)
        with model_column.container(border=True):
            st.markdown("**The model**")
            summary = model_table(architecture, dataset_info.name, own_settings)
    return architecture, {**own_settings, **common_settings}, summary


def setup_summary(architecture: architectures.Architecture, settings: dict, summary: dict | None) -> None:
    """One line that says what the Train button will train, readable with the panel folded."""
    parts = [f"**{architecture.title}**"]
    if summary is not None:
        parts.append(f"{summary['total']:,} parameters")
    parts.append(f"{settings['epochs']} epoch{'s' if settings['epochs'] != 1 else ''} of batches of "
                 f"{settings['batch_size']}, {settings['optimizer']} at learning rate {settings['learning_rate']:g}")
    if settings.get(EARLY_STOPPING):
        parts.append(f"early stopping after {settings[EARLY_STOPPING]} epochs without improvement")
    st.markdown(" · ".join(parts), width="stretch")


def train_page() -> None:
    # A link opened in the browser decides the dataset, architecture and settings before any widget is drawn.
    apply_shared_link()
    dataset_info = datasets.get_info(_common.dataset_name())
    available = page_header(dataset_info)
    shared_link_problems()
    architecture, settings, summary = setup_section(dataset_info)
    link = keep_address_in_step(dataset_info.name, architecture.name, settings)
    problem = settings_problem(dataset_info, settings)
    if problem:
        st.error(text.markdown_escape(problem))
    # The popover button keeps the width of its label ("Share this setup" whole at 1024 px); the summary the rest.
    with st.container(horizontal=True, vertical_alignment="center", gap="medium", wrap=False):
        setup_summary(architecture, settings, summary)
        share_setup(link)
    train_button(dataset_info.name, architecture.name, settings, enabled=available and problem is None)
    watched_training()
    other_trainings()
    compare_runs(dataset_info)


train_page()
