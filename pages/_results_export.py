"""The Results page's Export tab: the trained model as a `.keras` file, and a standalone training script in the
style of the Keras examples (`core.export`).
"""

import functools

import streamlit as st

from core import export, runs, text
from pages import _common


@st.cache_data(show_spinner=False, max_entries=16)
def _cached_script(runs_folder: str, run_id: str, version: str) -> str:
    # `version` (the run's last update) is part of the key, so a run saved again gets a new script.
    store = runs.RunStore(runs_folder)
    run = store.get(run_id)
    return export.standalone_script(run, store.load_model(run_id))


def export_section(run: runs.Run) -> None:
    st.subheader("Take this model home")
    model_column, script_column = st.columns(2, gap="large")
    with model_column:
        st.markdown("**The trained model**, as a Keras file. Load it with `keras.saving.load_model(path)` and it "
                    "classifies raw 0–255 images, as here; another Neural Canvas can import it.")
        try:
            size = (run.path / "model.keras").stat().st_size if run.has_model else 0
        except OSError:  # deleted in another session a moment ago
            st.warning("This run's model file is gone: it was deleted a moment ago.", icon=":material/delete:")
            return
        # The bytes are read only when the button is clicked, not at every run of the page.
        st.download_button(f"Download {export.model_file_name(run)}", data=functools.partial(export.model_bytes, run),
                           file_name=export.model_file_name(run), mime="application/octet-stream",
                           icon=":material/download:", on_click="ignore", key="results_page_download_model")
        st.caption(f"{size / 2**20:.1f} MB · the weights of "
                   + (runs.best_epoch_words(run) if run.best_epoch
                      else "the saved model"))
    with script_column:
        st.markdown("**A training script** in the style of the Keras examples: one Python file that loads the "
                    "data, builds the same layers, and trains them with the same settings.")
        try:
            with st.spinner("Writing the script…"):
                script = _cached_script(str(_common.run_store().root), run.id, run.updated)
        except export.NotExportable as error:
            st.info(text.markdown_escape(error), icon=":material/code_off:")
            return
        except Exception as error:  # A damaged model file can fail in many ways; none may reach the screen raw.
            st.error(f"**The script cannot be written:** {text.markdown_escape(error)}. The model file may be damaged.",
                     icon=":material/broken_image:")
            return
        st.download_button(f"Download {export.script_file_name(run)}", data=script,
                           file_name=export.script_file_name(run), mime="text/x-python", icon=":material/code:",
                           on_click="ignore", key="results_page_download_script")
        st.caption(f"Run it with `python {export.script_file_name(run)}`; it needs only Keras 3"
                   + (" and downloads the whole MNIST (the app's sample is part of it)."
                      if run.dataset == "mnist_sample" else "."))
    with st.expander("Read the script", icon=":material/description:"):
        st.code(script, language="python", line_numbers=True, height=560)

