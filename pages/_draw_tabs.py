"""The Draw page's five tabs below the answer; only the open one runs (`st.tabs(on_change="rerun")`).

- How it becomes 28 × 28: the stages of the MNIST recipe, and what a naive squeeze gives.
- Bend the drawing: sliders move, turn, resize and thicken the model's input (`core.robustness`).
- Every model votes: every compatible trained run reads the same (possibly bent) image (`inference.vote`).
- Why?: where the model looks, covering a place, fooling it, the map (`_draw_explain`).
- Save with its true label: see `_draw_save`.
"""

import time

import numpy as np
import pandas
import streamlit as st

from core import charts, gallery, inference, preprocess, robustness, runs
from pages import _common, _draw_answer, _draw_explain, _draw_save

TAB_KEY = "draw_tab"
OPEN_TAB_KEY = "draw_open_tab"
RECIPE_TAB = ":material/transform: How it becomes 28 × 28"
BEND_TAB = ":material/tune: Bend the drawing"
VOTES_TAB = ":material/how_to_vote: Every model votes"
SAVE_TAB = ":material/bookmark_add: Save with its true label"
WHY_TAB = ":material/psychology_alt: Why?"
NAIVE_KEY = "draw_bend_naive"

# The robustness sliders: session-state key, label, default, range, step, format and help. Their values
# are kept while another tab is open (persist_state), because the votes are cast on the bent drawing too.
BEND_SLIDERS = {
    "shift_x": ("draw_bend_shift_x", "Move right (pixels)", 0, -robustness.MAX_SHIFT, robustness.MAX_SHIFT, 1,
                "%d px", "Negative values move the drawing to the left."),
    "shift_y": ("draw_bend_shift_y", "Move down (pixels)", 0, -robustness.MAX_SHIFT, robustness.MAX_SHIFT, 1,
                "%d px", "Negative values move the drawing up."),
    "rotation": ("draw_bend_rotation", "Turn (degrees, anticlockwise)", 0, -int(robustness.MAX_ROTATION),
                 int(robustness.MAX_ROTATION), 5, "%d°", "Negative values turn the drawing clockwise."),
    "scale": ("draw_bend_scale", "Size", 1.0, robustness.MIN_SCALE, robustness.MAX_SCALE, 0.05, "%.2f×",
              "1× is the size the MNIST recipe gives every digit: about 20 pixels tall."),
    "thickness": ("draw_bend_thickness", "Stroke: thinner or thicker (pixels)", 0.0, robustness.MIN_THICKNESS,
                  robustness.MAX_THICKNESS, 0.5, "%+.1f px", "Pixels added to each side of every stroke."),
}


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
    """Five tabs for the lesson; only the open one runs, so the answer itself stays as fast as before."""
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
            _draw_save.save_drawing(reading, chosen, class_names)


# The grey around a cropped drawing that is not square: the crop's edges stay visible, the ink stays the brightest.
CROP_MARGIN = 48


def _in_square(image: np.ndarray, side: int, fill: int = 0) -> np.ndarray:
    """`image` centred on a `side` x `side` square (at least its longer side) of grey level `fill`: the fitted
    drawing shown in the 20 x 20 box it fits, or a tall thin crop (a 1) shown whole at the size of the others."""
    height, width = image.shape[:2]
    side = max(side, height, width)
    square = np.full((side, side), fill, dtype=image.dtype)
    top, left = (side - height) // 2, (side - width) // 2
    square[top:top + height, left:left + width] = image
    return square


def recipe_stages(reading: inference.Reading, predictor: inference.Predictor, picture,
                  class_names: tuple[str, ...]) -> None:
    """How the drawing became 28x28 (the MNIST recipe), and what the model makes of it without the recipe."""
    stages = reading.preprocessed.stages
    # (A size is not broken across two lines: no-break spaces around its ×.)
    titles = {"ink": "1 · The ink", "crop": "2 · Cropped", "fit": "3 · Fitted in 20\u00a0×\u00a020",
              "centred": "4 · Centred in 28\u00a0×\u00a028"}
    columns = st.container(key="draw_recipe_steps").columns(len(titles) + 1)
    for column, (name, title) in zip(columns, titles.items()):
        if name in stages:
            # Each stage in a square of the same size; the crop's own box shows against a dark grey margin.
            image = _in_square(stages[name], 20 if name == "fit" else 0, fill=CROP_MARGIN if name == "crop" else 0)
            column.image(gallery.enlarge(image[None], 112)[0], width=112, caption=title)
    squeezed = preprocess.naive_resize(picture)
    squeezed_class = class_names[int(predictor.predict(squeezed).argmax())]
    columns[-1].image(gallery.enlarge(squeezed[None], 112)[0], width=112, caption="Only squeezed")
    st.markdown(
        "Squeezed to 28 × 28 without cropping and centring (*Only squeezed*), the drawing reads as "
        f"**{squeezed_class}**. MNIST digits were cropped, fitted in 20 × 20 and centred by their centre of "
        "mass; a drawing prepared the same way is what the model knows how to read. Try it in *Bend the drawing*."
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
        st.metric("Bent prediction", class_names[predicted], delta=f"{charts.percent(float(probabilities.max()))} sure",
                  delta_color="off", delta_arrow="off", label_visibility="collapsed")
        before = class_names[reading.predicted_class]
        if not changed:
            st.caption("Move a slider to bend the drawing.")
        elif predicted == reading.predicted_class:
            st.caption(f"Still **{before}**, as before bending.")
        else:
            st.caption(f":red[Changed: it was **{before}** before bending.]")
    with chart_column:
        _draw_answer.probability_chart(probabilities, class_names, predicted, key="draw_bent_probabilities")
    st.caption("Move the drawing a few pixels and compare the models in *Every model votes*: a dense network "
               "learned where each pixel was and loses a moved drawing first; a convolution finds a stroke wherever "
               "it is, so a CNN holds on longer; a CNN trained on moved and turned images (the Modern CNN, with "
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
    true_label = st.session_state.get(_draw_save.true_label_key(reading)) if inference.reads_digits(chosen) else None
    expected = reading.predicted_class if true_label is None else int(true_label)
    reference = "the true label chosen in the Save tab" if true_label is not None else "the answer at the top"

    image_column, summary_column = st.columns([1, 6], gap="medium", vertical_alignment="center")
    image_column.image(gallery.enlarge(image[None], 112)[0], width=112, caption=words.capitalize(),
                       alt="The 28 by 28 pixel image every model reads")
    with summary_column:
        # A sentence in body type (its digits in bold): as a heading it was set larger than the answer itself.
        st.markdown(inference.describe_votes(all_votes, class_names, expected))
        notes = [f"Rows in red do not say {class_names[expected]} ({reference}). Bend the drawing (previous tab) "
                 "and watch which models hold on."]
        if left_out:
            notes.append(f"{len(voting_runs)} models vote, the chosen one and the newest; {left_out} older "
                         f"{'one is' if left_out == 1 else 'ones are'} left out to keep the table quick. Choose "
                         "a model at the top to make it vote.")
        st.caption(" ".join(notes))
    st.dataframe(votes_table(all_votes, expected, chosen, class_names), hide_index=True, width="stretch",
                 column_config={
                     # Model and architecture sized to their text ("… ← chosen" was cut at a fixed width).
                     "Model": st.column_config.TextColumn("Model"),
                     "Architecture": st.column_config.TextColumn("Architecture"),
                     "Prediction": st.column_config.TextColumn("Prediction", width=85),
                     # Percentages with one decimal, as everywhere in the app (values are 0-100 here).
                     "Confidence": st.column_config.ProgressColumn(
                         "Confidence", min_value=0.0, max_value=100.0, format="%.1f%%", width=140),
                     "Test accuracy": st.column_config.NumberColumn(
                         "Test accuracy", format="%.1f%%", width=105,
                         help="Accuracy on the dataset's test images, measured after training."),
                 })


def votes_table(all_votes, expected: int, chosen, class_names):
    """The votes as a styled table: one row per model, in red the rows that do not say `expected`."""
    rows = pandas.DataFrame([{
        "Model": vote.run.name + ("  ← chosen" if vote.run.id == chosen.id else ""),
        "Architecture": vote.architecture,
        "Prediction": class_names[vote.predicted_class] if vote.predicted_class is not None else vote.error,
        "Confidence": None if vote.confidence is None else 100 * vote.confidence,
        "Test accuracy": None if vote.run.test_accuracy is None else 100 * vote.run.test_accuracy,
    } for vote in all_votes])
    differs = [vote.predicted_class is not None and vote.predicted_class != expected for vote in all_votes]

    def colour(row):
        style = "background-color: rgba(255, 75, 75, 0.18)" if differs[row.name] else ""
        return [style] * len(row)

    return rows.style.apply(colour, axis=1)

