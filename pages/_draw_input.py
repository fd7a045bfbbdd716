"""The Draw page's input: the 280x280 canvas with its pen-width slider and Clear button, or an uploaded picture.

The canvas toolbar (undo, redo, edit, reset) floats over the top right of the drawing area and swallows strokes
that start there; the page has its own Clear button, so the toolbar is hidden (see hide_canvas_toolbar).
"""

import base64
import binascii

import streamlit as st

from core import inference, preprocess, text
from pages import _draw_state
from pages._draw_state import CANVAS_KEY, CANVAS_LEFT_KEY, LAST_DRAWING_KEY, RESTORE_KEY, canvas_key

CANVAS_SIZE = 280
PEN_WIDTH_DEFAULT = 18
PEN_WIDTH_KEY = "draw_pen_width"
PEN_WIDTH_SAVED_KEY = _draw_state.PEN_WIDTH_SAVED_KEY
INPUT_KEY = "draw_input"
DRAW_INPUT = "Draw on the canvas"
UPLOAD_INPUT = "Upload a picture"

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


def draw_canvas(stroke_width: int, key: str, initial_drawing: dict | None = None):
    """The drawing surface, starting with `initial_drawing` (strokes as the canvas describes them); returns its
    RGBA picture, or None before the first stroke.

    The only call to the canvas component, so that tests can replace it. The package is imported here
    because it registers its component when imported, which needs a running Streamlit.
    """
    from streamlit_drawable_canvas import st_canvas

    result = st_canvas(
        initial_drawing=initial_drawing,
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
    # The browser sends a PNG: its size is checked before it is decoded (a tiny PNG can declare a huge picture).
    try:
        return None if result.image_bytes is None else preprocess.decode_png(result.image_bytes)
    except ValueError as error:
        st.error(text.markdown_escape(error))
        return None


def hide_canvas_toolbar() -> None:
    # Out of the column's flow (the page's style): an invisible script should not add a gap above the canvas.
    with st.container(key="draw_toolbar_script"):
        st.html(HIDE_TOOLBAR_SCRIPT, unsafe_allow_javascript=True, width="content")


def input_choice() -> str:
    return st.radio("Input", [DRAW_INPUT, UPLOAD_INPUT], key=INPUT_KEY, horizontal=True,
                    label_visibility="collapsed")


def drawing(owner: str | None = None):
    """The pen-width slider and Clear button, then the canvas; returns the canvas picture (or None). A new session
    of the `owner` student (a reload of the page) starts with the last drawing they made.

    The controls sit above the canvas, not below: on a phone the page's columns stack, and the answer comes
    right after the canvas, on the first screen, instead of after the controls.
    """
    generation = st.session_state.setdefault(CANVAS_KEY, 0)
    if LAST_DRAWING_KEY not in st.session_state and owner is not None:
        # Looked up once a session: a page reloaded, or a new tab, starts where the student left their drawing.
        remembered = st.session_state[LAST_DRAWING_KEY] = _draw_state.remembered_drawing(owner)
        st.session_state[_draw_state.RESTORED_KEY] = remembered is not None
        if remembered is not None and remembered["pen_width"] is not None:
            # The pen the drawing was made with: the next strokes match the ones brought back.
            st.session_state.setdefault(PEN_WIDTH_SAVED_KEY, remembered["pen_width"])
    # A canvas that leaves the screen (the student opened another page, or chose the upload) comes back empty: a
    # fresh one mounts with the last drawing instead. It has left when the page changed or the upload was shown
    # (see before_run and uploaded_picture), or when Streamlit forgot its state after a whole run without it. A
    # run cut short by the next stroke changes none of these, so fast strokes never bring back an older drawing.
    last = st.session_state.get(LAST_DRAWING_KEY)
    left = st.session_state.pop(CANVAS_LEFT_KEY, False) or canvas_key(generation) not in st.session_state
    if last is not None and left:
        generation = st.session_state[CANVAS_KEY] = generation + 1
        st.session_state[RESTORE_KEY] = {"generation": generation, "strokes": last["strokes"]}
    # One row, also on a phone (columns would stack there and push the canvas down).
    with st.container(horizontal=True, vertical_alignment="bottom", wrap=False):
        # Streamlit forgets a widget's value on a page without it: the pen keeps its width through a visit elsewhere.
        if PEN_WIDTH_KEY not in st.session_state:
            st.session_state[PEN_WIDTH_KEY] = st.session_state.get(PEN_WIDTH_SAVED_KEY, PEN_WIDTH_DEFAULT)
        st.slider("Pen width", min_value=_draw_state.PEN_WIDTHS[0], max_value=_draw_state.PEN_WIDTHS[1],
                  key=PEN_WIDTH_KEY)
        clear = st.button("Clear", icon=":material/delete:", width="content")
    if clear:
        # The canvas cannot be emptied from Python: a new key mounts a fresh, empty one.
        st.session_state[CANVAS_KEY] = generation + 1
        st.session_state[LAST_DRAWING_KEY] = st.session_state[RESTORE_KEY] = None
        if owner is not None:
            _draw_state.remember_drawing(owner, None)
        st.rerun()
    pen_width = st.session_state[PEN_WIDTH_SAVED_KEY] = st.session_state.get(PEN_WIDTH_KEY, PEN_WIDTH_DEFAULT)
    restore = st.session_state.get(RESTORE_KEY)
    # The drawing a restored canvas starts with stays the same while it is on screen: the canvas redraws itself
    # whenever it changes.
    initial = restore["strokes"] if restore and restore["generation"] == generation else None
    picture = draw_canvas(pen_width, key=canvas_key(generation), initial_drawing=initial)
    if picture is None and initial is not None and last is not None:
        # A restored canvas sends nothing until the next stroke: its picture is the last one it sent.
        picture = _sent_picture(last["data"])
    return picture


def remembered_drawing_image(owner: str):
    """The 28x28 image the Draw page gives a model for `owner`'s remembered drawing (`_draw_state`), or None: what
    the other pages look inside when a reload opened them before the Draw page."""
    remembered = _draw_state.remembered_drawing(owner)
    picture = _sent_picture(remembered["data"]) if remembered is not None else None
    if picture is None:
        return None
    try:
        prepared = preprocess.preprocess(picture)
    except ValueError:
        return None
    return None if prepared.is_blank else prepared.image


def _sent_picture(data_url: str):
    """The RGBA picture of a PNG data URL the canvas sent, or None when it is not one."""
    try:
        return preprocess.decode_png(base64.b64decode(data_url.split(";base64,", 1)[1], validate=True))
    except (ValueError, IndexError, binascii.Error):
        return None


def uploaded_picture(digits: bool = True):
    """A picture file chosen by the student, decoded safely; None (with a message) when there is none.

    `digits=False` (a model of clothes) asks for a picture of a piece of clothing."""
    # The uploader takes the canvas's place on the screen: the canvas will come back empty.
    st.session_state[CANVAS_LEFT_KEY] = True
    label = "A picture of a digit" if digits else "A picture of a piece of clothing"
    upload = st.file_uploader(label, type=["png", "jpg", "jpeg", "gif", "webp"],
                              max_upload_size=20, key="draw_upload")
    if upload is None:
        return None
    try:
        picture = inference.load_image_file(upload.getvalue())
    except ValueError as error:
        st.error(text.markdown_escape(error))
        return None
    # The file's name is the student's to choose: shown as text, never as Markdown.
    # In a frame: a white picture would not show on the white page.
    with st.container(border=True, width="content"):
        st.image(picture, width=CANVAS_SIZE, caption=text.markdown_escape(upload.name))
    return picture

