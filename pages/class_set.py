"""Class drawings: the digits the class drew and labelled, kept as a test set any model can be scored on.

Students save drawings with their true label on the Draw page (`core.class_set` keeps them on disk). From top
to bottom: what the collection is, how many drawings each digit has, then four tabs.

- **Score a model**: one digit model on the class drawings: accuracy beside its accuracy on its own test set,
  the hardest digit, the confusion matrix and every mistake (image, true label, prediction).
- **Every model**: one table scoring every digit model on the same drawings.
- **Drawings**: the gallery, newest first, a page at a time, filtered by digit; each drawing can be removed
  (after a confirmation: a removal cannot be undone).
- **Export and import**: the collection as a zip of PNGs or as a `.npz`, and an uploader that adds the
  drawings of such a file, so a teacher keeps the collection from one class to the next.

With no drawings yet, the page says how to add some (and still offers the import).

The machinery lives beside this file: the cached reads in `_class_set_data`, the scores in `_class_set_scores`,
the gallery, export and import in `_class_set_files`.
"""

import datetime

import altair
import pandas
import streamlit as st

from core import class_evaluation, class_set, gallery, runs
from pages import _class_set_data, _class_set_files, _class_set_scores, _common

CLASS_NAMES = class_set.CLASS_NAMES
PAGE_STYLE = _common.image_grid_style("class_set_grid")


def introduction() -> None:
    st.title(":material/groups: 6 · Class drawings")
    st.markdown(
        "Students draw a digit on the **Draw** page and save it with the digit they meant. Those drawings are a "
        "test set made of **your class's own handwriting**, which no model has seen: score any model on it and "
        "find out whether it reads your class as well as it reads MNIST. Export the collection at the end of "
        "the lesson and import it next time to keep it from one class to the next."
    )


def empty_collection() -> None:
    st.info(
        "**No class drawings yet.** On the Draw page, draw a digit, pick the digit you meant under *What digit is "
        "it really?* and press **Save to the class drawings**. Every saved drawing appears here, ready to test "
        "any model. Have a collection from an earlier class? Import it below.", icon=":material/draw:")
    st.page_link("pages/draw.py", label="Go to the Draw page", icon=":material/arrow_forward:")


def overview(snapshot: class_set.Snapshot) -> None:
    counts = gallery.class_counts(snapshot.labels, class_set.NUM_CLASSES)
    missing = [name for name, count in zip(CLASS_NAMES, counts) if count == 0]
    numbers, chart = st.columns([1, 3], gap="large")
    with numbers:
        st.metric("Drawings", f"{len(snapshot):,}", border=True,
                  help=f"A class set holds at most {class_set.MAX_DRAWINGS:,} drawings.")
        # The count as the metric and the digits below it: a list of digits in metric type was cut ("0, 1, 2, …").
        st.metric("Digits with no drawing", f"{len(missing)}" if missing else "none", border=True)
        if missing:
            st.caption("No drawing yet of " + ", ".join(missing) + ".")
        newest = snapshot.drawings[-1].created
        st.caption(f"Last saved {_when(newest)}.")
    with chart:
        st.markdown("**Drawings of each digit**")
        st.altair_chart(counts_chart(counts), width="stretch")
    if snapshot.unreadable:
        st.warning(f"{len(snapshot.unreadable)} file(s) in the drawings folder are not 28x28 drawings and are "
                   "left out.", icon=":material/broken_image:")


def counts_chart(counts):
    """Bars of the drawings per digit, each labelled with its count, the digits upright under them."""
    frame = pandas.DataFrame({"Digit": list(CLASS_NAMES), "Drawings": [int(count) for count in counts]})
    base = altair.Chart(frame).encode(
        x=altair.X("Digit:N", sort=list(CLASS_NAMES), axis=altair.Axis(labelAngle=0, labelFontSize=15, title=None)),
        y=altair.Y("Drawings:Q", axis=altair.Axis(tickMinStep=1, title="Drawings")),
    )
    bars = base.mark_bar(color="#4f46e5")
    labels = base.mark_text(dy=-8, fontSize=13).encode(text="Drawings:Q")
    return (bars + labels).properties(height=210)


def _when(moment: datetime.datetime) -> str:
    """A saving time in the server's time zone, short: "23 Nov, 14:05"."""
    local = moment.astimezone()
    return f"{local.day} {local:%b}, {local:%H:%M}"


def digit_models() -> list[runs.Run]:
    return class_evaluation.digit_runs(_common.listed_runs() or [])


def main() -> None:
    st.html(PAGE_STYLE)
    introduction()
    # Said at the top, whatever tab is open: the tabs appear (or change) after an import or a clearing.
    _class_set_files.show_notice(_class_set_files.IMPORT_NOTICE_KEY)
    drawings = class_set.ClassSet()
    loaded = _class_set_data.load_collection(drawings)
    if loaded is None:
        return
    snapshot, version = loaded
    if len(snapshot) == 0:
        _class_set_files.show_notice(_class_set_files.GALLERY_NOTICE_KEY)
        empty_collection()
        _class_set_files.export_and_import(drawings, None, None)
        return
    overview(snapshot)
    candidates = digit_models()
    score_tab, every_tab, drawings_tab, files_tab = st.tabs(
        ["Score a model", "Every model", "Drawings", "Export and import"])
    with score_tab:
        _class_set_scores.score_a_model(candidates, drawings, snapshot, version)
    with every_tab:
        _class_set_scores.every_model(candidates, drawings, snapshot, version)
    with drawings_tab:
        _class_set_files.drawings_gallery(snapshot)
    with files_tab:
        _class_set_files.export_and_import(drawings, snapshot, version)



main()
