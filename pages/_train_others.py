"""The Train page's list of the other trainings on this server: each in one line, any of them can be watched.

A training another student started is found here (a student's own is the one their page watches, even after
a reload: see `_train_watch.watch_own_training`). While anything
trains the list follows by itself; once all is quiet it is drawn once and polls nothing.
"""

import streamlit as st

from core import charts, runs, text
from pages import _common, _train_watch

# How often the list of the other trainings on this server redraws itself while anything trains.
OTHER_TRAININGS_SECONDS = 2.0
# The trainings the list showed last, newest first, so that one that ends stays listed as finished.
OTHER_RUNS_KEY = "train_other_runs"
OTHER_RUNS_REMEMBERED = 5


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
    return f"running, epoch {latest['epoch']} of {latest['epochs']} ({charts.percent(latest['progress'])})"


def other_training_line(run: runs.Run, me: str) -> str:
    """"**Bob's CNN** (yours) · CNN on MNIST · *running, epoch 3 of 10 (25%)*": one training in one line, with the
    architecture and dataset in words, as the other pages name them."""
    whose = " (yours)" if run.owner == me else ""
    readable = runs.readable_training(run.architecture, run.dataset)
    # A run named by default is called "<architecture> on <dataset>" (its keys): then the words alone.
    if run.name == f"{run.architecture} on {run.dataset}":
        return f"**{text.markdown_escape(readable)}**{whose} · *{_where(run)}*"
    return f"**{text.markdown_escape(run.name)}**{whose} · {text.markdown_escape(readable)} · *{_where(run)}*"


def _where(run: runs.Run) -> str:
    """How far a listed training got, in words."""
    if run.status in runs.ACTIVE_STATUSES:
        where = progress_summary(run)
    elif run.status == "completed" and run.test_accuracy is not None:
        where = f"finished, {charts.percent(run.test_accuracy)} on the test images"
    elif run.status == "stopped":
        epochs = run.epochs
        where = f"stopped after {run.epochs_done} of {epochs} epochs"
    else:
        where = run.status
    return where


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
    st.caption("They train one after another. Watch any of them; only the student who started one (or the "
               "teacher) can stop it.")
    me = _common.owner()
    for run in shown:
        text_column, button_column = st.columns([4, 1], vertical_alignment="center")
        text_column.markdown(other_training_line(run, me))
        if button_column.button("Watch", key=f"watch_{run.id}", icon=":material/visibility:"):
            st.session_state[_train_watch.WATCHED_RUN_KEY] = run.id
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

    A reload or a new tab is the same student (core/students.py): their own training is the watched one.
    While anything trains the list follows by itself (places in the queue, epochs, the end); once all is
    quiet it is drawn once and polls nothing.
    """
    watched = st.session_state.get(_train_watch.WATCHED_RUN_KEY)
    active = [run.id for run in _common.run_store().list() if run.status in runs.ACTIVE_STATUSES]
    remembered = [run_id for run_id in st.session_state.get(OTHER_RUNS_KEY, []) if run_id not in active]
    listed = [run_id for run_id in active + remembered if run_id != watched]
    if active or _common.training_queue().active():
        # A fragment made at each run of the page, as one defined in the page file would be.
        st.fragment(live_other_trainings, run_every=OTHER_TRAININGS_SECONDS)(listed)
    else:
        draw_other_trainings(other_runs(listed))


def live_other_trainings(listed: list[str]) -> None:
    """Redraws the other trainings every few seconds, with any a classmate queued meanwhile; once none is
    queued or running, draws the whole page once, which stops this fragment.

    Every few seconds is enough for epochs and places in the queue, and costs one small file read per
    training listed: the cores stay with the training.
    """
    watched = st.session_state.get(_train_watch.WATCHED_RUN_KEY)
    queued_here = [status.run_id for status in _common.training_queue().active()]
    run_ids = [run_id for run_id in dict.fromkeys(queued_here + listed) if run_id != watched]
    shown = other_runs(run_ids)
    remember_other_trainings(shown)
    draw_other_trainings(shown)
    if not queued_here and not any(run.status in runs.ACTIVE_STATUSES for run in shown):
        # All ended: the whole page once, which draws the list without this fragment.
        st.rerun(scope="app")

