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
