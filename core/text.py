"""Text a user controls (run names, file names, values from a link), made safe for Markdown.

Streamlit renders Markdown in most of what a page shows: `st.markdown`, captions, alerts, headers, button and
expander labels. A run named `![t](http://attacker/x.png)` would make every classmate's browser fetch that
image, and `[Log in again](http://attacker/)` would be a link on the teacher's screen. Every text a user
controls goes through `markdown_escape` wherever it reaches Markdown, and shows exactly as typed.

    st.markdown(f"Delete **{text.markdown_escape(run.name)}**?")

Plotly labels take a little HTML instead of Markdown: `chart_label_escape` is their helper.
"""

import html
import re

# CommonMark lets a backslash escape any ASCII punctuation, and escaping all of it also defeats what Streamlit
# adds to Markdown: `:red[...]` colours, `:material/x:` icons, `$...$` formulas, and links that GitHub-style
# Markdown makes of a bare `http://` or `www.` (a backslash in `http\://` keeps it from being recognised).
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def markdown_escape(text) -> str:
    """`text` as Markdown that shows it literally, on one line: no link, image, formatting or icon."""
    return _PUNCTUATION.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(text)))


def chart_label_escape(text) -> str:
    """`text` for a Plotly label (a legend entry, a tick): Plotly renders a subset of HTML there, links
    included, so `<a href=...>` in a run name would be a link in the legend. Entities show as typed."""
    return html.escape(_LINE_BREAKS.sub(" ", str(text)), quote=False)
