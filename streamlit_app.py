"""Neural Canvas: the entry point. Run it with `streamlit run streamlit_app.py`.

This file only routes: it lists the pages (one file each in `pages/`) and draws the sidebar that every page
shares, after applying the app's two patches of Streamlit's internals (`pages/_streamlit_patches.py`). It
imports no TensorFlow, so the home page appears at once; pages import it when they need it.
"""

from pathlib import Path

import streamlit as st

from pages import _streamlit_patches

# The icon ships with the app: a Material or emoji icon would make every browser fetch it from the internet.
st.set_page_config(page_title="Neural Canvas", page_icon=str(Path(__file__).parent / "assets" / "icon.png"),
                   layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/datasets.py", title="1 · Datasets", icon=":material/photo_library:", url_path="datasets"),
    st.Page("pages/train.py", title="2 · Train", icon=":material/model_training:", url_path="train"),
    st.Page("pages/results.py", title="3 · Results", icon=":material/analytics:", url_path="results"),
    st.Page("pages/draw.py", title="4 · Draw", icon=":material/draw:", url_path="draw"),
    st.Page("pages/inside.py", title="5 · Inside the network", icon=":material/visibility:", url_path="inside"),
    st.Page("pages/class_set.py", title="6 · Class drawings", icon=":material/groups:", url_path="class_set"),
]

from pages import _presenter  # noqa: E402 - after set_page_config, which must come first

# On a projector the sidebar is closed (presenter mode): the pages are then listed along the top of the screen,
# where the teacher finds them, instead of behind the sidebar's "»".
page = st.navigation(PAGES, position="top" if _presenter.enabled() else "sidebar")
# Before any page runs: an unknown Streamlit stops here with its version named, not later in silence. (After
# st.navigation, which has already left the legacy pages/ mode, so that this costs no extra rerun.)
_streamlit_patches.apply()

# Every page shows small images (28x28 digits, feature maps) enlarged: keep each pixel a sharp square when the
# browser fits an image to its column, so a digit stays crisp on a projector.
st.html("<style>[data-testid='stImage'] img { image-rendering: pixelated; }</style>")
# Streamlit cuts a link's or a metric's label that does not fit with "…" ("Open Inside the netw"):
# in the app's pages such a label wraps onto a second line instead, so that it is always read whole; a metric's
# value gets smaller type on a narrow screen rather than a "…".
st.html("""<style>
[data-testid='stMain'] [data-testid='stPageLink'] *, [data-testid='stMain'] [data-testid='stMetricLabel'] * {
  white-space: normal; text-overflow: clip; }
[data-testid='stMetricValue'] { font-size: clamp(1.7rem, 2.6vw, 2.25rem); }
</style>""")

from pages import _common, _draw_state  # noqa: E402 - after set_page_config, which must come first

# The Draw page's canvas: its newest drawing kept, whichever page this run shows.
_draw_state.before_run(page.url_path, owner=_common.owner())
# Large type for a projector when the visitor (or the link they opened) asked for it; a tab that opens the app in
# presenter mode closes the sidebar, so that on a 1024x768 projector the canvas, the answer and all ten
# probabilities fit the screen (switched on in the sidebar, it leaves the sidebar where the teacher is).
_presenter.apply()
# Only the Train page keeps settings in its address (for a link shared with the class); another page's address
# keeps presenter mode alone. The browser's Back from the Train page to another one can bring the Train page's
# settings along (Streamlit sends the last query it knew with the page it goes back to): they go again.
_presenter.keep_only_presenter_in_address(page.url_path, own_query_pages=("train",))
# Who the student is, from their browser's cookie (made and stored on their first visit).
_common.remember_student()

# The sidebar is filled after the page has run, so that it shows the dataset and model the page just chose;
# its place at the top of the sidebar is kept from the start.
sidebar_slot = st.sidebar.container()
try:
    page.run()
finally:
    _common.sidebar(sidebar_slot)
    _presenter.end_of_run()
