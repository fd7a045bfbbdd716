"""The Class drawings page's last two tabs: the gallery (newest first, a page at a time, each drawing removable
after a confirmation), and the collection's export (zip of PNGs, `.npz`), import and clearing.
"""

import datetime

import streamlit as st

from core import class_set, results_view, text
from pages import _class_set_data, _common, _teacher

GALLERY_COLUMNS = 6
GALLERY_PER_PAGE = 36
PENDING_REMOVAL_KEY = "class_set_pending_removal"
GALLERY_NOTICE_KEY = "class_set_gallery_notice"
IMPORT_NOTICE_KEY = "class_set_import_notice"
UPLOADER_GENERATION_KEY = "class_set_uploader_generation"
CLEAR_CONFIRM_KEY = "class_set_clear_confirm"


def _short_when(moment: datetime.datetime) -> str:
    """The time alone for a drawing saved today, else the day: "14:05" or "23 Nov"."""
    local = moment.astimezone()
    if local.date() == datetime.datetime.now().astimezone().date():
        return f"{local:%H:%M}"
    return f"{local.day} {local:%b}"


def _ask_removal(drawing_id: str) -> None:
    st.session_state[PENDING_REMOVAL_KEY] = drawing_id


def _keep(drawing_id: str) -> None:
    st.session_state.pop(PENDING_REMOVAL_KEY, None)


def _remove(drawing_id: str) -> None:
    st.session_state.pop(PENDING_REMOVAL_KEY, None)
    try:
        # A student removes only what their own session saved; the teacher (owner None) removes any.
        removed = class_set.ClassSet().remove(drawing_id, owner=None if _teacher.is_teacher() else _common.owner())
    except (ValueError, PermissionError) as error:
        st.session_state[GALLERY_NOTICE_KEY] = ("error", text.markdown_escape(error))
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
    st.caption(f"Showing {first + 1:,}–{first + len(shown):,} of {len(indices):,}, newest first. You can remove "
               "the drawings saved from this browser (the teacher, any); a removed drawing is gone for good.")
    pending = st.session_state.get(PENDING_REMOVAL_KEY)
    removable = None if _teacher.is_teacher() else class_set.ClassSet().owned_by(_common.owner())
    with st.container(key="class_set_grid_drawings"):
        cells = _common.grid_cells(snapshot.images[shown], GALLERY_COLUMNS, key="class_drawings")
        for column, position, image in cells:
            drawing = snapshot.drawings[shown[position]]
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
                    if removable is None or drawing.id in removable:
                        st.button("Remove", key=f"class_set_remove_{drawing.id}", icon=":material/delete:",
                                  on_click=_ask_removal, args=(drawing.id,), width="stretch")


def export(drawings: class_set.ClassSet, snapshot, version: str | None) -> None:
    st.subheader("Export")
    empty = snapshot is None or len(snapshot) == 0
    if empty:
        st.caption("Nothing to export yet: save some drawings first.")
    else:
        plural = "" if len(snapshot) == 1 else "s"
        st.markdown(f"Keep the {len(snapshot):,} drawing{plural} for your next class, or study them in a "
                    "notebook. The zip holds one 28x28 PNG per drawing in a folder named after its digit (`7/` "
                    "holds the sevens) and a `labels.csv`; the `.npz` holds the arrays `x_test` and `y_test`, as "
                    "Keras's `mnist.npz` does.")
    today = datetime.date.today().isoformat()
    zip_column, npz_column = st.columns(2)
    zip_column.download_button(
        "Download as a zip of PNGs",
        data=b"" if empty else _class_set_data.export_bytes(str(drawings.root), version, "zip"),
        file_name=f"class-drawings-{today}.zip", mime="application/zip", icon=":material/folder_zip:",
        disabled=empty, width="stretch", key="class_set_download_zip", on_click="ignore")
    npz_column.download_button(
        "Download as .npz (NumPy)",
        data=b"" if empty else _class_set_data.export_bytes(str(drawings.root), version, "npz"),
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
        # A student's import is capped (one student must not fill the class's set); the teacher's is not.
        limit = None if _teacher.is_teacher() else class_set.STUDENT_IMPORT_LIMIT
        added = drawings.add_many(images, labels, owner=_common.owner(), owner_limit=limit)
    except ValueError as error:
        st.error(f"**Nothing was imported.** {text.markdown_escape(error)}", icon=":material/error:")
        return
    st.session_state[IMPORT_NOTICE_KEY] = ("success", _import_sentence(added, len(labels), uploaded.name))
    # A fresh uploader, so that the next run does not import the same file again.
    st.session_state[UPLOADER_GENERATION_KEY] = generation + 1
    st.rerun()


def _import_sentence(added: int, in_file: int, filename: str) -> str:
    sentence = f"Added {added:,} drawing{'' if added == 1 else 's'} from {text.markdown_escape(filename)}."
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
                st.error(text.markdown_escape(error))
                return
            st.session_state[IMPORT_NOTICE_KEY] = ("success", f"Removed {removed:,} drawings: the collection is "
                                                          "empty, ready for a new class.")
            st.rerun()


def export_and_import(drawings: class_set.ClassSet, snapshot, version) -> None:
    export(drawings, snapshot, version)
    import_drawings(drawings)
    if snapshot is not None and len(snapshot) and _teacher.is_teacher():
        clear_all(drawings, snapshot)

