"""An image as the network gets it: a grid of numbers 0-255, a one-hot label, and a flat row of numbers.

The first lesson of every course this app is for, in a few pure NumPy functions (the Datasets page shows
them): a digit is a 28x28 table of brightness values, as the seed notebooks print it; its label "3" is the
vector [0 0 0 1 0 0 0 0 0 0] the loss compares with the output; and a dense network reads the table flattened
into 784 numbers in a row, row after row, with no idea which numbers were neighbours.

    from core import datasets, pixels

    dataset = datasets.load("mnist_sample")
    table = pixels.pixel_table(dataset.x_train[0])          # (28, 28) integers, as stored
    pixels.one_hot(dataset.y_train[0], 10)                   # array([0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
    pixels.format_vector(pixels.one_hot(5, 10))              # "[0 0 0 0 0 1 0 0 0 0]"
    flat = pixels.flatten(dataset.x_train[0])                # (784,), the order keras.layers.Flatten uses
"""

import numpy as np

CHANNEL_NAMES = ("Red", "Green", "Blue")


def _check_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (1, 3)):
        raise ValueError(
            f"An image has shape (height, width) or (height, width, 1 or 3 channels); received shape {image.shape}."
        )
    return image


def pixel_table(image, channel: int | None = None) -> np.ndarray:
    """The image's brightness values as a (height, width) table of integers, exactly as stored.

    Args:
        image: A uint8 image, (height, width) for grayscale or (height, width, 3) for colour.
        channel: For a colour image, which channel to show (0 red, 1 green, 2 blue): a table holds one
            number per cell. Ignored for a grayscale image.
    """
    image = _check_image(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 3:
        if channel is None or not 0 <= channel < image.shape[-1]:
            raise ValueError(
                f"A colour image has {image.shape[-1]} channels: choose one with channel=0 (red), 1 (green) "
                f"or 2 (blue); received channel={channel!r}."
            )
        image = image[..., channel]
    return image.astype(np.int64)


def one_hot(label, num_classes: int) -> np.ndarray:
    """The label as the network's target: `num_classes` zeros with a single 1 at the label's place."""
    if num_classes < 2:
        raise ValueError(f"num_classes must be 2 or more, received {num_classes}.")
    label = int(label)
    if not 0 <= label < num_classes:
        raise ValueError(f"The label must lie between 0 and {num_classes - 1}, received {label}.")
    vector = np.zeros(num_classes, dtype=np.int64)
    vector[label] = 1
    return vector


def format_vector(vector) -> str:
    """A vector written the way NumPy prints integer arrays in the notebooks: "[0 0 0 1 0 0 0 0 0 0]"."""
    return "[" + " ".join(str(int(value)) for value in np.asarray(vector).reshape(-1)) + "]"


def flatten(image) -> np.ndarray:
    """The image as one row of numbers, in the order `keras.layers.Flatten` uses (row after row; for a colour
    image, each pixel's red, green and blue one after the other)."""
    return _check_image(image).reshape(-1)


def first_ink_row(image) -> int:
    """The first row of the image that is not all black (0 when the whole image is black)."""
    image = _check_image(image)
    inked = np.flatnonzero(image.reshape(image.shape[0], -1).max(axis=1) > 0)
    return int(inked[0]) if len(inked) else 0


def flattened_rows(image, first_row: int, row_count: int) -> list[tuple[int, int, np.ndarray]]:
    """Some rows of the image, each with where it lands in the flattened row: [(row, start position, values)].

    For a (28, 28) image row 7 starts at position 7 x 28 = 196 of the 784 numbers; the pixel just below
    another one lands 28 positions further on.
    """
    image = _check_image(image)
    if row_count < 1:
        raise ValueError(f"row_count must be 1 or more, received {row_count}.")
    height = image.shape[0]
    numbers_per_row = int(np.prod(image.shape[1:]))
    first_row = max(0, min(int(first_row), height - 1))
    last_row = min(height, first_row + row_count)
    return [(row, row * numbers_per_row, image[row].reshape(-1).astype(np.int64)) for row in range(first_row, last_row)]


# --- the figures the Datasets page draws -----------------------------------------------------------------------

# Black to white for grayscale; black to the channel's own colour for one channel of a colour photo.
_CHANNEL_COLOURS = {None: "rgb(255, 255, 255)", 0: "rgb(255, 40, 40)", 1: "rgb(40, 220, 40)", 2: "rgb(60, 120, 255)"}


def pixel_table_figure(table, channel: int | None = None):
    """A plotly heatmap of a pixel table, every cell shaded like the image and labelled with its number.

    Args:
        table: `(height, width)` integers 0-255, as `pixel_table` gives.
        channel: None for a grayscale image (black to white), or the channel shown (black to red, green, blue).
    """
    import plotly.graph_objects as go

    table = np.asarray(table)
    if table.ndim != 2:
        raise ValueError(f"A pixel table has shape (height, width); received shape {table.shape}.")
    height, width = table.shape
    # Bright cells get dark numbers and dark cells light ones: two text layers would be heavy, so the numbers
    # are drawn by one scatter trace per shade instead of the heatmap's own text.
    figure = go.Figure(go.Heatmap(
        z=table.tolist(), zmin=0, zmax=255, colorscale=[[0, "rgb(0, 0, 0)"], [1, _CHANNEL_COLOURS.get(channel)]],
        showscale=False, xgap=1, ygap=1,
        hovertemplate="row %{y}, column %{x}: %{z}<extra></extra>",
    ))
    rows, columns = np.mgrid[0:height, 0:width]
    for bright, colour in ((False, "rgba(255, 255, 255, 0.9)"), (True, "rgba(0, 0, 0, 0.9)")):
        mask = (table >= 128) == bright
        figure.add_trace(go.Scatter(
            x=columns[mask].tolist(), y=rows[mask].tolist(), text=[str(value) for value in table[mask]], mode="text",
            textfont=dict(size=10 if max(height, width) <= 28 else 8, color=colour), hoverinfo="skip",
            showlegend=False,
        ))
    # Cells about as tall as they are wide in a page column of some 600 pixels, numbers large enough to read.
    side = 21 if max(height, width) <= 28 else 18
    figure.update_layout(
        height=side * height + 40, margin=dict(t=30, b=10, l=30, r=10), plot_bgcolor="white",
        xaxis=dict(side="top", tickmode="linear", dtick=1 if width <= 28 else 2, tickfont=dict(size=10),
                   showgrid=False, zeroline=False, range=[-0.5, width - 0.5]),
        yaxis=dict(range=[height - 0.5, -0.5], tickmode="linear", dtick=1 if height <= 28 else 2,
                   tickfont=dict(size=10), showgrid=False, zeroline=False),
    )
    return figure


def flattened_figure(image):
    """The whole image as one row of numbers (a plotly heatmap one cell high), rows marked along the way."""
    import plotly.graph_objects as go

    image = _check_image(image)
    flat = flatten(image)
    numbers_per_row = int(np.prod(image.shape[1:]))
    figure = go.Figure(go.Heatmap(
        z=[flat.tolist()], x=list(range(len(flat))), zmin=0, zmax=255, colorscale="gray", showscale=False,
        hovertemplate="number %{x}: %{z}<extra></extra>",
    ))
    every = 4 if image.shape[0] <= 28 else 8
    ticks = list(range(0, len(flat), numbers_per_row * every))
    figure.update_layout(
        height=130, margin=dict(t=10, b=40, l=10, r=10),
        xaxis=dict(tickvals=ticks, ticktext=[f"row {tick // numbers_per_row}" for tick in ticks],
                   tickfont=dict(size=12), title=f"position in the row of {len(flat):,} numbers"),
        yaxis=dict(visible=False),
    )
    return figure
