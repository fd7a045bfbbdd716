"""Build the pen-drawn digits that ship with Neural Canvas: `core/data/pendigits.npz`.

Provenance. The 7,494 digits are the training file of the UCI "Pen-Based Recognition of Handwritten Digits"
dataset (E. Alpaydin and F. Alimoglu, Bogazici University, 1998; UCI Machine Learning Repository, dataset 81,
`pendigits-orig.tra`, CC BY 4.0): 30 writers, each digit kept as its pen trajectory, in UNIPEN text format.
The licence and attribution ship beside the built file, in `core/data/LICENSE-pendigits.txt`.

    python3 scripts/build_pendigits.py [--source ../shared/data/pendigits/pendigits-train.unipen]

What the file holds (all integer arrays, no pickles):

- `point_steps`: (2, P) int16, every pen point of every digit, in tablet units (0-500), x to the right and
  **y downwards** (the UNIPEN file's y grows upwards; it is flipped here, once, for a canvas), stored as
  steps: row 0 holds x, row 1 y, each the step from the point before (the first from 0), so that
  `np.cumsum(point_steps, axis=1).T` gives the (P, 2) points. Steps compress to about half the size;
- `stroke_starts`: (S + 1,) int32, where each stroke (pen down to pen up) starts in `points`, and the end;
- `digit_starts`: (N + 1,) int32, where each digit's first stroke is in the strokes, and the end;
- `labels`: (N,) uint8, the digit written; `writers`: (N,) uint8, the writer, 1-30.

Digits keep the file's order. The build is deterministic: the same source gives the same bytes.

Then it draws every digit on the canvas and preprocesses it as the Draw page does (`core.pen_digits.preprocessed`,
seed `core.pen_digits.DATASET_SEED`) into `core/data/pendigits_images.npz`: `images`, (N, 28, 28) uint8, in the
same order. That takes about a minute, which is why the result ships rather than being drawn on every start;
`tests/test_pen_digits.py` draws some digits again and checks that they are the shipped ones.
Run it again whenever `core.pen_digits`, `core.drawn_digits.draw_on_canvas` or `core.preprocess` change.
"""

import argparse
import io
import pathlib
import re
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent.parent / "shared" / "data" / "pendigits" / "pendigits-train.unipen"
OUTPUT = ROOT / "core" / "data" / "pendigits.npz"
IMAGES_OUTPUT = ROOT / "core" / "data" / "pendigits_images.npz"
# The UNIPEN file's tablet units: y is flipped as TABLET_SIZE - y.
TABLET_SIZE = 500

_SEGMENT = re.compile(r'^\.SEGMENT\s+DIGIT\s+([\d-]+)\s+\?\s+"(\d)"')
_COMMENT = re.compile(r"^\.COMMENT\s+(\d)\s+(\d+)\s+(\d+)")


def parse(text: str) -> dict[str, np.ndarray]:
    """Parses the UNIPEN text into the arrays described in the module's docstring."""
    points, stroke_starts, digit_starts, labels, writers = [], [], [], [], []
    in_stroke = False
    label = None
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if match := _SEGMENT.match(line):
            label = int(match.group(2))
            digit_starts.append(len(stroke_starts))
            labels.append(label)
            writers.append(0)
        elif match := _COMMENT.match(line):
            if int(match.group(1)) != label:
                raise ValueError(f"line {number}: the comment's label {match.group(1)} is not the segment's {label}")
            writers[-1] = int(match.group(2))
        elif line == ".PEN_DOWN":
            stroke_starts.append(len(points))
            in_stroke = True
        elif line == ".PEN_UP":
            if not in_stroke or len(points) == stroke_starts[-1]:
                raise ValueError(f"line {number}: a pen-up without a stroke before it")
            in_stroke = False
        elif line[0].isdigit():
            if not in_stroke:
                raise ValueError(f"line {number}: a point outside a stroke")
            x, y = (int(value) for value in line.split())
            points.append((x, TABLET_SIZE - y))
    if in_stroke:
        raise ValueError("the file ends inside a stroke")
    stroke_starts.append(len(points))
    digit_starts.append(len(stroke_starts) - 1)
    writers = np.asarray(writers, np.uint8)
    if (writers == 0).any():
        raise ValueError("some digits have no writer")
    return {
        "points": np.asarray(points, np.int16),
        "stroke_starts": np.asarray(stroke_starts, np.int32),
        "digit_starts": np.asarray(digit_starts, np.int32),
        "labels": np.asarray(labels, np.uint8),
        "writers": writers,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=pathlib.Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=pathlib.Path, default=OUTPUT)
    options = parser.parse_args(argv)
    arrays = parse(options.source.read_text(encoding="ascii"))
    points = arrays.pop("points")
    steps = np.diff(points, axis=0, prepend=np.zeros((1, 2), points.dtype))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, point_steps=np.ascontiguousarray(steps.T), **arrays)
    options.out.write_bytes(buffer.getvalue())
    print(f"{options.out}: {len(arrays['labels'])} digits, {len(arrays['stroke_starts']) - 1} strokes, "
          f"{len(points)} points, {len(np.unique(arrays['writers']))} writers, "
          f"{options.out.stat().st_size:,} bytes")
    if options.out == OUTPUT:
        build_images(len(arrays["labels"]))
    return 0


def build_images(count: int) -> None:
    """Draws and preprocesses every digit (two processes: one per core here), into IMAGES_OUTPUT."""
    import concurrent.futures

    sys.path.insert(0, str(ROOT))
    from core import pen_digits

    chunks = np.array_split(np.arange(count), 16)
    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as pool:
        parts = list(pool.map(pen_digits.preprocessed, chunks))
    images = np.concatenate([images for images, _ in parts])
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=images)
    IMAGES_OUTPUT.write_bytes(buffer.getvalue())
    print(f"{IMAGES_OUTPUT}: {len(images)} images, {IMAGES_OUTPUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    sys.exit(main())
