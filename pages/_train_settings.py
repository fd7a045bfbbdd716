"""The Train page's settings panel: the architecture, each hyperparameter's widget drawn from its spec, the
model's layer table, and the setup kept in the page's address so that a link shares it (`core.share`).

The settings chosen for each architecture are kept in `st.session_state` while the visitor is on other pages
(Streamlit forgets the values of widgets that a page stops drawing).
"""

import math

import streamlit as st

from core import architectures, datasets, share, text, training
from pages import _common, _presenter

# The settings chosen for each architecture, kept while the visitor is on other pages.
SETTINGS_KEY = "train_settings"
ARCHITECTURE_KEY = "train_architecture"
# The query parameters this page last wrote into the address: a link that differs was opened, so it applies.
SHARE_QUERY_KEY = "train_share_query"
# What a link asked for that could not be used, shown once as a warning.
SHARE_PROBLEMS_KEY = "train_share_problems"
# Early stopping is a switch and a patience; the hyperparameter is the patience, 0 meaning off.
EARLY_STOPPING = "early_stopping_patience"
DEFAULT_PATIENCE = 3
# Learning rates offered on the log-scale slider: the 1-2-5 steps of each power of ten.
LEARNING_RATE_STEPS = (1, 2, 5)
# Integer settings with a range this small get a slider; wider ones a number box with the same limits.
SLIDER_MAXIMUM_RANGE = 50


def learning_rate_choices(spec: architectures.Hyperparameter, current: float | None = None) -> list[float]:
    """The values of a log-scale setting: 1, 2 and 5 times each power of ten between 1e-5 and its maximum,
    and the `current` one (a shared link may ask for 0.003) if it is allowed."""
    lowest = max(spec.minimum, 1e-5)
    values = {spec.default}
    try:
        values.add(spec.validate(current))
    except ValueError:
        pass
    for exponent in range(math.floor(math.log10(lowest)), math.ceil(math.log10(spec.maximum)) + 1):
        for step in LEARNING_RATE_STEPS:
            value = float(f"{step}e{exponent}")
            if lowest <= value <= spec.maximum:
                values.add(value)
    return sorted(values)


def readable_shape(output_shape: str) -> str:
    """"(batch, 14, 14, 32)" as "14 × 14 × 32": every layer works on a whole batch, so the batch axis says nothing."""
    sizes = [size.strip() for size in output_shape.strip("()").split(",") if size.strip()]
    return " × ".join(size for size in sizes if size != "batch") or output_shape


def saved_settings(architecture: str) -> dict:
    return st.session_state.setdefault(SETTINGS_KEY, {}).setdefault(architecture, {})


@st.cache_data(show_spinner=False, max_entries=64)
def model_summary(architecture: str, dataset: str, settings: tuple) -> dict:
    """The layer table and parameter counts of a model, built once per architecture, dataset and settings.

    Only the table is cached, never the model: the cache is shared by every visitor. The model is an outline,
    with no weight made: a visitor's largest setting costs the server no memory.
    """
    info = datasets.get_info(dataset)
    return architectures.describe(architectures.model_outline(architecture, info.image_shape, info.num_classes,
                                                               dict(settings)))


def architecture_choice(dataset_info: datasets.DatasetInfo) -> architectures.Architecture:
    names = list(architectures.ARCHITECTURES)
    if len(dataset_info.image_shape) == 3:
        # Colour photos: the architectures made for them come first.
        names.sort(key=lambda name: not architectures.ARCHITECTURES[name].for_colour)
    if st.session_state.get(ARCHITECTURE_KEY) not in names:
        st.session_state[ARCHITECTURE_KEY] = st.session_state.get(f"{ARCHITECTURE_KEY}_saved",
                                                                   architectures.DEFAULT_ARCHITECTURE)
    name = st.selectbox("Architecture", names, key=ARCHITECTURE_KEY,
                        format_func=lambda value: architectures.ARCHITECTURES[value].title)
    st.session_state[f"{ARCHITECTURE_KEY}_saved"] = name
    architecture = architectures.ARCHITECTURES[name]
    st.caption(architecture.description)
    return architecture


def hyperparameter_widget(architecture: str, spec: architectures.Hyperparameter):
    """One setting, drawn from its spec with its limits, so that an out-of-range value cannot be entered."""
    saved = saved_settings(architecture)
    key = f"train_{architecture}_{spec.name}"
    if key not in st.session_state:
        st.session_state[key] = saved.get(spec.name, spec.default)
    if spec.choices is not None:
        value = st.selectbox(spec.title, spec.choices, key=key, help=spec.help)
    elif spec.kind is bool:
        value = st.toggle(spec.title, key=key, help=spec.help)
    elif spec.log_scale:
        choices = learning_rate_choices(spec, st.session_state[key])
        if st.session_state[key] not in choices:
            st.session_state[key] = spec.default
        value = st.select_slider(spec.title, choices, key=key, help=spec.help, format_func=lambda rate: f"{rate:g}")
    elif spec.kind is int and spec.maximum - spec.minimum <= SLIDER_MAXIMUM_RANGE:
        value = st.slider(spec.title, int(spec.minimum), int(spec.maximum), step=1, key=key, help=spec.help)
    elif spec.kind is int:
        value = st.number_input(spec.title, int(spec.minimum), int(spec.maximum), step=1, key=key, help=spec.help)
    else:
        step = 0.05 if spec.maximum - spec.minimum <= 1 else (spec.maximum - spec.minimum) / 100
        value = st.slider(spec.title, float(spec.minimum), float(spec.maximum), step=step, key=key, help=spec.help)
    saved[spec.name] = value
    return value


def early_stopping_widget(architecture: str, spec: architectures.Hyperparameter) -> int:
    """Early stopping as a switch, and its patience once it is on: clearer to a class than "patience 0 = off"."""
    saved = saved_settings(architecture)
    switch_key, patience_key = f"train_{architecture}_early_stopping", f"train_{architecture}_{spec.name}"
    saved_patience = saved.get(spec.name, spec.default)
    if switch_key not in st.session_state:
        st.session_state[switch_key] = saved_patience > 0
    if patience_key not in st.session_state:
        st.session_state[patience_key] = saved_patience or DEFAULT_PATIENCE
    on = st.toggle("Early stopping", key=switch_key,
                   help="Stop once the validation loss has not improved for a few epochs in a row, and keep the "
                        "best epoch. Off, every epoch trains (the best epoch is kept either way).")
    patience = 0
    if on:
        patience = st.slider("Patience (epochs without improvement)", 1, int(spec.maximum), step=1,
                             key=patience_key, help=spec.help)
    saved[spec.name] = patience
    return patience


def settings_grid(architecture: str, specs) -> dict:
    """Widgets for `specs`, two to a row."""
    values = {}
    # Early stopping (a switch and its patience) gets a row of its own: in half a column its label was cut.
    paired = [spec for spec in specs if spec.name != EARLY_STOPPING]
    for start in range(0, len(paired), 2):
        for column, spec in zip(st.columns(2), paired[start:start + 2]):
            with column:
                values[spec.name] = hyperparameter_widget(architecture, spec)
    for spec in specs:
        if spec.name == EARLY_STOPPING:
            values[spec.name] = early_stopping_widget(architecture, spec)
    return {spec.name: values[spec.name] for spec in specs}


def set_setting(architecture: str, name: str, value) -> None:
    """Puts a setting into its widget's state (before the widget is drawn) and into the saved settings."""
    saved_settings(architecture)[name] = value
    if name == EARLY_STOPPING:
        st.session_state[f"train_{architecture}_early_stopping"] = value > 0
        st.session_state[f"train_{architecture}_{name}"] = value or DEFAULT_PATIENCE
    else:
        st.session_state[f"train_{architecture}_{name}"] = value


def apply_shared_link() -> None:
    """Restores the setup in the address when it is not the one this page wrote there: a link was opened.

    Settings the link leaves out take their defaults, so that the class gets exactly the teacher's setup.
    """
    query = st.query_params.to_dict()
    if not query or query == st.session_state.get(SHARE_QUERY_KEY):
        return
    fallback = st.session_state.get(f"{ARCHITECTURE_KEY}_saved", architectures.DEFAULT_ARCHITECTURE)
    setup = share.setup_from_query(query, fallback_architecture=fallback)
    if setup.dataset is not None:
        _common.set_dataset(setup.dataset)
    name = setup.architecture or fallback
    st.session_state[ARCHITECTURE_KEY] = st.session_state[f"{ARCHITECTURE_KEY}_saved"] = name
    for spec in architectures.get_architecture(name).hyperparameters:
        set_setting(name, spec.name, setup.hyperparameters.get(spec.name, spec.default))
    st.session_state[SHARE_PROBLEMS_KEY] = setup.problems
    # Until the page writes its own address below, this one counts as applied.
    st.session_state[SHARE_QUERY_KEY] = query


# This page's own path in the app (its `url_path` in streamlit_app.py).
TRAIN_ROUTE = "/train"


def keep_address_in_step(dataset: str, architecture: str, settings: dict) -> share.ClassLink:
    """Writes the setup into the page's address and returns the link to share it with the class: on the
    address the students can reach, with presenter mode when it is on."""
    query = share.setup_to_query(dataset, architecture, settings)
    if _presenter.enabled():
        query[share.PRESENTER_PARAMETER] = "on"
    # Not on the session's first run (see `_presenter.FIRST_RUN_KEY`): the address stays the link that was opened,
    # which counts as applied until the next run writes this page's own. The link below is the page's own already.
    if not _presenter.first_run():
        if st.query_params.to_dict() != query:
            st.query_params.from_dict(query)
        st.session_state[SHARE_QUERY_KEY] = query
    # Served under a path (`--server.baseUrlPath canvas`) or behind a proxy's path, the page's address starts with
    # it, and so may the teacher's NEURAL_CANVAS_BASE_URL: the link names it once, then this page's own route.
    app_path = st.get_option("server.baseUrlPath") or ""
    try:
        return share.class_link(st.context.url, query, app_path=app_path, route=TRAIN_ROUTE)
    except ValueError as error:
        # NEURAL_CANVAS_BASE_URL is not a web address: say so, and share the page's own address meanwhile.
        st.warning(f"{text.markdown_escape(error)} The link below uses this page's own address instead.",
                   icon=":material/link_off:")
        return share.class_link(st.context.url, query, base_url="", app_path=app_path, route=TRAIN_ROUTE)


def shared_link_problems() -> None:
    problems = st.session_state.pop(SHARE_PROBLEMS_KEY, ())
    if problems:
        st.warning(share.problems_message(problems), icon=":material/link_off:")


# The QR code, 300 px: big enough to scan from the back of a room on a projector, and inside a phone's popover.
QR_CODE_WIDTH = 300


def share_setup(link: share.ClassLink) -> None:
    with st.popover("Share this setup", icon=":material/share:"):
        # The code first: it is what the teacher shows the class. The link and its note beside it where the popover
        # is wide enough (a projector's screen: both in the popover's first screen), under it where not (a phone).
        with st.container(horizontal=True, wrap=True, gap="small", vertical_alignment="top"):
            st.image(share.qr_code_png(link.url), width=QR_CODE_WIDTH, caption="Scan to open this setup")
            with st.container(width="stretch", key="share_link_words"):
                st.markdown("Or send the class this link to the Train page with this dataset, architecture and "
                            "every setting:")
                st.code(link.url, language=None, wrap_lines=True)
                if link.reachable:
                    st.caption(link.note)
                else:
                    st.info(link.note, icon=":material/wifi_off:")


def architecture_settings(architecture: architectures.Architecture) -> dict:
    st.markdown("**Architecture settings**")
    if not architecture.own_hyperparameters:
        st.caption("This architecture has no settings of its own.")
    return settings_grid(architecture.name, architecture.own_hyperparameters)


def training_settings(architecture: architectures.Architecture) -> dict:
    st.markdown("**Training settings**")
    own = {spec.name for spec in architecture.own_hyperparameters}
    return settings_grid(architecture.name, [spec for spec in architecture.hyperparameters if spec.name not in own])


# Rows of the layer table shown without scrolling: all of the smaller models; a longer table scrolls.
TABLE_ROWS_SHOWN = 16


def model_table(architecture: architectures.Architecture, dataset: str, own_settings: dict) -> dict | None:
    """The layers of the model these settings build, and its parameter count, before anything trains."""
    try:
        with st.spinner("Building the model…"):
            summary = model_summary(architecture.name, dataset, tuple(sorted(own_settings.items())))
    except ValueError as error:
        st.error(f"This model cannot be built: {text.markdown_escape(error)}")
        return None
    st.metric("Parameters", f"{summary['total']:,}",
              help="Weights and biases the training adjusts" +
                   (f" ({summary['non_trainable']:,} of them are batch-normalisation statistics)."
                    if summary["non_trainable"] else "."))
    rows = [{"Layer": row["name"], "Type": row["type"], "Output shape": readable_shape(row["output_shape"]),
             "Parameters": row["parameters"]} for row in summary["layers"]]
    # The smaller models show every layer; a longer table (the modern CNN, a deep DNN) scrolls, and the line
    # under it names the output layers, so the class never misses where the network ends.
    st.dataframe(rows, hide_index=True, height=38 + 35 * min(len(rows), TABLE_ROWS_SHOWN),
                 column_config={"Layer": st.column_config.TextColumn(width=84),
                                "Type": st.column_config.TextColumn(width=92),
                                "Output shape": st.column_config.TextColumn(width=84),
                                "Parameters": st.column_config.NumberColumn(format="localized", width=76)})
    if len(rows) > TABLE_ROWS_SHOWN:
        ending = ", ".join(f"{row['Layer']} ({row['Type']}, {row['Output shape']})" for row in rows[-2:])
        st.caption(f"{len(rows)} layers: scroll the table for the rest. It ends with {text.markdown_escape(ending)}.")
    return summary


def settings_problem(dataset_info: datasets.DatasetInfo, settings: dict) -> str | None:
    """A setting that would make the training fail at once (a batch larger than the data), said in words."""
    hold_out = round(dataset_info.num_train * settings["validation_fraction"])
    try:
        training.validate_training_data(settings, dataset_info.num_train - hold_out)
    except ValueError as error:
        return str(error)
    return None
