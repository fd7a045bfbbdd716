"""Picking, counting and enlarging a dataset's images so that a page can show them.

Pure NumPy, no Streamlit: the Datasets page asks this module which images to show (a seeded random pick of
the whole training set, or of one class), how many images each class has, and for copies of the images
enlarged with nearest-neighbour so that every pixel stays a sharp square on a projector.

Example:

```python
from core import datasets, gallery

dataset = datasets.load("mnist_sample")
indices = gallery.class_indices(dataset.y_train, class_index=1, count=10, seed=0)
ones = gallery.enlarge(dataset.x_train[indices])  # ten crisp 112x112 images of the digit 1
```
"""

import math

import numpy as np

# How many screen pixels, at least, the side of an enlarged image gets: 28x28 digits become 112x112.
DEFAULT_MINIMUM_SIDE = 112


def random_indices(num_images: int, count: int, seed: int) -> np.ndarray:
    """Returns `count` distinct image indices out of `num_images`, the same ones for the same seed.

    Asking for more images than there are returns all of them, shuffled.
    """
    if num_images < 0 or count < 0:
        raise ValueError(
            f"num_images and count must be zero or more, received num_images={num_images}, count={count}."
        )
    generator = np.random.default_rng(seed)
    return generator.choice(num_images, size=min(count, num_images), replace=False)


def class_indices(labels: np.ndarray, class_index: int, count: int, seed: int) -> np.ndarray:
    """Returns the indices of `count` random images whose label is `class_index`, the same for the same seed.

    When the class has fewer images than `count`, all of them are returned, shuffled.
    """
    labels = np.asarray(labels).reshape(-1)
    if count < 0:
        raise ValueError(f"count must be zero or more, received {count}.")
    if class_index < 0:
        raise ValueError(f"class_index must be a label (0 or more), received {class_index}.")
    members = np.flatnonzero(labels == class_index)
    chosen = random_indices(len(members), count, seed)
    return members[chosen]


def class_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """Returns how many images each class has, as an array of `num_classes` integers in label order."""
    labels = np.asarray(labels).reshape(-1)
    if num_classes < 1:
        raise ValueError(f"num_classes must be 1 or more, received {num_classes}.")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"Labels must lie between 0 and {num_classes - 1}, received labels from {labels.min()} "
            f"to {labels.max()}. Pass the dataset's num_classes."
        )
    return np.bincount(labels, minlength=num_classes)


def enlarge(images: np.ndarray, minimum_side: int = DEFAULT_MINIMUM_SIDE) -> np.ndarray:
    """Returns a batch of images enlarged by a whole factor with nearest-neighbour, so pixels stay sharp.

    Args:
        images: `uint8` images, `(N, height, width)` for grayscale or `(N, height, width, channels)`.
        minimum_side: The smallest side the enlarged images may have; the factor is the smallest whole
            number that reaches it (4 for 28x28 digits and for 32x32 photos at the default 112).

    Returns:
        A new array of the same dtype, `(N, height * factor, width * factor[, channels])`; pixel values are
        copied, never blended, so a digit stays white on black exactly as stored.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(
            f"images must be a batch of shape (N, height, width) or (N, height, width, channels), "
            f"received shape {images.shape}. Add a first axis to enlarge a single image: images[None]."
        )
    if minimum_side < 1:
        raise ValueError(f"minimum_side must be 1 or more, received {minimum_side}.")
    smallest_side = min(images.shape[1], images.shape[2])
    if smallest_side == 0:
        return images.copy()
    factor = max(1, math.ceil(minimum_side / smallest_side))
    return images.repeat(factor, axis=1).repeat(factor, axis=2)


# --- grids of feature maps and filters (the Inside page) ------------------------------------------------------

# A colour scale for activations (viridis: dark blue for nothing, yellow for the strongest), so that what the
# network computes never looks like one of the white-on-black digits it was given. Nine anchors, interpolated.
_VIRIDIS_ANCHORS = np.array([
    [68, 1, 84], [71, 44, 122], [59, 81, 139], [44, 113, 142], [33, 144, 141],
    [39, 173, 129], [92, 200, 99], [170, 220, 50], [253, 231, 37],
], dtype=np.float64)
VIRIDIS = np.stack([
    np.interp(np.linspace(0, len(_VIRIDIS_ANCHORS) - 1, 256), np.arange(len(_VIRIDIS_ANCHORS)), _VIRIDIS_ANCHORS[:, c])
    for c in range(3)
], axis=-1).round().astype(np.uint8)


def normalise_maps(maps: np.ndarray, per: str = "map") -> np.ndarray:
    """Stretches activations to uint8 0-255: each map to its own largest value (`per="map"`) or to the layer's.

    Args:
        maps: Activations, `(N, height, width)` floats (one feature map per image).
        per: "map" (each map to its own range, so weak maps still show their shape) or "layer" (one range for
            all, so that strong and weak maps can be compared).

    Returns:
        `(N, height, width)` uint8. The smallest value (usually 0, after a ReLU) becomes 0; a map that is the
        same everywhere becomes all 0, since it found nothing.
    """
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape (N, height, width), received shape {maps.shape}.")
    if per not in ("map", "layer"):
        raise ValueError(f'per must be "map" or "layer", received {per!r}.')
    axes = (1, 2) if per == "map" else (0, 1, 2)
    if maps.size == 0:
        return maps.astype(np.uint8)
    low = maps.min(axis=axes, keepdims=True)
    high = maps.max(axis=axes, keepdims=True)
    span = high - low
    scaled = np.divide(maps - low, span, out=np.zeros_like(maps), where=span > 1e-12)
    return np.round(np.clip(scaled, 0.0, 1.0) * 255).astype(np.uint8)


def colourise(images: np.ndarray, palette: np.ndarray = VIRIDIS) -> np.ndarray:
    """Maps uint8 gray images (any shape) to RGB through a 256-entry palette: shape + (3,)."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"colourise takes uint8 images (0-255), received dtype {images.dtype}.")
    return np.asarray(palette, dtype=np.uint8)[images]


def tile(images: np.ndarray, columns: int, gap: int = 2, gap_value=255, empty_value=None) -> np.ndarray:
    """Lays a batch of small images out in a grid, row after row, with `gap` pixels of `gap_value` between them.

    Args:
        images: `(N, height, width)` or `(N, height, width, channels)` uint8.
        columns: Images per row; the last row is left partly empty (filled with the gap colour, or with
            `empty_value` from the last image's gap on: a page's white rather than a block of a coloured gap).

    Returns:
        One uint8 image of `rows * height + (rows - 1) * gap` by `columns * width + (columns - 1) * gap`
        pixels (with the channels of the inputs), where `rows = ceil(N / columns)`.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(
            f"images must be a non-empty batch (N, height, width[, channels]), received shape {images.shape}."
        )
    if columns < 1 or gap < 0:
        raise ValueError(f"columns must be 1 or more and gap 0 or more, received columns={columns}, gap={gap}.")
    count, height, width = images.shape[:3]
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    shape = (rows * height + (rows - 1) * gap, columns * width + (columns - 1) * gap, *images.shape[3:])
    grid = np.full(shape, gap_value, dtype=images.dtype)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = row * (height + gap), column * (width + gap)
        grid[top:top + height, left:left + width] = image
    if empty_value is not None and count % columns:
        grid[-height - min(gap, grid.shape[0] - height):, (count % columns) * (width + gap):] = empty_value
    return grid


def feature_map_grid(activations: np.ndarray, channels=None, columns: int = 8, minimum_side: int = 56,
                     gap: int = 4, per: str = "map") -> np.ndarray:
    """One RGB picture of a convolution layer's feature maps: each map normalised, coloured, enlarged, tiled.

    Args:
        activations: One image's activations at a layer, `(height, width, channels)` floats.
        channels: The maps to show, by channel index, in this order (default: all of them).
        columns: Maps per row.
        minimum_side: Each map is enlarged by a whole factor to at least this many pixels a side, so that the
            gaps stay thin whatever the map's size (a 7x7 map and a 28x28 map come out alike).
        gap: White pixels between maps.
        per: "map" or "layer" normalisation (see `normalise_maps`).

    Returns:
        A uint8 RGB image, shape (rows * side + gaps, columns * side + gaps, 3).
    """
    activations = np.asarray(activations, dtype=np.float32)
    if activations.ndim != 3:
        raise ValueError(
            f"Feature maps have shape (height, width, channels), received shape {activations.shape}."
        )
    maps = np.moveaxis(activations, -1, 0)
    if channels is not None:
        maps = maps[np.asarray(channels, dtype=int)]
    coloured = colourise(normalise_maps(maps, per=per))
    return tile(enlarge(coloured, minimum_side), columns=columns, gap=gap)


def filter_grid(filter_images: np.ndarray, columns: int = 8, minimum_side: int = 36, gap: int = 6) -> np.ndarray:
    """One picture of a convolution's filters, `(N, k, k)` gray or `(N, k, k, 3)` colour uint8, tiled like the maps.

    Gray filters are shown in gray (white: a positive weight, which answers to ink; black: a negative one), on
    a light blue gap that no gray weight has, so that each filter's square stands out (a light gray gap melted
    into the light weights around it).
    """
    filter_images = np.asarray(filter_images)
    if filter_images.ndim == 3:
        # RGB, so that the gap can be a colour no filter has (filters already use the whole gray range).
        filter_images = np.repeat(filter_images[..., np.newaxis], 3, axis=-1)
    # The last row's empty places are the page's white, not a block of the gap's blue.
    return tile(enlarge(filter_images, minimum_side), columns=columns, gap=gap, gap_value=FILTER_GAP_COLOUR,
                empty_value=255)


# The gap between a convolution's filters: a light blue, which no gray filter has.
FILTER_GAP_COLOUR = np.array([150, 190, 240], dtype=np.uint8)
