"""Two small scatter plots side by side, each with its fitted line, drawn with Pillow into a PNG for docs/.

Pillow is already one of the app's packages; matplotlib is not, and two charts do not justify it."""

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 1200, 520
PANEL_MARGIN = {"left": 90, "right": 30, "top": 70, "bottom": 70}
INK, GRID, POINT, LINE = (33, 37, 41), (225, 228, 232), (31, 119, 180), (214, 39, 40)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values (1, 2 or 5 times a power of ten apart) covering low..high."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(multiple * power for multiple in (1, 2, 5, 10) if multiple * power >= raw)
    first = math.floor(low / step) * step
    return [first + index * step for index in range(int(math.ceil((high - first) / step)) + 1)]


def _label(value: float) -> str:
    if value != 0 and (abs(value) >= 10000 or abs(value) < 0.01):
        return f"{value:,.0f}" if abs(value) >= 10000 else f"{value:.1e}"
    return f"{value:g}"


def _font(size: int):
    return ImageFont.load_default(size=size)


def _panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], panel: dict) -> None:
    left, top, right, bottom = box
    xs, ys = panel["x"], panel["y"]
    x_ticks = nice_ticks(0, max(xs))
    y_ticks = nice_ticks(0, max(ys) * 1.05)
    x_span, y_span = x_ticks[-1] - x_ticks[0], y_ticks[-1] - y_ticks[0]

    def at(x, y):
        return (left + (x - x_ticks[0]) / x_span * (right - left),
                bottom - (y - y_ticks[0]) / y_span * (bottom - top))

    small = _font(14)
    for tick in y_ticks:
        _, y = at(x_ticks[0], tick)
        draw.line([(left, y), (right, y)], fill=GRID)
        draw.text((left - 8, y), _label(tick), fill=INK, font=small, anchor="rm")
    for tick in x_ticks:
        x, _ = at(tick, y_ticks[0])
        draw.line([(x, top), (x, bottom)], fill=GRID)
        draw.text((x, bottom + 8), _label(tick), fill=INK, font=small, anchor="mt")
    draw.rectangle([left, top, right, bottom], outline=INK)
    fit = panel.get("fit")
    if fit is not None:
        # The fitted line over the measured range, dashed, with its R².
        start, end = min(xs), max(xs)
        pieces = 40
        for index in range(0, pieces, 2):
            a = start + (end - start) * index / pieces
            b = start + (end - start) * (index + 1) / pieces
            draw.line([at(a, fit["intercept"] + fit["slope"] * a), at(b, fit["intercept"] + fit["slope"] * b)],
                      fill=LINE, width=2)
        draw.text((left + 10, top + 8), f"fit: {fit['intercept']:.3g} + {fit['slope']:.3g} x   "
                                         f"R^2 = {fit['r_squared']:.3f}", fill=LINE, font=small)
    points = [at(x, y) for x, y in zip(xs, ys)]
    draw.line(points, fill=POINT, width=1)
    for x, y in points:
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=POINT)
    label = _font(16)
    draw.text(((left + right) / 2, bottom + 36), panel["x_label"], fill=INK, font=label, anchor="mt")
    draw.text((left, top - 10), panel["y_label"], fill=INK, font=label, anchor="ld")


def two_panels(path: Path, title: str, panels: list[dict]) -> Path:
    """Draws each panel ({x, y, fit (slope, intercept, r_squared) or None, x_label, y_label}) side by side."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    draw.text((WIDTH / 2, 14), title, fill=INK, font=_font(20), anchor="mt")
    width = WIDTH // len(panels)
    for index, panel in enumerate(panels):
        box = (index * width + PANEL_MARGIN["left"], PANEL_MARGIN["top"],
               (index + 1) * width - PANEL_MARGIN["right"], HEIGHT - PANEL_MARGIN["bottom"])
        _panel(draw, box, panel)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
