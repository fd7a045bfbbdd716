"""The Class drawings page's reads, cached on which drawings there are (`version` changes whenever a drawing is
added or removed, so a cache never serves an old collection): the collection, its export files, and a model's
evaluation on it.
"""

import streamlit as st

from core import class_evaluation, class_set, runs
from pages import _common


@st.cache_data(show_spinner=False, max_entries=4)
def snapshot(folder: str, version: str) -> class_set.Snapshot:
    # `version` changes whenever a drawing is added or removed, so the cache never serves an old collection.
    return class_set.ClassSet(folder).snapshot()


@st.cache_data(show_spinner=False, max_entries=4)
def export_bytes(folder: str, version: str, kind: str) -> bytes:
    drawings = class_set.ClassSet(folder)
    return drawings.export_zip() if kind == "zip" else drawings.export_npz()


@st.cache_data(show_spinner=False, max_entries=64)
def _evaluation(runs_folder: str, run_id: str, model_version: str, folder: str, version: str):
    store = runs.RunStore(runs_folder)
    drawings = snapshot(folder, version)
    return class_evaluation.evaluate_run(store, store.get(run_id), drawings.images, drawings.labels)


def load_collection(drawings: class_set.ClassSet) -> tuple[class_set.Snapshot, str] | None:
    try:
        version = drawings.version()
        return snapshot(str(drawings.root), version), version
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

