"""AppTests of the explanations: the Draw page's "Why?" tab and the Inside page's filter pictures and map.

The canvas is replaced by the fake of tests/test_page_draw.py (AppTest cannot drive the component); the model
is conftest's small CNN trained on the sample.
"""

import numpy as np
import pytest
from test_page_draw import canvas, drawn_one, open_tab  # noqa: F401 (canvas is a fixture)

from conftest import open_page
from core import architectures, explanations, runs
from pages import _draw_explain, _inside_explain

WHY_TAB = ":material/psychology_alt: Why?"


@pytest.fixture(autouse=True)
def small_map(monkeypatch):
    # A map of 100 test images takes a few seconds instead of tens.
    monkeypatch.setattr(_inside_explain, "MAP_COUNT", 100)
    explanations.clear_cache()


def open_why(view=None):
    at = open_page("pages/draw.py")
    if view is not None:
        at.session_state[_draw_explain.VIEW_KEY] = view
    return open_tab(at, WHY_TAB)


def markdown_text(at) -> str:
    return " ".join(element.value for element in at.markdown)


def captions(at) -> str:
    return " ".join([element.value for element in at.caption]
                    + [caption for image in at.image for caption in image.captions])


def metric(at, label):
    [found] = [element for element in at.metric if element.label == label]
    return found


def test_where_it_looks_explains_the_answer_then_any_class_picked(trained_run, canvas):  # noqa: F811
    canvas.picture = drawn_one()
    at = open_why()
    assert "Why **1**?" in markdown_text(at)
    assert "Grad-CAM: red is where it finds 1" in captions(at)
    at.segmented_control(key="why_look_class").set_value(7).run()
    assert not at.exception, at.exception
    assert "Why **7**?" in markdown_text(at)
    at.selectbox(key="why_look_versus").set_value(1).run()
    assert "Why **7** rather than **1**?" in markdown_text(at)


def test_cover_it_up_covers_the_place_picked_and_gives_the_new_answer(trained_run, canvas):  # noqa: F811
    canvas.picture = drawn_one()
    at = open_why(_draw_explain.COVER_VIEW)
    assert "Covered at row 14, column 14" in captions(at)
    assert metric(at, "Answer when covered").value in [str(digit) for digit in range(10)]
    at.slider(key=_draw_explain.COVER_ROW_KEY).set_value(3).run()
    at.slider(key=_draw_explain.COVER_COLUMN_KEY).set_value(3).run()
    assert not at.exception, at.exception
    assert "Covered at row 3, column 3" in captions(at)
    # The corner has no ink: rubbing it out changes nothing.
    assert "it still says **1**" in markdown_text(at)
    assert "covered (unchanged)" in captions(at)


def test_fool_the_model_shows_the_change_the_new_answer_and_every_models_vote(trained_run, canvas):  # noqa: F811
    canvas.picture = drawn_one()
    at = open_why(_draw_explain.FOOL_VIEW)
    assert "Every model votes on the changed image" in markdown_text(at)
    [table] = at.dataframe
    assert list(table.value.columns) == ["Model", "Architecture", "On your drawing", "On the changed image", "Held on"]
    assert table.value["On your drawing"].tolist() == ["1"]
    fooled = [element for element in at.metric if element.label == "Fooled: it now says"]
    if fooled:
        assert fooled[0].value != "1"
        assert "The smallest change that did it: **ε =" in markdown_text(at)
    else:
        assert "Not fooled" in markdown_text(at)
    at.selectbox(key="why_fool_target").set_value(4).run()
    assert not at.exception, at.exception


def test_the_map_shows_the_drawing_as_a_star_among_the_test_images(trained_run, canvas):  # noqa: F811
    canvas.picture = drawn_one()
    at = open_why(_draw_explain.MAP_VIEW)
    assert "100 test images; the model gets" in captions(at)
    [chart] = [chart for chart in at.get("plotly_chart") if "your drawing" in chart.proto.spec]
    assert "star" in chart.proto.spec
    # The map was saved beside the run's model.
    assert (runs.RunStore().get(trained_run).path / "embedding.npz").is_file()


def test_the_inside_page_shows_what_each_filter_wants_and_the_map(trained_run):
    app = open_page("pages/inside.py")
    assert "What each filter wants" in " ".join(subheader.value for subheader in app.subheader)
    assert any("what each filter wants, in the same places" in caption.value for caption in app.caption)
    app.toggle(key="inside_show_map").set_value(True).run()
    assert not app.exception, app.exception
    assert any(caption.value.startswith("100 test images") for caption in app.caption)


def test_a_dense_network_has_no_filters_to_want_anything(trained_run):
    store = runs.RunStore()
    hyperparameters = architectures.resolve_hyperparameters("ann", {})
    created = store.create(dataset="mnist_sample", architecture="ann", hyperparameters=hyperparameters, name="ann")
    store.save_model(created.id, architectures.build_model("ann", (28, 28), 10, hyperparameters))
    store.update(created.id, status="completed")
    app = open_page("pages/inside.py", run_id=created.id)
    app.selectbox(key="inside_page_run").set_value(created.id).run()
    assert not app.exception, app.exception
    # Said once, above the layers: no second box under "What each filter wants" saying the same.
    assert sum("no convolution layer" in info.value for info in app.info) == 1
    assert "What each filter wants" not in " ".join(subheader.value for subheader in app.subheader)


def test_a_heat_map_must_match_its_image():
    with pytest.raises(ValueError, match="same size"):
        explanations.heat_overlay(np.zeros((28, 28)), np.zeros((20, 20)))
