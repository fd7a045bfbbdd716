"""The Inside page's explanations: what each filter wants (beside its weights) and the map of the test set.

`explain(run, inspector, drawing)` lays out both sections below the layers; `test_set_map(...)` is the map
alone, which the Draw page's "Why?" tab shows too. The numbers come from `core.explanations` and
`core.embedding`.
"""

import os

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import datasets, embedding, explanations, gallery, runs

# Test images on the map: 2,000 take tens of seconds once per model on two CPU cores, then come from disk. A
# smaller number (NEURAL_CANVAS_MAP_IMAGES) makes a quicker, sparser map: the real-browser tests use it.
MAP_COUNT = int(os.environ.get("NEURAL_CANVAS_MAP_IMAGES", "2000"))
CLASS_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf")
FILTER_COLUMNS = 8


def explain(run: runs.Run, inspector, drawing: np.ndarray | None) -> None:
    """Below the layers: what the filters want, and the map of the test set (with the drawing as a star)."""
    # A dense network has no filters: the page has said so above the layers, once is enough.
    if inspector.no_filters_message is None:
        with st.container(border=True):
            filter_wishes(inspector)
    with st.container(border=True):
        st.subheader(":material/scatter_plot: The map of the test set")
        st.markdown("Each dot is a test image, placed by what the model's last hidden layer makes of it: images "
                    "the model finds alike lie close together. Colours are the true classes; a cross marks a "
                    "mistake of the model." + (" The star is the current drawing." if drawing is not None else ""))
        if st.toggle("Show the map", key="inside_show_map",
                     help="Made once per model (tens of seconds for 2,000 images), then kept with the run."):
            test_set_map(run, inspector.model, drawing=drawing, key="inside_map")


# --- what a filter wants ---------------------------------------------------------------------------------------


def filter_wishes(inspector) -> None:
    st.subheader(":material/auto_awesome: What each filter wants")
    try:
        explainer = explanations.get_explainer(inspector.model)
    except explanations.CannotExplain as error:
        st.info(str(error), icon=":material/grid_off:")
        return
    if not explainer.has_convolution:
        st.info("This model has no convolution layer, so it has no filters: its dense layers look at all the "
                "pixels at once. Train a CNN to see what its filters want.", icon=":material/grid_off:")
        return
    st.markdown("For each filter, the picture that makes it answer most strongly, found by starting from faint "
                "noise and changing the pixels step by step in the direction that raises the filter's answer "
                "(gradient ascent, lightly blurred so that it stays smooth).")
    with st.spinner("Finding what each filter wants…"):
        wishes = explainer.filter_wishes()
    for number, wish in enumerate(wishes):
        # A mid-grey gap: many filters want ink everywhere, and their white squares must not melt together.
        grid = gallery.tile(gallery.enlarge(wish.images, 56), columns=FILTER_COLUMNS, gap=4, gap_value=128,
                            empty_value=255)
        if number == 0 and inspector.filters is not None:
            weights_column, wishes_column = st.columns([1, 2])
            filter_images = inspector.filter_images()[:len(wish.images)]
            weights_column.image(gallery.filter_grid(filter_images, columns=FILTER_COLUMNS), width="stretch")
            weights_column.caption("Its weights: light where a filter wants ink, dark where it wants none.")
            wishes_column.image(grid, width="stretch")
            wishes_column.caption(f"{wish.title}: what each filter wants, in the same places. Stripes: an edge "
                                  "detector wants edges everywhere; white: a filter that wants ink anywhere; black: "
                                  "one that answers to empty paper (it marks where there is no ink).")
        else:
            st.image(grid, width="content")
            st.caption(f"{wish.title}: the second convolution combines the first one's strokes into larger "
                       "patterns, so what it wants is larger too. A dark square: a filter that answers to empty "
                       "paper, or one that faint noise does not wake.")


# --- the map of the test set -------------------------------------------------------------------------------------


def test_set_map(run: runs.Run, model, *, drawing: np.ndarray | None = None, key: str = "map") -> None:
    """The map of the run's test images, the drawing as a star; a click on a dot shows that image."""
    try:
        dataset = datasets.load(run.dataset, download=False)
    except (datasets.DatasetUnavailable, ValueError) as error:
        st.warning(f"**The test images of this model's dataset are not on this machine.** {error}",
                   icon=":material/cloud_off:")
        return
    if tuple(dataset.image_shape) != tuple(int(size) for size in model.input_shape[1:]):
        st.info("This model reads images of another size than its dataset's: it has no map.")
        return
    count = max(10, min(MAP_COUNT, len(dataset.x_test)))
    try:
        with st.spinner(f"Placing {count:,} test images on the map (once per model; tens of seconds)…"):
            test_map = embedding.get_map(run, model, dataset, count=count)
    except ValueError as error:
        st.error(f"The map cannot be made for this model: {error}", icon=":material/error:")
        return
    star = None
    if drawing is not None and tuple(np.shape(drawing)) == tuple(dataset.image_shape):
        star = test_map.place(model, np.asarray(drawing, dtype=np.uint8))
    names = dataset.class_names
    map_column, detail_column = st.columns([3, 1], gap="medium")
    with map_column:
        event = st.plotly_chart(map_figure(test_map, names, star), key=key, on_select="rerun",
                                selection_mode="points", config={"displayModeBar": False}, width="stretch")
        mistakes = int(test_map.mistakes.sum())
        st.caption(f"{len(test_map.indices):,} test images; the model gets {mistakes} of them wrong (crosses). "
                   "Hover over a dot to see what it is; click it to see the image.")
    with detail_column:
        chosen = _clicked(event)
        if chosen is None:
            st.markdown("**Click a dot** to see its image here.")
            return
        index = int(test_map.indices[chosen])
        label, predicted = int(test_map.labels[chosen]), int(test_map.predictions[chosen])
        st.image(gallery.enlarge(dataset.x_test[index][np.newaxis], 168)[0], width=168,
                 caption=f"Test image {index}")
        verdict = (f"True class **{names[label]}**; the model says **{names[predicted]}**"
                   + (" (a mistake)." if label != predicted else "."))
        st.markdown(verdict)


def _clicked(event) -> int | None:
    """The map position of the dot a visitor clicked, or None."""
    try:
        points = event.selection.points
    except AttributeError:
        return None
    for point in points or []:
        data = point.get("customdata")
        if isinstance(data, (list, tuple)) and data:
            data = data[0]
        if isinstance(data, (int, float)) and data >= 0:
            return int(data)
    return None


def map_figure(test_map: embedding.TestSetMap, names, star=None) -> go.Figure:
    """One colour per class, crosses for mistakes, and the drawing as a star."""
    figure = go.Figure()
    positions = np.arange(len(test_map.indices))
    for label in range(len(names)):
        chosen = positions[test_map.labels == label]
        if not len(chosen):
            continue
        right = chosen[~test_map.mistakes[chosen]]
        wrong = chosen[test_map.mistakes[chosen]]
        colour = CLASS_COLOURS[label % len(CLASS_COLOURS)]
        for subset, symbol, suffix in ((right, "circle", ""), (wrong, "x", " (mistakes)")):
            if not len(subset):
                continue
            figure.add_trace(go.Scattergl(
                x=test_map.coordinates[subset, 0], y=test_map.coordinates[subset, 1], mode="markers",
                name=f"{names[label]}{suffix}", legendgroup=str(label), showlegend=not suffix,
                marker=dict(size=6 if not suffix else 9, color=colour, symbol=symbol,
                            line=dict(width=0.5 if suffix else 0, color="black")),
                customdata=np.stack([subset, test_map.indices[subset], test_map.predictions[subset]], axis=1),
                text=[names[int(test_map.predictions[position])] for position in subset],
                hovertemplate=(f"test image %{{customdata[1]}}<br>true class: {names[label]}<br>"
                               "the model says: %{text}<extra></extra>"),
            ))
    if star is not None:
        figure.add_trace(go.Scatter(
            x=[star[0]], y=[star[1]], mode="markers", name="your drawing",
            marker=dict(symbol="star", size=24, color="gold", line=dict(width=2, color="black")),
            customdata=[[-1]], hovertemplate="your drawing<extra></extra>",
        ))
    figure.update_layout(height=520, margin=dict(l=0, r=0, t=10, b=0), legend=dict(itemsizing="constant"),
                         xaxis=dict(visible=False), yaxis=dict(visible=False), clickmode="event+select",
                         dragmode="pan")
    return figure
