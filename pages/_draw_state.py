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


# The pen's width: the slider's range, and the width the student last drew with (kept through visits elsewhere, and
# with a remembered drawing).
PEN_WIDTHS = (5, 40)
PEN_WIDTH_SAVED_KEY = "draw_pen_width_saved"
# Whether this session's canvas started with a drawing remembered from another session (its Save tab then looks
# whether the student saved it already).
RESTORED_KEY = "draw_restored_from_memory"
# A student's last drawing, also kept by the server for a reload of the page (F5, or a browser reopening its tabs):
# a new session of the same student (their cookie's owner id) starts with it. The newest REMEMBERED_STUDENTS
# students' drawings, none larger than REMEMBERED_DRAWING_CHARACTERS (a canvas sends a few to a few tens of kB for
# a digit: a larger one is not remembered). In the server process's memory: a restarted server has forgotten them.
REMEMBERED_STUDENTS = 256
REMEMBERED_DRAWING_CHARACTERS = 256 * 1024
# A canvas's strokes nest about 5 deep (objects, a path, its points); much deeper is no canvas's, and a very deep
# value would break the canvas of every later session of that student.
MAX_STROKES_DEPTH = 32
# And at most this many numbers, names and lists in all (a digit's drawing: a few thousand; a drawing within the
# size bound has fewer than this): a crafted value of millions costs no more than this to look at.
MAX_STROKES_ITEMS = 100_000


@st.cache_resource(show_spinner=False)
def _remembered_drawings() -> lru.LruCache:
    return lru.LruCache(REMEMBERED_STUDENTS)


def remember_drawing(owner: str, drawing: dict | None, pen_width: int | None = None) -> None:
    """Keeps `drawing` ({"strokes", "data"}), drawn with `pen_width`, as `owner`'s last one; None forgets theirs
    (Clear). Kept as text (the strokes as JSON): its memory is its size, which the bound counts."""
    kept = None
    if drawing is not None:
        try:
            strokes, data = drawing["strokes"], drawing["data"]
            # ASCII only (JSON's escapes, a base64 data URL): one byte a character, as the bound counts them. The
            # cheap checks first: a crafted value of megabytes is refused before it is walked or written out.
            if (isinstance(data, str) and len(data) <= REMEMBERED_DRAWING_CHARACTERS and data.isascii()
                    and _fits(strokes)):
                kept = (json.dumps(strokes, separators=(",", ":")), data)
        except (TypeError, ValueError, KeyError, RecursionError):
            kept = None
        if kept is not None and len(kept[0]) + len(kept[1]) > REMEMBERED_DRAWING_CHARACTERS:
            kept = None
    if kept is not None:
        kept += (pen_width if isinstance(pen_width, int) and PEN_WIDTHS[0] <= pen_width <= PEN_WIDTHS[1] else None,)
    _remembered_drawings().put(owner, kept)


def _fits(value) -> bool:
    """Whether lists and dicts nest at most MAX_STROKES_DEPTH deep in `value` (a canvas's strokes: about 5), with at
    most MAX_STROKES_ITEMS items in all: walked without recursion, and given up on as soon as either is passed."""
    items, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            items += len(item)
            if depth > MAX_STROKES_DEPTH or items > MAX_STROKES_ITEMS:
                return False
            stack.extend((child, depth + 1) for child in item if isinstance(child, (dict, list)))
    return True


def remembered_drawing(owner: str) -> dict | None:
    """The last drawing `owner` made on this server (in any session), or None: {"strokes", "data", "pen_width"}
    (the pen's width then, None if unknown)."""
    kept = _remembered_drawings().get(owner)
    if kept is None:
        return None
    strokes, data, pen_width = kept
    return {"strokes": json.loads(strokes), "data": data, "pen_width": pen_width}


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
        previous = st.session_state.get(LAST_DRAWING_KEY)
        st.session_state[LAST_DRAWING_KEY] = kept = {"strokes": dict(strokes), "data": data}
        # Remembered when it changes (a new stroke), not on every run: another tab's Clear stays done until this
        # tab draws again.
        if owner is not None and not (isinstance(previous, dict) and previous.get("data") == data):
            remember_drawing(owner, kept, st.session_state.get(PEN_WIDTH_SAVED_KEY))
    previous = st.session_state.get(PAGE_OF_RUN_KEY)
    st.session_state[PAGE_OF_RUN_KEY] = page_path
    if previous is not None and previous != page_path:
        st.session_state[CANVAS_LEFT_KEY] = True
        # (Only the training whose bar was shown: a page that showed one, then followed another one the class
        # started, keeps following it.)
        shown = st.session_state.pop(READY_SHOWN_KEY, None)
        if shown is not None and st.session_state.get(WATCHED_TRAINING_KEY) == shown:
            del st.session_state[WATCHED_TRAINING_KEY]
