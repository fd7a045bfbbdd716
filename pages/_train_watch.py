"""The Train page's view of the training a visitor watches: its place in the queue, then a progress bar with
live loss and accuracy curves and a Stop button, then how it ended and its test scores.

Training never happens in the page's thread: the page reads the training queue's events (`core.jobs`) in a
fragment that reruns once a second. Leaving the page, or reloading it, neither stops nor loses the training.
"""

import streamlit as st

from core import charts, datasets, jobs, overfitting, runs, text
from pages import _common, _teacher

# The run this visitor watches on this page (the last one they started, or one they chose to watch).
WATCHED_RUN_KEY = "train_watched_run"
STOPPING_KEY = "train_stopping"
# The last state (queued, running) the live view saw of each run, to notice when a training starts.
SEEN_STATE_KEY = "train_seen_state"
# How often the live view redraws: several times per epoch on any real dataset, and it leaves the two cores of
# a classroom laptop to the training.
LIVE_SECONDS = 1.0


def stop_button(status: jobs.JobStatus) -> None:
    """Stop, for the student who started the training only (or the teacher)."""
    if not _teacher.is_teacher() and jobs.shared_by_the_class(_common.run_store(), status.run_id):
        st.caption("The class's default digit model, from the Draw page's one click: only the teacher can stop it.")
        return
    if status.owner != _common.owner() and not _teacher.is_teacher():
        st.caption("Only the student who started this training (or the teacher) can stop it.")
        return
    stopping = st.session_state.setdefault(STOPPING_KEY, set())
    finetune = status.kind == "finetune"
    label = "Cancel" if status.state == "queued" else ("Stop learning" if finetune else "Stop training")
    if st.button(label, icon=":material/stop:", key=f"stop_{status.run_id}", disabled=status.run_id in stopping):
        if _common.training_queue().stop(status.run_id, _common.owner(), by_teacher=_teacher.is_teacher()):
            stopping.add(status.run_id)
            st.toast("Stopping at the next batch; no new model is saved." if finetune
                     else "Stopping at the next batch; the run keeps what it has learnt.")
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
    # No time left until the pace after the first batch (which also compiles the model) is measured.
    eta = latest["eta"]
    left = "estimating the time left…" if eta is None else f"about {_common.format_duration(eta)} left"
    label = (f"Epoch {latest['epoch']}/{latest['epochs']} · batch {latest['step']}/{latest['steps']} · "
            f"{latest['images_per_second']:,.0f} images/s · {left}")
    st.progress(min(max(latest["progress"], 0.0), 1.0), text=label)


def live_charts(events, epochs: int | None, key: str) -> None:
    loss_column, accuracy_column = st.columns(2)
    with loss_column:
        _common.chart(charts.training_curves(events, "loss", epochs=epochs), key=f"{key}_loss")
    with accuracy_column:
        _common.chart(charts.training_curves(events, "accuracy", epochs=epochs), key=f"{key}_accuracy")


def what_the_curves_say(history: dict, patience: int = 0, *, one_click: bool = False) -> None:
    """The one sentence under the curves (and, while early stopping watches, how close it is to stopping).
    `one_click`: the Draw page's default digit model, which nobody asked to hold images out."""
    sentence = overfitting.overfitting_sentence(history, hold_out_chosen=not one_click)
    st.markdown(f"**What the curves say:** {sentence}")
    note = overfitting.early_stopping_progress(history, patience)
    if note:
        st.caption(note)


def live_training(run_id: str, name: str, epochs: int | None) -> None:
    """Redraws the progress of a queued or running training every second, and the whole page once at the end.

    Once a second is several times per epoch on any real dataset, and leaves the two cores of a classroom
    laptop to the training.
    """
    status = _common.training_queue().status(run_id)
    if status is None or status.over:
        # The result is saved: draw the whole page once, which shows it and stops this fragment.
        st.rerun(scope="app")
        return
    seen = st.session_state.setdefault(SEEN_STATE_KEY, {})
    # Running once the training itself has begun: the worker writes "running" into run.json, which the sidebar
    # reads, just before its first event, and a few seconds after its process started (TensorFlow, the data).
    phase = "running" if status.start is not None else "queued"
    if seen.setdefault(run_id, phase) != phase:
        # Queued -> running: draw the whole page once more, so that the sidebar says "running" too.
        seen[run_id] = phase
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
    what_the_curves_say(overfitting.history_from_events(status.events), start.get("early_stopping_patience", 0),
                        one_click=jobs.shared_by_the_class(_common.run_store(), run_id))


def outcome_message(run: runs.Run) -> None:
    if run.status == "completed":
        best = run.best_epoch
        early = overfitting.early_stopping_sentence(run.stopped_early)
        took = _common.format_duration(run.duration)
        if early:
            st.success(f"Finished in {took}. {early} The figures below are its "
                       "scores on the test images.", icon=":material/check_circle:")
        else:
            st.success(f"Finished in {took}. The saved model is the best epoch"
                       f"{f' ({best})' if best else ''}, and the figures below are its scores on the test images.",
                       icon=":material/check_circle:")
    elif run.status == "stopped":
        done = run.epochs_done
        epochs = run.epochs
        kept = (f"; the model kept is epoch {run.best_epoch}, the best one." if run.has_model
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
    test = run.test
    figures = {}
    if test:
        figures["Test accuracy"] = f"{charts.percent(test['accuracy'])}"
        figures["Test loss"] = f"{test['loss']:.3f}"
    epochs = run.epochs
    figures["Epochs trained"] = f"{run.epochs_done} of {epochs}"
    figures["Training time"] = _common.format_duration(run.duration)
    for column, (label, value) in zip(st.columns(4), figures.items()):
        column.metric(label, value)


def finished_training(run: runs.Run) -> None:
    """The result of the watched training: how it ended, its test scores, its curves, its classes."""
    st.subheader(f"Result: {text.markdown_escape(run.name)}")
    outcome_message(run)
    scores_on_test_set(run)
    status = _common.training_queue().status(run.id)
    history = run.history
    if status is not None and status.latest_batch is not None:
        # This server trained it: the curves keep the points drawn during each epoch.
        # The axis ends at the last epoch trained: a run that stopped early fills the chart too.
        live_charts(status.events, run.epochs_done or 1, key="final")
    elif history.get("loss"):
        loss_column, accuracy_column = st.columns(2)
        with loss_column:
            _common.chart(charts.history_curves(history, "loss"), key="final_loss")
        with accuracy_column:
            _common.chart(charts.history_curves(history, "accuracy"), key="final_accuracy")
    if history.get("loss"):
        what_the_curves_say(history, one_click=run.one_click)
    test = run.test
    if test.get("per_class_accuracy"):
        info = datasets.get_info(run.dataset)
        _common.chart(charts.per_class_accuracy(info.class_names, test["per_class_accuracy"]), key="per_class")
    if run.has_model:
        results_column, draw_column, _ = st.columns([1.3, 1, 1.2])
        results_column.page_link("pages/results.py", label="See its predictions and mistakes",
                                 icon=":material/analytics:")
        draw_column.page_link("pages/draw.py", label="Draw a digit for it", icon=":material/draw:")


def watch_own_training() -> None:
    """A session that watches nothing yet (a reload, a new tab) watches its student's own training, if one is
    queued or running: the student is their browser (core/students.py), not the page's session."""
    if st.session_state.get(WATCHED_RUN_KEY) is None:
        own = [status for status in _common.training_queue().active(_common.owner()) if status.kind == "train"]
        if own:
            st.session_state[WATCHED_RUN_KEY] = own[0].run_id


def watched_training_is_active() -> bool:
    run_id = st.session_state.get(WATCHED_RUN_KEY)
    status = _common.training_queue().status(run_id) if run_id else None
    return status is not None and not status.over


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
    if status is not None and not status.over:
        # A fragment made at each run of the page, as one defined in the page file would be.
        st.fragment(live_training, run_every=LIVE_SECONDS)(run_id, run.name,
                                                           run.epochs)
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

