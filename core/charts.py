"""Plotly figures of training: live loss and accuracy curves, a run's per-class accuracy, runs compared.

Pure functions from the training events (`core.training`'s `batch` and `epoch` dictionaries) or from a run's
history (`run.json`'s `history`: one value per epoch for `loss`, `accuracy`, `val_loss`, `val_accuracy`) to
`plotly.graph_objects.Figure`s. No Streamlit here: the Train and Results pages draw these with
`st.plotly_chart` (the Results page may too), and tests check them as plain data.

    from core import charts
    figure = charts.training_curves(status.events, "accuracy", epochs=5)

The live page redraws these every second, so every curve is thinned to a few hundred points at most.
Live and finished curves mark the best epoch (lowest validation loss, as `core.overfitting` finds it) with a
dashed vertical line: where the validation loss stopped improving, and the model the run keeps.
"""

import math

import plotly.graph_objects as go

from core import overfitting, text

# The most points a curve of batch events keeps: enough to look smooth, few enough to redraw every second.
MAX_CURVE_POINTS = 300

METRIC_TITLES = {"loss": "Loss", "accuracy": "Accuracy"}

# Colours that stay apart on a projector: training in blue, validation in orange (plotly's first two).
TRAIN_COLOUR = "#1f77b4"
VALIDATION_COLOUR = "#ff7f0e"
TRAIN_BATCH_COLOUR = "rgba(31, 119, 180, 0.45)"
# One colour per compared run, as far apart as plotly's qualitative palette allows.
# The best-epoch marker: dark grey, dashed, so that it reads as a note on the curves rather than a curve.
BEST_EPOCH_COLOUR = "#444444"
RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf")


def percent(value: float) -> str:
    """A fraction as a percentage by the app's one rule, one decimal everywhere: "97.3%", "100.0%"."""
    return f"{100 * value:.1f}%"


def _check_metric(metric: str) -> None:
    if metric not in METRIC_TITLES:
        raise ValueError(f"Metric must be one of {', '.join(METRIC_TITLES)}; got {metric!r}.")


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def thin(points: list, limit: int = MAX_CURVE_POINTS) -> list:
    """At most `limit` of `points`, evenly spaced, always keeping the last one (the newest value)."""
    if limit < 2:
        raise ValueError(f"A curve needs at least 2 points; got a limit of {limit}.")
    if len(points) <= limit:
        return list(points)
    stride = (len(points) - 1) / (limit - 1)
    return [points[round(index * stride)] for index in range(limit)]


# The live training curve is an exponential moving average whose memory is this much of an epoch: a new stretch
# of batches counts for 1 - exp(-its length / this). Counted per event instead (30% each), the curve of a fast
# training, a few events an epoch, lagged far behind its own epoch points (a teacher review: 1.2 against 0.63
# after the first epoch); a long epoch's many events are smoothed as before (about 26% each at 30 an epoch).
LIVE_SMOOTHING_EPOCHS = 0.1


def batch_points(events, metric: str) -> tuple[list[float], list[float]]:
    """The live training curve from batch events: x is the fractional epoch (epoch - 1 + step / steps).

    Keras reports a batch's `loss` and `accuracy` as the mean since the epoch began, which restarts at every
    epoch: drawn as it comes, the curve would fall straight down at each epoch's start (the first epoch's mean
    still carries its first, worst batches). So the mean of the batches between two events is recovered from
    the two running means, and those stretch means are smoothed across epoch boundaries: one continuous
    curve of where the model is now.
    """
    _check_metric(metric)
    points, previous, smoothed, last_x = [], None, None, 0.0
    for event in events:
        if event.get("kind") != "batch" or not _finite(event.get(metric)) or not event.get("steps"):
            continue
        epoch, step, mean = event["epoch"], event["step"], event[metric]
        if previous is not None and previous[0] == epoch and step > previous[1]:
            stretch = (step * mean - previous[1] * previous[2]) / (step - previous[1])
        else:
            stretch = mean
        previous = (epoch, step, mean)
        x = epoch - 1 + step / event["steps"]
        weight = 1.0 - math.exp(-max(x - last_x, 0.0) / LIVE_SMOOTHING_EPOCHS)
        smoothed = stretch if smoothed is None else smoothed + weight * (stretch - smoothed)
        last_x = x
        if metric == "accuracy":
            smoothed = min(max(smoothed, 0.0), 1.0)
        points.append((x, smoothed))
    points = thin(points)
    return [x for x, _ in points], [y for _, y in points]


def epoch_points(events, key: str) -> tuple[list[int], list[float]]:
    """One point per finished epoch from epoch events, for `key` such as "loss" or "val_accuracy"."""
    points = [(event["epoch"], event[key]) for event in events
              if event.get("kind") == "epoch" and _finite(event.get(key))]
    return [x for x, _ in points], [y for _, y in points]


def history_points(history: dict, key: str) -> tuple[list[int], list[float]]:
    """One point per epoch from a run's history; epochs whose value is missing (NaN stored as null) are skipped."""
    values = (history or {}).get(key) or []
    points = [(epoch, value) for epoch, value in enumerate(values, start=1) if _finite(value)]
    return [x for x, _ in points], [y for _, y in points]


def _layout(figure: go.Figure, metric: str, *, title: str, epochs: int | None, height: int,
            whole_accuracy_range: bool = True) -> go.Figure:
    figure.update_layout(
        title={"text": title, "font": {"size": 18}},
        height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
        font={"size": 14},
        hovermode="x unified",
    )
    # The x axis spans the whole training from the start, so the curves grow from left to right.
    # A little room on both sides keeps the first and last markers whole.
    x_range = [-0.03 * max(epochs, 1), 1.03 * max(epochs, 1)] if epochs else None
    figure.update_xaxes(title_text="Epoch", range=x_range, rangemode="tozero")
    if metric == "accuracy" and whole_accuracy_range:
        figure.update_yaxes(title_text="Accuracy", tickformat=".0%", range=[-0.02, 1.04])
    elif metric == "accuracy":
        figure.update_yaxes(title_text="Accuracy", tickformat=".1%")
    else:
        figure.update_yaxes(title_text="Loss", rangemode="tozero")
    return figure


def mark_best_epoch(figure: go.Figure, history: dict, metric: str = "loss") -> go.Figure:
    """A dashed vertical line labelled "best epoch N" at the epoch with the lowest validation loss.

    Drawn from the second epoch on: with one epoch there is nothing to compare. The line stays where the
    validation loss was lowest while later epochs move on, which is how overfitting shows on the chart. Its
    label sits where the curves are not: high on the loss chart, low on the accuracy chart.
    """
    best = overfitting.best_epoch(history)
    if best is None or overfitting.epochs_done(history) < 2:
        return figure
    # The label goes on the side of the line with room for it: to its left when the best epoch is late (the
    # last one, often), where a label to its right would be cut at the chart's edge ("bes").
    side = "left" if best > (overfitting.epochs_done(history) + 1) / 2 else "right"
    figure.add_vline(x=best, line={"color": BEST_EPOCH_COLOUR, "width": 2, "dash": "dash"},
                     annotation={"text": f"best epoch {best}", "font": {"size": 13, "color": BEST_EPOCH_COLOUR},
                                 "bgcolor": "rgba(255, 255, 255, 0.8)"},
                     annotation_position=("bottom " if metric == "accuracy" else "top ") + side)
    return figure


def _loss_axis(figure: go.Figure) -> None:
    """The loss axis from 0 to a little above the highest value drawn, so that no curve runs off the top."""
    values = [value for trace in figure.data for value in (trace.y or ()) if _finite(value)]
    if values:
        figure.update_yaxes(range=[0, 1.08 * max(values)])


def training_curves(events, metric: str, *, epochs: int | None = None, height: int = 340) -> go.Figure:
    """Live curves of `metric` ("loss" or "accuracy"): the training curve from batch events, drawn several
    times per epoch, and one point per finished epoch for training and for validation."""
    _check_metric(metric)
    figure = go.Figure()
    x, y = batch_points(events, metric)
    figure.add_trace(go.Scatter(x=x, y=y, mode="lines", name="Training (live)",
                                line={"color": TRAIN_BATCH_COLOUR, "width": 2}))
    x, y = epoch_points(events, metric)
    figure.add_trace(go.Scatter(x=x, y=y, mode="markers", name="Training (epoch)",
                                marker={"color": TRAIN_COLOUR, "size": 10}))
    x, y = epoch_points(events, f"val_{metric}")
    figure.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name="Validation",
                                line={"color": VALIDATION_COLOUR, "width": 3}, marker={"size": 10}))
    mark_best_epoch(figure, overfitting.history_from_events(events), metric)
    figure = _layout(figure, metric, title=METRIC_TITLES[metric], epochs=epochs, height=height)
    if metric == "loss":
        _loss_axis(figure)
    return figure


def history_curves(history: dict, metric: str, *, height: int = 340) -> go.Figure:
    """A finished run's curves of `metric` for training and validation, one point per epoch."""
    _check_metric(metric)
    figure = go.Figure()
    for key, name, colour in ((metric, "Training", TRAIN_COLOUR),
                              (f"val_{metric}", "Validation", VALIDATION_COLOUR)):
        x, y = history_points(history, key)
        figure.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=name,
                                    line={"color": colour, "width": 3}, marker={"size": 10}))
    mark_best_epoch(figure, history, metric)
    epochs = max(len((history or {}).get(metric) or []), 1)
    figure = _layout(figure, metric, title=METRIC_TITLES[metric], epochs=epochs, height=height)
    if metric == "loss":
        _loss_axis(figure)
    # A finished run no longer grows: one tick per epoch, and room around the first and last points (a one-epoch
    # run's single point would otherwise sit clipped on the right edge).
    return figure.update_xaxes(range=[0.5, epochs + 0.5], dtick=1 if epochs <= 20 else None, rangemode="normal")


def compare_runs(histories: dict[str, dict], metric: str, *, validation: bool = True,
                 height: int = 380) -> go.Figure:
    """Several runs' curves of `metric` overlaid, one line per run; `histories` maps a run's label to its
    history. Validation curves by default; a run trained without validation shows its training curve."""
    _check_metric(metric)
    figure = go.Figure()
    longest = 1
    for index, (label, history) in enumerate(histories.items()):
        key = f"val_{metric}" if validation else metric
        if validation and not history_points(history, key)[0]:
            key = metric
        x, y = history_points(history, key)
        longest = max(longest, len((history or {}).get(key) or []))
        suffix = "" if key.startswith("val_") == validation else " (training)"
        colour = RUN_COLOURS[index % len(RUN_COLOURS)]
        # A run name is user text: escaped, so that no HTML in it becomes a link in the legend.
        figure.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=f"{text.chart_label_escape(label)}{suffix}",
                                    line={"width": 3, "color": colour}, marker={"size": 8, "color": colour}))
    title = f"{'Validation' if validation else 'Training'} {METRIC_TITLES[metric].lower()}"
    # Long run names make a long legend: it goes under the chart, one run per line, with room for each.
    legend_height = 24 * len(histories) + 50
    # Compared runs often differ by a point or two: the accuracy axis zooms in on them instead of 0-100%, and its
    # title says so, so that a class does not read a 2-point gap as a chasm. (Said in the chart's title too, it was
    # cut off on a 1024 px projector.)
    zoomed = metric == "accuracy"
    figure = _layout(figure, metric, title=title, epochs=longest, height=height + legend_height,
                     whole_accuracy_range=not zoomed)
    if zoomed:
        figure.update_yaxes(title_text="Accuracy (zoomed in)")
    figure.update_layout(
        # The legend's top sits just under the axis title: y is in units of the plot area's height.
        legend={"orientation": "v", "yanchor": "top", "y": -55 / (height - 50), "xanchor": "left", "x": 0},
        margin={"b": legend_height},
    )
    return figure


def per_class_accuracy(class_names, accuracies, *, height: int = 320,
                       measured_on: str = "Test accuracy") -> go.Figure:
    """Accuracy of each class as bars, labelled with the class names; a class absent from the test set (None)
    gets no bar. `measured_on` names what the accuracy was measured on (the axis title)."""
    class_names = [str(name) for name in class_names]
    accuracies = list(accuracies)
    if len(class_names) != len(accuracies):
        raise ValueError(f"Expected one accuracy per class: {len(class_names)} classes, {len(accuracies)} values.")
    values = [value if _finite(value) else None for value in accuracies]
    figure = go.Figure(go.Bar(
        x=class_names, y=values, marker={"color": TRAIN_COLOUR},
        text=[percent(value) if value is not None else "" for value in values], textposition="outside",
        textfont={"size": 12}, cliponaxis=False,
    ))
    # Plotly shrinks a label to its bar's width: in a narrow column "100.0%" became about 6 px, and shown at 10 px
    # the labels ran into each other. A label that does not fit at 10 px is left out: the axis (and the pointer)
    # still give the value.
    figure.update_layout(title={"text": "Accuracy per class", "font": {"size": 18}}, height=height,
                         margin={"l": 10, "r": 10, "t": 50, "b": 10}, font={"size": 14},
                         uniformtext={"minsize": 10, "mode": "hide"})
    figure.update_xaxes(type="category", title_text=None)
    figure.update_yaxes(tickformat=".0%", range=[0, 1.12], title_text=measured_on)
    return figure
