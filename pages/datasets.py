"""Datasets: choose the dataset of the lesson and look at it before training anything.

From top to bottom: a choice of dataset (the sidebar and the other pages follow it); its size, image shape,
classes and source; then, once the dataset is on this machine, a grid of random training images with their
labels and a Reshuffle button, N examples of one chosen class, and a bar chart of how many images each class
has. A dataset that is not on this machine yet gets a Download button with a progress bar instead; when the
download fails (offline, in most classrooms), a clear message and one click to switch to the offline sample.

Images are enlarged with nearest-neighbour (`core.gallery.enlarge`) and drawn with `image-rendering:
pixelated`, so a 28x28 digit stays sharp squares on a projector, white on black as stored.
"""

import plotly.graph_objects as go
import streamlit as st

from core import datasets, gallery
from pages import _common

CHOICE_KEY = "datasets_page_choice"
SHUFFLE_KEY = "datasets_page_shuffles"
EXAMPLE_CLASS_KEY = "datasets_page_example_class"
EXAMPLE_COUNT_KEY = "datasets_page_example_count"
DOWNLOAD_ERRORS_KEY = "datasets_page_download_errors"

GRID_ROWS = 4
GRID_COLUMNS = 8
EXAMPLES_PER_ROW = 10

# Keeps every pixel a sharp square when the browser fits an image to its column, and makes the labels
# under the images readable from the back of a classroom.
PIXELATED_IMAGES_STYLE = """
<style>
[data-testid="stImage"] img { image-rendering: pixelated; }
[data-testid="stImageCaption"], [data-testid="stImageCaption"] * { font-size: 1.1rem !important; }
</style>
"""


def _remember_choice() -> None:
    """Makes the dataset picked here the visitor's dataset, for the sidebar and every other page."""
    _common.set_dataset(st.session_state[CHOICE_KEY])


def _use_sample() -> None:
    """Switches to the offline sample, the way out when a download fails."""
    _common.set_dataset(datasets.DEFAULT_DATASET)
    st.session_state[CHOICE_KEY] = datasets.DEFAULT_DATASET


def _reshuffle() -> None:
    st.session_state[SHUFFLE_KEY] = st.session_state.get(SHUFFLE_KEY, 0) + 1


def _shuffle_seed() -> int:
    return st.session_state.get(SHUFFLE_KEY, 0)


def _class_label(info: datasets.DatasetInfo, index: int) -> str:
    """A class as the page names it: "3" for a digit, "3 (Dress)" where the label and the name differ."""
    name = info.class_names[index]
    return name if name == str(index) else f"{index} ({name})"


def choose_dataset() -> datasets.DatasetInfo:
    # Another page may have changed the dataset since this widget last ran: start from the visitor's
    # dataset. A choice made here reaches `_common` first, through the callback, so this never undoes it.
    st.session_state[CHOICE_KEY] = _common.dataset_name()
    st.segmented_control(
        "Dataset",
        list(datasets.DATASETS),
        format_func=lambda name: datasets.DATASETS[name].title,
        required=True,
        key=CHOICE_KEY,
        on_change=_remember_choice,
    )
    return datasets.get_info(_common.dataset_name())


def describe(info: datasets.DatasetInfo) -> None:
    st.markdown(info.description)
    training, test, shape, classes = st.columns(4)
    training.metric("Training images", f"{info.num_train:,}")
    test.metric("Test images", f"{info.num_test:,}")
    shape.metric("Image shape", " × ".join(str(side) for side in info.image_shape),
                 help="Height × width for grayscale images; height × width × colour channels for colour.")
    classes.metric("Classes", info.num_classes)
    st.markdown("**Classes:** " + " · ".join(_class_label(info, index) for index in range(info.num_classes)))
    st.caption(f"Source: {info.source}")


def image_grid(images, captions: list[str] | None, columns: int) -> None:
    """Draws images in rows of `columns`, each enlarged so that its pixels stay sharp, with its caption if any."""
    enlarged = gallery.enlarge(images)
    captions = captions or [None] * len(enlarged)
    for row_start in range(0, len(enlarged), columns):
        for column, image, caption in zip(st.columns(columns), enlarged[row_start:row_start + columns],
                                          captions[row_start:row_start + columns]):
            column.image(image, caption=caption, width="stretch")


def random_training_images(dataset: datasets.Dataset) -> None:
    title, button = st.columns([4, 1], vertical_alignment="bottom")
    title.subheader("Random training images")
    button.button("Reshuffle", icon=":material/shuffle:", on_click=_reshuffle, width="stretch")
    indices = gallery.random_indices(len(dataset.x_train), GRID_ROWS * GRID_COLUMNS, seed=_shuffle_seed())
    st.caption(f"{len(indices)} images picked at random from the {len(dataset.x_train):,} training images, "
               "each with its label.")
    image_grid(dataset.x_train[indices], [dataset.class_names[label] for label in dataset.y_train[indices]],
               GRID_COLUMNS)


def examples_of_one_class(dataset: datasets.Dataset) -> None:
    st.subheader("Examples of one class")
    class_index = st.pills("Class", range(dataset.num_classes), format_func=lambda index: dataset.class_names[index],
                           default=0, required=True, key=EXAMPLE_CLASS_KEY)
    count, _ = st.columns([1, 3])
    example_count = count.slider("How many", min_value=1, max_value=40, value=10, key=EXAMPLE_COUNT_KEY)
    indices = gallery.class_indices(dataset.y_train, class_index, example_count, seed=_shuffle_seed())
    # One caption for the whole grid: the same label under every image would only add noise.
    st.caption(f"{len(indices)} training images of class {_class_label(dataset.info, class_index)}: "
               "one label, many ways of writing or photographing it.")
    image_grid(dataset.x_train[indices], None, EXAMPLES_PER_ROW)


def class_distribution(dataset: datasets.Dataset) -> None:
    st.subheader("How many images of each class")
    train_counts = gallery.class_counts(dataset.y_train, dataset.num_classes)
    test_counts = gallery.class_counts(dataset.y_test, dataset.num_classes)
    large = dict(size=16)
    figure = go.Figure([
        go.Bar(name=split, x=list(dataset.class_names), y=counts, text=counts, textposition="outside",
               textfont=large, cliponaxis=False)
        for split, counts in (("Training", train_counts), ("Test", test_counts))
    ])
    figure.update_layout(
        barmode="group", height=400, margin=dict(t=50, b=10, l=10, r=10), font=large,
        xaxis=dict(title="Class", type="category", tickfont=large),
        yaxis=dict(title="Images", tickfont=large),
        legend=dict(orientation="h", yanchor="bottom", y=1.06, x=0, font=large),
    )
    st.plotly_chart(figure, key="class_distribution")
    st.caption(f"Images per class: {_spread_in_words(train_counts)} for training, {_spread_in_words(test_counts)} "
               "for testing. A model trained on unbalanced classes learns to favour the big ones.")


def _spread_in_words(counts) -> str:
    if counts.min() == counts.max():
        return f"exactly {counts.min():,}"
    return f"between {counts.min():,} and {counts.max():,}"


def offer_sample_instead(message: str) -> None:
    """Says what went wrong, and offers the offline sample, which always works."""
    st.error(message, icon=":material/cloud_off:")
    st.button("Use the offline MNIST sample instead", icon=":material/wifi_off:", type="primary",
              on_click=_use_sample)


def download(info: datasets.DatasetInfo) -> None:
    st.warning(f"**{info.title} is not on this machine yet.** Download it once (it goes into Keras's cache "
               "folder) and it works offline from then on.", icon=":material/download:")
    errors = st.session_state.setdefault(DOWNLOAD_ERRORS_KEY, {})
    if st.button(f"Download {info.title}", icon=":material/download:", type="primary"):
        progress_bar = st.progress(0.0, text="Connecting…")

        def show_progress(bytes_done: int, bytes_total: int) -> None:
            fraction = min(bytes_done / bytes_total, 1.0) if bytes_total else 0.0
            text = f"Downloading {info.title}: {bytes_done / 1e6:.1f} of {bytes_total / 1e6:.1f} MB"
            if fraction >= 1.0:
                # Reading the files into memory comes next and takes a few seconds more.
                text = f"Downloaded {bytes_total / 1e6:.1f} MB; loading {info.title}…"
            progress_bar.progress(fraction, text=text)

        try:
            datasets.fetch(info.name, progress=show_progress)
        except datasets.DatasetUnavailable as error:
            errors[info.name] = str(error)
        else:
            errors.pop(info.name, None)
            st.rerun()
        finally:
            progress_bar.empty()
    if info.name in errors:
        offer_sample_instead(f"**The download failed.** {errors[info.name]}")
    with st.expander("Or put the files there by hand"):
        st.markdown(datasets.local_paths_hint(info.name))


def load(info: datasets.DatasetInfo) -> datasets.Dataset | None:
    """Loads the dataset (once per server process; later calls return at once), or says why it cannot."""
    try:
        with st.spinner(f"Loading {info.title}…"):
            return datasets.load(info.name, download=False)
    except datasets.DatasetUnavailable as error:
        offer_sample_instead(f"**{info.title} could not be loaded.** {error}")
        return None


st.html(PIXELATED_IMAGES_STYLE)
st.title(":material/photo_library: 1 · Datasets")
dataset_info = choose_dataset()
describe(dataset_info)
if not datasets.is_available(dataset_info.name):
    download(dataset_info)
elif (dataset := load(dataset_info)) is not None:
    random_training_images(dataset)
    examples_of_one_class(dataset)
    class_distribution(dataset)
