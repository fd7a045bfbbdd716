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
