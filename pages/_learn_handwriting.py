"""Learn my handwriting, on the Class drawings page: fine-tune the chosen digit model on the class's drawings.

The work is a job (`core.jobs`, kind "finetune", running `core.handwriting.learn_handwriting` in a worker
process): a quarter of each digit's drawings held back, a few epochs on the rest mixed with MNIST digits, a new
run saved. This section submits it for the model being scored, shows its place in the queue and its progress
(a fragment that reruns once a second, as on the Train page), then the accuracy on the held-back drawings before
and after. Nothing is trained in the page's process.
"""

import streamlit as st

from core import class_set, handwriting, runs, text
from pages import _common, _train_watch

# The job this visitor started here: {"from": the model's run id, "new": the new run's id}.
JOB_KEY = "learn_handwriting_job"
EPOCHS_KEY = "learn_handwriting_epochs"
LIVE_SECONDS = 1.0


def _status(run_id: str):
    return _common.training_queue().status(run_id)


def _is_active(run_id: str) -> bool:
    status = _status(run_id)
    return status is not None and not status.over


def _use_run(run_id: str, picker_key: str) -> None:
    _common.set_run(run_id)
    st.session_state[picker_key] = run_id


def learn_section(run: runs.Run, drawings: class_set.ClassSet, count: int, picker_key: str = "") -> None:
    """The section under the chosen model's scores; `count` is how many drawings the class has saved, and
    `picker_key` the key of the page's model picker, which "Use the new model" moves to the new run."""
    st.subheader("Learn this class's handwriting")
    st.markdown(f"Train this model a few epochs more on the class's own drawings. A quarter of each digit's "
                f"drawings is held back to measure it before and after; the model learns from the rest, mixed with "
                f"as many MNIST digits so that it does not forget everyone else. The result is a new model, listed "
                f"with the others; this one stays as it is. It needs at least {handwriting.MIN_DRAWINGS} drawings.")
    if count < handwriting.MIN_DRAWINGS:
        there = f"There is {count} drawing" if count == 1 else f"There are {count} drawings"
        st.info(f"{there}: save at least {handwriting.MIN_DRAWINGS} on the Draw page first.",
                icon=":material/draw:")
        return
    job = st.session_state.get(JOB_KEY)
    if job and job.get("from") != run.id:
        job = None
    busy = bool(job) and _is_active(job["new"])
    epochs = st.slider("Epochs", 1, 20, handwriting.DEFAULT_EPOCHS, key=EPOCHS_KEY, disabled=busy,
                       help="Passes over the class's drawings. More epochs fit the class better, and may make the "
                            "model forget other handwriting.")
    if st.button("Learn the class's handwriting", icon=":material/school:", key="learn_handwriting_button",
                 disabled=busy):
        images, labels = drawings.images_and_labels()
        try:
            new_id = _common.training_queue().submit_finetune(run.id, images, labels, epochs=epochs,
                                                              owner=_common.owner())
        except (ValueError, OSError) as error:
            st.error(f"The model could not learn the class's handwriting: {text.markdown_escape(error)}",
                     icon=":material/error:")
            return
        st.session_state[JOB_KEY] = {"from": run.id, "new": new_id}
        # Drawn again at once, so that the slider and the button are greyed out while it runs.
        st.rerun()
    if not job:
        return
    if busy:
        st.fragment(_live, run_every=LIVE_SECONDS)(job["new"])
        return
    _result(job["new"], picker_key)


def _live(run_id: str) -> None:
    """The job's place in the queue, then its progress bar; the whole page once more when it ends."""
    status = _status(run_id)
    if status is None or status.over:
        st.rerun(scope="app")
        return
    if status.state == "queued":
        _train_watch.queue_place(status)
    else:
        _train_watch.progress_bar(status)
    with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
        _train_watch.stop_button(status)
        st.caption("It learns in a worker process, a few seconds per epoch; you may leave this page meanwhile.",
                   width="content")


def _result(run_id: str, picker_key: str) -> None:
    try:
        new_run = _common.run_store().get(run_id)
    except (KeyError, ValueError, OSError):
        st.info("The model learnt from the class's handwriting has been deleted.")
        st.session_state.pop(JOB_KEY, None)
        return
    status = _status(run_id)
    if new_run.status != "completed":
        problem = new_run.problem or (status.message if status is not None else "") or new_run.status
        if new_run.status in ("stopped", "interrupted"):
            st.warning(text.markdown_escape(problem), icon=":material/stop_circle:")
        elif new_run.status == "failed":
            st.error(text.markdown_escape(problem), icon=":material/error:")
        else:
            st.info(f"**{text.markdown_escape(new_run.name)}** is {new_run.status} on the server.")
        return
    result = new_run.meta.get("handwriting") or {}
    before, after, held = st.columns(3)
    before.metric("Held-back drawings, before", f"{result['before']:.1%}", border=True)
    points = round((result["after"] - result["before"]) * 100, 1)
    # No arrow for no change: Streamlit would draw "+0.0" as a rise.
    after.metric("Held-back drawings, after", f"{result['after']:.1%}", border=True,
                 delta=f"{points:+.1f} points" if points else None)
    held.metric("Drawings held back", f"{result['held_back']:,}", border=True,
                help=f"It learnt from the other {result['learnt_from']:,}.")
    with st.container(horizontal=True, vertical_alignment="center", gap="medium"):
        st.markdown(f"Saved as **{text.markdown_escape(new_run.name)}**, a model of its own "
                    f"({_common.format_duration(new_run.duration)}).", width="content")
        if picker_key:
            st.button("Use the new model", icon=":material/arrow_upward:", key="learn_handwriting_use",
                      on_click=_use_run, args=(run_id, picker_key))
    st.caption("Its score on all the class drawings counts the ones it learnt from too: the held-back drawings "
               "above are the fair test. Draw new digits for it on the Draw page.")
