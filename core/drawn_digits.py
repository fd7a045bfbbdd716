"""A test set of digits drawn as pen strokes, the way a student draws them with the mouse on the canvas.

Models are trained on MNIST, but in the app they read drawings from the canvas: one pen width, any size, anywhere
on a 280x280 canvas, on a transparent, black or white background. This module makes such drawings, so that the
benchmark and the tests can measure how well a model (and `core.preprocess`) reads them.

How a drawing is made:

1. Each digit has two to five hand-written templates, for the ways people differ in writing it (a 1 with or
   without a flag and base, the flag short or long, an open, closed or curved-open 4, a 7 with or without a
   crossbar, a hook at its start or a foot at its end, a 2 with or without a loop, a 6 or 9 with its loop open, a
   9 whose tail curls, an 8 as one figure-eight stroke or two loops, ...). A template is a list of strokes in a
   unit box (x to the right, y downwards), each a polyline sampled from lines, Bezier curves and elliptical arcs,
   in the order and direction a person would draw them.
2. The template's proportions change (where its waist is, its taper, where a stroke after a pen lift lands),
   it is bent by a smooth random displacement field (one for the whole digit, so strokes that meet keep
   meeting), stretched (aspect ratio), slanted (shear up to 20 degrees, mostly a little to the right), rotated
   (up to 15 degrees, mostly less), scaled to a height of 30-90% of the canvas and placed anywhere on it, ink
   fully inside. Each stroke also gets a small slow wobble along its length, like a hand on a mouse.
3. The strokes are drawn with PIL's `ImageDraw.line(width=pen)` and a disc of the pen at every point (round
   joints and caps), at twice the size and then shrunk, which anti-aliases them as the canvas does. The pen is
   5-40 pixels wide (the Draw page's slider), never thicker than a fifth of the digit's height (nobody draws a
   small digit with a fat pen: it would be a blob).
4. The picture is an RGBA canvas in one of three styles: "black" (white stroke on opaque black), "transparent"
   (alpha 0 and RGB 0 outside the strokes, a white or coloured stroke: what the canvas returns) or "white" (a
   black stroke on opaque white, like an uploaded scan).

Why it is separate from training: nothing here is used by the training code (the datasets, the augmentation
layers), and its random numbers come from their own seed space: every generator is seeded with
`[SEED_SPACE, seed, ...]`, so even `seed=1` here shares no random stream with a training run seeded with 1. The
strokes themselves are drawn by this module's templates, not taken from any dataset.

Run `python -m core.drawn_digits` to save contact sheets in /tmp: the raw canvases and what `preprocess` makes
of them.

Example:

```python
from core import drawn_digits

images, labels = drawn_digits.make_preprocessed_test_set(1000)   # (1000, 28, 28) uint8, (1000,) int64
accuracy = (model(images, training=False).numpy().argmax(axis=1) == labels).mean()
```
"""

import math
from collections.abc import Iterator

import numpy as np
from PIL import Image, ImageDraw

CANVAS_SIZE = 280
STYLES = ("black", "transparent", "white")
MIN_PEN_WIDTH = 5
MAX_PEN_WIDTH = 40
# Templates fill a square box; a digit is drawn about this much as wide as it is tall (before its random
# aspect ratio of 0.75-1.3 is applied).
TEMPLATE_WIDTH = 0.75
# The digit's height (before rotation) as a fraction of the canvas.
MIN_HEIGHT_FRACTION = 0.30
MAX_HEIGHT_FRACTION = 0.90
# The pen is at most this fraction of the digit's height: a thicker pen turns a small digit into a blob.
MAX_PEN_TO_HEIGHT = 0.2
MAX_SLANT_DEGREES = 20.0
MAX_ROTATION_DEGREES = 15.0
SLANT_MEAN_DEGREES = 5.0
# The smooth displacement field moves points by up to about this fraction of the digit's height.
BEND_AMPLITUDE = 0.045
# The middle of the digit moves up or down by up to this fraction of its height.
MAX_WAIST_SHIFT = 0.08
# The top is up to this fraction wider or narrower than the bottom.
MAX_TAPER = 0.3
# A stroke drawn after lifting the pen lands this far (standard deviation, fraction of the height) off place.
PEN_LIFT_OFFSET = 0.02
# The wobble along each stroke, as a fraction of the digit's height.
WOBBLE_AMPLITUDE = 0.007
SUPERSAMPLING = 2
# Pixels left free between the ink and the canvas's edge (its anti-aliased fringe included).
EDGE_MARGIN = 2

# Every random generator here is seeded with this number first, so that this module's random streams never
# coincide with those of training code seeded with small integers.
SEED_SPACE = 0x0D12A3
_LABEL_STREAM = 1
_DRAWING_STREAM = 2

# Stroke colours for the transparent style besides white: the colours a student might pick.
STROKE_COLOURS = ((255, 255, 255), (255, 0, 0), (0, 90, 255), (0, 170, 0), (255, 200, 0), (160, 0, 200))

POINTS_PER_UNIT = 60


# Pieces of strokes, in the unit box: x to the right, y downwards. Each returns an (n, 2) array of points.

def _line(start, end):
    start, end = np.asarray(start, float), np.asarray(end, float)
    count = max(2, int(np.hypot(*(end - start)) * POINTS_PER_UNIT))
    t = np.linspace(0.0, 1.0, count)[:, None]
    return start + t * (end - start)


def _bezier(p0, p1, p2, p3):
    """A cubic Bezier curve from p0 to p3 pulled towards p1 and p2."""
    points = np.asarray([p0, p1, p2, p3], float)
    length = np.hypot(*np.diff(points, axis=0).T).sum()
    t = np.linspace(0.0, 1.0, max(4, int(length * POINTS_PER_UNIT)))[:, None]
    return ((1 - t) ** 3 * points[0] + 3 * (1 - t) ** 2 * t * points[1] + 3 * (1 - t) * t ** 2 * points[2]
            + t ** 3 * points[3])


def _arc(centre, radii, start_degrees, end_degrees):
    """An elliptical arc; angles grow clockwise on screen (y points down): 0 is right, 90 bottom, -90 top."""
    radius_x, radius_y = radii
    sweep = math.radians(end_degrees - start_degrees)
    count = max(4, int(abs(sweep) * max(radius_x, radius_y) * POINTS_PER_UNIT))
    angles = np.linspace(math.radians(start_degrees), math.radians(end_degrees), count)
    return np.stack([centre[0] + radius_x * np.cos(angles), centre[1] + radius_y * np.sin(angles)], axis=1)


def _stroke(*pieces):
    """Joins pieces into one stroke, dropping the repeated point where one piece ends and the next begins."""
    points = [pieces[0]]
    for piece in pieces[1:]:
        points.append(piece[1:] if np.allclose(piece[0], points[-1][-1]) else piece)
    return np.concatenate(points)


# The templates: for each digit, its variants, each a list of strokes in drawing order.

def _zero_oval():
    # Starts at the top and goes anticlockwise, overshooting a little where it closes.
    return [_arc((0.5, 0.5), (0.36, 0.5), -80, -80 - 370)]


def _zero_leaning():
    # A narrower oval started at the top right and closed with a small overlap.
    return [_stroke(_bezier((0.62, 0.03), (0.2, -0.05), (0.08, 0.55), (0.3, 0.9)),
                    _bezier((0.3, 0.9), (0.45, 1.08), (0.88, 0.95), (0.84, 0.45)),
                    _bezier((0.84, 0.45), (0.82, 0.1), (0.65, -0.02), (0.5, 0.06)))]


def _one_stick():
    return [_line((0.55, 0.0), (0.47, 1.0))]


def _one_flag():
    return [_stroke(_line((0.3, 0.2), (0.56, 0.0)), _line((0.56, 0.0), (0.5, 1.0)))]


def _one_flag_and_base():
    return [_stroke(_line((0.28, 0.2), (0.55, 0.0)), _line((0.55, 0.0), (0.52, 1.0))),
            _line((0.22, 1.0), (0.82, 1.0))]


def _one_long_flag_and_base():
    # The continental 1: a long flag, half as long as the stem, and a base.
    return [_stroke(_line((0.12, 0.38), (0.6, 0.0)), _line((0.6, 0.0), (0.55, 1.0))),
            _line((0.2, 1.0), (0.88, 0.99))]


def _two_plain():
    return [_stroke(_bezier((0.12, 0.25), (0.15, -0.05), (0.88, -0.08), (0.82, 0.3)),
                    _bezier((0.82, 0.3), (0.78, 0.55), (0.35, 0.75), (0.1, 1.0)),
                    _line((0.1, 1.0), (0.92, 0.98)))]


def _two_loop():
    # The curly 2: a small loop where the diagonal meets the base.
    return [_stroke(_bezier((0.12, 0.25), (0.15, -0.05), (0.9, -0.08), (0.82, 0.3)),
                    _bezier((0.82, 0.3), (0.75, 0.6), (0.3, 0.72), (0.2, 0.92)),
                    _bezier((0.2, 0.92), (0.12, 1.08), (0.45, 1.05), (0.35, 0.9)),
                    _bezier((0.35, 0.9), (0.3, 0.82), (0.15, 0.95), (0.25, 0.98)),
                    _line((0.25, 0.98), (0.92, 0.97)))]


def _three_round():
    return [_stroke(_bezier((0.12, 0.15), (0.35, -0.08), (0.88, -0.02), (0.8, 0.25)),
                    _bezier((0.8, 0.25), (0.75, 0.42), (0.55, 0.46), (0.4, 0.47)),
                    _bezier((0.4, 0.47), (0.95, 0.45), (0.95, 0.85), (0.7, 0.95)),
                    _bezier((0.7, 0.95), (0.5, 1.03), (0.25, 1.0), (0.1, 0.85)))]


def _three_flat_top():
    # A flat top and a diagonal down to the belly, like a Z with a round bottom.
    return [_stroke(_line((0.15, 0.02), (0.85, 0.02)),
                    _line((0.85, 0.02), (0.42, 0.42)),
                    _bezier((0.42, 0.42), (0.95, 0.35), (1.0, 0.88), (0.62, 0.97)),
                    _bezier((0.62, 0.97), (0.42, 1.02), (0.22, 0.97), (0.1, 0.86)))]


def _four_open():
    # Open at the top: a down stroke and a bar, then the stem apart from it.
    return [_stroke(_line((0.18, 0.0), (0.1, 0.62)), _line((0.1, 0.62), (0.92, 0.6))),
            _line((0.7, 0.05), (0.7, 1.0))]


def _four_closed():
    # Closed: a diagonal from the top of the stem down to the bar.
    return [_stroke(_line((0.62, 0.0), (0.05, 0.66)), _line((0.05, 0.66), (0.95, 0.64))),
            _line((0.66, 0.0), (0.66, 1.0))]


def _four_one_stroke():
    # Open 4 in one stroke: down, across, back up to the top of the stem and down it.
    return [_stroke(_line((0.15, 0.0), (0.1, 0.6)), _line((0.1, 0.6), (0.72, 0.6)),
                    _line((0.72, 0.6), (0.74, 0.03)), _line((0.74, 0.03), (0.72, 1.0)))]


def _four_open_curved():
    # Open at the top, the left arm curving into the bar (like a small u), the stem drawn apart.
    return [_stroke(_bezier((0.22, 0.0), (0.1, 0.3), (0.05, 0.6), (0.35, 0.62)), _line((0.35, 0.62), (0.95, 0.6))),
            _line((0.72, 0.08), (0.68, 1.0))]


def _five_two_strokes():
    return [_stroke(_line((0.22, 0.0), (0.17, 0.45)),
                    _bezier((0.17, 0.45), (0.5, 0.28), (0.95, 0.42), (0.88, 0.7)),
                    _bezier((0.88, 0.7), (0.8, 1.05), (0.3, 1.05), (0.08, 0.88))),
            _line((0.22, 0.0), (0.85, 0.02))]


def _five_one_stroke():
    # Drawn from the top right without lifting the pen.
    return [_stroke(_line((0.85, 0.02), (0.25, 0.0)), _line((0.25, 0.0), (0.2, 0.44)),
                    _bezier((0.2, 0.44), (0.5, 0.3), (0.95, 0.42), (0.86, 0.72)),
                    _bezier((0.86, 0.72), (0.78, 1.02), (0.32, 1.05), (0.1, 0.86)))]


def _six_round():
    # As in MNIST: a stem coming down from the top right, curving into a loop in the lower half.
    return [_stroke(_bezier((0.74, 0.0), (0.45, 0.12), (0.14, 0.42), (0.14, 0.74)),
                    _arc((0.47, 0.74), (0.33, 0.24), 180, 180 - 360))]


def _six_straight():
    # An almost straight stem down into a smaller loop.
    return [_stroke(_bezier((0.66, 0.0), (0.5, 0.2), (0.24, 0.5), (0.2, 0.78)),
                    _bezier((0.2, 0.78), (0.17, 1.04), (0.78, 1.04), (0.78, 0.78)),
                    _bezier((0.78, 0.78), (0.78, 0.52), (0.3, 0.5), (0.22, 0.74)))]


def _six_open_loop():
    # The loop at the bottom stops short of the stem: open towards the upper right.
    return [_stroke(_bezier((0.74, 0.0), (0.45, 0.12), (0.14, 0.42), (0.14, 0.74)),
                    _arc((0.47, 0.74), (0.33, 0.24), 180, 180 - 285))]


def _seven_plain():
    return [_stroke(_line((0.1, 0.03), (0.9, 0.0)), _bezier((0.9, 0.0), (0.7, 0.3), (0.5, 0.6), (0.4, 1.0)))]


def _seven_crossbar():
    return [_stroke(_line((0.1, 0.03), (0.9, 0.0)), _bezier((0.9, 0.0), (0.7, 0.3), (0.52, 0.6), (0.44, 1.0))),
            _line((0.38, 0.52), (0.9, 0.5))]


def _seven_hook():
    # A little downward hook at the start of the top bar.
    return [_stroke(_line((0.08, 0.2), (0.1, 0.02)), _line((0.1, 0.02), (0.9, 0.02)),
                    _bezier((0.9, 0.02), (0.72, 0.35), (0.55, 0.6), (0.48, 1.0)))]


def _seven_hooked_foot():
    # The stem ends in a little foot flicked to the right.
    return [_stroke(_line((0.1, 0.03), (0.9, 0.0)), _bezier((0.9, 0.0), (0.7, 0.3), (0.45, 0.6), (0.4, 0.92)),
                    _bezier((0.4, 0.92), (0.38, 1.02), (0.5, 1.0), (0.62, 0.94)))]


def _seven_crossed_hook():
    # The continental 7: a hook at the start of the bar and a crossbar through the stem.
    return [_stroke(_line((0.06, 0.22), (0.1, 0.02)), _line((0.1, 0.02), (0.9, 0.02)),
                    _bezier((0.9, 0.02), (0.72, 0.35), (0.55, 0.6), (0.48, 1.0))),
            _line((0.32, 0.5), (0.88, 0.48))]


def _eight_figure():
    # One stroke: from the top right, anticlockwise round the top, across the middle, round the bottom
    # clockwise, and back up across the middle to the start.
    return [_stroke(_bezier((0.78, 0.12), (0.6, -0.05), (0.15, 0.0), (0.22, 0.25)),
                    _bezier((0.22, 0.25), (0.28, 0.45), (0.85, 0.55), (0.85, 0.78)),
                    _bezier((0.85, 0.78), (0.85, 1.03), (0.15, 1.03), (0.15, 0.78)),
                    _bezier((0.15, 0.78), (0.15, 0.55), (0.75, 0.42), (0.78, 0.25)),
                    _bezier((0.78, 0.25), (0.8, 0.15), (0.78, 0.1), (0.72, 0.07)))]


def _eight_two_loops():
    return [_arc((0.5, 0.24), (0.27, 0.23), 90, 90 + 360),
            _arc((0.5, 0.72), (0.34, 0.27), -90, -90 - 365)]


def _nine_straight():
    # The loop anticlockwise from its right side, then a straight tail down from it.
    return [_stroke(_arc((0.45, 0.27), (0.36, 0.26), 10, 10 - 360),
                    _line(_arc((0.45, 0.27), (0.36, 0.26), 10, 10)[0], (0.74, 1.0)))]


def _nine_curved():
    return [_stroke(_arc((0.45, 0.27), (0.36, 0.26), 0, -360),
                    _bezier((0.81, 0.27), (0.82, 0.6), (0.75, 0.95), (0.4, 1.0)))]


def _nine_curled():
    # The tail curls back to the left at the bottom, like a g.
    return [_stroke(_arc((0.45, 0.27), (0.36, 0.26), 0, -360),
                    _bezier((0.81, 0.27), (0.84, 0.72), (0.72, 1.0), (0.45, 1.0)),
                    _bezier((0.45, 1.0), (0.25, 1.0), (0.14, 0.9), (0.2, 0.8)))]


def _nine_open_loop():
    # The loop is left open at the top right, where the straight tail starts down.
    loop = _arc((0.45, 0.27), (0.36, 0.26), -70, -370)
    return [_stroke(loop, _line(loop[-1], (0.76, 1.0)))]


TEMPLATES = {
    0: (_zero_oval, _zero_leaning),
    1: (_one_stick, _one_flag, _one_flag_and_base, _one_long_flag_and_base),
    2: (_two_plain, _two_loop),
    3: (_three_round, _three_flat_top),
    4: (_four_open, _four_closed, _four_one_stroke, _four_open_curved),
    5: (_five_two_strokes, _five_one_stroke),
    6: (_six_round, _six_straight, _six_open_loop),
    7: (_seven_plain, _seven_crossbar, _seven_hook, _seven_hooked_foot, _seven_crossed_hook),
    8: (_eight_figure, _eight_two_loops),
    9: (_nine_straight, _nine_curved, _nine_curled, _nine_open_loop),
}
# How often each variant is picked, in the order of TEMPLATES (MNIST-like: most 1s are a plain stick, most 7s
# have no crossbar, most 4s are open; the continental styles of much of the world's classrooms, a 1 with a long
# flag and a base, a crossed or hooked 7, a curled 9, open loops, come often enough to be measured).
VARIANT_WEIGHTS = {
    0: (0.6, 0.4),
    1: (0.55, 0.25, 0.1, 0.1),
    2: (0.6, 0.4),
    3: (0.75, 0.25),
    4: (0.4, 0.25, 0.2, 0.15),
    5: (0.6, 0.4),
    6: (0.4, 0.4, 0.2),
    7: (0.5, 0.15, 0.1, 0.1, 0.15),
    8: (0.5, 0.5),
    9: (0.5, 0.25, 0.1, 0.15),
}


def template_strokes(digit: int, variant: int = 0) -> list[np.ndarray]:
    """Returns one template of a digit: a list of (n, 2) float arrays of (x, y) points in the unit box."""
    _check_digit(digit)
    variants = TEMPLATES[digit]
    if not 0 <= variant < len(variants):
        raise ValueError(f"Digit {digit} has variants 0 to {len(variants) - 1}, got {variant}.")
    return [np.array(stroke, dtype=float) for stroke in variants[variant]()]


def render_digit(digit: int, rng: np.random.Generator, *, size: int = CANVAS_SIZE, style: str | None = None,
                 pen_width: int | None = None) -> np.ndarray:
    """Draws one digit as pen strokes on a canvas, with random shape, size, place, pen and style.

    Args:
        digit: The digit to draw, 0-9.
        rng: Where the randomness comes from; the same generator state gives the same drawing.
        size: The canvas's side in pixels (280 in the app). Pen widths and digit sizes scale with it.
        style: "black", "transparent" or "white" (see the module's docstring); random when None.
        pen_width: The pen's width in pixels on a 280-pixel canvas, 5-40; random when None. The digit is drawn
            at least five pens tall.

    Returns:
        The canvas: a (size, size, 4) uint8 RGBA array.
    """
    _check_digit(digit)
    if style is not None and style not in STYLES:
        raise ValueError(f"Unknown style {style!r}: use one of {', '.join(STYLES)}, or None for a random one.")
    # The style and pen are drawn even when given, so that the rest of the drawing does not depend on them:
    # the same generator state with another style gives the same digit in other colours.
    random_style = STYLES[rng.integers(len(STYLES))]
    random_pen_width = int(rng.integers(MIN_PEN_WIDTH, MAX_PEN_WIDTH + 1))
    style = random_style if style is None else style
    pen_width = random_pen_width if pen_width is None else pen_width
    if not MIN_PEN_WIDTH <= pen_width <= MAX_PEN_WIDTH:
        raise ValueError(f"pen_width must be from {MIN_PEN_WIDTH} to {MAX_PEN_WIDTH} pixels, got {pen_width}.")
    if size < 28:
        raise ValueError(f"size must be at least 28 pixels, got {size}.")

    scale = size / CANVAS_SIZE
    pen = pen_width * scale
    variant = rng.choice(len(TEMPLATES[digit]), p=VARIANT_WEIGHTS[digit])
    strokes = _bent(_proportioned([np.array(stroke, float) for stroke in TEMPLATES[digit][variant]()], rng), rng)

    # Shape in units of the digit's height: aspect ratio, slant and rotation about the centre of the box.
    aspect = rng.uniform(0.75, 1.3)
    # Most people lean their digits a little to the right and hold them about upright; the extremes are rarer.
    slant = math.radians(np.clip(rng.normal(SLANT_MEAN_DEGREES, 9.0), -MAX_SLANT_DEGREES, MAX_SLANT_DEGREES))
    rotation = math.radians(np.clip(rng.normal(0.0, 7.0), -MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES))
    cos, sin = math.cos(rotation), math.sin(rotation)
    shaped = []
    for stroke in strokes:
        x = (stroke[:, 0] - 0.5) * TEMPLATE_WIDTH * aspect
        y = stroke[:, 1] - 0.5
        x = x - math.tan(slant) * y          # positive slant leans the top to the right
        shaped.append(np.stack([cos * x - sin * y, sin * x + cos * y], axis=1))
    shaped = _wobbled(shaped, rng)
    return draw_on_canvas(shaped, rng, size=size, style=style, pen=pen)


def draw_on_canvas(strokes: list[np.ndarray], rng: np.random.Generator, *, size: int, style: str,
                   pen: float) -> np.ndarray:
    """Sizes, places and draws strokes on a canvas the way `render_digit` does; returns the RGBA canvas.

    `strokes` are in units of the digit's height (the digit about 1 tall). The height is 30-90% of the canvas, at
    least 1 / MAX_PEN_TO_HEIGHT pens, and small enough that the digit with its pen fits on the canvas; the digit
    lands anywhere, ink fully inside. `core.pen_digits` draws real pen trajectories through here too, so that both
    kinds of drawing are sized, placed and inked alike.
    """
    all_points = np.concatenate(strokes)
    extent = float((all_points.max(axis=0) - all_points.min(axis=0)).max())
    largest = min(MAX_HEIGHT_FRACTION * size, (size - pen - 2 * EDGE_MARGIN) / extent)
    smallest = min(max(MIN_HEIGHT_FRACTION * size, pen / MAX_PEN_TO_HEIGHT), largest)
    height = rng.uniform(smallest, largest)

    # Place: anywhere, as long as the ink stays on the canvas.
    low = all_points.min(axis=0) * height - pen / 2 - EDGE_MARGIN
    high = all_points.max(axis=0) * height + pen / 2 + EDGE_MARGIN
    offset = np.array([rng.uniform(-low[0], max(-low[0], size - high[0])),
                       rng.uniform(-low[1], max(-low[1], size - high[1]))])
    placed = [stroke * height + offset for stroke in strokes]

    coverage = _drawn(placed, pen, size)
    return _styled(coverage, style, rng)


def iter_test_set(count: int = 1000, seed: int = 2026, size: int = CANVAS_SIZE) -> Iterator[tuple[np.ndarray, int]]:
    """Yields (canvas, label) pairs one at a time: the drawings of `make_test_set`, without holding them all.

    The labels come in blocks of ten holding each digit once, in a random order, so every prefix of the set is
    balanced; each drawing has its own generator, so the first n drawings of a bigger set are the n of a
    smaller one with the same seed.
    """
    if count < 0:
        raise ValueError(f"count must be zero or more, got {count}.")
    order = None
    for index in range(count):
        block, position = divmod(index, 10)
        if position == 0:
            order = np.random.default_rng([SEED_SPACE, _LABEL_STREAM, seed, block]).permutation(10)
        label = int(order[position])
        rng = np.random.default_rng([SEED_SPACE, _DRAWING_STREAM, seed, index])
        yield render_digit(label, rng, size=size), label


def make_test_set(count: int = 1000, seed: int = 2026, size: int = CANVAS_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Draws `count` digits, the same number of each (within one); returns (canvases, labels).

    Canvases are a (count, size, size, 4) uint8 array (1000 canvases of 280x280 take 313 MB: prefer
    `iter_test_set` or `make_preprocessed_test_set` for big sets), labels an int64 array.
    """
    canvases = np.empty((count, size, size, 4), dtype=np.uint8)
    labels = np.empty(count, dtype=np.int64)
    for index, (canvas, label) in enumerate(iter_test_set(count, seed, size)):
        canvases[index] = canvas
        labels[index] = label
    return canvases, labels


def make_preprocessed_test_set(count: int = 1000, seed: int = 2026) -> tuple[np.ndarray, np.ndarray]:
    """Draws `count` digits and runs each through `core.preprocess.preprocess`: what models are scored on.

    Returns (images, labels): images a (count, 28, 28) uint8 array of MNIST-style digits, labels int64. No
    drawing is left out: should the preprocessor call one blank, its image stays all black, which a model
    will most likely misread, so it counts as a miss.
    """
    from core import preprocess

    images = np.zeros((count, preprocess.MNIST_SIZE, preprocess.MNIST_SIZE), dtype=np.uint8)
    labels = np.empty(count, dtype=np.int64)
    for index, (canvas, label) in enumerate(iter_test_set(count, seed)):
        result = preprocess.preprocess(canvas)
        if not result.is_blank:
            images[index] = result.image
        labels[index] = label
    return images, labels


def _check_digit(digit):
    if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or not 0 <= digit <= 9:
        raise ValueError(f"digit must be an integer from 0 to 9, got {digit!r}.")


def _proportioned(strokes, rng):
    """Changes the template's proportions as people do: where its waist is, its taper, where pen lifts land.

    The waist (the middle of a 3, 5, 8 or 9) moves up or down by a smooth monotone warp of y; the top becomes
    wider or narrower than the bottom; and every stroke after the first lands a little off where the template
    puts it, as when the pen is lifted and put down again (the bar of a 5 does not always touch its stem).
    """
    waist = rng.uniform(-MAX_WAIST_SHIFT, MAX_WAIST_SHIFT)
    taper = rng.uniform(-MAX_TAPER, MAX_TAPER)
    changed = []
    for index, stroke in enumerate(strokes):
        x, y = stroke[:, 0], stroke[:, 1]
        warped_y = y + 4 * waist * y * (1 - y)
        warped_x = 0.5 + (x - 0.5) * (1 + taper * (0.5 - y))
        moved = np.stack([warped_x, warped_y], axis=1)
        if index > 0:
            moved += rng.normal(0, PEN_LIFT_OFFSET, size=2)
        changed.append(moved)
    return changed


def _bent(strokes, rng):
    """Moves every point by one smooth random displacement field over the unit box (a few low sine waves).

    Being one field for the whole digit, it keeps strokes that meet (the bar and stem of a 4) meeting.
    """
    waves = 3
    frequencies = rng.uniform(0.5, 1.5, size=(2, waves, 2)) * math.pi
    phases = rng.uniform(0, 2 * math.pi, size=(2, waves))
    amplitudes = rng.normal(0, BEND_AMPLITUDE / math.sqrt(waves), size=(2, waves))
    bent = []
    for stroke in strokes:
        moved = stroke.copy()
        for axis in range(2):
            angle = stroke @ frequencies[axis].T + phases[axis]
            moved[:, axis] += np.sin(angle) @ amplitudes[axis]
        bent.append(moved)
    return bent


def _wobbled(strokes, rng):
    """Adds a small smooth wobble along each stroke, across its direction, like a hand moving a mouse."""
    wobbled = []
    for stroke in strokes:
        steps = np.diff(stroke, axis=0)
        length = np.concatenate([[0.0], np.cumsum(np.hypot(steps[:, 0], steps[:, 1]))])
        direction = np.gradient(stroke, axis=0)
        norm = np.hypot(direction[:, 0], direction[:, 1])
        norm[norm == 0] = 1.0
        normal = np.stack([-direction[:, 1], direction[:, 0]], axis=1) / norm[:, None]
        wave = np.zeros(len(stroke))
        for _ in range(2):
            wavelength = rng.uniform(0.3, 1.0)
            wave += rng.normal(0, WOBBLE_AMPLITUDE) * np.sin(2 * math.pi * length / wavelength
                                                             + rng.uniform(0, 2 * math.pi))
        wobbled.append(stroke + wave[:, None] * normal)
    return wobbled


def _drawn(strokes, pen, size):
    """Draws the strokes with round joints and caps; returns the ink's coverage as a (size, size) uint8 array."""
    big = size * SUPERSAMPLING
    width = max(1, round(pen * SUPERSAMPLING))
    radius = width / 2
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    for stroke in strokes:
        points = [tuple(point) for point in (stroke * SUPERSAMPLING).tolist()]
        # The segments, and a disc of the pen's width at every point: together they are the round pen dragged
        # along the path, with round joints and caps. (PIL's joint="curve" would round the joints too, but
        # leaves spikes where many short segments meet, and costs twice as much as the rest of the drawing.)
        draw.line(points, fill=255, width=width)
        for x, y in points:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return np.asarray(mask.reduce(SUPERSAMPLING), dtype=np.uint8)


def _styled(coverage, style, rng):
    """Turns the coverage into an RGBA canvas of the given style."""
    size = coverage.shape[0]
    canvas = np.empty((size, size, 4), dtype=np.uint8)
    if style == "transparent":
        # The canvas keeps the pen's colour in RGB wherever it drew (even faintly) and says how much in alpha.
        colour = STROKE_COLOURS[0] if rng.random() < 0.5 else STROKE_COLOURS[rng.integers(1, len(STROKE_COLOURS))]
        drawn = coverage > 0
        canvas[:, :, :3] = 0
        canvas[drawn, :3] = colour
        canvas[:, :, 3] = coverage
    elif style == "black":
        canvas[:, :, :3] = coverage[:, :, None]
        canvas[:, :, 3] = 255
    else:
        canvas[:, :, :3] = (255 - coverage)[:, :, None]
        canvas[:, :, 3] = 255
    return canvas


def contact_sheets(per_digit: int = 10, seed: int = 2026, folder: str = "/tmp") -> tuple[str, str]:
    """Saves two sheets of the test set's first drawings, one row per digit: the raw canvases (shrunk to 112
    pixels, on grey so that transparent ones show) and what `preprocess` makes of them (enlarged 4 times).

    Returns the paths of the two PNG files.
    """
    from core import preprocess

    raw_cell, digit_cell, gap = 112, 28 * 4, 4
    raw_sheet = Image.new("RGB", (per_digit * (raw_cell + gap), 10 * (raw_cell + gap)), (128, 128, 128))
    digit_sheet = Image.new("L", (per_digit * (digit_cell + gap), 10 * (digit_cell + gap)), 90)
    filled = [0] * 10
    for canvas, label in iter_test_set(10 * per_digit, seed):
        row, column = label, filled[label]
        filled[label] += 1
        picture = Image.fromarray(canvas, "RGBA").resize((raw_cell, raw_cell), Image.Resampling.BOX)
        cell = Image.new("RGB", (raw_cell, raw_cell), (128, 128, 128))
        cell.paste(picture, (0, 0), picture)
        raw_sheet.paste(cell, (column * (raw_cell + gap) + gap // 2, row * (raw_cell + gap) + gap // 2))
        result = preprocess.preprocess(canvas)
        digit = np.zeros((28, 28), np.uint8) if result.is_blank else result.image
        enlarged = Image.fromarray(digit).resize((digit_cell, digit_cell), Image.Resampling.NEAREST)
        digit_sheet.paste(enlarged, (column * (digit_cell + gap) + gap // 2, row * (digit_cell + gap) + gap // 2))
    raw_path, digit_path = f"{folder}/drawn_digits_canvases.png", f"{folder}/drawn_digits_sheet.png"
    raw_sheet.save(raw_path)
    digit_sheet.save(digit_path)
    return raw_path, digit_path


if __name__ == "__main__":
    for path in contact_sheets():
        print(path)
