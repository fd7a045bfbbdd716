"""Datasets: choose the dataset of the lesson and look at it before training anything.

From top to bottom: a choice of dataset (the sidebar and the other pages follow it); its size, image shape,
classes and source; then, once the dataset is on this machine, a grid of random training images with their
labels and a Reshuffle button; "Look inside one image": the image chosen in the grid (a magnifier button
under each) as the network gets it, its grid of pixel values 0-255 shaded like the image, its label as a
one-hot vector, and flattened into one row of 784 numbers (3,072 for a colour photo, one channel shown at a
time); N examples of one chosen class; and a bar chart of how many images each class has. A dataset that is
not on this machine yet gets a Download button with a progress bar instead; when the download fails (offline,
in most classrooms), a clear message and one click to switch to the offline sample.

Images are enlarged with nearest-neighbour (`core.gallery.enlarge`) and drawn with `image-rendering:
pixelated`, so a 28x28 digit stays sharp squares on a projector, white on black as stored.
"""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import datasets, gallery, pixels
from pages import _common

CHOICE_KEY = "datasets_page_choice"
SHUFFLE_KEY = "datasets_page_shuffles"
EXAMPLE_CLASS_KEY = "datasets_page_example_class"
EXAMPLE_COUNT_KEY = "datasets_page_example_count"
DOWNLOAD_ERRORS_KEY = "datasets_page_download_errors"
# The training image the "Look inside" section shows: (dataset name, index), or absent for the grid's first.
INSPECTED_KEY = "datasets_page_inspected"
CHANNEL_KEY = "datasets_page_channel"
# Set by a click on an image's zoom button: the next run scrolls the page to "Look inside one image", which on a
# phone comes eight rows of images further down.
SCROLL_KEY = "datasets_page_scroll_to_inside"
LOOK_INSIDE_CONTAINER = "datasets_look_inside"
SCROLL_SCRIPT = """<script>
// Look inside image {index} (click {clicks})
(function () {{
  var section = document.querySelector(".st-key-{container}");
  if (section) {{ section.scrollIntoView({{behavior: "smooth", block: "start"}}); }}
}})();
</script>"""
LOOK_INSIDE_LABEL = ":material/zoom_in:"

GRID_ROWS = 4
GRID_COLUMNS = 8
EXAMPLES_PER_ROW = 10

# Keeps every pixel a sharp square when the browser fits an image to its column, and makes the labels
# under the images readable from the back of a classroom.
PIXELATED_IMAGES_STYLE = """
<style>
[data-testid="stImageCaption"], [data-testid="stImageCaption"] * { font-size: 1.1rem !important; }
/* Scrolled to after a zoom click: its title stops below the app's top bar, not under it. */
.st-key-datasets_look_inside { scroll-margin-top: 4.5rem; }
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
    # New images: the section below looks inside the first of them again.
    st.session_state.pop(INSPECTED_KEY, None)


def _inspect(dataset_name: str, index: int) -> None:
    st.session_state[INSPECTED_KEY] = (dataset_name, index)
    st.session_state[SCROLL_KEY] = st.session_state.get(f"{SCROLL_KEY}_clicks", 0) + 1
    st.session_state[f"{SCROLL_KEY}_clicks"] = st.session_state[SCROLL_KEY]


def inspected_index(dataset: datasets.Dataset, shown) -> int:
    """The training image to look inside: the one last clicked, else the first of the grid."""
    chosen = st.session_state.get(INSPECTED_KEY)
    if isinstance(chosen, tuple) and chosen[0] == dataset.name and 0 <= chosen[1] < len(dataset.x_train):
        return int(chosen[1])
    return int(shown[0])


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


def image_grid(images, captions: list[str] | None, columns: int, *, key: str, look_inside=None) -> None:
    """Draws images in rows of `columns`, each enlarged so that its pixels stay sharp, with its caption if any.

    `look_inside`, if given, is (dataset name, the images' indices, the index shown below): each image gets a
    "Look inside" button that shows it in the section under the grid (the one shown has a filled button).
    """
    captions = captions or [None] * len(images)
    for column, position, image in _common.grid_cells(images, columns, key=key):
        column.image(image, caption=captions[position], width="stretch")
        if look_inside is not None:
            dataset_name, indices, inspected = look_inside
            index = int(indices[position])
            # An icon alone: the words would not fit under an image an eighth of the page wide.
            column.button(LOOK_INSIDE_LABEL, key=f"look_inside_{position}",
                          type="primary" if index == inspected else "tertiary", on_click=_inspect,
                          args=(dataset_name, index), width="stretch",
                          help="Look inside this image: see it below as the network gets it, as numbers.")


def random_training_images(dataset: datasets.Dataset) -> int:
    """The grid of random training images; returns the index of the one to look inside."""
    title, button = st.columns([4, 1], vertical_alignment="bottom")
    title.subheader("Random training images")
    button.button("Reshuffle", icon=":material/shuffle:", on_click=_reshuffle, width="stretch")
    indices = gallery.random_indices(len(dataset.x_train), GRID_ROWS * GRID_COLUMNS, seed=_shuffle_seed())
    st.caption(f"{len(indices)} images picked at random from the {len(dataset.x_train):,} training images, "
               "each with its label. Click :material/zoom_in: under any of them to look inside it, below.")
    inspected = inspected_index(dataset, indices)
    image_grid(dataset.x_train[indices], [dataset.class_names[label] for label in dataset.y_train[indices]],
               GRID_COLUMNS, key="datasets_random", look_inside=(dataset.name, indices, inspected))
    return inspected


def look_inside(dataset: datasets.Dataset, index: int) -> None:
    """One training image as the network gets it: its pixel values, its one-hot label, and flattened."""
    with st.container(key=LOOK_INSIDE_CONTAINER):
        _look_inside(dataset, index)
    clicks = st.session_state.pop(SCROLL_KEY, None)
    if clicks is not None:
        st.html(SCROLL_SCRIPT.format(index=int(index), clicks=int(clicks), container=LOOK_INSIDE_CONTAINER),
                unsafe_allow_javascript=True, width="content")


def _look_inside(dataset: datasets.Dataset, index: int) -> None:
    image, label = dataset.x_train[index], int(dataset.y_train[index])
    colour = image.ndim == 3
    st.subheader("Look inside one image")
    st.markdown(f"To the network, training image number {index:,} is not a picture but a grid of numbers: "
                "how bright each pixel is, from 0 (black) to 255 (white)."
                + (" A colour photo has three such grids, one per colour channel." if colour else ""))
    picture, table = st.columns([1, 3])
    with picture:
        st.image(gallery.enlarge(image[np.newaxis], 224)[0], caption=f"Label: {_class_label(dataset.info, label)}",
                 width="stretch")
        channel = None
        if colour:
            channel = st.segmented_control("Channel", range(3), format_func=lambda value: pixels.CHANNEL_NAMES[value],
                                           default=0, required=True, key=CHANNEL_KEY)
            channel = 0 if channel is None else channel
    with table:
        height, width = image.shape[:2]
        what = f"its {pixels.CHANNEL_NAMES[channel].lower()} channel" if colour else "its pixels"
        st.markdown(f"**{height} × {width} = {height * width:,} numbers: {what}**")
        _common.chart(pixels.pixel_table_figure(pixels.pixel_table(image, channel), channel),
                      key="datasets_pixel_table")
    one_hot_label(dataset, label)
    flattening(image)


def one_hot_label(dataset: datasets.Dataset, label: int) -> None:
    st.markdown("**Its label, as the network learns it: a one-hot vector.** One number per class, all 0 but a "
                f"single 1 in the place of class {_class_label(dataset.info, label)}. The output layer learns to "
                "give the same ten probabilities.")
    vector = pixels.one_hot(label, dataset.num_classes)
    st.code(pixels.format_vector(vector), language=None)
    header = "| " + " | ".join(_class_label(dataset.info, index) for index in range(dataset.num_classes)) + " |"
    rule = "|" + ":-:|" * dataset.num_classes
    values = "| " + " | ".join(f"**{value}**" if value else str(value) for value in vector) + " |"
    st.markdown("\n".join((header, rule, values)))


def flattening(image: np.ndarray) -> None:
    flat = pixels.flatten(image)
    colour = image.ndim == 3
    height, width = image.shape[:2]
    st.markdown(f"**Flattened for a dense network: {len(flat):,} numbers in a row.** The rows of the grid are laid "
                "end to end, the first row, then the second, and so on"
                + (", each pixel's red, green and blue one after the other." if colour else "."))
    first_row = pixels.first_ink_row(image)
    rows = pixels.flattened_rows(image, first_row, 3)
    numbers_per_row = len(rows[0][2])
    first_position, last_position = rows[0][1], rows[-1][1] + len(rows[-1][2]) - 1
    lines = [f"row {row}:  " + " ".join(str(value) for value in values) for row, _, values in rows]
    lines += ["", f"laid end to end, numbers {first_position} to {last_position} of the {len(flat):,}:",
              " ".join(str(value) for _, _, values in rows for value in values) + " …"]
    # Wrapped, as a long row of numbers is: the last line runs on exactly as the network reads it.
    st.code("\n".join(lines), language=None, wrap_lines=True)
    _common.chart(pixels.flattened_figure(image), key="datasets_flattened")
    below = numbers_per_row
    st.info(f"The whole image is now one row of {len(flat):,} numbers"
            + (f" ({height} × {width} × 3)" if colour else f" ({height} × {width})")
            + f". A pixel and the one just below it, neighbours in the picture, end up {below} positions apart. "
            f"A dense network sees these {len(flat):,} numbers with no idea which were neighbours; a convolution "
            "looks at small squares of the grid, so it keeps them.", icon=":material/linear_scale:")


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
    image_grid(dataset.x_train[indices], None, EXAMPLES_PER_ROW, key="datasets_one_class")


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
    _common.chart(figure, key="class_distribution")
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
    look_inside(dataset, random_training_images(dataset))
    examples_of_one_class(dataset)
    class_distribution(dataset)
