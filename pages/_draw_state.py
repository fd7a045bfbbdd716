"""What the Draw page's canvas leaves in a visitor's session, kept up to date by the router on every run.

A module of its own, importing nothing but Streamlit and the small cache in `core.lru`: the router calls
`before_run` on every page, the home page too, which must not pay for the Draw page's image code.
"""

import json

import streamlit as st

from core import lru

# The number in the canvas's key: a new one mounts a fresh canvas (Clear, or a canvas coming back).
CANVAS_KEY = "draw_canvas_generation"
# The last drawing the canvas sent ({"strokes": its drawing as the canvas describes it, "data": the PNG it sent, as
# a data URL}), the drawing a fresh canvas starts with ({"generation": its key's number, "strokes": ...}), whether
# the canvas has left the screen since, and the page of the last run.
LAST_DRAWING_KEY = "draw_last_drawing"
RESTORE_KEY = "draw_canvas_restore"
CANVAS_LEFT_KEY = "draw_canvas_left"
PAGE_OF_RUN_KEY = "page_of_last_run"
# The one-click training the Draw page followed, and the one whose "Digit model ready" bar it has shown: the bar
# keeps the training's place above the canvas while the visitor stays on the page, and goes once they leave it
# (back on the page, the canvas is drawn afresh anyway, so nothing under it can move).
WATCHED_TRAINING_KEY = "draw_default_training_watched"
READY_SHOWN_KEY = "draw_default_training_ready_shown"


# A student's last drawing, also kept by the server for a reload of the page (F5, or a browser reopening its tabs):
# a new session of the same student (their cookie's owner id) starts with it. The newest REMEMBERED_STUDENTS
# students' drawings, none larger than REMEMBERED_DRAWING_CHARACTERS (a canvas sends a few to a few tens of kB for
# a digit: a larger one is not remembered). In the server process's memory: a restarted server has forgotten them.
# Whether this session's canvas started with a drawing remembered from another session (its Save tab then looks
# whether the student saved it already).
RESTORED_KEY = "draw_restored_from_memory"
REMEMBERED_STUDENTS = 256
REMEMBERED_DRAWING_CHARACTERS = 256 * 1024


@st.cache_resource(show_spinner=False)
def _remembered_drawings() -> lru.LruCache:
    return lru.LruCache(REMEMBERED_STUDENTS)


def remember_drawing(owner: str, drawing: dict | None) -> None:
    """Keeps `drawing` ({"strokes", "data"}) as `owner`'s last one; None forgets theirs (Clear). Kept as text (the
    strokes as JSON): its memory is its size, which the bound counts."""
    kept = None
    if drawing is not None:
        try:
            kept = (json.dumps(drawing["strokes"], separators=(",", ":")), str(drawing["data"]))
        except (TypeError, ValueError, KeyError):
            kept = None
        if kept is not None and len(kept[0]) + len(kept[1]) > REMEMBERED_DRAWING_CHARACTERS:
            kept = None
    _remembered_drawings().put(owner, kept)


def remembered_drawing(owner: str) -> dict | None:
    """The last drawing `owner` made on this server (in any session), or None."""
    kept = _remembered_drawings().get(owner)
    if kept is None:
        return None
    strokes, data = kept
    return {"strokes": json.loads(strokes), "data": data}


def canvas_key(generation: int) -> str:
    return f"draw_canvas_{generation}"


def before_run(page_path: str, owner: str | None = None) -> None:
    """Called by the router at the start of every run of the app, whatever the page.

    Keeps the canvas's newest drawing, which the browser sends with the next run: a student who clicks another
    page right after lifting the pen sends the stroke with that page's run, in which the Draw page does not run.
    And notes a change of page: the browser then takes the canvas off the screen, even when the run is cut short
    and Streamlit keeps the canvas's state; a "Digit model ready" bar already shown is not drawn again. The PNG is
    decoded only if a canvas is ever restored from it. The drawing is also remembered as the `owner` student's,
    for a reload of the page.
    """
    value = st.session_state.get(canvas_key(st.session_state.get(CANVAS_KEY, 0)))
    drawing = value.get("drawing") if hasattr(value, "get") else None
    strokes = drawing.get("raw") if hasattr(drawing, "get") else None
    data = drawing.get("data") if hasattr(drawing, "get") else None
    if isinstance(strokes, dict) and strokes.get("objects") and isinstance(data, str) and ";base64," in data:
        st.session_state[LAST_DRAWING_KEY] = kept = {"strokes": dict(strokes), "data": data}
        if owner is not None:
            remember_drawing(owner, kept)
    previous = st.session_state.get(PAGE_OF_RUN_KEY)
    st.session_state[PAGE_OF_RUN_KEY] = page_path
    if previous is not None and previous != page_path:
        st.session_state[CANVAS_LEFT_KEY] = True
        # (Only the training whose bar was shown: a page that showed one, then followed another one the class
        # started, keeps following it.)
        shown = st.session_state.pop(READY_SHOWN_KEY, None)
        if shown is not None and st.session_state.get(WATCHED_TRAINING_KEY) == shown:
            del st.session_state[WATCHED_TRAINING_KEY]
