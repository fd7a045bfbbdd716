"""Draw page: the student draws a digit and the model reads it, live.

The screen, top to bottom: a model picker (digit models first; a Fashion-MNIST model is allowed and says that
it knows clothes), then the main view, which fits a 1280x900 screen. Left, a pen-width slider and a Clear
button above the 280x280 black canvas with a white pen (or an uploaded picture instead of the canvas). Right
(right under the canvas on a phone, where the columns stack), the model's answer in large type (the
`st.metric` labelled "Prediction") with a link to the Inside page, the 28x28 image the model actually received,
and the probability of every class as a bar chart.

Below the answer, five tabs for the lesson; only the open one runs (`st.tabs(on_change="rerun")`):
- How it becomes 28 × 28: the stages of the MNIST recipe, and what a naive squeeze gives.
- Bend the drawing: sliders move, turn, resize and thicken the model's input (`core.robustness`), a toggle
  skips the recipe; the bent image, its prediction and probabilities change as a slider is released.
- Every model votes: every compatible trained run reads the same (possibly bent) image (`inference.vote`); a
  table of model, architecture, prediction and confidence, in red the rows that miss.
- Why?: where the model looks, what covering a place costs, the smallest change that fools it (and how every
  model votes on it), and the map of the test set with the drawing as a star (`_draw_explain`).
- Save with its true label: the student picks the digit they meant and saves the MNIST-style image into the
  class's own test set (`core.class_set`), shown on the Class drawings page.

Each mouse release reruns the page. The preprocessing and the prediction take a few milliseconds
(`core.inference`), so the answer appears as soon as the pen is lifted. Every reading is shared with the other
pages (`_common.set_current_drawing`). When no digit model exists yet, one button trains the default digit
model on the offline sample and the page carries on with it.

The machinery lives beside this file: the model and the default digit model's training in `_draw_model`, the
canvas and the upload in `_draw_input`, the answer in `_draw_answer`, the tabs in `_draw_tabs` and `_draw_save`.
"""

import streamlit as st

from core import datasets, inference
from pages import _common, _draw_answer, _draw_input, _draw_model, _draw_tabs, _presenter

# A big answer for the back of the classroom.
PAGE_STYLE = """
<style>
[data-testid="stMetric"] [data-testid="stMetricValue"] { font-size: 7rem; line-height: 1; }
[data-testid="stMetric"] [data-testid="stMetricLabel"] p { font-size: 1.1rem; }
/* The answer beside the canvas needs room for the big digit, the model's view and the chart: below that, it
   wraps under the canvas. */
.st-key-draw_answer { min-width: min(20rem, 100%); }
/* The default model's offer: its words shrink beside the button rather than wrap below it, except on a phone. */
.st-key-draw_default_offer, .st-key-draw_first_digit_offer { flex-wrap: nowrap; }
.st-key-draw_default_offer [data-testid="stCaptionContainer"],
.st-key-draw_first_digit_offer [data-testid="stCaptionContainer"] { min-width: 10rem; }
/* While the page reruns (a new epoch's model during the one click, for a student with a drawing), Streamlit dims
   what it has not redrawn yet: on a projector the whole page would flash every few seconds. The answer simply
   changes when it is ready. */
[data-testid="stElementContainer"][data-stale="true"] { opacity: 1 !important; transition: none !important; }
[data-testid="stLayoutWrapper"]:has(> .st-key-draw_toolbar_script),
[data-testid="stLayoutWrapper"]:has(> .st-key-draw_watch_models), .st-key-draw_watch_models {
  position: absolute; width: 0; height: 0; overflow: hidden;
}
/* Where the one-click training's progress line or the line under it could take two lines (a phone: each of them
   fits in about 500 px, so one line at 1024 px with the sidebar open), each keeps two lines from the click to the end
   ("starting…" takes one, an epoch's line two): the canvas under them does not move as the words change. */
.st-key-draw_trainer { container-type: inline-size; container-name: draw-trainer; }
/* The offer before the click is a button and a line under it; the progress bar that replaces the button is as tall
   as the button, so that the canvas does not move at the click. */
.st-key-draw_trainer [data-testid="stProgress"] { min-height: 2.5rem; }
@container draw-trainer (max-width: 540px) {
  .st-key-draw_trainer [data-testid="stProgress"] p, .st-key-draw_trainer [data-testid="stCaptionContainer"] p {
    min-height: 2lh;
  }
}
/* On a phone the columns stack: a smaller answer and title keep the answer on the first screen. */
@media (max-width: 640px) {
  [data-testid="stMetric"] [data-testid="stMetricValue"] { font-size: 4rem; }
  /* Just below the top bar (3.75rem high), not under it; the one-line instruction gives way to the answer (the
     canvas and its "Draw on the canvas" say it), and so does the offer of the default model, which is the
     teacher's to train on the projector. */
  [data-testid="stMainBlockContainer"] { padding-top: 4rem; }
  h1 { font-size: 1.6rem !important; padding-top: 0 !important; }
  .st-key-draw_header [data-testid="stElementContainer"]:has([data-testid="stCaptionContainer"]) { display: none; }
  .st-key-draw_default_offer { display: none; }
  .st-key-draw_first_digit_offer { flex-wrap: wrap; }
  .st-key-draw_first_digit_offer button, .st-key-draw_first_digit_offer button * {
    white-space: normal !important; overflow: visible !important;
  }
}
</style>
"""


# Outside presenter mode (which has its own, smaller margins), on a short screen (a 768 or 800 px projector, a
# laptop's browser under its bars): the page's top margin and the title's size give way to the canvas, which would
# otherwise end below the screen while the training's bar and its line are shown. The margin keeps the top bar's
# height (3.75rem): the title is never under it.
SHORT_SCREEN_STYLE = """
<style>
@media (max-height: 860px) and (min-width: 641px) {
  [data-testid="stMainBlockContainer"] { padding-top: 3.75rem; }
  .st-key-draw_header h1 { font-size: 2rem; padding-top: 0.25rem; padding-bottom: 0.25rem; }
}
</style>
"""


# Presenter mode makes all type a third larger: the canvas then needs the room that the page's top margin, the
# one-line instruction and the default model's explanation take (the button still says what it does), to stay on
# a 1280x900 projector's first screen.
PRESENTER_STYLE = """
<style>
[data-testid="stMain"] [data-testid="stVerticalBlock"] { gap: 0.6rem; }
.st-key-draw_header h1 { font-size: 2rem; padding-top: 0.5rem; padding-bottom: 0.25rem; }
/* The training's button (or progress) beside the title keeps its whole label. */
.st-key-draw_title_row button { white-space: nowrap; }
.st-key-draw_title_row { padding-top: 1rem; container-type: inline-size; container-name: draw-title; }
/* While it trains, its progress bar says enough there (the title and the canvas's message ask for a drawing). */
.st-key-draw_title_row [data-testid="stElementContainer"]:has([data-testid="stCaptionContainer"]) { display: none; }
.st-key-draw_title_row [data-testid="stProgress"] p {
  font-size: 20px !important; white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
}
.st-key-draw_title_row > :last-child { min-width: min(20rem, 100%); }
/* A 1024 px projector with the sidebar open leaves the row about 660 px: a smaller title and button keep the two
   on one line, and the canvas on the first screen. */
@container draw-title (max-width: 760px) {
  .st-key-draw_header h1 { font-size: 1.6rem; }
  .st-key-draw_title_row button p, .st-key-draw_title_row [data-testid="stProgress"] p { font-size: 16px !important; }
  .st-key-draw_title_row > :last-child { min-width: min(13rem, 100%); }
}
/* The model picker's own label gives way to the canvas: what it holds ("98.8% · Default digit model · ...") says
   what it is. (Screen readers still read it.) */
[class*="st-key-draw_model_"] [data-testid="stWidgetLabel"] { position: absolute; left: -10000px; }
/* The chart needs about 300 px: in less room it goes under the answer instead of beside it. (The size goes on the
   row's item that holds the chart, which is what the row wraps.) */
[data-testid="stLayoutWrapper"]:has(> .st-key-draw_answer_chart), .st-key-draw_answer_chart {
  min-width: 300px; flex: 1 1 300px !important;
}
/* Where the column has room for the chart beside the answer, the two stay side by side whatever the answer: a long
   class name ("T-shirt/top", "Ankle boot") wraps onto two lines rather than send the chart under it, which would
   make the page jump from one drawing to the next and push the chart's last rows off a 768 px screen. */
.st-key-draw_answer { container-type: inline-size; container-name: draw-answer; }
@container draw-answer (min-width: 520px) {
  .st-key-draw_answer_row { flex-wrap: nowrap !important; }
  [data-testid="stLayoutWrapper"]:has(> .st-key-draw_answer_prediction), .st-key-draw_answer_prediction {
    flex: 0 1 auto !important; min-width: 0 !important;
  }
}
/* The answer stays the page's largest type (presenter mode's own metric size would shrink it). */
.st-key-draw_answer [data-testid="stMetricValue"], .st-key-draw_answer [data-testid="stMetricValue"] div,
.st-key-draw_answer [data-testid="stMetricValue"] p { font-size: 6rem !important; line-height: 1; }
/* The canvas's own controls keep their usual size: the class looks at the drawing, not at the pen's slider, and
   the two input choices then fit on one line. */
.st-key-draw_input_column label p, .st-key-draw_input_column [data-testid="stWidgetLabel"] p,
.st-key-draw_input_column [data-testid="stSliderThumbValue"],
.st-key-draw_input_column button p { font-size: 16px !important; }
[data-testid="stLayoutWrapper"]:has(> .st-key-draw_input_column),
.st-key-draw_input_column { width: 340px !important; flex: 0 0 340px !important; max-width: 100%; }
.st-key-draw_header [data-testid="stElementContainer"]:has([data-testid="stCaptionContainer"]) { display: none; }
.st-key-draw_default_offer [data-testid="stCaptionContainer"] { display: none; }
/* Beside the canvas the answer needs about 280 px for its chart: in less room the answer goes under the canvas.
   The model's view sits under the canvas while the answer is beside it, and after the answer once it is under
   it (on a phone it would push the answer off the first screen). One rule decides both. */
.st-key-draw_columns { container-type: inline-size; container-name: draw-columns; }
.st-key-draw_view_in_answer { display: none; }
@container draw-columns (max-width: 640px) {
  [data-testid="stLayoutWrapper"]:has(> .st-key-draw_answer), .st-key-draw_answer { flex: 1 1 100% !important; }
  .st-key-draw_view_under_input { display: none; }
  .st-key-draw_view_in_answer { display: block; }
}
/* A projector less than 800 px high (1024x768, 1366x768): under the canvas the model's view would end below the
   screen; it goes after the answer, which has the room under its chart. */
@media (max-height: 799px) and (min-width: 641px) {
  .st-key-draw_view_under_input { display: none; }
  .st-key-draw_view_in_answer { display: block; }
}
/* The five tabs under the answer are where the teacher clicks, not what the class reads: their names keep a
   size at which all five fit in a row. */
.st-key-draw_tab [role="tab"] p, .st-key-draw_tab [role="tab"] { font-size: 19px !important; }
/* A phone (a student's, opened from the teacher's link) keeps the page's phone sizes for the answer, and the
   training's progress line wraps onto a second line kept for it, rather than lose its time left. */
@media (max-width: 640px) {
  .st-key-draw_answer [data-testid="stMetricValue"], .st-key-draw_answer [data-testid="stMetricValue"] div,
  .st-key-draw_answer [data-testid="stMetricValue"] p { font-size: 4rem !important; }
  .st-key-draw_title_row { padding-top: 0; }
  .st-key-draw_title_row [data-testid="stProgress"] p {
    font-size: 16px !important; white-space: normal; min-height: 2.6em;
  }
}
/* The preparation's steps under the answer are 112 px pictures, and Streamlit makes each caption as wide as its
   picture: at presenter size "3 · Fitted in 20 × 20" then broke after every word. Each step's caption takes its
   column's width instead, and the picture and its caption are centred in the column, one under the other. */
.st-key-draw_recipe_steps [data-testid="stFullScreenFrame"] > div,
.st-key-draw_recipe_steps [data-testid="stImage"],
.st-key-draw_recipe_steps [data-testid="stImageContainer"] { width: 100% !important; align-items: center; }
.st-key-draw_recipe_steps [data-testid="stImageCaption"] {
  width: auto !important; max-width: 100% !important; text-align: center;
}
/* The chosen model's accuracy and name, readable from the back of the room. */
[class*="st-key-draw_model_"] [data-testid="stSelectbox"] input { font-size: 1.25rem; text-overflow: ellipsis; }
</style>
"""


def header(digits: bool = True) -> None:
    with st.container(key="draw_header"):
        # A model of clothes is given a picture to read, not a digit: the class sees the title over its answer.
        st.title(f":material/draw: 4 · Draw a {'digit' if digits else 'picture'}")
        st.caption("Draw with the mouse (or a finger) on the black square. The model reads it when you lift the "
                   "pen.")


# --- the screen ---------------------------------------------------------------------------------------------

st.html(PAGE_STYLE)
if _presenter.enabled():
    st.html(PRESENTER_STYLE)
else:
    st.html(SHORT_SCREEN_STYLE)
store = _common.run_store()
candidates = inference.compatible_runs(store.list())
# The title says what to draw, which depends on the model chosen below: its place is kept at the top. Fixed places
# for the one-click training and the model picker, drawn or left empty: the canvas below keeps its place in the
# page when the training starts, ends or first gives a model. (The browser remounts a component whose place
# moves, and a remounted canvas is empty, so a student's drawing would vanish.) On a projector the training's
# button or progress goes beside the title, where the row has room: the canvas needs the height.
if _presenter.enabled():
    with st.container(horizontal=True, vertical_alignment="center", gap="small", wrap=True,
                      key="draw_title_row"):
        header_slot, trainer_slot = st.container(width="content"), st.container(width="stretch")
else:
    header_slot, trainer_slot = st.container(), st.container(key="draw_trainer")
model_slot = st.container()
# The one-click training stays on offer until a default digit model exists: a small model trained earlier on
# the Train page reads MNIST, but not people's handwriting as well. One still training is not the default yet:
# every visitor of the page sees its progress, whoever clicked.
training = False
if st.session_state.get(_draw_model.TRAINING_KEY) or not any(map(_draw_model.is_default_digit_model, candidates)):
    with trainer_slot:
        training = _draw_model.default_model_trainer(has_model=bool(candidates),
                                                     has_digit_model=any(map(inference.reads_digits, candidates)))
else:
    # A page that watched the training keeps its place above the canvas, now saying what came of it.
    with trainer_slot:
        _draw_model.finished_training()
with model_slot:
    chosen = _draw_model.model_choice(candidates) if candidates else None
    if not candidates:
        # The list's place, empty, from before the click: its first model then takes the same place.
        _draw_model.waiting_model_picker(training=training)
class_names = datasets.get_info(chosen.dataset).class_names if chosen is not None else ()
# A model of clothes is asked for pictures of clothes, in the title and in every message.
digits = chosen is None or inference.reads_digits(chosen)
with header_slot:
    header(digits=digits)

# The canvas keeps its 280 px (a column narrower than that cuts it off) and the answer takes the rest; on a
# screen too narrow for both side by side (a phone), the answer wraps to right under the canvas.
with st.container(horizontal=True, gap="medium", wrap=True, key="draw_columns"):
    input_column = st.container(width=300, key="draw_input_column")
    answer_column = st.container(width="stretch", key="draw_answer")
with input_column:
    source = _draw_input.input_choice()
    if source == _draw_input.DRAW_INPUT:
        _draw_input.hide_canvas_toolbar()
        picture = _draw_input.drawing(_common.owner())
    else:
        picture = _draw_input.uploaded_picture(digits)
    # On a projector the model's view goes under the drawing, where the two compare best, and the probabilities
    # move up beside the drawing: the drawing, the answer and every class's probability on one screen.
    view_slot = st.container(key="draw_view_under_input") if _presenter.enabled() else None

with answer_column:
    # Loaded here, not under the list: its "Loading the model…" (a new epoch's model, a second or so) then moves the
    # answer for that moment, never the canvas a student is drawing on.
    predictor = _draw_model.load_predictor(chosen) if chosen is not None else None
    reading = _draw_answer.answer(predictor, picture, source, class_names, view_slot, digits=digits)
# The Inside page looks at the drawing the model read last, or says there is none.
_common.set_current_drawing(reading.preprocessed.image if reading is not None else None)
if reading is not None:
    _draw_tabs.below_the_answer(reading, predictor, picture, chosen, class_names)
