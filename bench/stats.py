"""The few statistics the benchmark reports: percentiles, paired ratios, latency summaries and a straight-line fit."""

import math
import statistics


def percentile(values, fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def paired_ratio(numerators, denominators) -> float:
    """The median of numerator/denominator over pairs measured side by side."""
    return statistics.median(a / b for a, b in zip(numerators, denominators))


def latency_summary(seconds: list[float]) -> dict:
    """The median, 95th percentile and largest of `seconds`, in milliseconds."""
    return {"p50_ms": 1000 * percentile(seconds, 0.5), "p95_ms": 1000 * percentile(seconds, 0.95),
            "max_ms": 1000 * max(seconds)}


def linear_fit(xs, ys) -> dict:
    """The least-squares line y = intercept + slope * x through the points, and its R² (1 for a perfect line).

    Raises ValueError for fewer than two points or when every x is the same (no line is defined)."""
    xs, ys = [float(x) for x in xs], [float(y) for y in ys]
    if len(xs) != len(ys) or len(xs) < 2:
        raise ValueError(f"A line needs at least two points with one y each; got {len(xs)} x and {len(ys)} y.")
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread_x = sum((x - mean_x) ** 2 for x in xs)
    if spread_x == 0:
        raise ValueError("Every x is the same: no line fits.")
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread_x
    intercept = mean_y - slope * mean_x
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys))
    total = sum((y - mean_y) ** 2 for y in ys)
    return {"slope": slope, "intercept": intercept, "r_squared": 1 - residual / total if total > 0 else 1.0,
            "points": len(xs)}
