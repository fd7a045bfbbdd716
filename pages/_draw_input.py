"""The Draw page's input: the 280x280 canvas with its pen-width slider and Clear button, or an uploaded picture.

The canvas toolbar (undo, redo, edit, reset) floats over the top right of the drawing area and swallows strokes
that start there; the page has its own Clear button, so the toolbar is hidden (see hide_canvas_toolbar).
"""

import streamlit as st

from core import inference, preprocess, text

CANVAS_SIZE = 280
PEN_WIDTH_DEFAULT = 18
CANVAS_KEY = "draw_canvas_generation"
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
    # The browser sends a PNG: its size is checked before it is decoded (a tiny PNG can declare a huge picture).
    try:
        return None if result.image_bytes is None else preprocess.decode_png(result.image_bytes)
    except ValueError as error:
        st.error(text.markdown_escape(error))
        return None


def hide_canvas_toolbar() -> None:
    st.html(HIDE_TOOLBAR_SCRIPT, unsafe_allow_javascript=True, width="content")


def input_choice() -> str:
    return st.radio("Input", [DRAW_INPUT, UPLOAD_INPUT], key=INPUT_KEY, horizontal=True,
                    label_visibility="collapsed")


def drawing():
    """The pen-width slider and Clear button, then the canvas; returns the canvas picture (or None).

    The controls sit above the canvas, not below: on a phone the page's columns stack, and the answer comes
    right after the canvas, on the first screen, instead of after the controls.
    """
    generation = st.session_state.setdefault(CANVAS_KEY, 0)
    # One row, also on a phone (columns would stack there and push the canvas down).
    with st.container(horizontal=True, vertical_alignment="bottom", wrap=False):
        st.slider("Pen width", min_value=5, max_value=40, value=PEN_WIDTH_DEFAULT, key="draw_pen_width")
        clear = st.button("Clear", icon=":material/delete:", width="content")
    if clear:
        # The canvas cannot be emptied from Python: a new key mounts a fresh, empty one.
        st.session_state[CANVAS_KEY] = generation + 1
        st.rerun()
    pen_width = st.session_state.get("draw_pen_width", PEN_WIDTH_DEFAULT)
    return draw_canvas(pen_width, key=f"draw_canvas_{generation}")


def uploaded_picture():
    """A picture file chosen by the student, decoded safely; None (with a message) when there is none."""
    upload = st.file_uploader("A picture of a digit", type=["png", "jpg", "jpeg", "gif", "webp"],
                              max_upload_size=20, key="draw_upload")
    if upload is None:
        return None
    try:
        picture = inference.load_image_file(upload.getvalue())
    except ValueError as error:
        st.error(text.markdown_escape(error))
        return None
    # The file's name is the student's to choose: shown as text, never as Markdown.
    st.image(picture, width=CANVAS_SIZE, caption=text.markdown_escape(upload.name))
    return picture

