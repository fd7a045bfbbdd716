"""The Draw page's "Why?" tab: where the model looks, what covering a place costs, fooling it, and the map.

One function, `why(reading, predictor, chosen, class_names)`, lays out the tab for the current drawing; every
number comes from `core.explanations` (and `core.embedding` for the map, drawn by `pages._inside_explain`).
Only the view the student picks is computed, each in well under a second.
"""

import hashlib

import numpy as np
import pandas
import plotly.graph_objects as go
import streamlit as st

from core import charts, explanations, gallery, inference, runs
from pages import _common, _inside_explain

VIEW_KEY = "why_view"
LOOK_VIEW = "Where it looks"
COVER_VIEW = "Cover it up"
FOOL_VIEW = "Fool the model"
MAP_VIEW = "The map"
VIEWS = {
    LOOK_VIEW: ":material/visibility:",
    COVER_VIEW: ":material/select:",
    FOOL_VIEW: ":material/theater_comedy:",
    MAP_VIEW: ":material/scatter_plot:",
}
GREY_PATCH = "Grey patch"
BLACK_PATCH = "Black patch (rubs the ink out)"
ANY_OTHER = "anything else"
SIDE = 196
MAP_SIDE = 280


def why(reading: inference.Reading, predictor: inference.Predictor, chosen: runs.Run,
        class_names: tuple[str, ...]) -> None:
    """The "Why?" tab for the drawing the model just read."""
    try:
        explainer = explanations.get_explainer(predictor.model)
    except explanations.CannotExplain as error:
        st.info(f"{error}", icon=":material/info:")
        return
    view = st.segmented_control("Explanation", list(VIEWS), default=LOOK_VIEW, required=True, key=VIEW_KEY,
                                format_func=lambda name: f"{VIEWS[name]} {name}", label_visibility="collapsed")
    image = reading.preprocessed.image
    if view == COVER_VIEW:
        cover_it_up(explainer, image, reading, class_names)
    elif view == FOOL_VIEW:
        fool_the_model(explainer, image, reading, chosen, class_names)
    elif view == MAP_VIEW:
        st.caption("Every test image placed by what the model's last hidden layer makes of it: similar images lie "
                   "close together. Your drawing is the star.")
        _inside_explain.test_set_map(chosen, predictor.model, drawing=image, key="why_map")
        st.page_link("pages/inside.py", label="Open the map on the Inside page", icon=":material/visibility:")
    else:
        where_it_looks(explainer, image, reading, class_names)


def _big(image: np.ndarray, side: int = SIDE) -> np.ndarray:
    return gallery.enlarge(np.asarray(image)[np.newaxis], side)[0]


def _class_picker(label: str, class_names, default: int, key: str) -> int:
    choice = st.segmented_control(label, list(range(len(class_names))), default=default, required=True,
                                  format_func=lambda index: class_names[index], key=key)
    return default if choice is None else int(choice)


# --- 1. where it looks ---------------------------------------------------------------------------------------


def where_it_looks(explainer, image, reading, class_names) -> None:
    explained = _class_picker("Why this class?", class_names, reading.predicted_class, key="why_look_class")
    others = [ANY_OTHER] + [index for index in range(len(class_names)) if index != explained]
    versus = st.selectbox("…rather than", others, key="why_look_versus",
                          format_func=lambda value: value if value == ANY_OTHER else class_names[value])
    versus = None if versus == ANY_OTHER else int(versus)
    saliency = explainer.saliency(image, explained, versus=versus)
    picture_column, heat_column, text_column = st.columns([1, 1, 2], gap="medium")
    picture_column.image(_big(image), width=SIDE, caption="What the model sees")
    heat_column.image(_big(explanations.heat_overlay(image, saliency.heat)), width=SIDE,
                      caption=f"{saliency.method}: red is where it finds {class_names[explained]}")
    with text_column:
        against = f" rather than **{class_names[versus]}**" if versus is not None else ""
        st.markdown(f"#### Why **{class_names[explained]}**{against}?")
        st.markdown(f"The model gives **{class_names[explained]}** a probability of "
                    f"**{charts.percent(saliency.probability)}**. The red places are where the evidence for it "
                    "lies.")
        if saliency.method == explanations.GRAD_CAM:
            st.caption("Grad-CAM: the last convolution's feature maps, weighted by how much each place of each map "
                       "raises the class's score. Its map is as coarse as that layer's, so it glows around the "
                       "strokes, not exactly on them.")
        else:
            st.caption("Integrated gradients: how much each pixel's ink adds to the class's score, summed from a "
                       "black image to your drawing. A dense network has no convolution to look through, so "
                       "this works pixel by pixel: only pixels with ink can count.")
        if saliency.heat.max() == 0:
            st.info(f"Nothing in this drawing speaks for {class_names[explained]}.", icon=":material/info:")


# --- 2. cover it up ------------------------------------------------------------------------------------------

COVER_ROW_KEY = "why_cover_row"
COVER_COLUMN_KEY = "why_cover_column"
COVER_CLICK_KEY = "why_cover_click"
APPLIED_CLICK_KEY = "why_cover_applied_click"


def cover_it_up(explainer, image, reading, class_names) -> None:
    watched = _class_picker("Watch the probability of", class_names, reading.predicted_class,
                            key="why_cover_class")
    # Black rubs ink out, which says plainly which strokes the answer needs; grey also adds a blob where there
    # was no ink, which says where the model needs the paper empty.
    fill_choice = st.segmented_control("Patch", [BLACK_PATCH, GREY_PATCH], default=BLACK_PATCH, required=True,
                                       key="why_cover_fill", label_visibility="collapsed")
    fill = 0 if fill_choice == BLACK_PATCH else explanations.GREY
    occlusion = explainer.occlusion(image, watched, fill=fill)
    map_column, covered_column, text_column = st.columns([3, 2, 3], gap="medium")
    with map_column:
        figure = occlusion_figure(image, occlusion)
        event = st.plotly_chart(figure, key=COVER_CLICK_KEY, on_select="rerun", selection_mode="points",
                                config={"displayModeBar": False}, width="content")
        _apply_click(event)
        st.caption(f"Red: covering this place with a {occlusion.patch}×{occlusion.patch} patch lowers the "
                   f"probability of {class_names[watched]} (the darker, the more). Click a place to cover it.")
    with text_column:
        st.session_state.setdefault(COVER_ROW_KEY, 14)
        st.session_state.setdefault(COVER_COLUMN_KEY, 14)
        row = st.slider("Row to cover", 0, 27, key=COVER_ROW_KEY)
        column = st.slider("Column to cover", 0, 27, key=COVER_COLUMN_KEY)
    covered, probabilities = explainer.cover(image, row, column, fill=fill)
    answer = int(np.argmax(probabilities))
    with covered_column:
        st.image(_big(covered), width="stretch", caption=f"Covered at row {row}, column {column}")
        st.metric("Answer when covered", class_names[answer],
                  delta=f"{charts.percent(probabilities[answer])} sure",
                  delta_color="off", delta_arrow="off")
    with text_column:
        before = class_names[reading.predicted_class]
        change = float(probabilities[watched]) - occlusion.probability
        change_text = "unchanged" if abs(change) < 0.005 else f"{100 * change:+.1f} points"
        if answer != reading.predicted_class:
            st.markdown(f":red[**Covered there, it says {class_names[answer]}**], not {before}.")
        else:
            st.markdown(f"Covered there, it still says **{before}**.")
        st.caption(f"Probability of {class_names[watched]}: {charts.percent(occlusion.probability)} uncovered, "
                   f"{charts.percent(float(probabilities[watched]))} covered ({change_text}).")


def occlusion_figure(image, occlusion) -> go.Figure:
    """The occlusion map over the digit, with one clickable point per patch place."""
    drops = np.clip(occlusion.heat, 0, None)
    peak = float(drops.max())
    picture = explanations.heat_overlay(image, drops if peak > 0 else np.zeros_like(drops))
    rows, columns = occlusion.drops.shape
    # Each place's point sits on the pixel that `cover` centres the patch on, so a click covers that very place.
    half = occlusion.patch // 2
    centres = [(top * occlusion.stride + half, left * occlusion.stride + half)
               for top in range(rows) for left in range(columns)]
    figure = go.Figure(go.Image(z=picture, hoverinfo="skip"))
    figure.add_trace(go.Scatter(
        x=[centre[1] for centre in centres], y=[centre[0] for centre in centres], mode="markers",
        marker=dict(size=16, color="white", opacity=0.0),
        customdata=[[-float(occlusion.drops[place // columns, place % columns])] for place in range(len(centres))],
        hovertemplate="covered here: %{customdata[0]:+.0%}<extra></extra>",
    ))
    figure.update_layout(width=MAP_SIDE, height=MAP_SIDE, margin=dict(l=0, r=0, t=0, b=0), showlegend=False,
                         xaxis=dict(visible=False, range=[-0.5, 27.5], fixedrange=True),
                         yaxis=dict(visible=False, range=[27.5, -0.5], fixedrange=True))
    return figure


def _apply_click(event) -> None:
    """A click on the map moves the row and column sliders there (once per new click)."""
    try:
        points = event.selection.points
    except AttributeError:
        return
    if not points:
        return
    point = points[0]
    row, column = round(float(point["y"])), round(float(point["x"]))
    if st.session_state.get(APPLIED_CLICK_KEY) == (row, column):
        return
    st.session_state[APPLIED_CLICK_KEY] = (row, column)
    st.session_state[COVER_ROW_KEY] = min(max(row, 0), 27)
    st.session_state[COVER_COLUMN_KEY] = min(max(column, 0), 27)


# --- 3. fool the model ---------------------------------------------------------------------------------------

FOOL_CACHE_KEY = "why_fool_cache"


def fool_the_model(explainer, image, reading, chosen, class_names) -> None:
    choices = [ANY_OTHER] + [index for index in range(len(class_names)) if index != reading.predicted_class]
    target = st.selectbox("Make it say", choices, key="why_fool_target",
                          format_func=lambda value: value if value == ANY_OTHER else class_names[value])
    target = None if target == ANY_OTHER else int(target)
    fooled = _adversarial(explainer, image, target)
    original_column, change_column, fooled_column, text_column = st.columns([1, 1, 1, 2], gap="small")
    original_column.image(_big(image, 150), width=150,
                          caption=f"Your drawing: {class_names[fooled.original_class]} "
                                  f"({charts.percent(fooled.original_probability)})")
    change_column.image(_big(explanations.perturbation_picture(fooled.perturbation), 150), width=150,
                        caption="The change, magnified (red lighter, blue darker): at most "
                                f"{fooled.largest_change:.2f}")
    fooled_column.image(_big(fooled.fooled, 150), width=150,
                        caption=f"Changed: {class_names[fooled.fooled_class]} "
                                f"({charts.percent(fooled.fooled_probability)})")
    levels = round(fooled.epsilon * 255)
    with text_column:
        if fooled.success:
            st.metric("Fooled: it now says", class_names[fooled.fooled_class],
                      delta=f"{charts.percent(fooled.fooled_probability)} sure", delta_color="off", delta_arrow="off")
            seen = ("To us it is the same drawing." if fooled.epsilon <= 0.1 else
                    "At this size the change starts to show: this model took some pushing.")
            st.markdown(f"The smallest change that did it: **ε = {fooled.epsilon:g}**, no pixel moved by more than "
                        f"{levels} of 255 grey levels. {seen}")
        else:
            wanted = class_names[target] if target is not None else "anything else"
            st.markdown(f"**Not fooled:** even a change of ε = {fooled.epsilon:g} ({levels} grey levels per pixel) "
                        f"did not make it say {wanted}; it says {class_names[fooled.fooled_class]}.")
        st.caption("How: the gradient says which way each pixel should move to change the answer; one step of "
                   "that size (the fast gradient sign method), then ten small corrective steps, for a ladder of "
                   "sizes ε from 0.01 to 0.3 of the pixel range, keeping the smallest that works.")
    st.markdown("##### Every model votes on the changed image")
    fooled_votes(fooled, chosen, class_names)


def _adversarial(explainer, image, target):
    """The attack for this drawing, model and target, kept for the session so that reruns do not redo it."""
    key = (id(explainer.model), hashlib.sha1(image.tobytes()).hexdigest(), target)
    cache = st.session_state.setdefault(FOOL_CACHE_KEY, {})
    if key not in cache:
        cache.clear()
        with st.spinner("Looking for the smallest change…"):
            cache[key] = explainer.adversarial(image, target=target)
    return cache[key]


def fooled_votes(fooled, chosen, class_names) -> None:
    store = _common.run_store()
    voting_runs, _ = inference.voters(store.list(), chosen)
    on_drawing = inference.vote(store, voting_runs, fooled.original)
    on_fooled = inference.vote(store, voting_runs, fooled.fooled)

    def name(vote):
        return class_names[vote.predicted_class] if vote.predicted_class is not None else vote.error

    rows = pandas.DataFrame([{
        "Model": before.run.name + ("  ← fooled" if before.run.id == chosen.id else ""),
        "Architecture": before.architecture,
        "On your drawing": name(before),
        "On the changed image": name(after),
        "Held on": (before.predicted_class is not None and before.predicted_class == after.predicted_class),
    } for before, after in zip(on_drawing, on_fooled)])
    others_held = [bool(held) for vote, held in zip(on_drawing, rows["Held on"]) if vote.run.id != chosen.id]
    resisted, others = sum(others_held), len(others_held)
    if others == 1:
        st.markdown(f"The other model {'kept its answer' if resisted else 'was fooled too'}: the change was made for "
                    "the chosen model alone.")
    elif others > 1:
        st.markdown(f"{resisted} of the {others} other models kept their answer: the change was made for the chosen "
                    "model alone; does it fool the others too?")
    st.dataframe(rows, hide_index=True, width="stretch",
                 column_config={"Held on": st.column_config.CheckboxColumn("Held on")})
