"""Inside the network: what each layer of a trained model makes of the current drawing or of a test image.

The screen, top to bottom: a model picker (every run with a saved model) and the image to follow through it,
either the drawing last read on the Draw page (for models of 28x28 grayscale images) or a test image of the
run's dataset, chosen by number or at random. Then the image itself, the model's answer and the layers the
image goes through; then one section per layer: the feature maps of each convolution and pooling layer as a
grid of small pictures (the first convolution's learned filters beside its maps, in the same places), and the
activations of each dense layer and of the output as bar charts.

The activations come from `core.activations` (one multi-output model per trained model, cached), the grids
from `core.gallery`; this page only lays them out.
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import activations, charts, datasets, gallery, inference, runs, text
from pages import _common, _inside_explain

SOURCE_KEY = "inside_page_source"
INDEX_KEY_PREFIX = "inside_page_test_index_"
DRAWING_SOURCE = "Current drawing"
TEST_SOURCE = "A test image"

# At most this many feature maps per layer (the most active ones when a layer has more), in rows of 8, and at
# most this many units per dense-layer chart (the strongest ones when a layer is wider).
MAX_MAPS = 32
MAP_COLUMNS = 8
MAX_UNITS = 32
# Every feature map is drawn at the same scale (each of its pixels a 3x3 square): a pooled map looks half the
# size of the map it came from, as it is.
MAP_SCALE = 3
ACTIVE_COLOUR = "#1f77b4"
# The model's answer stands out in dark blue among grey bars: red means "wrong" everywhere in the app.
PREDICTED_COLOUR = "#0b4ea2"
OTHER_CLASS_COLOUR = "#9aa5b8"

PAGE_STYLE = """
<style>
[data-testid="stMetric"] [data-testid="stMetricValue"] { font-size: 4rem; line-height: 1.1; }
</style>
"""

# Class names such as "Ankle boot" would be cut off in digit-sized type.
LONG_CLASS_NAME_STYLE = """
<style>
[data-testid="stMetric"] [data-testid="stMetricValue"] { font-size: 2.5rem; }
[data-testid="stMetric"] [data-testid="stMetricValue"] * { white-space: normal; overflow: visible; }
</style>
"""


# --- choosing the model and the image ------------------------------------------------------------------------


def choose_run() -> runs.Run | None:
    listed = _common.listed_runs()
    if listed is None:
        return None
    candidates = [run for run in listed if run.has_model and not run.damaged]
    if not candidates:
        _common.no_model_yet("look inside it")
        return None
    return _common.run_picker(candidates, label="Model", key="inside_page_run",
                              help="Every trained run with a saved model.",
                              start_on_best=True)


def load_inspector(run: runs.Run) -> activations.Inspector | None:
    try:
        with st.spinner("Loading the model…"):
            predictor = inference.get_predictor(_common.run_store(), run.id)
            return activations.get_inspector(predictor.model)
    except runs.RunNotFound as error:
        st.error(f"{text.markdown_escape(error)} Choose another model.", icon=":material/broken_image:")
    except (ValueError, OSError) as error:
        st.error(f"**This model cannot be opened:** {text.markdown_escape(error)}", icon=":material/broken_image:")
    return None


def reads_drawings(inspector: activations.Inspector) -> bool:
    return inspector.input_shape in ((28, 28), (28, 28, 1))


def choose_source(inspector: activations.Inspector) -> str:
    if not reads_drawings(inspector):
        return TEST_SOURCE
    # One key per set of options: a model of colour photos offers no drawing, and must not inherit the choice.
    default = DRAWING_SOURCE if _common.current_drawing() is not None else TEST_SOURCE
    source = st.segmented_control("Image", [DRAWING_SOURCE, TEST_SOURCE], default=default, required=True,
                                  key=SOURCE_KEY)
    return source or default


def current_drawing_image() -> np.ndarray | None:
    drawing = _common.current_drawing()
    if drawing is None:
        st.info("**Draw a digit on the Draw page first:** the drawing the model read last appears here.",
                icon=":material/draw:")
        st.page_link("pages/draw.py", label="Go to the Draw page", icon=":material/arrow_forward:")
        return None
    drawing = np.asarray(drawing)
    if drawing.shape != (28, 28) or drawing.dtype != np.uint8:
        st.warning("The drawing kept from the Draw page cannot be read here. Draw it again on the Draw page.",
                   icon=":material/draw:")
        return None
    return drawing


def _pick_random(key: str, count: int) -> None:
    st.session_state[key] = int(np.random.default_rng().integers(count))


def test_image(run: runs.Run) -> tuple[np.ndarray, int, datasets.Dataset] | None:
    """A test image of the run's dataset, chosen by number or at random, with its true label."""
    try:
        with st.spinner("Loading the test images…"):
            dataset = datasets.load(run.dataset, download=False)
    except (datasets.DatasetUnavailable, ValueError) as error:
        st.warning(f"**The test images of this model's dataset are not on this machine.** "
                   f"{text.markdown_escape(error)}",
                   icon=":material/cloud_off:")
        st.page_link("pages/datasets.py", label="Download it on the Datasets page", icon=":material/download:")
        return None
    count = len(dataset.x_test)
    key = INDEX_KEY_PREFIX + dataset.name
    if not isinstance(st.session_state.get(key), int) or not 0 <= st.session_state[key] < count:
        # The test sets are stored class by class: start somewhere in the middle rather than on the first zero.
        st.session_state[key] = int(np.random.default_rng(7).integers(count))
    # One row where the button keeps its whole label ("Another random one") and the number field takes the rest.
    with st.container(horizontal=True, vertical_alignment="bottom", wrap=False):
        index = st.number_input(f"Test image number (0 to {count - 1:,})", min_value=0, max_value=count - 1,
                                step=1, key=key)
        st.button("Another random one", icon=":material/shuffle:", on_click=_pick_random, args=(key, count),
                  width="content")
    return dataset.x_test[index], int(dataset.y_test[index]), dataset


# --- what the model makes of it ---------------------------------------------------------------------------------


def class_names_of(run: runs.Run, num_classes: int) -> list[str]:
    try:
        names = list(datasets.get_info(run.dataset).class_names)
    except ValueError:
        names = []
    return names if len(names) == num_classes else [str(index) for index in range(num_classes)]


def overview(image, shown, names, true_label, inspector) -> None:
    """The image, the model's answer, and the way through the network."""
    picture, answer, path = st.columns([1, 1, 2])
    picture.image(gallery.enlarge(image[np.newaxis], 224)[0], caption="The image the model gets",
                  width="stretch")
    probabilities = shown[-1].values if shown and shown[-1].kind == activations.OUTPUT else None
    if probabilities is not None:
        predicted = int(np.argmax(probabilities))
        if len(names[predicted]) > 2:
            st.html(LONG_CLASS_NAME_STYLE)
        answer.metric("Prediction", names[predicted], f"{charts.percent(probabilities[predicted])} sure",
                      delta_color="off", delta_arrow="off")
        if true_label is not None:
            if true_label == predicted:
                answer.success(f"True label: **{names[true_label]}**. Right!", icon=":material/check_circle:")
            else:
                answer.error(f"True label: **{names[true_label]}**. The model is wrong here.",
                             icon=":material/cancel:")
    elif true_label is not None:
        answer.markdown(f"True label: **{names[true_label]}**")
    steps = [f"1. **Input** · {'×'.join(map(str, inspector.input_shape))} pixels"]
    steps += [f"{number}. {stage.title}" for number, stage in enumerate(inspector.stages, start=2)]
    path.markdown("**The way through this network**\n\n" + "\n".join(steps))


def _channels_to_show(values: np.ndarray) -> np.ndarray:
    count = values.shape[-1]
    if count <= MAX_MAPS:
        return np.arange(count)
    return activations.strongest_maps(values, MAX_MAPS)


def _maps_caption(values: np.ndarray, channels: np.ndarray) -> str:
    count = values.shape[-1]
    size = f"{values.shape[0]}×{values.shape[1]}"
    silent = int((values.reshape(-1, count).max(axis=0) <= 0).sum())
    shown = (f"All {count} feature maps" if len(channels) == count
             else f"The {len(channels)} most active of its {count} feature maps")
    caption = f"{shown}, {size} each: yellow where the layer answers strongly, dark blue where it finds nothing."
    if silent:
        caption += f" {silent} of the {count} maps stay dark for this image."
    return caption


def feature_maps_section(activation, channels, inspector, is_first_convolution) -> None:
    st.subheader(activation.title)
    st.markdown(activation.stage.explanation)
    grid = gallery.feature_map_grid(activation.values, channels=channels, columns=MAP_COLUMNS,
                                    minimum_side=MAP_SCALE * min(activation.values.shape[:2]))
    caption = _maps_caption(activation.values, channels)
    if is_first_convolution and inspector.filters is not None:
        filters_column, maps_column = st.columns([1, 2])
        filter_images = inspector.filter_images()[channels]
        kernel = "×".join(str(size) for size in inspector.filters.shape[:2])
        colour = " in colour, one weight per pixel and colour channel" if filter_images.ndim == 4 else ""
        filters_column.image(gallery.filter_grid(filter_images, columns=MAP_COLUMNS), width="stretch")
        filters_column.caption(
            f"**The filters it learned** ({kernel} weights{colour}): light where a filter wants ink, dark where it "
            "wants none. Each filter makes the map in the same place on the right."
        )
        maps_column.image(grid, width="content")
        maps_column.caption(caption)
    else:
        st.image(grid, width="content")
        st.caption(caption)


def dense_section(activation) -> None:
    st.subheader(activation.title)
    st.markdown(activation.stage.explanation)
    values = activation.values
    units = len(values)
    active = int((values > 0).sum())
    if units <= MAX_UNITS:
        chosen = np.arange(units)
        caption = f"{active} of its {units} units are active (above zero) for this image."
    else:
        chosen = activations.strongest_units(values, MAX_UNITS)
        caption = (f"The {MAX_UNITS} strongest of its {units} units, strongest first; {active} of the {units} "
                   "are active (above zero) for this image, the others stay silent.")
    figure = go.Figure(go.Bar(x=[f"unit {index}" for index in chosen], y=values[chosen],
                              marker_color=ACTIVE_COLOUR))
    figure.update_layout(height=260, margin=dict(t=10, b=10, l=10, r=10), font=dict(size=14),
                         xaxis=dict(type="category", tickangle=-60), yaxis=dict(title="Activation"))
    _common.chart(figure, key=f"inside_dense_{activation.name}")
    st.caption(caption)


def output_section(activation, names) -> None:
    st.subheader(activation.title)
    st.markdown(activation.stage.explanation)
    probabilities = activation.values
    predicted = int(np.argmax(probabilities))
    colours = [PREDICTED_COLOUR if index == predicted else OTHER_CLASS_COLOUR for index in range(len(probabilities))]
    figure = go.Figure(go.Bar(x=names, y=probabilities, marker_color=colours,
                              text=[f"{charts.percent(value)}" for value in probabilities], textposition="outside",
                              cliponaxis=False))
    figure.update_layout(height=300, margin=dict(t=30, b=10, l=10, r=10), font=dict(size=16),
                         xaxis=dict(type="category", title="Class"),
                         yaxis=dict(title="Probability", tickformat=".0%", range=[0, 1.1]))
    _common.chart(figure, key="inside_output")


def layer_sections(shown, names, inspector) -> None:
    previous_channels = None
    first_convolution = True
    for activation in shown:
        with st.container(border=True):
            if activation.stage.is_map:
                channels = _channels_to_show(activation.values)
                # A pooling layer keeps the maps of the layer before: show the same ones, to see them shrink.
                if (activation.kind == activations.POOLING and previous_channels is not None
                        and previous_channels.max() < activation.values.shape[-1]):
                    channels = previous_channels
                feature_maps_section(activation, channels, inspector,
                                     first_convolution and activation.kind == activations.CONVOLUTION)
                if activation.kind == activations.CONVOLUTION:
                    first_convolution = False
                previous_channels = channels
            elif activation.kind == activations.OUTPUT:
                output_section(activation, names)
            else:
                dense_section(activation)
    if inspector.no_filters_message:
        st.info(inspector.no_filters_message, icon=":material/grid_off:")


# --- the page --------------------------------------------------------------------------------------------------


st.html(PAGE_STYLE)
st.title(":material/visibility: 5 · Inside the network")
st.markdown("Follow one image through a trained network, layer by layer: what each convolution finds, what "
            "pooling keeps, and how the dense layers come to a decision.")

run = choose_run()
inspector = load_inspector(run) if run is not None else None
if inspector is not None:
    source = choose_source(inspector)
    image, true_label = None, None
    if source == DRAWING_SOURCE:
        image = current_drawing_image()
    else:
        chosen = test_image(run)
        if chosen is not None:
            image, true_label, _ = chosen
    if image is not None:
        try:
            shown = inspector.activations(image)
        except ValueError as error:
            st.error(text.markdown_escape(error), icon=":material/error:")
        else:
            num_classes = shown[-1].values.shape[-1] if shown else 0
            names = class_names_of(run, num_classes)
            overview(image, shown, names, true_label, inspector)
            layer_sections(shown, names, inspector)
            _inside_explain.explain(run, inspector, image if source == DRAWING_SOURCE else None)
