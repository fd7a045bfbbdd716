"""The Draw page's answer: the predicted class in large type, the 28x28 image the model received, and the
probability of every class as a bar chart.
"""

import plotly.graph_objects as go
import streamlit as st

from core import charts, gallery, inference, preprocess, text
from pages import _common, _draw_input

ANSWER_COLOUR = "#1f6fd1"
OTHER_COLOUR = "#9aa5b8"
# Class names such as "Ankle boot" would be cut off in digit-sized type: they get smaller type that may wrap.
LONG_CLASS_NAME_STYLE = """
<style>
[data-testid="stMetric"] [data-testid="stMetricValue"] { font-size: 3rem; line-height: 1.15; }
/* The answer's own metric: also over presenter mode's larger answer type. */
.st-key-draw_answer [data-testid="stMetric"] [data-testid="stMetricValue"],
.st-key-draw_answer [data-testid="stMetric"] [data-testid="stMetricValue"] div,
.st-key-draw_answer [data-testid="stMetric"] [data-testid="stMetricValue"] p {
  font-size: 3rem !important; line-height: 1.15;
}
[data-testid="stMetric"] [data-testid="stMetricValue"] * { white-space: normal; overflow: visible; }
</style>
"""


NON_BREAKING_HYPHEN, ZERO_WIDTH_SPACE = "\u2011", "\u200b"


def prediction(reading: inference.Reading, class_names: tuple[str, ...]) -> None:
    """The predicted class in large type and how sure the model is."""
    predicted = reading.predicted_class
    if len(class_names[predicted]) > 2:
        st.markdown(LONG_CLASS_NAME_STYLE, unsafe_allow_html=True)
    # A long name may wrap, at its space or after its slash, not at its hyphen ("T-" over "shirt/top"): the
    # hyphen shown is one that does not break, and the slash is followed by an invisible place to break.
    shown = class_names[predicted].replace("-", NON_BREAKING_HYPHEN).replace("/", "/" + ZERO_WIDTH_SPACE)
    st.metric("Prediction", shown,
              delta=f"{charts.percent(reading.confidence)} sure", delta_color="off", delta_arrow="off")


def probability_chart(probabilities, class_names, predicted: int, key: str = "draw_probabilities") -> None:
    # The model's answer in blue, not red: red means "wrong" on every other page, and this answer may be right.
    colours = [ANSWER_COLOUR if index == predicted else OTHER_COLOUR for index in range(len(class_names))]
    figure = go.Figure(go.Bar(
        x=[float(value) for value in probabilities], y=list(class_names), orientation="h",
        marker_color=colours, text=[charts.percent(value) for value in probabilities], textposition="outside",
        textfont=dict(size=13, color="#374151"), cliponaxis=False, hovertemplate="%{y}: %{x:.1%}<extra></extra>",
    ))
    figure.update_layout(
        height=300, margin=dict(l=10, r=56, t=30, b=10), showlegend=False,
        title=dict(text="Probability of each class", font=dict(size=15)),
        xaxis=dict(range=[0, 1.05], tickformat=".0%", showgrid=True),
        yaxis=dict(autorange="reversed", type="category", tickfont=dict(size=15)),
    )
    _common.chart(figure, key=key)


def model_view(reading: inference.Reading, *, beside: bool = False) -> None:
    """The 28x28 image the model received, big and crisp; `beside`: smaller, with its words beside it, for the
    narrow room under the canvas."""
    if beside:
        with st.container(horizontal=True, wrap=False, gap="small", vertical_alignment="center"):
            st.image(gallery.enlarge(reading.preprocessed.image[None], 128)[0], width=128,
                     alt="The 28 by 28 pixel image given to the model")
            st.markdown("**What the model sees:** these 28 × 28 pixels", width="stretch")
        return
    st.markdown("**What the model sees**")
    st.image(gallery.enlarge(reading.preprocessed.image[None], 168)[0], width=168,
             caption="28 × 28 pixels, as the model received them",
             alt="The 28 by 28 pixel image given to the model")


def answer(predictor, picture, source: str, class_names: tuple[str, ...], view_slot=None, *,
           digits: bool = True) -> inference.Reading | None:
    """The model's reading of the picture, or a message saying what to do first; returns the reading.

    `view_slot`, a container elsewhere on the page (presenter mode: under the canvas), takes the model's view of
    the picture; the probabilities then come right under the answer, so that both fit a projector's first screen.
    `digits=False` (a model of clothes) asks for a piece of clothing instead of a digit.
    """
    thing = "a digit" if digits else "a piece of clothing"
    if predictor is None:
        st.info("Draw a digit once there is a model to read it (see above).", icon=":material/draw:")
        return None
    if picture is None:
        message = (f"Draw {thing} on the canvas." if source == _draw_input.DRAW_INPUT
                   else f"Upload a picture of {thing}.")
        st.info(message, icon=":material/draw:")
        return None
    try:
        reading = inference.read_picture(predictor, picture)
    except ValueError as error:
        st.error(text.markdown_escape(error))
        return None
    if reading.is_blank:
        message = reading.preprocessed.message
        st.info(preprocess.canvas_message(message, digits=digits) if source == _draw_input.DRAW_INPUT
                else preprocess.upload_message(message, digits=digits), icon=":material/draw:")
        return None
    if view_slot is not None:
        # The answer beside its chart where the column has room for both (a projector of 1280 px: the whole chart
        # within 720 px of height), the chart under it where not; the link, for the teacher, after them.
        with st.container(horizontal=True, wrap=True, gap="medium", key="draw_answer_row"):
            with st.container(width="content", key="draw_answer_prediction"):
                prediction(reading, class_names)
            with st.container(width="stretch", key="draw_answer_chart"):
                probability_chart(reading.probabilities, class_names, reading.predicted_class)
        st.page_link("pages/inside.py", label="See inside the network", icon=":material/visibility:")
        # Under the canvas when the columns sit side by side; after the chart when they are stacked (a phone),
        # where under the canvas it would push the answer off the first screen. The page's style shows one.
        with view_slot:
            model_view(reading, beside=True)
        with st.container(key="draw_view_in_answer"):
            model_view(reading, beside=True)
        return reading
    # Side by side when there is room, the model's view under the answer when not: nothing is cut off.
    with st.container(horizontal=True, wrap=True, gap="large"):
        metric_column, view_column = st.container(width="content"), st.container(width="content")
    with metric_column:
        prediction(reading, class_names)
        st.page_link("pages/inside.py", label="See inside the network", icon=":material/visibility:")
    with view_column:
        model_view(reading)
    probability_chart(reading.probabilities, class_names, reading.predicted_class)
    return reading

