"""The few statistics the benchmark reports: percentiles, paired ratios and latency summaries."""

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
