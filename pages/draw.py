"""Draw page: the student draws a digit and the model reads it, live.

The screen, top to bottom: a model picker (digit models first; a Fashion-MNIST model is allowed and says that
it knows clothes), then the main view, which fits a 1280x900 screen. Left, the 280x280 black canvas with a
white pen, a pen-width slider and a Clear button (or an uploaded picture instead of the canvas). Right, the
model's answer in large type (the `st.metric` labelled "Prediction") with a link to the Inside page, the 28x28
image the model actually received, and the probability of every class as a bar chart.

Below the answer, four tabs for the lesson; only the open one runs (`st.tabs(on_change="rerun")`):
- How it becomes 28 × 28: the stages of the MNIST recipe, and what a naive squeeze gives.
- Bend the drawing: sliders move, turn, resize and thicken the model's input (`core.robustness`), a toggle
  skips the recipe; the bent image, its prediction and probabilities change as a slider is released.
- Every model votes: every compatible trained run reads the same (possibly bent) image (`inference.vote`); a
  table of model, architecture, prediction and confidence, in red the rows that miss.
- Save with its true label: the student picks the digit they meant and saves the MNIST-style image into the
  class's own test set (`core.class_set`), shown on the Class drawings page.

Each mouse release reruns the page. The preprocessing and the prediction take a few milliseconds
(`core.inference`), so the answer appears as soon as the pen is lifted. Every reading is shared with the other
pages (`_common.set_current_drawing`). When no digit model exists yet, one button trains the default digit
model on the offline sample and the page carries on with it.
"""

import hashlib
import time

import numpy as np
import pandas
import plotly.graph_objects as go
import streamlit as st

from core import architectures, class_set, datasets, gallery, inference, preprocess, robustness, runs
from pages import _common, _draw_explain

CANVAS_SIZE = 280
PEN_WIDTH_DEFAULT = 18
CANVAS_KEY = "draw_canvas_generation"
INPUT_KEY = "draw_input"
TRAINING_KEY = "draw_default_training"
EPOCHS_SEEN_KEY = "draw_default_training_epochs"
DRAW_INPUT = "Draw on the canvas"
UPLOAD_INPUT = "Upload a picture"
# The dataset the one-click default digit model learns from: it ships with the app, so it works offline.
DEFAULT_DIGIT_DATASET = "mnist_sample"

# A big answer for the back of the classroom, and crisp pixels for the small images. The canvas toolbar
# (undo, redo, edit, reset) floats over the top right of the drawing area and swallows strokes that start
# there; the page has its own Clear button, so the toolbar is hidden (see hide_canvas_toolbar).
PAGE_STYLE = """
<style>
[data-testid="stMetric"] [data-testid="stMetricValue"] { font-size: 7rem; line-height: 1; }
[data-testid="stMetric"] [data-testid="stMetricLabel"] p { font-size: 1.1rem; }
</style>
"""

# Class names such as "Ankle boot" would be cut off in digit-sized type: they get smaller type that may wrap.
LONG_CLASS_NAME_STYLE = """
<style>
[data-testid="stMetric"] [data-testid="stMetricValue"] { font-size: 3rem; line-height: 1.15; }
[data-testid="stMetric"] [data-testid="stMetricValue"] * { white-space: normal; overflow: visible; }
</style>
"""

# The canvas component draws inside a shadow root, which page CSS cannot reach; this script adds one rule to
# each canvas's shadow root as it appears (a fresh canvas mounts after every Clear).
HIDE_TOOLBAR_SCRIPT = """
<script>
(function () {
  if (window.neuralCanvasToolbarFix) { return; }
  window.neuralCanvasToolbarFix = true;
  function hideToolbars() {
    document.querySelectorAll("*").forEach(function (element) {
      var root = element.shadowRoot;
      if (root && root.querySelector(".dc-root") && !root.querySelector("style[data-neural-canvas]")) {
        var style = document.createElement("style");
        style.setAttribute("data-neural-canvas", "toolbar");
        style.textContent = ".dc-toolbar { display: none !important; }";
        root.appendChild(style);
      }
    });
  }
  // The shadow root is filled after its host joins the page, out of the observer's sight: look again soon
  // after every change, and every half second in case a canvas mounted without any change outside it.
  new MutationObserver(function () {
    setTimeout(hideToolbars, 0);
    setTimeout(hideToolbars, 100);
  }).observe(document.body, { childList: true, subtree: true });
  setInterval(hideToolbars, 500);
  hideToolbars();
})();
</script>
"""


def draw_canvas(stroke_width: int, key: str):
    """The drawing surface; returns its RGBA picture, or None before the first stroke.

    The only call to the canvas component, so that tests can replace it. The package is imported here
    because it registers its component when imported, which needs a running Streamlit.
    """
    from streamlit_drawable_canvas import st_canvas

    result = st_canvas(
        stroke_width=stroke_width,
        stroke_color="#FFFFFF",
        background_color="#000000",
        update_streamlit=True,
        height=CANVAS_SIZE,
        width=CANVAS_SIZE,
        drawing_mode="freedraw",
        return_image_data=True,
        key=key,
    )
    return result.image_data


def hide_canvas_toolbar() -> None:
    st.html(HIDE_TOOLBAR_SCRIPT, unsafe_allow_javascript=True, width="content")


def header() -> None:
    st.title("4 · Draw a digit")
    st.caption("Draw with the mouse (or a finger) on the black square. The model reads it when you lift the pen.")


# --- the model --------------------------------------------------------------------------------------------


def model_choice(candidates: list[runs.Run]) -> runs.Run | None:
    """The model picker, with a word of warning when the chosen model was not trained on digits."""
    run = _common.run_picker(
        candidates, label="Model", key="draw_model",
        help="Only models that read 28x28 grayscale images can read a drawing. Digit models come first.",
    )
    if run is not None and not inference.reads_digits(run):
        title = datasets.get_info(run.dataset).title
        st.info(
            f"This model knows clothes, not digits: it was trained on {title}. Draw a T-shirt, a trouser or a "
            "shoe, or train a digit model to read digits.",
            icon=":material/checkroom:",
        )
    return run


def default_model_trainer() -> None:
    """No digit model yet: one click trains the default one on the offline sample, with its progress."""
    training_run = st.session_state.get(TRAINING_KEY) or _digit_training_in_progress()
    if training_run:
        training_progress(training_run)
        return
    st.info("There is no digit model yet. Train one here in about a minute, or on the Train page.",
            icon=":material/school:")
    if st.button("Train the default digit model (about a minute)", type="primary",
                 icon=":material/model_training:"):
        try:
            run_id = _common.training_queue().submit(
                DEFAULT_DIGIT_DATASET, architectures.DEFAULT_DIGIT_ARCHITECTURE,
                architectures.DEFAULT_DIGIT_HYPERPARAMETERS,
                name="Default digit model", owner=_common.owner(),
            )
        except (ValueError, OSError) as error:
            st.error(f"The training could not start: {error}")
            return
        st.session_state[TRAINING_KEY] = run_id
        st.session_state[EPOCHS_SEEN_KEY] = 0
        st.rerun()


def _digit_training_in_progress() -> str | None:
    """A digit model that this server is training right now (maybe started by someone else), if any."""
    for status in _common.training_queue().active():
        run = _store_run(status.run_id)
        if run is not None and inference.reads_digits(run):
            return status.run_id
    return None


def _store_run(run_id: str) -> runs.Run | None:
    try:
        return _common.run_store().get(run_id)
    except (KeyError, ValueError, OSError):
        return None


@st.fragment(run_every=1)
def training_progress(run_id: str) -> None:
    """The default digit model's training, refreshed every second.

    The whole page reruns after each epoch, because the best epoch so far is saved and can already read
    drawings, and once more at the end.
    """
    status = _common.training_queue().status(run_id)
    if status is None:
        st.session_state.pop(TRAINING_KEY, None)
        st.warning("That training is no longer running (the server restarted). Start it again.")
        return
    if status.state == "finished":
        st.session_state.pop(TRAINING_KEY, None)
        if status.status == "completed":
            _common.set_run(run_id)
            st.rerun(scope="app")
        st.error(f"The digit model did not finish ({status.status}). {status.message} Try again, or train one "
                 "on the Train page.")
        return
    epochs_done = len(status.epochs)
    if epochs_done > st.session_state.get(EPOCHS_SEEN_KEY, 0):
        st.session_state[EPOCHS_SEEN_KEY] = epochs_done
        _common.set_run(run_id)
        st.rerun(scope="app")
    batch = status.latest_batch
    if status.state == "queued" or batch is None:
        waiting = f" (number {status.queue_position} in the queue)" if status.queue_position else ""
        st.progress(0.0, text=f"Training the default digit model: starting{waiting}…")
        return
    accuracy = f" · accuracy {batch['accuracy']:.0%}" if batch.get("accuracy") is not None else ""
    st.progress(
        min(1.0, batch["progress"]),
        text=f"Training the default digit model: epoch {batch['epoch']} of {batch['epochs']}{accuracy} · "
             f"{_time_left(batch['eta'])}",
    )
    if epochs_done:
        st.caption("You can draw already: the model below is the best epoch so far, and it improves after each "
                   "epoch.")


def _time_left(seconds: float) -> str:
    if seconds < 90:
        return f"about {seconds:.0f} s left"
    return f"about {seconds / 60:.0f} min left"


def load_predictor(run: runs.Run) -> inference.Predictor | None:
    try:
        with st.spinner("Loading the model…"):
            return inference.get_predictor(_common.run_store(), run.id)
    except (KeyError, OSError, ValueError) as error:
        st.error(f"This model cannot be loaded ({error}). Choose another one, or train it again.")
        return None


# --- the input: canvas or uploaded picture ----------------------------------------------------------------


def input_choice() -> str:
    return st.radio("Input", [DRAW_INPUT, UPLOAD_INPUT], key=INPUT_KEY, horizontal=True,
                    label_visibility="collapsed")


def drawing():
    """The canvas with its pen-width slider and Clear button; returns the canvas picture (or None)."""
    generation = st.session_state.setdefault(CANVAS_KEY, 0)
    pen_width = st.session_state.get("draw_pen_width", PEN_WIDTH_DEFAULT)
    picture = draw_canvas(pen_width, key=f"draw_canvas_{generation}")
    slider_column, button_column = st.columns([3, 2], vertical_alignment="bottom")
    slider_column.slider("Pen width", min_value=5, max_value=40, value=PEN_WIDTH_DEFAULT, key="draw_pen_width")
    if button_column.button("Clear", icon=":material/delete:", width="stretch"):
        # The canvas cannot be emptied from Python: a new key mounts a fresh, empty one.
        st.session_state[CANVAS_KEY] = generation + 1
        st.rerun()
    return picture


def uploaded_picture():
    """A picture file chosen by the student, decoded safely; None (with a message) when there is none."""
    upload = st.file_uploader("A picture of a digit", type=["png", "jpg", "jpeg", "gif", "webp"],
                              max_upload_size=20, key="draw_upload")
    if upload is None:
        return None
    try:
        picture = inference.load_image_file(upload.getvalue())
    except ValueError as error:
        st.error(str(error))
        return None
    st.image(picture, width=CANVAS_SIZE, caption=upload.name)
    return picture


# --- the answer -------------------------------------------------------------------------------------------


def prediction(reading: inference.Reading, class_names: tuple[str, ...]) -> None:
    """The predicted class in large type and how sure the model is."""
    predicted = reading.predicted_class
    if len(class_names[predicted]) > 2:
        st.markdown(LONG_CLASS_NAME_STYLE, unsafe_allow_html=True)
    st.metric("Prediction", class_names[predicted], delta=f"{reading.confidence:.0%} sure", delta_color="off",
              delta_arrow="off")


def probability_chart(probabilities, class_names, predicted: int, key: str = "draw_probabilities") -> None:
    colours = ["#ff4b4b" if index == predicted else "#9aa5b8" for index in range(len(class_names))]
    figure = go.Figure(go.Bar(
        x=[float(value) for value in probabilities], y=list(class_names), orientation="h",
        marker_color=colours, text=[f"{value:.0%}" for value in probabilities], textposition="outside",
        cliponaxis=False, hovertemplate="%{y}: %{x:.1%}<extra></extra>",
    ))
    figure.update_layout(
        height=300, margin=dict(l=10, r=40, t=30, b=10), showlegend=False,
        title=dict(text="Probability of each class", font=dict(size=15)),
        xaxis=dict(range=[0, 1.05], tickformat=".0%", showgrid=True),
        yaxis=dict(autorange="reversed", type="category", tickfont=dict(size=15)),
    )
    st.plotly_chart(figure, width="stretch", config={"displayModeBar": False}, key=key)


def model_view(reading: inference.Reading) -> None:
    """The 28x28 image the model received, big and crisp."""
    st.markdown("**What the model sees**")
    st.image(gallery.enlarge(reading.preprocessed.image[None], 168)[0], width=168,
             caption="28 × 28 pixels, as the model received them",
             alt="The 28 by 28 pixel image given to the model")


def answer(predictor, picture, source: str, class_names: tuple[str, ...]) -> inference.Reading | None:
    """The model's reading of the picture, or a message saying what to do first; returns the reading."""
    if predictor is None:
        st.info("Draw a digit once there is a model to read it (see above).", icon=":material/draw:")
        return None
    if picture is None:
        message = "Draw a digit on the canvas." if source == DRAW_INPUT else "Upload a picture of a digit."
        st.info(message, icon=":material/draw:")
        return None
    try:
        reading = inference.read_picture(predictor, picture)
    except ValueError as error:
        st.error(str(error))
        return None
    if reading.is_blank:
        st.info(reading.preprocessed.message, icon=":material/draw:")
        return None
    metric_column, view_column = st.columns(2)
    with metric_column:
        prediction(reading, class_names)
        st.page_link("pages/inside.py", label="See inside the network", icon=":material/visibility:")
    with view_column:
        model_view(reading)
    probability_chart(reading.probabilities, class_names, reading.predicted_class)
    return reading


# --- below the answer: four tabs, each computed only while it is open ---------------------------------------

TAB_KEY = "draw_tab"
OPEN_TAB_KEY = "draw_open_tab"
RECIPE_TAB = ":material/transform: How it becomes 28 × 28"
BEND_TAB = ":material/tune: Bend the drawing"
VOTES_TAB = ":material/how_to_vote: Every model votes"
SAVE_TAB = ":material/bookmark_add: Save with its true label"
WHY_TAB = ":material/psychology_alt: Why?"

# The robustness sliders: session-state key, label, default, range, step, format and help. Their values
# are kept while another tab is open (persist_state), because the votes are cast on the bent drawing too.
BEND_SLIDERS = {
    "shift_x": ("draw_bend_shift_x", "Move right (pixels)", 0, -robustness.MAX_SHIFT, robustness.MAX_SHIFT, 1,
                "%d px", "Negative values move the digit to the left."),
    "shift_y": ("draw_bend_shift_y", "Move down (pixels)", 0, -robustness.MAX_SHIFT, robustness.MAX_SHIFT, 1,
                "%d px", "Negative values move the digit up."),
    "rotation": ("draw_bend_rotation", "Turn (degrees, anticlockwise)", 0, -int(robustness.MAX_ROTATION),
                 int(robustness.MAX_ROTATION), 5, "%d°", "Negative values turn the digit clockwise."),
    "scale": ("draw_bend_scale", "Size", 1.0, robustness.MIN_SCALE, robustness.MAX_SCALE, 0.05, "%.2f×",
              "1× is the size the MNIST recipe gives every digit: about 20 pixels tall."),
    "thickness": ("draw_bend_thickness", "Stroke: thinner or thicker (pixels)", 0.0, robustness.MIN_THICKNESS,
                  robustness.MAX_THICKNESS, 0.5, "%+.1f px", "Pixels added to each side of every stroke."),
}
NAIVE_KEY = "draw_bend_naive"
SAVED_KEY = "draw_saved_drawing"
SAVE_ERROR_KEY = "draw_save_error"


def current_transform() -> robustness.Transform:
    """The bend the sliders ask for (nothing bent when the Bend tab has never been opened)."""
    values = {name: st.session_state.get(spec[0], spec[2]) for name, spec in BEND_SLIDERS.items()}
    try:
        return robustness.Transform(**values)
    except ValueError:
        return robustness.Transform()


def reset_bend() -> None:
    """Puts every slider back to "as drawn" (a callback: it runs before the sliders are drawn again)."""
    for key, _, default, *_ in BEND_SLIDERS.values():
        st.session_state[key] = default
    st.session_state[NAIVE_KEY] = False


def model_input(reading: inference.Reading, picture) -> tuple[np.ndarray, str, bool]:
    """The image the Bend and Votes tabs give the models, words saying what was done to it, and whether
    anything was (the naive toggle and the sliders are shared by both tabs)."""
    naive = bool(st.session_state.get(NAIVE_KEY, False))
    transform = current_transform()
    image, words = robustness.model_input(reading.preprocessed.image, picture, transform, naive=naive)
    return image, words, naive or not transform.is_identity


def below_the_answer(reading: inference.Reading, predictor, picture, chosen: runs.Run,
                     class_names: tuple[str, ...]) -> None:
    """Four tabs for the lesson; only the open one runs, so the answer itself stays as fast as before."""
    # The tabs vanish while the canvas is blank (after Clear), and Streamlit forgets a widget it did not draw:
    # the tab a student had open comes back with the next drawing.
    if TAB_KEY not in st.session_state and st.session_state.get(OPEN_TAB_KEY):
        st.session_state[TAB_KEY] = st.session_state[OPEN_TAB_KEY]
    recipe_tab, bend_tab, votes_tab, why_tab, save_tab = st.tabs(
        [RECIPE_TAB, BEND_TAB, VOTES_TAB, WHY_TAB, SAVE_TAB], key=TAB_KEY, on_change="rerun")
    st.session_state[OPEN_TAB_KEY] = st.session_state.get(TAB_KEY)
    if recipe_tab.open:
        with recipe_tab:
            recipe_stages(reading, predictor, picture, class_names)
    if bend_tab.open:
        with bend_tab:
            bend(reading, predictor, picture, class_names)
    if votes_tab.open:
        with votes_tab:
            votes(reading, picture, chosen, class_names)
    if why_tab.open:
        with why_tab:
            _draw_explain.why(reading, predictor, chosen, class_names)
    if save_tab.open:
        with save_tab:
            save_drawing(reading, chosen, class_names)


def recipe_stages(reading: inference.Reading, predictor: inference.Predictor, picture,
                  class_names: tuple[str, ...]) -> None:
    """How the drawing became 28x28 (the MNIST recipe), and what the model makes of it without the recipe."""
    stages = reading.preprocessed.stages
    titles = {"ink": "1 · The ink", "crop": "2 · Cropped", "fit": "3 · Fitted in 20 × 20",
              "centred": "4 · Centred in 28 × 28"}
    columns = st.columns(len(titles) + 1)
    for column, (name, title) in zip(columns, titles.items()):
        if name in stages:
            column.image(gallery.enlarge(stages[name][None], 112)[0], width=112, caption=title)
    squeezed = preprocess.naive_resize(picture)
    squeezed_class = class_names[int(predictor.predict(squeezed).argmax())]
    columns[-1].image(gallery.enlarge(squeezed[None], 112)[0], width=112, caption="Only squeezed")
    st.markdown(
        f"Squeezed to 28 × 28 without cropping and centring (right), the drawing reads as **{squeezed_class}**. "
        "MNIST digits were cropped, fitted in 20 × 20 and centred by their centre of mass; a drawing "
        "prepared the same way is what the model knows how to read. Try it in *Bend the drawing*."
    )


def bend(reading: inference.Reading, predictor, picture, class_names: tuple[str, ...]) -> None:
    """The robustness sliders, the bent image, and what the chosen model makes of it."""
    slider_column, image_column, chart_column = st.columns([5, 3, 5], gap="medium")
    with slider_column:
        for key, label, default, low, high, step, number_format, help_text in BEND_SLIDERS.values():
            st.session_state.setdefault(key, default)
            st.slider(label, min_value=low, max_value=high, step=step, format=number_format, key=key,
                      help=help_text, persist_state="page")
        st.session_state.setdefault(NAIVE_KEY, False)
        st.toggle("Naive resize: skip the MNIST recipe", key=NAIVE_KEY, persist_state="page",
                  help="Squeeze the whole canvas into 28 × 28 without cropping, fitting and centring.")
        st.button("Reset", icon=":material/restart_alt:", on_click=reset_bend, key="draw_bend_reset")
    image, words, changed = model_input(reading, picture)
    probabilities = predictor.predict(image)
    predicted = int(np.argmax(probabilities))
    with image_column:
        st.markdown("**What the model gets**")
        st.image(gallery.enlarge(image[None], 168)[0], width=168, caption=words.capitalize(),
                 alt="The bent 28 by 28 pixel image given to the model")
        st.metric("Bent prediction", class_names[predicted], delta=f"{float(probabilities.max()):.0%} sure",
                  delta_color="off", delta_arrow="off", label_visibility="collapsed")
        before = class_names[reading.predicted_class]
        if not changed:
            st.caption("Move a slider to bend the drawing.")
        elif predicted == reading.predicted_class:
            st.caption(f"Still **{before}**, as before bending.")
        else:
            st.caption(f":red[Changed: it was **{before}** before bending.]")
    with chart_column:
        probability_chart(probabilities, class_names, predicted, key="draw_bent_probabilities")
    st.caption("Move the digit a few pixels and compare the models in *Every model votes*: a dense network "
               "learned where each pixel was and loses a moved digit first; a convolution finds a stroke wherever "
               "it is, so a CNN holds on longer; a CNN trained on moved and turned digits (the Modern CNN, with "
               "data augmentation) holds on longest.")


def votes(reading: inference.Reading, picture, chosen: runs.Run, class_names: tuple[str, ...]) -> None:
    """Every compatible model reads the same image (bent, if the sliders say so): who says what."""
    store = _common.run_store()
    voting_runs, left_out = inference.voters(store.list(), chosen)
    image, words, _ = model_input(reading, picture)
    progress = st.empty()
    started = time.perf_counter()

    def show_progress(done, total):
        # Models already in memory vote in a millisecond: a bar only appears while some have to be loaded.
        if done < total and time.perf_counter() - started > 0.3:
            progress.progress(done / total, text=f"Loading the models: {done} of {total} (only the first time)…")

    all_votes = inference.vote(store, voting_runs, image, on_progress=show_progress)
    progress.empty()
    # What the drawing is: the true label a student picked in the Save tab, else the answer at the top.
    # The Save tab's true label is a digit: it only judges models that read digits.
    true_label = st.session_state.get(true_label_key(reading)) if inference.reads_digits(chosen) else None
    expected = reading.predicted_class if true_label is None else int(true_label)
    reference = "the true label chosen in the Save tab" if true_label is not None else "the answer at the top"

    image_column, summary_column = st.columns([1, 6], gap="medium", vertical_alignment="center")
    image_column.image(gallery.enlarge(image[None], 112)[0], width=112, caption=words.capitalize(),
                       alt="The 28 by 28 pixel image every model reads")
    with summary_column:
        st.markdown("#### " + inference.describe_votes(all_votes, class_names, expected))
        notes = [f"Rows in red do not say {class_names[expected]} ({reference}). Bend the drawing (previous tab) "
                 "and watch which models hold on."]
        if left_out:
            notes.append(f"{len(voting_runs)} models vote, the chosen one and the newest; {left_out} older "
                         f"{'one is' if left_out == 1 else 'ones are'} left out to keep the table quick. Choose "
                         "a model at the top to make it vote.")
        st.caption(" ".join(notes))
    st.dataframe(votes_table(all_votes, expected, chosen, class_names), hide_index=True, width="stretch",
                 column_config={
                     "Model": st.column_config.TextColumn("Model", width=180),
                     "Architecture": st.column_config.TextColumn("Architecture", width=280),
                     "Prediction": st.column_config.TextColumn("Prediction", width=85),
                     "Confidence": st.column_config.ProgressColumn(
                         "Confidence", min_value=0.0, max_value=1.0, format="percent", width=140),
                     "Test accuracy": st.column_config.NumberColumn(
                         "Test accuracy", format="percent", width=105,
                         help="Accuracy on the dataset's test images, measured after training."),
                 })


def votes_table(all_votes, expected: int, chosen, class_names):
    """The votes as a styled table: one row per model, in red the rows that do not say `expected`."""
    rows = pandas.DataFrame([{
        "Model": vote.run.name + ("  ← chosen" if vote.run.id == chosen.id else ""),
        "Architecture": vote.architecture,
        "Prediction": class_names[vote.predicted_class] if vote.predicted_class is not None else vote.error,
        "Confidence": vote.confidence,
        "Test accuracy": vote.run.test_accuracy,
    } for vote in all_votes])
    differs = [vote.predicted_class is not None and vote.predicted_class != expected for vote in all_votes]

    def colour(row):
        style = "background-color: rgba(255, 75, 75, 0.18)" if differs[row.name] else ""
        return [style] * len(row)

    return rows.style.apply(colour, axis=1)


def true_label_key(reading: inference.Reading) -> str:
    """The session key of the Save tab's label choice for this very drawing (a new drawing, a new choice)."""
    return "draw_true_label_" + hashlib.sha1(reading.preprocessed.image.tobytes()).hexdigest()[:16]


def save_drawing(reading: inference.Reading, chosen: runs.Run, class_names: tuple[str, ...]) -> None:
    """Keep the drawing, with the label the student says is true, in the class's own test set."""
    if not inference.reads_digits(chosen):
        st.info("The class drawings are digits. Choose a digit model at the top to save this drawing with its "
                "digit.", icon=":material/info:")
        return
    image = reading.preprocessed.image
    label_key = true_label_key(reading)
    fingerprint = label_key.removeprefix("draw_true_label_")
    image_column, label_column = st.columns([1, 5], gap="medium")
    image_column.image(gallery.enlarge(image[None], 112)[0], width=112, caption="Saved as 28 × 28",
                       alt="The 28 by 28 pixel image that will be saved")
    with label_column:
        # Each new drawing gets a new label choice (its key), starting on what the model said.
        label = st.segmented_control(
            "What digit is it really?", list(range(len(class_names))), default=reading.predicted_class,
            format_func=lambda index: class_names[index], required=True, key=label_key,
            # Kept while another tab is open: the votes are counted against it.
            persist_state="page",
        )
        label = reading.predicted_class if label is None else int(label)
        if label != reading.predicted_class:
            st.caption(f"You are correcting the model: it said **{class_names[reading.predicted_class]}**.")
        else:
            st.caption("If the model got it wrong, pick the digit you meant: the class set keeps the truth.")
        saved = st.session_state.get(SAVED_KEY)
        if saved is not None and saved["fingerprint"] != fingerprint:
            saved = None
        if saved is None:
            button_label = "Save to the class drawings"
        elif saved["label"] == label:
            button_label = "Saved"
        else:
            button_label = f"Save as {class_names[label]} instead"
        st.button(button_label, type="primary", icon=":material/bookmark_add:", key="draw_save",
                  disabled=saved is not None and saved["label"] == label,
                  on_click=add_to_class_set, args=(image, label, fingerprint))
        problem = st.session_state.get(SAVE_ERROR_KEY)
        if problem:
            st.error(problem, icon=":material/error:")
        elif saved is not None:
            count = saved["count"]
            st.success(f"Saved as a **{class_names[saved['label']]}**. The class set now holds {count} "
                       f"drawing{'s' if count != 1 else ''}.", icon=":material/check:")
        st.page_link("pages/class_set.py", label="See the class drawings", icon=":material/groups:")
        st.caption("The drawing is saved as the MNIST recipe prepares it (28 × 28, centred), not bent by the "
                   "sliders.")


def add_to_class_set(image, label: int, fingerprint: str) -> None:
    """The Save button's callback: adds the drawing, or replaces this drawing's earlier save with a new label.

    It runs before the page is drawn again, so the page already shows the drawing as saved (and the button
    disabled, so that a double click saves once). What happened is kept in the session for the page to say.
    """
    st.session_state.pop(SAVE_ERROR_KEY, None)
    earlier = st.session_state.get(SAVED_KEY)
    try:
        drawings = class_set.ClassSet()
        drawing_id = drawings.add(image, label)
        if earlier is not None and earlier["fingerprint"] == fingerprint:
            # The student changed their mind about this very drawing: keep one copy, with the new label.
            drawings.remove(earlier["id"])
        count = len(drawings)
    except (ValueError, OSError) as error:
        # The class set's messages already say what to do (a full set, an unwritable folder).
        st.session_state[SAVE_ERROR_KEY] = f"The drawing could not be saved. {error}"
        return
    st.session_state[SAVED_KEY] = {"fingerprint": fingerprint, "label": label, "id": drawing_id, "count": count}


# --- the screen -------------------------------------------------------------------------------------------

st.markdown(PAGE_STYLE, unsafe_allow_html=True)
header()

store = _common.run_store()
candidates = inference.compatible_runs(store.list())
if st.session_state.get(TRAINING_KEY) or not any(inference.reads_digits(run) for run in candidates):
    default_model_trainer()
chosen = model_choice(candidates) if candidates else None
predictor = load_predictor(chosen) if chosen is not None else None
class_names = datasets.get_info(chosen.dataset).class_names if chosen is not None else ()

input_column, answer_column = st.columns([2, 3], gap="medium")
with input_column:
    source = input_choice()
    if source == DRAW_INPUT:
        hide_canvas_toolbar()
        picture = drawing()
    else:
        picture = uploaded_picture()

with answer_column:
    reading = answer(predictor, picture, source, class_names)
# The Inside page looks at the drawing the model read last, or says there is none.
_common.set_current_drawing(reading.preprocessed.image if reading is not None else None)
if reading is not None:
    below_the_answer(reading, predictor, picture, chosen, class_names)
