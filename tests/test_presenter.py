"""Presenter mode's charts: larger type and height through Plotly's own layout, the original untouched."""

from core import charts
from pages import _presenter


def test_a_chart_grows_for_the_back_of_the_room_and_keeps_its_data():
    figure = charts.history_curves({"loss": [1.0, 0.5], "val_loss": [0.9, 0.6]}, "loss")
    larger = _presenter.enlarge(figure)
    assert larger.layout.font.size > figure.layout.font.size
    assert larger.layout.title.font.size > figure.layout.title.font.size
    assert larger.layout.height > figure.layout.height
    assert [trace.y for trace in larger.data] == [trace.y for trace in figure.data]
    assert figure.layout.font.size == 14  # the page's own figure is not changed


def test_tick_labels_and_bar_labels_with_a_size_of_their_own_grow_too():
    import plotly.graph_objects as go

    figure = go.Figure(go.Bar(x=[0.9, 0.1], y=["7", "1"], orientation="h", text=["90.0%", "10.0%"],
                              textfont=dict(size=13)))
    figure.update_layout(height=300, yaxis=dict(tickfont=dict(size=15)))
    larger = _presenter.enlarge(figure)
    assert larger.layout.yaxis.tickfont.size == round(15 * _presenter.CHART_SCALE)
    assert larger.data[0].textfont.size == round(13 * _presenter.CHART_SCALE)
    assert figure.data[0].textfont.size == 13 and figure.layout.yaxis.tickfont.size == 15
