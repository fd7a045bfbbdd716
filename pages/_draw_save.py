"""The Draw page's Save tab: the student picks the digit they meant and saves the MNIST-style image into the
class's own test set (`core.class_set`), shown on the Class drawings page.
"""

import hashlib

import streamlit as st

from core import class_set, gallery, inference, runs, text
from pages import _common, _draw_state

SAVED_KEY = "draw_saved_drawing"
SAVE_ERROR_KEY = "draw_save_error"


def true_label_key(reading: inference.Reading) -> str:
    """The session key of the Save tab's label choice for this very drawing (a new drawing, a new choice)."""
    return "draw_true_label_" + hashlib.sha1(reading.preprocessed.image.tobytes()).hexdigest()[:16]


def save_drawing(reading: inference.Reading, chosen: runs.Run, class_names: tuple[str, ...]) -> None:
    """Keep the drawing, with the label the student says is true, in the class's own test set."""
    if not inference.reads_digits(chosen):
        st.info("The class drawings are digits. Choose a digit model at the top to save this drawing with its "
                "digit.", icon=":material/info:")
        return
    image = reading.preprocessed.image
    label_key = true_label_key(reading)
    fingerprint = label_key.removeprefix("draw_true_label_")
    saved = st.session_state.get(SAVED_KEY)
    if saved is None or saved["fingerprint"] != fingerprint:
        saved = saved_before(image, fingerprint)
    else:
        saved = still_saved(saved)
    image_column, label_column = st.columns([1, 5], gap="medium")
    image_column.image(gallery.enlarge(image[None], 112)[0], width=112,
                       caption=f"28\u00a0×\u00a028, {'to save' if saved is None else 'saved'}",
                       alt="The 28 by 28 pixel image that is saved")
    with label_column:
        # Each new drawing gets a new label choice (its key), starting on what the model said, or on the label the
        # student saved it with.
        label = st.segmented_control(
            "What digit is it really?", list(range(len(class_names))),
            default=reading.predicted_class if saved is None else saved["label"],
            format_func=lambda index: class_names[index], required=True, key=label_key,
            # Kept while another tab is open: the votes are counted against it.
            persist_state="page",
        )
        label = reading.predicted_class if label is None else int(label)
        if label != reading.predicted_class:
            st.caption(f"You are correcting the model: it said **{class_names[reading.predicted_class]}**.")
        else:
            st.caption("If the model got it wrong, pick the digit you meant: the class set keeps the truth.")
        if saved is None:
            button_label = "Save to the class drawings"
        elif saved["label"] == label:
            button_label = "Saved"
        else:
            button_label = f"Save as {class_names[label]} instead"
        st.button(button_label, type="primary", icon=":material/bookmark_add:", key="draw_save",
                  disabled=saved is not None and saved["label"] == label,
                  on_click=add_to_class_set, args=(image, label, fingerprint))
        problem = st.session_state.get(SAVE_ERROR_KEY)
        if problem:
            st.error(text.markdown_escape(problem), icon=":material/error:")
        elif saved is not None:
            count = saved["count"]
            st.success(f"Saved as a **{class_names[saved['label']]}**. The class set now holds {count} "
                       f"drawing{'s' if count != 1 else ''}.", icon=":material/check:")
        st.page_link("pages/class_set.py", label="See the class drawings", icon=":material/groups:")
        st.caption("The drawing is saved as the MNIST recipe prepares it (28 × 28, centred), not bent by the "
                   "sliders.")


def still_saved(saved: dict) -> dict | None:
    """The drawing this session saved, as the class set has it now: None once it was removed (on the Class drawings
    page, by the student or the teacher), with today's count of drawings otherwise."""
    try:
        drawings = class_set.ClassSet()
        if not drawings.has(saved["id"]):
            st.session_state.pop(SAVED_KEY, None)
            return None
        saved = st.session_state[SAVED_KEY] = {**saved, "count": len(drawings)}
    except (ValueError, OSError):
        pass
    return saved


SAVED_BEFORE_KEY = "draw_saved_before"


def saved_before(image, fingerprint: str) -> dict | None:
    """This student's earlier save of this very drawing, made in another session (a reload brings their last
    drawing back): the page then says it is saved instead of offering to save a second copy. Looked up once, for
    the drawing a reload brought back (`_draw_state.RESTORED_KEY`); None when it was not saved, or the class set
    cannot be read."""
    if not st.session_state.get(_draw_state.RESTORED_KEY):
        return None
    looked_up = st.session_state.get(SAVED_BEFORE_KEY)
    if looked_up is None:
        found = None
        try:
            drawings = class_set.ClassSet()
            copies = drawings.saved_by(_common.owner(), image)
            if copies:
                found = {"fingerprint": fingerprint, "label": copies[-1].label, "id": copies[-1].id,
                         "count": len(drawings)}
        except (ValueError, OSError):
            found = None
        looked_up = st.session_state[SAVED_BEFORE_KEY] = (fingerprint, found)
        if found is not None:
            st.session_state[SAVED_KEY] = found
    return looked_up[1] if looked_up[0] == fingerprint else None


def add_to_class_set(image, label: int, fingerprint: str) -> None:
    """The Save button's callback: adds the drawing, or replaces this student's earlier save of it with a new label.

    It runs before the page is drawn again, so the page already shows the drawing as saved (and the button
    disabled, so that a double click saves once). What happened is kept in the session for the page to say.
    """
    st.session_state.pop(SAVE_ERROR_KEY, None)
    owner = _common.owner()
    try:
        drawings = class_set.ClassSet()
        # This student's copies of this very drawing, saved in this tab or in another one (two tabs bring the same
        # drawing back after a reload): the class's test set keeps one copy, with the label chosen last.
        copies = drawings.saved_by(owner, image)
        same = [copy for copy in copies if copy.label == label]
        drawing_id = same[-1].id if same else drawings.add(image, label, owner=owner)
        for copy in copies:
            if copy.id != drawing_id:
                try:
                    drawings.remove(copy.id, owner=owner)
                except PermissionError:
                    pass  # removed meanwhile (Class drawings page), its id gone from the student's list
        count = len(drawings)
    except (ValueError, OSError) as error:
        # The class set's messages already say what to do (a full set, an unwritable folder).
        st.session_state[SAVE_ERROR_KEY] = f"The drawing could not be saved. {error}"
        return
    st.session_state[SAVED_KEY] = {"fingerprint": fingerprint, "label": label, "id": drawing_id, "count": count}

