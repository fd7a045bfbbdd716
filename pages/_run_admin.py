"""The Results page's run administration: which runs come first, deleting a run (its owner only, after a
confirmation), importing a colleague's `.keras` file as a run, and the message shown after either.
"""

import streamlit as st

from core import charts, datasets, jobs, model_import, results_view, runs, text
from pages import _common, _teacher

PICKER_KEY = "results_page_run"
FLASH_KEY = "results_page_flash"
PENDING_RUN_KEY = "results_page_pending_run"
UPLOAD_ROUND_KEY = "results_page_upload_round"


def shown_first(run: runs.Run) -> int:
    """Finished runs with a model come first, then runs still training, then the rest."""
    if run.has_model and run.status in runs.FINAL_STATUSES + ("interrupted",):
        return 0
    if run.status in runs.ACTIVE_STATUSES:
        return 1
    return 2


def flash(kind: str, message: str) -> None:
    """A message (Markdown, user text already escaped) for the next run of the page (after a delete or an
    import, which rerun it)."""
    st.session_state[FLASH_KEY] = (kind, message)


def show_flash() -> None:
    kind, message = st.session_state.pop(FLASH_KEY, (None, None))
    # Always one container here, filled or not, so that the widgets below keep their place in the page and
    # an open popover stays open when the message goes away.
    slot = st.container()
    if kind == "success":
        slot.success(message, icon=":material/check_circle:")
    elif kind == "error":
        slot.error(message, icon=":material/error:")


def _delete(run_id: str, name: str) -> None:
    """Deletes the run as this session, then draws the whole page again without it (with a message)."""
    try:
        _common.run_store().delete(run_id, owner=None if _teacher.is_teacher() else _common.owner())
    except (PermissionError, ValueError, runs.RunNotFound, OSError) as error:
        reason = error.args[0] if isinstance(error, runs.RunNotFound) else error
        flash("error", f"**“{text.markdown_escape(name)}” was not deleted:** {text.markdown_escape(reason)}")
        st.rerun()
    if _common.run_id() == run_id:
        _common.set_run(None)
    # Show the run the page lists first now, in the select box too (see the page's choose_run).
    remaining = sorted(_common.run_store().list(), key=shown_first)
    if remaining:
        _common.set_run(remaining[0].id)
        st.session_state[PICKER_KEY] = remaining[0].id
    else:
        st.session_state.pop(PICKER_KEY, None)
    flash("success", f"Deleted “{text.markdown_escape(name)}”, with its model and results.")
    st.rerun()


@st.fragment
def delete_control(run: runs.Run) -> None:
    # A fragment: ticking the confirmation redraws only this popover, which stays open. Its key names the run:
    # after a delete the next run's popover is a new one, closed (it reopened at once for the next run).
    with st.popover("Delete", icon=":material/delete:", width="content", key=f"results_delete_{run.id}",
                    help="Delete this run for everyone: only the student who trained it, or the teacher, can (the "
                         "class's default digit model only the teacher)."):
        refusal = results_view.deletion_refusal(run, _common.owner(), teacher=_teacher.is_teacher())
        if refusal:
            st.button("Delete this run", icon=":material/delete_forever:", disabled=True,
                      key="results_page_delete_refused")
            st.caption(refusal)
            return
        st.markdown(f"Delete **{text.markdown_escape(run.name)}**, its model and its results, "
                    "for everyone? This cannot be undone.")
        confirmed = st.checkbox("Yes, delete this run", key=f"results_page_delete_confirm_{run.id}")
        if st.button("Delete this run", icon=":material/delete_forever:", type="primary", disabled=not confirmed,
                     key="results_page_delete"):
            _delete(run.id, run.name)


def import_section() -> None:
    limit = model_import.MAX_FILE_BYTES // 2**20
    with st.expander("Import a model someone else trained (.keras)", icon=":material/upload_file:"):
        st.markdown("A colleague's Keras model becomes a run like the others: its test results appear here and "
                    "it reads drawings on the Draw page. The file is checked before anything is stored.")
        upload_round = st.session_state.get(UPLOAD_ROUND_KEY, 0)
        uploaded = st.file_uploader(
            "Model file (.keras)", key=f"results_page_import_file_{upload_round}",
            help=f"A file saved with model.save('model.keras'), up to {limit} MB. Legacy .h5 files and models "
                 "with a Lambda layer are refused, because loading them could run someone else's code.")
        dataset_column, name_column = st.columns(2)
        names = list(datasets.DATASETS)
        chosen = _common.dataset_name()
        dataset = dataset_column.selectbox(
            "It was trained on", names, index=names.index(chosen) if chosen in names else 0,
            format_func=lambda name: datasets.get_info(name).title, key="results_page_import_dataset",
            help="The model is tested on this dataset's test images; its input must fit them.")
        name = name_column.text_input("Name (optional)", max_chars=100, key="results_page_import_name",
                                      placeholder=uploaded.name.rsplit(".", 1)[0] if uploaded else "the file's name")
        st.caption(f"Up to {limit} MB. A model trained the usual way (pixels divided by 255 outside the model) "
                   "is wrapped so that it takes the app's raw images.")
        if not st.button("Import", icon=":material/upload:", disabled=uploaded is None, key="results_page_import"):
            return
        try:
            with st.spinner("Checking the file, loading it safely and testing it on the test images…"):
                # Checked and evaluated in a worker process with memory and time limits: whatever the file
                # does, the server and the other students' trainings are not affected.
                run = _common.training_queue().import_model(uploaded.getvalue(), uploaded.name,
                                                            _common.run_store(), dataset=dataset,
                                                            owner=_common.owner(), name=name)
        except (model_import.ModelRejected, jobs.ImportBusy) as error:
            st.error(f"**{text.markdown_escape(uploaded.name)} was not imported.** "
                     f"{text.markdown_escape(error)}", icon=":material/block:")
            return
        except (runs.RunStoreError, OSError) as error:
            st.error(f"**{text.markdown_escape(uploaded.name)} could not be saved:** "
                     f"{text.markdown_escape(error)}", icon=":material/error:")
            return
        st.session_state[UPLOAD_ROUND_KEY] = upload_round + 1
        st.session_state[PENDING_RUN_KEY] = run.id
        flash("success", f"Imported **{text.markdown_escape(run.name)}**: {charts.percent(run.test_accuracy)} right "
                         f"on the {datasets.get_info(dataset).title} test images. It is listed here and on the Draw "
                         "page.")
        st.rerun()

