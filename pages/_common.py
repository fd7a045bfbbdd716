"""What the pages share: the visitor's identity, the chosen dataset and model, the sidebar, and the small
widgets several pages draw (a Plotly chart without its toolbar, a duration in words, a grid of images).

Not a page itself (the underscore keeps it out of the navigation). State that belongs to one visitor lives in
`st.session_state`; the run store and the training queue are shared by every visitor of this server.
"""

import math

import streamlit as st

from core import backend, datasets, gallery, inference, jobs, runs, students, text
from pages import _presenter, _streamlit_patches, _teacher

# Streamlit may run a page file without the router (its legacy `pages/` mode, on a fresh server): every page
# imports this module, so this is where such a run is caught and sent through the router. The router applies
# all the patches itself, explicitly.
_streamlit_patches.leave_legacy_page_mode()

DATASET_KEY = "dataset"
RUN_KEY = "run_id"
OWNER_KEY = "owner"


# The token this session made because its browser sent none (or a bad one), until the browser keeps it.
NEW_STUDENT_TOKEN_KEY = "student_token_to_store"


def owner() -> str:
    """The student's owner id (core/students.py): it owns the trainings, runs and drawings they make.

    From the student's cookie, so that a reload or a new tab of the same browser is the same student. Without
    a valid cookie (a first visit, a private window, AppTest) a new token is made for this session, and
    `remember_student` stores it in the browser.
    """
    if OWNER_KEY not in st.session_state:
        token = _cookie_token()
        if token is None:
            token = students.new_token()
            st.session_state[NEW_STUDENT_TOKEN_KEY] = token
        st.session_state[OWNER_KEY] = students.owner_id(token)
    return st.session_state[OWNER_KEY]


def _cookie_token() -> str | None:
    """The student token the browser sent with this session, if it is exactly one (anything else is ignored)."""
    try:
        value = st.context.cookies.get(students.COOKIE_NAME)
    except Exception:  # noqa: BLE001 - no browser context (a script run outside a server): no cookie
        return None
    return value if students.valid_token(value) else None


def remember_student() -> None:
    """The router calls it on every run: settles who this session's student is and, when their browser had no
    valid token, has the browser keep the new one (a script in a hidden container: no gap on the page)."""
    owner()
    token = st.session_state.get(NEW_STUDENT_TOKEN_KEY)
    if token:
        # Style-only HTML goes to Streamlit's event container and takes no room; display:none keeps the
        # script's own element out of the page's layout (and its gaps) while the script still runs.
        st.html("<style>.st-key-student_cookie { display: none; }</style>")
        with st.container(key="student_cookie"):
            st.html(students.cookie_script(token), unsafe_allow_javascript=True)


def run_store() -> runs.RunStore:
    """The run store the training queue writes to (one per server process)."""
    return jobs.get_queue().store


def training_queue() -> jobs.TrainingQueue:
    return jobs.get_queue()


def dataset_name() -> str:
    """The dataset this visitor chose (the offline sample until they choose another)."""
    if st.session_state.get(DATASET_KEY) not in datasets.DATASETS:
        st.session_state[DATASET_KEY] = datasets.DEFAULT_DATASET
    return st.session_state[DATASET_KEY]


def set_dataset(name: str) -> None:
    st.session_state[DATASET_KEY] = name


def run_id() -> str | None:
    """The model this visitor is looking at (the run chosen last on any page), if any."""
    return st.session_state.get(RUN_KEY)


def set_run(run_id_value: str | None) -> None:
    st.session_state[RUN_KEY] = run_id_value


def image_grid_style(key_prefix: str) -> str:
    """CSS for an image grid drawn in containers keyed `<key_prefix>...`: the caption lines under each image
    compact and centred, so the grid reads as one block."""
    return f"""
<style>
[class*="st-key-{key_prefix}"] [data-testid="stVerticalBlock"] {{ gap: 0.3rem; }}
[class*="st-key-{key_prefix}"] [data-testid="stMarkdownContainer"] p {{
    font-size: 0.95rem; line-height: 1.3; text-align: center; margin-bottom: 0.6rem;
}}
</style>
"""


# A phone stacks Streamlit's columns one under the other: an image grid would become one huge image per row.
# Its rows wrap instead, half a row's images wide (8 -> 4, 6 -> 3), so that every line of images is full.
_PHONE_GRID_STYLE = """
<style>
@media (max-width: 640px) {{
  .st-key-image_grid_{key} {{ gap: 0.5rem; }}
  .st-key-image_grid_{key} [data-testid="stHorizontalBlock"] {{ flex-wrap: wrap; gap: 0.5rem; }}
  .st-key-image_grid_{key} [data-testid="stColumn"] {{
    flex: 0 0 calc({share}% - 0.5rem) !important; width: calc({share}% - 0.5rem) !important;
    min-width: calc({share}% - 0.5rem) !important;
  }}
}}
</style>
"""


def phone_row(columns: int) -> int:
    """How many of a grid's `columns` images a phone shows in a row."""
    return columns // 2 if columns >= 6 else columns


def grid_cells(images, columns: int, *, key: str):
    """Lays `images` out in rows of `columns` (half as many on a phone), each enlarged so that its pixels stay
    sharp; yields, image by image, the column to draw it in, its position in `images` and the enlarged image.
    `key` names the grid, unique on the page (letters, digits and underscores)."""
    enlarged = gallery.enlarge(images)
    st.html(_PHONE_GRID_STYLE.format(key=key, share=f"{100 / phone_row(columns):.4g}"))
    grid = st.container(key=f"image_grid_{key}")
    for row_start in range(0, len(enlarged), columns):
        row = grid.columns(columns, gap="small")
        for offset, (column, image) in enumerate(zip(row, enlarged[row_start:row_start + columns])):
            yield column, row_start + offset, image


def phone_row_wraps(key: str) -> None:
    """On a phone, the horizontal container keyed `key` wraps: its first item takes a line of its own, the rest
    go under it (side by side, a sentence or a select box was squeezed to a few words a line)."""
    st.html(f"<style>@media (max-width: 640px) {{ .st-key-{key} {{ flex-wrap: wrap; }} "
            f".st-key-{key} > :first-child {{ flex: 1 1 100%; }} }}</style>")


def listed_runs() -> list[runs.Run] | None:
    """Every run on this server, or None after saying on the page why the runs folder cannot be read."""
    try:
        return run_store().list()
    except OSError as error:
        st.error(f"The runs folder cannot be read ({text.markdown_escape(error)}). Check that it exists and that the "
                 "app may read it.")
        return None


def no_model_yet(then: str) -> None:
    """Says there is no trained model yet, how to get one, and what the visitor can `then` do here."""
    st.info("**No trained model yet.** Train one on the Train page (a CNN on the MNIST sample takes about a "
            f"minute), then come back here to {then}.", icon=":material/model_training:")
    st.page_link("pages/train.py", label="Go to the Train page", icon=":material/arrow_forward:")


# Plotly's toolbar would cover a chart's legend on a projector, and a class has no use for it.
PLOTLY_CONFIG = {"displayModeBar": False}


def chart(figure, key: str, **options) -> None:
    """A Plotly chart as wide as its column, without the toolbar; `options` go to `st.plotly_chart`.

    In presenter mode its type and height grow through Plotly's own layout, so that legends and titles are laid
    out at their new size instead of being cut."""
    if _presenter.enabled():
        figure = _presenter.enlarge(figure)
    st.plotly_chart(figure, key=key, config=PLOTLY_CONFIG, **options)


def format_duration(seconds: float | None) -> str:
    """"45 s", "3 min 07 s" or "1 h 05 min"; "—" when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


CURRENT_DRAWING_KEY = "current_drawing"


def set_current_drawing(image) -> None:
    """Remembers the 28x28 uint8 image the Draw page last gave the model (None once the canvas is blank)."""
    st.session_state[CURRENT_DRAWING_KEY] = image


def current_drawing():
    """The 28x28 uint8 image the Draw page last gave the model, or None; other pages look inside it. In a session
    the Draw page has not run in yet (a reload of another page), the student's remembered drawing."""
    if CURRENT_DRAWING_KEY not in st.session_state:
        from pages import _draw_input  # here: the Draw page's image code, only for a session that needs it

        st.session_state[CURRENT_DRAWING_KEY] = _draw_input.remembered_drawing_image(owner())
    return st.session_state[CURRENT_DRAWING_KEY]


def run_picker(candidates: list[runs.Run], *, label: str = "Model", key: str = "run_picker",
               help: str | None = None, on_change=None, start_on_best: bool = False) -> runs.Run | None:
    """A select box over `candidates` that starts on, and remembers, the visitor's current run (`on_change`: called
    when the visitor picks another one). A visitor without one starts on the first, or with `start_on_best` on
    `first_run_to_show`."""
    if not candidates:
        return None
    ids = [run.id for run in candidates]
    current = run_id()
    deleted = current is not None and current not in ids and _deleted(current)
    if current not in ids and start_on_best:
        current = first_run_to_show(candidates)
    index = ids.index(current) if current in ids else 0
    by_id = {run.id: run for run in candidates}
    if deleted:
        # Someone (the teacher, or its owner in another tab) deleted the model this visitor was using: said once, not
        # a silent switch to another model.
        st.toast(f"The model this page was using has been deleted: it now shows "
                 f"{text.markdown_escape(by_id[ids[index]].label)}.", icon=":material/delete:")
    chosen = st.selectbox(label, ids, index=index, format_func=lambda value: by_id[value].label, key=key, help=help,
                          on_change=on_change)
    set_run(chosen)
    return by_id[chosen]


def _deleted(run_id_value: str) -> bool:
    try:
        run_store().get(run_id_value)
    except KeyError:
        return True
    except (ValueError, OSError):
        return False
    return False


def first_run_to_show(candidates: list[runs.Run]) -> str | None:
    """Where a list of runs starts for a visitor who has chosen none yet: their own newest finished model, else the
    class's best (`inference.compatible_runs`: digit models first, the most accurate of the class's own trainings
    first, imported models last), else the newest finished one. Not simply the newest: in a class, that is any
    student's latest try, perhaps one trained badly on purpose."""
    finished = [run for run in candidates
                if run.has_model and not run.damaged and run.status in runs.FINAL_STATUSES + ("interrupted",)]
    mine = [run for run in finished if run.owner and run.owner == owner()]
    if mine:
        return mine[0].id
    best = inference.compatible_runs(finished)
    if best:
        return best[0].id
    return finished[0].id if finished else None


def _model_line() -> str:
    """The sidebar's model: the one this visitor chose last, or where to find or make one."""
    current = run_id()
    if current:
        try:
            return run_store().get(current).label
        except (KeyError, ValueError):
            return "none (it was deleted)"
    # Drawn on every page, the home page too: stop at the first saved model rather than read every run.json.
    try:
        trained = any(not path.parent.name.startswith(".") for path in run_store().root.glob("*/model.keras"))
    except OSError:
        trained = False
    if trained:
        return "none chosen yet: the Draw, Results and Inside pages choose one for you"
    if training_queue().active():
        return "none yet: the first one is training"
    return "none yet: train one on the Train page, or in one click on the Draw page"


def sidebar(container=None) -> None:
    """The dataset, the model and the device, in the sidebar (or in `container`, a place kept in it)."""
    info = datasets.get_info(dataset_name())
    with container if container is not None else st.sidebar:
        st.caption("Neural Canvas · learn by training, testing and drawing")
        # The switch first: on a projector's short screen the teacher finds it without scrolling the sidebar.
        _presenter.switch(st)
        # The Datasets and Train pages' choice: what the next training learns from, not the chosen model's data.
        st.markdown(f"**Dataset to train on:** {info.title}")
        st.markdown(f"**Model:** {text.markdown_escape(_model_line())}")
        st.markdown(f"**Device:** {backend.device_hint()}")
        _teacher.sidebar_panel()
