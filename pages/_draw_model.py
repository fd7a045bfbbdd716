"""The Draw page's model: the picker (with a word when the model knows clothes, not digits), loading it, and,
while no default digit model exists, the one-click training of it with its progress.
"""

import functools
import threading
import zlib

import streamlit as st

from core import architectures, charts, datasets, inference, jobs, pen_shift, runs, text
from pages import _common, _draw_state, _presenter

TRAINING_KEY = "draw_default_training"
# Set when the visitor picks a model in the Draw page's list themselves (not when the list starts on one).
MODEL_CHOSEN_KEY = "draw_model_chosen"
EPOCHS_SEEN_KEY = "draw_default_training_epochs"
# The last default training this page showed the progress of (once it has finished, its place above the canvas
# says what came of it).
WATCHED_KEY = _draw_state.WATCHED_TRAINING_KEY
PROGRESS_SECONDS = 2
# How often a page that offers the one click looks for someone else's training or a first model.
WATCH_SECONDS = 3
# One check-then-submit at a time in this server: every visitor's session is a thread of the same process.
_SUBMIT_LOCK = threading.Lock()
# The dataset the one-click default digit model learns from: it ships with the app, so it works offline.
DEFAULT_DIGIT_DATASET = architectures.DEFAULT_DIGIT_DATASET


def model_choice(candidates: list[runs.Run]) -> runs.Run | None:
    """The model picker, with a word of warning when the chosen model was not trained on digits."""
    # The select box shows the label it was given when the choice was made, and would keep showing
    # "running" after the training has finished: a key that follows the labels redraws it when one changes.
    labels = zlib.crc32("|".join(run.label for run in candidates).encode())
    run = _common.run_picker(
        candidates, label="Model", key=f"draw_model_{labels:08x}",
        help="Each model starts with its accuracy on test images it never saw in training. Only models that read "
             "28x28 grayscale images can read a drawing. Digit models come first.",
        on_change=_model_chosen,
    )
    if run is not None and not inference.reads_digits(run):
        if _presenter.enabled():
            # One plain line on a projector, where the canvas and the answer need the height (the picker above
            # names the dataset); smaller on a phone, where it takes three lines.
            st.html("<style>@media (max-width: 640px) { .st-key-draw_clothes_note p { font-size: 0.95rem "
                    "!important; } }</style>")
            with st.container(key="draw_clothes_note"):
                st.markdown(":material/checkroom: This model knows clothes, not digits: draw a T-shirt, a trouser "
                            "or a shoe, and fill it in.")
        else:
            title = datasets.get_info(run.dataset).title
            # Its photos are solid shapes on black: an outline reads as something else.
            st.info(f"This model knows clothes, not digits: it was trained on {title}. Draw a T-shirt, a trouser "
                    "or a shoe and fill it in (its photos are solid shapes), or train a digit model to read digits.",
                    icon=":material/checkroom:")
    return run


def _model_chosen() -> None:
    st.session_state[MODEL_CHOSEN_KEY] = True


def is_default_digit_model(run: runs.Run) -> bool:
    """A finished model trained as the one click trains it: the default settings, to the last epoch (whoever
    started it: the one click, or the same settings on the Train page; a model trained before the one click marked
    its runs counts too). One stopped early (by the teacher, by the time limit), still training, fine-tuned on other
    images or imported does not: the offer stays."""
    return (has_the_default_settings(run) and run.has_model and run.status == "completed"
            and run.fine_tuned_from is None and not run.imported)


def trains_as_the_one_click(run: runs.Run) -> bool:
    """A training the one click started (its run.json says so: no setting of the Train page can), with its current
    settings: every visitor's page shows its progress and may follow it. Another training, even with the same
    settings (a student's copy of them on the Train page, which they could stop after an epoch), is not followed."""
    return run.one_click and has_the_default_settings(run)


def has_the_default_settings(run: runs.Run) -> bool:
    """The one click's architecture and settings (any seed), on the MNIST sample and the training writers' pen
    digits."""
    if run.dataset != DEFAULT_DIGIT_DATASET or run.architecture != architectures.DEFAULT_DIGIT_ARCHITECTURE:
        return False
    return _without_seed(run.hyperparameters) == _default_settings()


@functools.cache
def _default_settings() -> dict:
    """The one click's settings, resolved as a run records them, without the seed (read only)."""
    return _without_seed(architectures.resolve_hyperparameters(architectures.DEFAULT_DIGIT_ARCHITECTURE,
                                                               architectures.DEFAULT_DIGIT_HYPERPARAMETERS))


def _without_seed(hyperparameters: dict) -> dict:
    return {name: value for name, value in hyperparameters.items() if name != "seed"}


def default_model_trainer(*, has_model: bool = False, has_digit_model: bool = False) -> bool:
    """No default digit model yet: one click trains it on data that ships with the app, with its progress.

    `has_model`: the page has a model to draw with (clothes, say); `has_digit_model`: one that reads digits. With a
    digit model, or on a projector, the offer is one short row (the button and a few words beside it); otherwise a
    primary button above a line that explains it, the shape of the progress bar and its line that replace them (the
    canvas under them does not move at the click). See also `watch_for_models`.

    Returns whether it shows a training's progress (the page then keeps the model list's place for its model).
    """
    # On a projector the offer is one row beside the title: the canvas needs the height.
    compact = _presenter.enabled()
    training_run = st.session_state.get(TRAINING_KEY) or digit_training_in_progress()
    if training_run and _common.training_queue().status(training_run) is None:
        # The queue no longer knows it (the server restarted, or its run was deleted): the offer is back.
        st.session_state.pop(TRAINING_KEY, None)
        st.warning("That training is no longer running (the server restarted, or it was deleted). Start it again.")
        training_run = None
    if training_run:
        training_progress(training_run, has_model)
        return True
    watch_for_models(has_model)
    unfinished_training_notice()
    label = "Train the default digit model (about a minute)"
    # Ready before the click: the check of the model's size then takes no time (TensorFlow loads meanwhile).
    jobs.count_parameters_ahead(DEFAULT_DIGIT_DATASET, architectures.DEFAULT_DIGIT_ARCHITECTURE,
                                architectures.DEFAULT_DIGIT_HYPERPARAMETERS)
    if has_digit_model or compact:
        # One short row: a class that already has a model should still see the canvas on the first screen. The
        # button as wide as its whole label, the words beside it take the rest (on a phone, below it).
        # (A phone hides the offer when a digit model exists, not when it is the only way to get one.)
        key = "draw_default_offer" if has_digit_model else "draw_first_digit_offer"
        with st.container(horizontal=True, vertical_alignment="center", gap="medium", key=key):
            # On a projector the row sits beside the title, and its words are hidden: the short label keeps the
            # two on one line when the teacher opens the sidebar (the time goes to the tooltip).
            clicked = st.button("Train the default digit model" if compact else label,
                                type="secondary" if has_digit_model else "primary",
                                icon=":material/model_training:", width="content",
                                help="About a minute on this computer." if compact else None)
            st.caption("It reads people's handwriting best: it learns from MNIST and from digits drawn with a pen "
                       "by 20 people." if has_digit_model else
                       "There is no digit model yet: this one learns from MNIST and from digits drawn with a pen "
                       "by 20 people.", width="stretch")
    else:
        clicked = st.button(label, type="primary", icon=":material/model_training:")
        st.caption("No digit model yet: train this one here, or any on the Train page.")
    if clicked:
        # Students who click at the same moment get one training, which all of them watch.
        with _SUBMIT_LOCK:
            run_id = digit_training_in_progress()
            if run_id is None:
                try:
                    run_id = _common.training_queue().submit(
                        DEFAULT_DIGIT_DATASET, architectures.DEFAULT_DIGIT_ARCHITECTURE,
                        architectures.DEFAULT_DIGIT_HYPERPARAMETERS,
                        name="Default digit model", owner=_common.owner(),
                    )
                except (ValueError, OSError) as error:
                    st.error(f"The training could not start: {text.markdown_escape(error)}")
                    return False
                try:
                    # What makes it the class's default model, which every visitor's page follows.
                    _common.run_store().update(run_id, one_click=True)
                except (ValueError, OSError):
                    pass  # It trains all the same; this page follows it, and the others keep their offer.
        st.session_state[TRAINING_KEY] = run_id
        st.rerun()
    return False


def unfinished_training_notice() -> None:
    """Once the default training this page watched has been stopped (by the teacher) or has failed: says why, once,
    in a toast beside the offer that is back. A page that followed the training no longer keeps its unfinished
    model: the list starts again on the class's best."""
    watched = st.session_state.pop(WATCHED_KEY, None)
    status = _common.training_queue().status(watched) if watched else None
    if status is None or not status.over or status.status == "completed":
        return
    if _common.run_id() == watched:
        _common.set_run(None)
    # A toast: a message in the page would move the canvas (below a projector's screen, beside the title).
    why = text.markdown_escape(status.message) if status.message else f"it {status.status}."
    st.toast(f"The default digit model did not finish: {why}", icon=":material/stop_circle:", duration="long")


def digit_training_in_progress() -> str | None:
    """A default digit model that this server is training right now (maybe started by someone else), if any.

    Not one that has sent its end event and whose process is only exiting: that one is a finished model.
    """
    for status in _common.training_queue().active():
        run = _store_run(status.run_id)
        if run is not None and trains_as_the_one_click(run) and not status.over:
            return status.run_id
    return None


def watch_for_models(has_model: bool) -> None:
    """While the page offers the one click, it notices what other visitors do without waiting for its own next
    rerun: someone else's one click (its progress appears, and the page follows it as `training_progress` says),
    and, on a page with nothing to draw with yet, the first model saved by anyone (a training on the Train page
    after its first epoch, an import). A student who opened the page before the teacher clicked is not left with
    an offer of a training that is already running, or an empty page beside a class that draws."""
    with st.container(key="draw_watch_models"):
        _rerun_on_change(_what_the_page_shows(has_model), has_model)


@st.fragment(run_every=WATCH_SECONDS)
def _rerun_on_change(shown: tuple, has_model: bool) -> None:
    # (A fragment's later runs get the arguments of the page's run that drew it: `shown` is what the page shows.)
    if _what_the_page_shows(has_model) != shown:
        st.rerun(scope="app")


def _what_the_page_shows(has_model: bool) -> tuple:
    """What other visitors can change on a page that offers the one click: whether a one click is training and,
    without a model to draw with, which runs have a model. (The folders' names only: cheap enough for every
    visitor's page every few seconds.)"""
    training = digit_training_in_progress()
    if has_model:
        return (training,)
    try:
        saved = frozenset(path.parent.name for path in _common.run_store().root.glob("*/model.keras")
                          if not path.parent.name.startswith("."))
    except OSError:
        saved = frozenset()
    return training, saved


def _store_run(run_id: str) -> runs.Run | None:
    try:
        return _common.run_store().get(run_id)
    except (KeyError, ValueError, OSError):
        return None


@st.fragment(run_every=PROGRESS_SECONDS)
def training_progress(run_id: str, has_model: bool = False) -> None:
    """The default digit model's training, refreshed every `PROGRESS_SECONDS`. `has_model`: the page has models to
    draw with besides it.

    The whole page reruns when the first epoch's model is saved (from then on there is a model to draw with) and
    at the end. In between it reruns after an epoch only while a drawing is on the canvas, so that its answer follows
    the improving model: a rerun loads the new model in the server, and on a two-core machine that time comes out
    of the training. (A page with no drawing would show nothing new; its next drawing reads the latest epoch.)
    """
    status = _common.training_queue().status(run_id)
    if status is None:
        # Forgotten by the queue since the page drew it: the page's next run says so and offers the click again.
        st.session_state.pop(TRAINING_KEY, None)
        st.rerun(scope="app")
    # Who clicked, a visitor who has no model yet or chose this one, and one who never picked a model and has
    # nothing on the canvas follow the training: the page switches to its model as soon as there is one. Whoever
    # picked another model, or is drawing for the one they have, keeps it (a student drawing a T-shirt for the
    # clothes model is not switched to digits by someone else's click); the new model waits in their list.
    follows = (st.session_state.get(TRAINING_KEY) == run_id or _common.run_id() in (None, run_id)
               or not (st.session_state.get(MODEL_CHOSEN_KEY) or _common.current_drawing() is not None))
    # Done as soon as the run says so (its model, test and pen scores are saved before its "end" event), not only
    # once its worker process has exited, a second or two later.
    st.session_state[WATCHED_KEY] = run_id
    if status.over:
        # Completed: the page carries on with the new model. Stopped or failed: the page offers the one click again
        # and says why (`unfinished_training_notice`).
        st.session_state.pop(TRAINING_KEY, None)
        if status.status == "completed" and follows:
            _common.set_run(run_id)
        st.rerun(scope="app")
    epochs_done = len(status.epochs)
    # Per run: a visitor who watched one training and later sees another (started by anyone) starts from zero.
    seen = st.session_state.setdefault(EPOCHS_SEEN_KEY, {})
    epochs_seen = seen.get(run_id, 0)
    # The epoch's event comes just before its model is saved: the first rerun waits for the file.
    model_saved = epochs_done > epochs_seen == 0 and (run := _store_run(run_id)) is not None and run.has_model
    # (One who keeps another model reruns once, for the new model in the list: later epochs change nothing there.)
    if page_needs_rerun(epochs_done, epochs_seen, drawing_on_canvas=follows and _common.current_drawing() is not None,
                        model_saved=model_saved):
        seen[run_id] = epochs_done
        if follows:
            _common.set_run(run_id)
        st.rerun(scope="app")
    st.progress(*progress_line(status, epochs_done, short=_presenter.enabled(), in_list=not follows))
    # Always one line under the bar, from the click to the end and after it (`finished_training`): the canvas
    # below keeps its place while a student draws. (Its model file comes a moment after the epoch's event.)
    its_model_saved = epochs_done and (model_saved or epochs_seen > 0 or ((run := _store_run(run_id)) is not None
                                                                            and run.has_model))
    if its_model_saved and epochs_done >= (status.latest_batch or {}).get("epochs", epochs_done + 1):
        st.caption("Trained: the model below is the final one; its test scores come in a few seconds.")
    elif its_model_saved and follows:
        st.caption("You can draw already: the model below improves after each epoch.")
    elif its_model_saved:
        st.caption("You can draw with it already: choose it in the list below. It improves each epoch.")
    elif follows and not has_model:
        st.caption("A model to draw with comes after the first epoch: the list below shows it then.")
    else:
        st.caption("Its model comes into the list below after the first epoch.")


def finished_training() -> None:
    """Where the progress was, once the default training this page watched has finished: what came of it, in the
    same two lines (a full bar and a caption), so that the canvas under them does not move at the end. Nothing for
    a page that did not watch it, or when it did not finish (the offer is back then), or once the visitor has left
    the page after seeing it (`_draw_state.before_run`)."""
    run_id = st.session_state.get(WATCHED_KEY)
    run = _store_run(run_id) if run_id else None
    if run is None or not is_default_digit_model(run):
        return
    # (A run.json whose scores are not fractions is damaged, and no default model: `runs.RUN_SCHEMA`.)
    accuracy = run.test_accuracy
    pen = pen_shift.summary_of(run.meta)
    scores = []
    if accuracy is not None:
        scores.append(f"{charts.percent(accuracy)} of MNIST test digits")
    if pen is not None:
        scores.append(f"{charts.percent(pen['accuracy'])} of new writers' digits")
    if _presenter.enabled():
        words = f"Digit model ready · {charts.percent(accuracy)} right" if accuracy is not None else "Digit model ready"
    else:
        # (One line at 1024 px with the sidebar open, two on a phone: as short as the training's own line.)
        words = "Digit model ready" + (f": it reads {', '.join(scores)}." if scores else ".")
    st.progress(1.0, words)
    st.session_state[_draw_state.READY_SHOWN_KEY] = run_id
    # (Not "every page starts with it": a list starts on the class's most accurate model, which may be another.)
    st.caption("It is the class's default digit model now, in every visitor's list of models.")


def progress_line(status: jobs.JobStatus, epochs_done: int, *, short: bool = False,
                  in_list: bool = False) -> tuple[float, str]:
    """The progress bar's share and words. `short`: one line beside the page's title on a projector, so that the
    canvas under it does not move as the words change (and without the caption under it, so `in_list` says in
    the line itself that the model waits in the visitor's list)."""
    batch = status.latest_batch
    if status.state == "queued" or batch is None:
        waiting = f" (number {status.queue_position} in the queue)" if status.queue_position else ""
        return 0.0, f"{'Digit model' if short else 'Training the default digit model'}: starting{waiting}…"
    if epochs_done >= batch["epochs"]:
        if short:
            return 1.0, "Trained: now testing it (a few seconds)…"
        return 1.0, "Trained: now testing it on digits it never saw (a few seconds)…"
    known = batch.get("accuracy") is not None
    accuracy = f" · accuracy {charts.percent(batch['accuracy'])}" if known else ""
    if short:
        accuracy = f" · {charts.percent(batch['accuracy'])} right" if known else ""
        time_left = "…" if batch["eta"] is None else _time_left(batch["eta"]).removeprefix("about ")
        subject = "In your model list" if in_list and epochs_done else "Digit model"
        return min(1.0, batch["progress"]), (f"{subject}: epoch {batch['epoch']} of {batch['epochs']}{accuracy} · "
                                             f"{time_left}")
    return min(1.0, batch["progress"]), (f"Training the default digit model: epoch {batch['epoch']} of "
                                         f"{batch['epochs']}{accuracy} · {_time_left(batch['eta'])}")


def page_needs_rerun(epochs_done: int, epochs_seen: int, *, drawing_on_canvas: bool, model_saved: bool) -> bool:
    """After a new epoch: the first time once its model is saved (the page gets a model to draw with), then only
    when a drawing's answer would change."""
    if epochs_done <= epochs_seen:
        return False
    return model_saved if epochs_seen == 0 else drawing_on_canvas


def _time_left(seconds: float | None) -> str:
    if seconds is None:
        return "estimating time left…"
    if seconds < 5:
        return "almost done"
    if seconds < 90:
        return f"about {seconds:.0f} s left"
    return f"about {seconds / 60:.0f} min left"


def waiting_model_picker(*, training: bool) -> None:
    """The model list's place while the page has no model yet: the same list, empty and disabled, so that the
    canvas under it stays where it is when the one click starts and when the first epoch's model arrives."""
    st.selectbox("Model", [], index=None, disabled=True, key="draw_model_waiting",
                 placeholder="The default digit model, after its first epoch…" if training else
                 "None yet: the button above trains one",
                 help="The default digit model comes here after its first epoch, and improves after each one."
                 if training else "Models trained here or on the Train page come here.")


def load_predictor(run: runs.Run) -> inference.Predictor | None:
    try:
        with st.spinner("Loading the model…"):
            return inference.get_predictor(_common.run_store(), run.id)
    except (KeyError, OSError, ValueError) as error:
        st.error(f"This model cannot be loaded ({text.markdown_escape(error)}). Choose another one, or train it again.")
        return None

