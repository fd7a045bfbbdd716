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
# adds to Markdown: `:red[...]` colours, `:material/x:` icons and `$...$` formulas.
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
# GitHub-style Markdown (Streamlit's) also makes links of bare addresses, `http://...`, `www....` and e-mail
# addresses, whatever backslashes stand in them: an invisible word joiner (U+2060) inside each of those marks
# keeps the text exactly as it reads while no link is recognised.
WORD_JOINER = "\u2060"
_AUTOLINK_MARKS = re.compile(r"(://|(?<![^\W_])www\.|@)", re.IGNORECASE)


def _break_autolinks(text: str) -> str:
    return _AUTOLINK_MARKS.sub(lambda mark: mark.group(0)[:-1] + WORD_JOINER + mark.group(0)[-1], text)


def markdown_escape(text) -> str:
    """`text` as Markdown that shows it literally, on one line: no link, image, formatting or icon."""
    return _PUNCTUATION.sub(r"\\\1", _break_autolinks(_LINE_BREAKS.sub(" ", str(text))))


def chart_label_escape(text) -> str:
    """`text` for a Plotly label (a legend entry, a tick): Plotly renders a subset of HTML there, links
    included, so `<a href=...>` in a run name would be a link in the legend. Entities show as typed."""
    return html.escape(_LINE_BREAKS.sub(" ", str(text)), quote=False)
