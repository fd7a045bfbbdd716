"""Presenter mode: type, images and charts large enough for the back of a classroom on a projector.

One setting for the visitor, switched in the sidebar and remembered in the page's address
(`?presenter=on`), so that a share link opens the class's screens the same way. Not a page itself.
"""

import streamlit as st

from core import share

KEY = "presenter_mode"

# Streamlit sizes its text in rem: the root size scales it all. A metric's value is Markdown too, so it is set
# after the paragraph rule. Charts grow through Plotly's own layout (`enlarge`): a CSS override of their
# font sizes would cut legends and titles laid out at the smaller size. Images grow with their columns
# already; small ones (a 28x28 digit shown at its own width) are given a minimum size.
_STYLE = """
<style>
html { font-size: 21px; }
[data-testid='stMarkdownContainer'] p, [data-testid='stMarkdownContainer'] li,
[data-testid='stCaptionContainer'], label p { font-size: 1.15rem !important; }
[data-testid='stMetricValue'], [data-testid='stMetricValue'] p,
[data-testid='stMetricValue'] div { font-size: 2.2rem !important; }
[data-testid='stMetricDelta'] div, [data-testid='stMetricDelta'] p { font-size: 1.3rem !important; }
[data-testid='stImage'] img { min-width: 96px; }
/* What a select box or an input holds (the model, the architecture, a number) in the body's size, for the class
   to read. */
[data-testid='stSelectbox'] input, [data-testid='stNumberInput'] input, [data-testid='stTextInput'] input {
  font-size: 1.15rem; text-overflow: ellipsis;
}
/* In a row of columns a little smaller, so that a short choice stays whole ("Most confident first" at 1024 px). */
[data-testid='stColumn'] [data-testid='stSelectbox'] input,
[data-testid='stColumn'] [data-testid='stNumberInput'] input { font-size: 1rem; }
[data-testid='stSidebarNav'] a span { white-space: normal; overflow: visible; text-overflow: clip; }
/* The pages along the top (the sidebar is closed on a projector): the page names alone, in the sidebar's type
   size, so that all of them fit a 1280 px screen and most of them a 1024 px one; the same in the "N more" menu
   of those that do not. */
[data-testid='stTopNavLink'] > :has([data-testid='stIconMaterial']),
[data-testid='stTopNavDropdownLink'] > :has([data-testid='stIconMaterial']) { display: none; }
[data-testid='stTopNavLink'] p, [data-testid='stTopNavSection'] p,
[data-testid='stTopNavDropdownLink'] p { font-size: 16px !important; }
/* Each name's box keeps room for its bold (current page) form, measured in its own type size: at 16 px too, or
   the gaps between the names would follow the larger size's widths, unevenly. */
[data-testid='stTopNavLink'] span[label], [data-testid='stTopNavLink'] span[label]::after,
[data-testid='stTopNavSection'], [data-testid='stTopNavSection'] * { font-size: 16px !important; }
/* The "N more" menu can end a little past the row's measured width (Streamlit measures it at its own size): the
   row lets it show whole, not clipped. */
nav.rc-overflow:has([data-testid='stTopNavLink']) { overflow: visible; min-width: 0; }
/* Less margin around every page than the large type gives it (6rem on top, 5rem a side): a projector's first
   screen is for the lesson. A phone keeps its own margins. */
@media (min-width: 641px) {
  [data-testid="stMainBlockContainer"] { padding-top: 2.5rem; padding-left: 1.5rem; padding-right: 1.5rem; }
}
/* A phone is held in the hand, not projected: a student who opens the teacher's presenter link on one keeps about
   the phone's own type, and the Draw page's answer stays on its first screen. */
@media (max-width: 640px) { html { font-size: 16px; } }
</style>
"""


def enabled() -> bool:
    """Whether presenter mode is on for this visitor: the address's `presenter` value decides on the first run,
    the sidebar switch after that."""
    if KEY not in st.session_state:
        st.session_state[KEY] = share.presenter_from_query(st.query_params.to_dict())
    return bool(st.session_state[KEY])


# Closes the sidebar once the page has drawn it, if it is open. (Streamlit's own initial_sidebar_state would also
# close it under the teacher's mouse when presenter mode is switched on, and yields to the state this browser last
# left the sidebar in, kept in its localStorage.) The state the click makes Streamlit keep is forgotten again, so
# that a later page without presenter mode opens with the sidebar as usual. The sidebar is drawn after this script
# runs, later still on a busy server (a training on the same cores): the script looks every 100 ms until it has
# seen the sidebar and closed it, for at most 30 s, and then never again, so that a teacher who opens it keeps it.
_CLOSE_SIDEBAR_SCRIPT = """<script>(function () {
  var started = Date.now();
  function forgetState() {
    try {
      Object.keys(window.localStorage).forEach(function (key) {
        if (key.indexOf('stSidebarCollapsed-') === 0) { window.localStorage.removeItem(key); }
      });
    } catch (error) { /* no localStorage (a private window may refuse it): nothing kept to forget */ }
  }
  function closeSidebar() {
    var sidebar = document.querySelector('[data-testid="stSidebar"]');
    var button = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    var collapsed = sidebar && sidebar.getAttribute('data-collapsed');
    if (collapsed === 'true') { forgetState(); return; }
    if (collapsed === 'false' && button) {
      button.click();
      setTimeout(forgetState, 300);
      return;
    }
    if (Date.now() - started < 30000) { setTimeout(closeSidebar, 100); }
  }
  setTimeout(closeSidebar, 50);
})();</script>"""
# The browser's Back goes to the page before, in one step. Streamlit pushes a new page's address without the old
# one's query, and a page that then sets its query (the router's `presenter`, the Train page's settings for a
# shared link) pushed a second entry for the same page: Back went from "/results?presenter=on" to "/results", the
# same page, and the class saw nothing happen (from the Train page too). So, in this tab:
# - a new page's address carries the `presenter` parameter of the page it leaves, from the start;
# - a query changed on the same page replaces the page's entry instead of adding one: the address mirrors the
#   page's settings for sharing, it is not a step to go back through (the pages do not follow it back).
# Installed once per browser tab, on a session's first run, in either mode (the teacher may switch it on later).
_HISTORY_SCRIPT = """<script>(function () {
  if (window.__neuralCanvasHistory) { return; }
  window.__neuralCanvasHistory = true;
  var push = window.history.pushState, replace = window.history.replaceState;
  window.history.pushState = function (state, title, url) {
    try {
      if (url !== undefined && url !== null) {
        var here = new URL(window.location.href), target = new URL(String(url), here);
        if (target.pathname === here.pathname) { return replace.call(this, state, title, url); }
        var mode = here.searchParams.get('__PARAMETER__');
        if (mode !== null && !target.searchParams.has('__PARAMETER__')) {
          target.searchParams.set('__PARAMETER__', mode);
          url = target.pathname + target.search + target.hash;
        }
      }
    } catch (error) { /* an address it cannot read: pushed as Streamlit asked */ }
    return push.call(this, state, title, url);
  };
})();</script>""".replace("__PARAMETER__", share.PRESENTER_PARAMETER)
# The scripts' container is on every page, in both modes, and takes no room: the page's own elements keep their
# places when the mode is switched.
_HIDDEN_STYLE = ("<style>[data-testid='stLayoutWrapper']:has(> .st-key-presenter_sidebar), "
                 ".st-key-presenter_sidebar { display: none; }</style>")
SESSION_STARTED_KEY = "presenter_session_started"
# Whether this run is the session's first (a tab opened the app: a link, a bookmark, a reload). Its address is left
# as the browser opened it: the script above is not installed yet when Streamlit applies a first run's change of
# address, which would then push a second history entry for the same page (Back would seem to do nothing). The
# next run writes the page's address, in place.
FIRST_RUN_KEY = "session_first_run"


def first_run() -> bool:
    """Whether this run is the session's first (see FIRST_RUN_KEY): a page leaves its address alone in it."""
    return bool(st.session_state.get(FIRST_RUN_KEY, False))


def end_of_run() -> None:
    """Called by the router when its run ends, however it ends: later runs are not the first."""
    st.session_state[FIRST_RUN_KEY] = False


def apply() -> None:
    """Adds the large-type styles to this page when presenter mode is on (called by the router on every run), and
    closes the sidebar when a browser tab opens the app in presenter mode (a link, a reload), not later: switched
    on in the sidebar, or once the teacher opened the sidebar again, it stays as the teacher leaves it."""
    first_run = SESSION_STARTED_KEY not in st.session_state
    st.session_state[SESSION_STARTED_KEY] = True
    st.session_state[FIRST_RUN_KEY] = first_run
    st.html(_HIDDEN_STYLE)
    if enabled():
        st.html(_STYLE)
    # On every run, so that the page's own elements keep their places from the first run to the next (a canvas
    # whose place moves is drawn anew, empty); the scripts in it on the first run only. It takes no room.
    with st.container(key="presenter_sidebar"):
        if first_run:
            st.html(_HISTORY_SCRIPT, unsafe_allow_javascript=True)
            if enabled():
                st.html(_CLOSE_SIDEBAR_SCRIPT, unsafe_allow_javascript=True)


def keep_only_presenter_in_address(page_path: str, own_query_pages: tuple[str, ...]) -> None:
    """Drops from the address every parameter but presenter mode's, on a page not in `own_query_pages` (not on the
    session's first run)."""
    if page_path in own_query_pages or first_run():
        return
    for name in [name for name in st.query_params if name != share.PRESENTER_PARAMETER]:
        del st.query_params[name]


def switch(container) -> None:
    """The sidebar switch; the page's address follows it so that a copied or shared link keeps the mode."""
    enabled()
    on = container.toggle("Presenter mode", key=KEY,
                          help="Large type, images and charts for a projector. The page's address (and a shared "
                               "link) remembers it, and opens with the sidebar closed (its arrow at the top left "
                               "opens it).")
    if first_run():
        return
    if on and not share.presenter_from_query(st.query_params.to_dict()):
        st.query_params[share.PRESENTER_PARAMETER] = "on"
    elif not on and share.PRESENTER_PARAMETER in st.query_params:
        del st.query_params[share.PRESENTER_PARAMETER]


# How much larger a chart's type is in presenter mode, and its height with it.
CHART_SCALE = 1.35


def enlarge(figure):
    """A copy of a Plotly figure with its fonts and height scaled for the back of the room."""
    import plotly.graph_objects as go

    figure = go.Figure(figure)
    layout = figure.layout
    figure.update_layout(font_size=round((layout.font.size or 12) * CHART_SCALE),
                         title_font_size=round((layout.title.font.size or 17) * CHART_SCALE))
    if layout.height:
        figure.update_layout(height=round(layout.height * 1.2))
    for trace in figure.data:
        font = getattr(trace, "textfont", None)
        if font is not None and font.size:
            font.size = round(font.size * CHART_SCALE)
    for axis in (layout.xaxis, layout.yaxis):
        if axis.tickfont and axis.tickfont.size:
            axis.tickfont.size = round(axis.tickfont.size * CHART_SCALE)
    for annotation in layout.annotations or ():
        if annotation.font and annotation.font.size:
            annotation.font.size = round(annotation.font.size * CHART_SCALE)
    return figure
