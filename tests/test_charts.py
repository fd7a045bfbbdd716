"""core.charts: training events and run histories turned into plotly figures, checked as plain data."""

import math

import pytest

from core import charts


def batch(epoch, step, steps, loss, accuracy=0.5):
    return {"kind": "batch", "epoch": epoch, "step": step, "steps": steps, "loss": loss, "accuracy": accuracy}


def traces(figure) -> dict:
    return {trace.name: trace for trace in figure.data}


def test_batch_points_sit_at_fractional_epochs():
    events = [{"kind": "start", "epochs": 2}, batch(1, 5, 10, 2.0), batch(1, 10, 10, 1.0),
              {"kind": "epoch", "epoch": 1, "loss": 1.0}, batch(2, 5, 10, 0.5)]
    x, y = charts.batch_points(events, "loss")
    assert x == [0.5, 1.0, 1.5]
    # The second stretch's own mean is (10 * 1.0 - 5 * 2.0) / 5 = 0; half an epoch long, it counts for
    # 1 - exp(-0.5 / 0.1) of the curve: nearly all of it (a fast training's few events do not lag).
    weight = 1 - math.exp(-0.5 / charts.LIVE_SMOOTHING_EPOCHS)
    second = 2.0 + weight * (0.0 - 2.0)
    assert y == pytest.approx([2.0, second, second + weight * (0.5 - second)])


def test_the_live_curve_meets_its_epoch_points_whatever_the_number_of_events():
    """A teacher review: a fast training (a few events an epoch) drew its live curve far above its own epoch
    point. Smoothing by the epoch's share, not per event, keeps the curve near the epoch's last batches."""
    for events_per_epoch in (2, 4, 40):
        steps = 40
        true_loss = [2.0 * math.exp(-t / 10) for t in range(1, steps + 1)]
        reported = [sum(true_loss[:step]) / step for step in range(1, steps + 1)]
        events = [batch(1, step, steps, reported[step - 1])
                  for step in range(steps // events_per_epoch, steps + 1, steps // events_per_epoch)]
        x, y = charts.batch_points(events, "loss")
        # At the epoch's end the curve is below the epoch's mean (its early batches were worse), near its end.
        assert y[-1] < reported[-1], events_per_epoch


def test_the_live_curve_does_not_fall_straight_down_when_an_epoch_begins():
    # A loss that falls smoothly batch by batch, reported as Keras does: the mean since the epoch began.
    steps = 20
    true_loss = [2.0 * math.exp(-t / 15) for t in range(1, 2 * steps + 1)]
    events = []
    for epoch in (1, 2):
        losses = true_loss[(epoch - 1) * steps: epoch * steps]
        for step in range(1, steps + 1):
            events.append(batch(epoch, step, steps, sum(losses[:step]) / step))
    x, y = charts.batch_points(events, "loss")
    jumps = [later - earlier for earlier, later in zip(y, y[1:])]
    assert all(jump <= 1e-9 for jump in jumps)  # never up
    # Without the fix the curve fell from the first epoch's mean (about 1.0) to the second's first batch (0.5).
    assert max(abs(jump) for jump in jumps) < 0.25
    assert y[-1] < 0.2


def test_curves_are_thinned_but_keep_the_newest_point():
    points = list(range(10_000))
    thinned = charts.thin(points)
    assert len(thinned) == charts.MAX_CURVE_POINTS
    assert thinned[0] == 0 and thinned[-1] == 9_999
    assert charts.thin([1, 2, 3]) == [1, 2, 3]
    with pytest.raises(ValueError, match="at least 2 points"):
        charts.thin(points, limit=1)


def test_training_curves_show_live_training_epochs_and_validation():
    events = [batch(1, step, 4, 1.0 / step, 0.2 * step) for step in range(1, 5)]
    events.append({"kind": "epoch", "epoch": 1, "loss": 0.3, "accuracy": 0.8, "val_loss": 0.4,
                   "val_accuracy": 0.75})
    figure = charts.training_curves(events, "accuracy", epochs=3)
    by_name = traces(figure)
    assert list(by_name["Training (live)"].x) == [0.25, 0.5, 0.75, 1.0]
    assert list(by_name["Training (epoch)"].y) == [0.8]
    assert list(by_name["Validation"].y) == [0.75]
    # The x axis spans every epoch from the start, so the curves grow from left to right.
    low, high = figure.layout.xaxis.range
    assert low < 0 and 3 <= high < 3.2
    assert figure.layout.yaxis.tickformat == ".0%"


def test_a_nan_loss_leaves_a_gap_not_an_error():
    events = [batch(1, 1, 2, 1.0), batch(1, 2, 2, math.nan)]
    assert charts.batch_points(events, "loss") == ([0.5], [1.0])
    history = {"loss": [1.0, None, 0.5]}
    assert charts.history_points(history, "loss") == ([1, 3], [1.0, 0.5])


def test_compared_runs_get_one_line_each_and_fall_back_to_training_curves():
    histories = {
        "with validation": {"loss": [1.0, 0.5], "val_loss": [1.2, 0.7]},
        "without validation": {"loss": [0.9, 0.4, 0.3]},
    }
    figure = charts.compare_runs(histories, "loss")
    by_name = traces(figure)
    assert list(by_name["with validation"].y) == [1.2, 0.7]
    assert list(by_name["without validation (training)"].y) == [0.9, 0.4, 0.3]
    assert by_name["with validation"].line.color != by_name["without validation (training)"].line.color
    assert figure.layout.title.text == "Validation loss"


def test_per_class_accuracy_names_every_class():
    figure = charts.per_class_accuracy(["cat", "dog", "bird"], [0.9, None, 0.5])
    bars = figure.data[0]
    assert list(bars.x) == ["cat", "dog", "bird"]
    assert list(bars.y) == [0.9, None, 0.5]
    assert list(bars.text) == ["90.0%", "", "50.0%"]
    # Plotly would shrink a label to its bar's width (about 6 px in a narrow column): at 10 px, or not at all.
    assert figure.layout.uniformtext.minsize == 10 and figure.layout.uniformtext.mode == "hide"
    assert figure.layout.yaxis.title.text == "Test accuracy"
    assert charts.per_class_accuracy(["a", "b"], [1, 0], measured_on="Class drawings").layout.yaxis.title.text \
        == "Class drawings"
    with pytest.raises(ValueError, match="one accuracy per class"):
        charts.per_class_accuracy(["cat"], [0.5, 0.5])


def test_unknown_metrics_are_refused():
    with pytest.raises(ValueError, match="Metric must be one of"):
        charts.training_curves([], "precision")


def test_a_finished_one_epoch_run_keeps_its_point_inside_the_chart():
    figure = charts.history_curves({"loss": [0.5], "val_loss": [0.4]}, "loss")
    low, high = figure.layout.xaxis.range
    assert low < 1 < high and figure.layout.xaxis.dtick == 1


def best_epoch_lines(figure) -> list:
    """The x of each dashed vertical line and the text of each annotation on a figure."""
    lines = [shape.x0 for shape in figure.layout.shapes if shape.line.dash == "dash"]
    return lines, [annotation.text for annotation in figure.layout.annotations]


def test_finished_curves_mark_the_epoch_with_the_lowest_validation_loss():
    history = {"loss": [0.9, 0.4, 0.2, 0.1], "accuracy": [0.8, 0.9, 0.95, 0.99],
               "val_loss": [0.5, 0.3, 0.35, 0.4], "val_accuracy": [0.85, 0.9, 0.89, 0.88]}
    for metric in ("loss", "accuracy"):
        assert best_epoch_lines(charts.history_curves(history, metric)) == ([2], ["best epoch 2"])
    # One epoch has nothing to compare: no marker.
    assert best_epoch_lines(charts.history_curves({"loss": [0.5], "val_loss": [0.4]}, "loss")) == ([], [])


def test_live_curves_mark_the_best_epoch_so_far():
    events = [{"kind": "epoch", "epoch": epoch, "loss": loss, "accuracy": 0.9, "val_loss": val_loss,
               "val_accuracy": 0.9} for epoch, loss, val_loss in ((1, 0.5, 0.4), (2, 0.3, 0.3), (3, 0.2, 0.32))]
    assert best_epoch_lines(charts.training_curves(events, "loss", epochs=5)) == ([2], ["best epoch 2"])
    assert best_epoch_lines(charts.training_curves(events[:1], "loss", epochs=5)) == ([], [])


def test_the_loss_axis_holds_every_point_drawn():
    events = [batch(1, 1, 2, 2.3), batch(1, 2, 2, 0.6)]
    events += [{"kind": "epoch", "epoch": epoch, "loss": loss, "val_loss": val_loss}
               for epoch, loss, val_loss in ((1, 0.8, 0.4), (2, 0.3, 0.35))]
    for figure in (charts.training_curves(events, "loss"),
                   charts.history_curves({"loss": [3.1, 0.3], "val_loss": [0.4, 0.35]}, "loss")):
        highest = max(value for trace in figure.data for value in trace.y)
        low, high = figure.layout.yaxis.range
        assert low == 0 and highest <= high <= 1.1 * highest


def test_compared_accuracy_says_its_axis_is_zoomed():
    figure = charts.compare_runs({"a": {"val_accuracy": [0.95, 0.96]}, "b": {"val_accuracy": [0.94, 0.965]}},
                                 "accuracy")
    # The axis says it; the title stays short enough for a 1024 px projector (it was cut off there).
    assert "zoomed" in figure.layout.yaxis.title.text
    assert figure.layout.title.text == "Validation accuracy"


@pytest.mark.parametrize("value, text", [(0.7451, "74.5%"), (0.721, "72.1%"), (1.0, "100.0%"), (0.0, "0.0%"),
                                         (0.5, "50.0%")])
def test_percentages_follow_one_decimal_rule(value, text):
    assert charts.percent(value) == text


def test_a_run_name_with_html_is_a_plain_legend_entry():
    # Plotly renders <a href> in legend text: a run name must not become a link in the comparison chart.
    name = '<a href="http://attacker/">Log in again</a>'
    figure = charts.compare_runs({name: {"accuracy": [0.5, 0.6], "val_accuracy": [0.4, 0.5]}}, "accuracy")
    assert all("<a" not in trace.name for trace in figure.data)
    assert any("&lt;a href" in trace.name for trace in figure.data)
