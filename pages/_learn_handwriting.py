"""Learn my handwriting, on the Class drawings page: fine-tune the chosen digit model on the class's drawings.

The work is `core.handwriting.learn_handwriting` (a quarter of each digit's drawings held back, a few epochs on the
rest mixed with MNIST digits, a new run saved); this section offers it for the model being scored and shows the
accuracy on the held-back drawings before and after.
"""

import streamlit as st

from core import class_set, handwriting, runs, text
from pages import _common

RESULT_KEY = "learn_handwriting_result"
EPOCHS_KEY = "learn_handwriting_epochs"


def learn_section(run: runs.Run, drawings: class_set.ClassSet, count: int) -> None:
    """The section under the chosen model's scores; `count` is how many drawings the class has saved."""
    st.subheader("Learn this class's handwriting")
    st.markdown(f"Train this model a few epochs more on the class's own drawings. A quarter of each digit's "
                f"drawings is held back to measure it before and after; the model learns from the rest, mixed with "
                f"as many MNIST digits so that it does not forget everyone else. The result is a new model, listed "
                f"with the others; this one stays as it is. It needs at least {handwriting.MIN_DRAWINGS} drawings.")
    if count < handwriting.MIN_DRAWINGS:
        there = f"There is {count} drawing" if count == 1 else f"There are {count} drawings"
        st.info(f"{there}: save at least {handwriting.MIN_DRAWINGS} on the Draw page first.",
                icon=":material/draw:")
        return
    epochs = st.slider("Epochs", 1, 20, handwriting.DEFAULT_EPOCHS, key=EPOCHS_KEY,
                       help="Passes over the class's drawings. More epochs fit the class better, and may make the "
                            "model forget other handwriting.")
    if st.button("Learn the class's handwriting", icon=":material/school:", key="learn_handwriting_button"):
        images, labels = drawings.images_and_labels()
        with st.spinner(f"Learning from {len(labels):,} drawings…"):
            try:
                meta = handwriting.learn_handwriting(_common.run_store(), run.id, images, labels, epochs=epochs,
                                                     owner=_common.owner())
            except (ValueError, OSError) as error:
                st.error(f"The model could not learn the class's handwriting: {text.markdown_escape(error)}")
                return
        st.session_state[RESULT_KEY] = {"from": run.id, "new": meta["id"], **meta["handwriting"]}
    result = st.session_state.get(RESULT_KEY)
    if not result or result.get("from") != run.id:
        return
    before, after, new = st.columns(3)
    before.metric("Held-back drawings, before", f"{result['before']:.1%}", border=True)
    after.metric("Held-back drawings, after", f"{result['after']:.1%}", border=True,
                 delta=f"{(result['after'] - result['before']) * 100:+.1f} points",
                 delta_color="normal" if result["after"] != result["before"] else "off")
    new.metric("Drawings held back", f"{result['held_back']:,}", border=True,
               help=f"It learnt from the other {result['learnt_from']:,}.")
    st.caption("The new model is saved as a run of its own: choose it on the Draw page or score it above.")
