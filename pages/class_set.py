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
"""

import datetime

import altair
import pandas
import streamlit as st

from core import charts, class_evaluation, class_set, gallery, results_view, runs
from pages import _common, _learn_handwriting, _pen_shift

GALLERY_COLUMNS = 6
GALLERY_PER_PAGE = 36
MISTAKE_COLUMNS = 6
MISTAKES_PER_PAGE = 24
CLASS_NAMES = class_set.CLASS_NAMES

RUN_KEY = "class_set_run"
PENDING_REMOVAL_KEY = "class_set_pending_removal"
GALLERY_NOTICE_KEY = "class_set_gallery_notice"
IMPORT_NOTICE_KEY = "class_set_import_notice"
UPLOADER_GENERATION_KEY = "class_set_uploader_generation"
SCORE_ALL_KEY = "class_set_score_all"
CLEAR_CONFIRM_KEY = "class_set_clear_confirm"

PAGE_STYLE = _common.image_grid_style("class_set_grid")


# --- reading the collection (cached on which drawings there are) ---------------------------------------------


@st.cache_data(show_spinner=False, max_entries=4)
def _snapshot(folder: str, version: str) -> class_set.Snapshot:
    # `version` changes whenever a drawing is added or removed, so the cache never serves an old collection.
    return class_set.ClassSet(folder).snapshot()


@st.cache_data(show_spinner=False, max_entries=4)
def _export(folder: str, version: str, kind: str) -> bytes:
    drawings = class_set.ClassSet(folder)
    return drawings.export_zip() if kind == "zip" else drawings.export_npz()


@st.cache_data(show_spinner=False, max_entries=64)
def _evaluation(runs_folder: str, run_id: str, model_version: str, folder: str, version: str):
    store = runs.RunStore(runs_folder)
    snapshot = _snapshot(folder, version)
    return class_evaluation.evaluate_run(store, store.get(run_id), snapshot.images, snapshot.labels)


def load_collection(drawings: class_set.ClassSet) -> tuple[class_set.Snapshot, str] | None:
    try:
        version = drawings.version()
        return _snapshot(str(drawings.root), version), version
    except class_set.DrawingsFolderError as error:
        st.error(f"**The class drawings cannot be read.** {error}", icon=":material/folder_off:")
        return None


def evaluate(run: runs.Run, drawings: class_set.ClassSet, version: str):
    """The run's evaluation on the drawings, or None after saying why it cannot be computed."""
    store = _common.run_store()
    try:
        return _evaluation(str(store.root), run.id, str(run.meta.get("updated", "")), str(drawings.root), version)
    except Exception as error:  # A damaged model file fails in many ways; none may reach the screen raw.
        st.error(f"**{run.name} cannot be scored:** {error}. Its model file may be damaged; train it again on the "
                 "Train page.", icon=":material/broken_image:")
        return None


# --- the top of the page ---------------------------------------------------------------------------------------


def introduction() -> None:
    st.title(":material/groups: Class drawings")
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
        st.metric("Digits with no drawing", ", ".join(missing) if missing else "none", border=True)
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


def _short_when(moment: datetime.datetime) -> str:
    """The time alone for a drawing saved today, else the day: "14:05" or "23 Nov"."""
    local = moment.astimezone()
    if local.date() == datetime.datetime.now().astimezone().date():
        return f"{local:%H:%M}"
    return f"{local.day} {local:%b}"


def _when(moment: datetime.datetime) -> str:
    """A saving time in the server's time zone, short: "23 Nov, 14:05"."""
    local = moment.astimezone()
    return f"{local.day} {local:%b}, {local:%H:%M}"


# --- Score a model -------------------------------------------------------------------------------------------


def no_digit_model() -> None:
    st.info("**No digit model yet.** Train one on the Train page (a CNN on the MNIST sample takes about a "
            "minute), or with one click on the Draw page, then score it here.", icon=":material/model_training:")
    st.page_link("pages/train.py", label="Go to the Train page", icon=":material/arrow_forward:")


def score_a_model(candidates: list[runs.Run], drawings: class_set.ClassSet, snapshot, version: str) -> None:
    st.subheader("Evaluate a model on the class drawings")
    if not candidates:
        no_digit_model()
        return
    run = _common.run_picker(candidates, label="Model", key=RUN_KEY,
                             help="Every model trained on handwritten digits (MNIST or its sample).")
    with st.spinner(f"Reading the {len(snapshot):,} drawings with {run.name}…"):
        result = evaluate(run, drawings, version)
    if result is None:
        return
    right = int((result.predictions == result.labels).sum())
    accuracy, right_column, mistakes_column, test_column = st.columns(4)
    accuracy.metric("Class drawings accuracy", f"{result.accuracy:.1%}", border=True)
    right_column.metric("Read right", f"{right:,} of {len(result.labels):,}", border=True)
    mistakes_column.metric("Mistakes", f"{len(result.labels) - right:,}", border=True)
    test_column.metric("Test set accuracy", "–" if run.test_accuracy is None else f"{run.test_accuracy:.1%}",
                       border=True, help="The accuracy on the test images of the dataset it was trained on.")
    st.markdown(class_evaluation.comparison_sentence(run, result))
    _pen_shift.domain_shift(run)
    hardest = class_evaluation.hardest_digit_sentence(result)
    if hardest:
        st.markdown(hardest)
    shaky = class_evaluation.few_drawings_warning(result.labels)
    if shaky:
        st.caption(f":material/info: {shaky}")
    matrix, per_digit = st.columns([1.15, 1], gap="large")
    with matrix:
        st.markdown("**Confusion matrix**: each row is the digit drawn, each column the digit the model read.")
        figure = results_view.confusion_figure(result.confusion, CLASS_NAMES, height=430)
        st.plotly_chart(figure, key="class_set_confusion", config={"displayModeBar": False})
    with per_digit:
        st.plotly_chart(charts.per_class_accuracy(CLASS_NAMES, result.per_class_accuracy, height=360),
                        key="class_set_per_digit", config={"displayModeBar": False})
        st.caption("The share of each digit's drawings the model reads right. With a handful of drawings per "
                   "digit, one drawing moves a bar a lot.")
    mistake_grid(snapshot, result)
    _learn_handwriting.learn_section(run, drawings, len(snapshot))


def mistake_grid(snapshot, result) -> None:
    indices = result.mistakes()
    if len(indices) == 0:
        st.success("**No mistakes:** the model reads every class drawing right.", icon=":material/check_circle:")
        return
    st.markdown(f"#### The mistakes: {len(indices):,}")
    st.caption("Each drawing with the digit the student meant and what the model read, the mistakes it was "
               "surest about first. Would you have read them right?")
    pages = results_view.page_count(len(indices), MISTAKES_PER_PAGE)
    # The page controls are new whenever the number of pages changes (another model, a drawing removed), so
    # they never hold a page past the end.
    page = 1
    if pages > 1:
        page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1,
                               key=f"class_set_mistakes_page_{pages}")
    shown = results_view.page_of(indices, page, MISTAKES_PER_PAGE)
    enlarged = gallery.enlarge(snapshot.images[shown])
    with st.container(key="class_set_grid_mistakes"):
        for row_start in range(0, len(shown), MISTAKE_COLUMNS):
            columns = st.columns(MISTAKE_COLUMNS, gap="small")
            for column, index, image in zip(columns, shown[row_start:row_start + MISTAKE_COLUMNS],
                                            enlarged[row_start:row_start + MISTAKE_COLUMNS]):
                column.image(image, width="stretch")
                column.markdown(results_view.prediction_caption(result, int(index), CLASS_NAMES))


# --- Every model ----------------------------------------------------------------------------------------------


def _score_all() -> None:
    st.session_state[SCORE_ALL_KEY] = True


def every_model(candidates: list[runs.Run], drawings: class_set.ClassSet, snapshot, version: str) -> None:
    st.subheader("Every model on the same drawings")
    if not candidates:
        no_digit_model()
        return
    st.markdown("The same drawings for every digit model: which architecture copes best with your class's "
                "handwriting, and which one learnt MNIST's test set best but reads the class worst?")
    if not st.session_state.get(SCORE_ALL_KEY):
        st.button(f"Score every model ({len(candidates)})", type="primary", icon=":material/leaderboard:",
                  on_click=_score_all, key="class_set_score_all_button")
        st.caption("Each model reads every drawing once; a model not used since the app started takes a few "
                   "seconds to load.")
        return
    rows = []
    progress = st.progress(0.0)
    for number, run in enumerate(candidates, start=1):
        progress.progress((number - 1) / len(candidates), text=f"Scoring {run.name} ({number} of {len(candidates)})…")
        result = evaluate(run, drawings, version)
        if result is not None:
            rows.append(class_evaluation.score_row(run, result))
    progress.empty()
    if not rows:
        return
    rows.sort(key=lambda row: (-row["Class drawings accuracy"], -(row["Test set accuracy"] or 0)))
    st.dataframe(
        pandas.DataFrame(rows), hide_index=True, width="stretch",
        column_config={
            "Test set accuracy": st.column_config.NumberColumn(format="percent"),
            "Class drawings accuracy": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0,
                                                                       format="percent"),
            "Difference": st.column_config.NumberColumn(
                format="%+.1f points", help="Class drawings accuracy minus test set accuracy, in percentage points."),
        },
    )
    st.markdown(class_evaluation.best_sentence(rows))


# --- Drawings -------------------------------------------------------------------------------------------------


def _ask_removal(drawing_id: str) -> None:
    st.session_state[PENDING_REMOVAL_KEY] = drawing_id


def _keep(drawing_id: str) -> None:
    st.session_state.pop(PENDING_REMOVAL_KEY, None)


def _remove(drawing_id: str) -> None:
    st.session_state.pop(PENDING_REMOVAL_KEY, None)
    try:
        removed = class_set.ClassSet().remove(drawing_id)
    except ValueError as error:
        st.session_state[GALLERY_NOTICE_KEY] = ("error", str(error))
        return
    st.session_state[GALLERY_NOTICE_KEY] = (
        ("success", "The drawing was removed.") if removed
        else ("info", "That drawing had already been removed (from another browser)."))


def show_notice(key: str) -> None:
    notice = st.session_state.pop(key, None)
    if notice:
        kind, message = notice
        getattr(st, kind)(message)


def drawings_gallery(snapshot: class_set.Snapshot) -> None:
    st.subheader("The drawings")
    show_notice(GALLERY_NOTICE_KEY)
    choice, page_column = st.columns([3, 1])
    digit = choice.selectbox("Show", [None, *range(class_set.NUM_CLASSES)], key="class_set_gallery_digit",
                             format_func=lambda value: "every digit" if value is None else f"the {value}s")
    # Newest first: the drawing a student has just saved is the first one they look for.
    indices = [index for index in range(len(snapshot) - 1, -1, -1)
               if digit is None or snapshot.labels[index] == digit]
    pages = results_view.page_count(len(indices), GALLERY_PER_PAGE)
    page = page_column.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1,
                                    key=f"class_set_gallery_page_{digit}_{pages}")
    shown = [int(index) for index in results_view.page_of(indices, page, GALLERY_PER_PAGE)]
    if not shown:
        st.info(f"No drawing of the digit {digit} yet.", icon=":material/draw:")
        return
    first = (min(page, pages) - 1) * GALLERY_PER_PAGE
    st.caption(f"Showing {first + 1:,}–{first + len(shown):,} of {len(indices):,}, newest first. A removed "
               "drawing is gone for good: export the collection first if in doubt.")
    enlarged = gallery.enlarge(snapshot.images[shown])
    pending = st.session_state.get(PENDING_REMOVAL_KEY)
    with st.container(key="class_set_grid_drawings"):
        for row_start in range(0, len(shown), GALLERY_COLUMNS):
            columns = st.columns(GALLERY_COLUMNS, gap="small")
            for column, index, image in zip(columns, shown[row_start:row_start + GALLERY_COLUMNS],
                                            enlarged[row_start:row_start + GALLERY_COLUMNS]):
                drawing = snapshot.drawings[index]
                with column:
                    st.image(image, width="stretch")
                    if pending == drawing.id:
                        st.markdown(":red[**Remove for good?**]")
                        st.button("Yes, remove", key=f"class_set_confirm_{drawing.id}", type="primary",
                                  on_click=_remove, args=(drawing.id,), width="stretch")
                        st.button("Keep it", key=f"class_set_keep_{drawing.id}", on_click=_keep,
                                  args=(drawing.id,), width="stretch")
                    else:
                        st.markdown(f"**{drawing.label}** · {_short_when(drawing.created)}")
                        st.button("Remove", key=f"class_set_remove_{drawing.id}", icon=":material/delete:",
                                  on_click=_ask_removal, args=(drawing.id,), width="stretch")


# --- Export and import ----------------------------------------------------------------------------------------


def export(drawings: class_set.ClassSet, snapshot, version: str | None) -> None:
    st.subheader("Export")
    empty = snapshot is None or len(snapshot) == 0
    if empty:
        st.caption("Nothing to export yet: save some drawings first.")
    else:
        st.markdown(f"Keep the {len(snapshot):,} drawings for your next class, or study them in a notebook. The "
                    "zip holds one 28x28 PNG per drawing in a folder named after its digit (`7/` holds the "
                    "sevens) and a `labels.csv`; the `.npz` holds the arrays `x_test` and `y_test`, as Keras's "
                    "`mnist.npz` does.")
    today = datetime.date.today().isoformat()
    zip_column, npz_column = st.columns(2)
    zip_column.download_button(
        "Download as a zip of PNGs", data=b"" if empty else _export(str(drawings.root), version, "zip"),
        file_name=f"class-drawings-{today}.zip", mime="application/zip", icon=":material/folder_zip:",
        disabled=empty, width="stretch", key="class_set_download_zip", on_click="ignore")
    npz_column.download_button(
        "Download as .npz (NumPy)", data=b"" if empty else _export(str(drawings.root), version, "npz"),
        file_name=f"class-drawings-{today}.npz", mime="application/octet-stream", icon=":material/data_array:",
        disabled=empty, width="stretch", key="class_set_download_npz", on_click="ignore")


def import_drawings(drawings: class_set.ClassSet) -> None:
    st.subheader("Import")
    st.markdown("Add the drawings of a file exported here (by you, a colleague or an earlier class). Drawings "
                "already in the collection are skipped, so importing a file twice adds nothing.")
    generation = st.session_state.get(UPLOADER_GENERATION_KEY, 0)
    uploaded = st.file_uploader("A .zip of PNGs or a .npz file", type=["zip", "npz"],
                                key=f"class_set_upload_{generation}")
    if uploaded is None:
        return
    try:
        images, labels = class_set.read_file(uploaded.getvalue(), uploaded.name)
        added = drawings.add_many(images, labels)
    except ValueError as error:
        st.error(f"**Nothing was imported.** {error}", icon=":material/error:")
        return
    st.session_state[IMPORT_NOTICE_KEY] = ("success", _import_sentence(added, len(labels), uploaded.name))
    # A fresh uploader, so that the next run does not import the same file again.
    st.session_state[UPLOADER_GENERATION_KEY] = generation + 1
    st.rerun()


def _import_sentence(added: int, in_file: int, filename: str) -> str:
    sentence = f"Added {added:,} drawing{'' if added == 1 else 's'} from {filename}."
    skipped = in_file - added
    if skipped:
        sentence += (f" {skipped:,} {'was' if skipped == 1 else 'were'} already in the collection and "
                     f"{'was' if skipped == 1 else 'were'} skipped.")
    return sentence


def clear_all(drawings: class_set.ClassSet, snapshot) -> None:
    with st.expander("Start a new collection (remove every drawing)", icon=":material/delete_sweep:"):
        st.markdown(f"This removes all {len(snapshot):,} drawings for good. **Download an export first** if you "
                    "may want them again.")
        sure = st.checkbox("I have exported the drawings, or I no longer need them", key=CLEAR_CONFIRM_KEY)
        if st.button("Remove every drawing", type="primary", disabled=not sure, key="class_set_clear"):
            try:
                removed = drawings.clear()
            except ValueError as error:
                st.error(str(error))
                return
            st.session_state[IMPORT_NOTICE_KEY] = ("success", f"Removed {removed:,} drawings: the collection is "
                                                          "empty, ready for a new class.")
            st.rerun()


def export_and_import(drawings: class_set.ClassSet, snapshot, version) -> None:
    export(drawings, snapshot, version)
    import_drawings(drawings)
    if snapshot is not None and len(snapshot):
        clear_all(drawings, snapshot)


# --- the page ---------------------------------------------------------------------------------------------------


def digit_models() -> list[runs.Run]:
    return class_evaluation.digit_runs(_common.listed_runs() or [])


def main() -> None:
    st.html(PAGE_STYLE)
    introduction()
    # Said at the top, whatever tab is open: the tabs appear (or change) after an import or a clearing.
    show_notice(IMPORT_NOTICE_KEY)
    drawings = class_set.ClassSet()
    loaded = load_collection(drawings)
    if loaded is None:
        return
    snapshot, version = loaded
    if len(snapshot) == 0:
        show_notice(GALLERY_NOTICE_KEY)
        empty_collection()
        export_and_import(drawings, None, None)
        return
    overview(snapshot)
    candidates = digit_models()
    score_tab, every_tab, drawings_tab, files_tab = st.tabs(
        ["Score a model", "Every model", "Drawings", "Export and import"])
    with score_tab:
        score_a_model(candidates, drawings, snapshot, version)
    with every_tab:
        every_model(candidates, drawings, snapshot, version)
    with drawings_tab:
        drawings_gallery(snapshot)
    with files_tab:
        export_and_import(drawings, snapshot, version)


main()
