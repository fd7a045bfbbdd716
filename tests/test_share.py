"""core.share: a Train page setup as link parameters and back, every value checked."""

import html

import markdown_it
import pytest

from core import architectures, share, text


def _shown(markdown_text: str) -> str:
    """The HTML that `markdown_text` renders to (CommonMark)."""
    return markdown_it.MarkdownIt("commonmark").render(markdown_text)


def test_a_setup_goes_into_a_link_and_comes_back_the_same():
    hyperparameters = architectures.resolve_hyperparameters(
        "dnn", {"depth": 3, "dropout": 0.30000000000000004, "learning_rate": 0.0003, "early_stopping_patience": 4})
    query = share.setup_to_query("mnist_sample", "dnn", hyperparameters)
    assert list(query)[:3] == ["dataset", "arch", "depth"]
    assert query["dropout"] == "0.3" and query["learning_rate"] == "0.0003"
    setup = share.setup_from_query(query)
    assert setup.problems == ()
    assert (setup.dataset, setup.architecture) == ("mnist_sample", "dnn")
    assert architectures.resolve_hyperparameters("dnn", setup.hyperparameters) == {**hyperparameters, "dropout": 0.3}
    # Only what differs from the defaults goes into the link: the settings left out open as their defaults.
    assert set(query) == {"dataset", "arch", "depth", "dropout", "learning_rate", "early_stopping_patience"}
    assert share.share_url("http://class.local:8501/train", query).startswith(
        "http://class.local:8501/train?dataset=mnist_sample&arch=dnn&depth=3&")
    assert share.share_url(None, {"arch": "cnn"}) == "/train?arch=cnn"


def test_a_default_setup_makes_a_short_link_and_a_qr_code_of_large_squares():
    import segno

    for architecture in architectures.ARCHITECTURES:
        defaults = architectures.resolve_hyperparameters(architecture, {})
        query = share.setup_to_query("mnist_sample", architecture, defaults)
        assert query == {"dataset": "mnist_sample", "arch": architecture}
        assert share.setup_from_query(query).hyperparameters == {}
    modern = architectures.resolve_hyperparameters("modern_cnn", {})
    url = share.share_url("http://192.168.100.200:8501/train",
                          {**share.setup_to_query("mnist_sample", "modern_cnn", modern),
                           share.PRESENTER_PARAMETER: "on"})
    assert segno.make(url, error="m").version <= 5


def test_switches_read_words_and_numbers():
    for word, value in (("true", True), ("0", False), ("Off", False), ("yes", True)):
        assert share.setup_from_query({"arch": "modern_cnn", "augmentation": word}).hyperparameters == {
            "augmentation": value}
    assert "must be true or false" in share.setup_from_query(
        {"arch": "modern_cnn", "augmentation": "maybe"}).problems[0]


@pytest.mark.parametrize("query, problem", [
    ({"epochs": "0"}, "epochs='0': Epochs must be between 1 and 200"),
    ({"batch_size": "3.5"}, "must be a whole number"),
    ({"learning_rate": "-1"}, "Learning rate must be between"),
    ({"dropout": "nan"}, "Dropout must be between"),
    ({"optimizer": "lbfgs"}, "Optimizer must be one of"),
    ({"depth": "1000"}, "cnn has no such setting"),
    ({"dataset": "../etc"}, "there is no such dataset"),
    ({"arch": "<script>"}, "there is no such architecture"),
])
def test_bad_values_are_named_and_left_out(query, problem):
    setup = share.setup_from_query({"arch": "cnn", **query})
    assert any(problem in text for text in setup.problems), setup.problems
    assert not set(query) & set(setup.hyperparameters)
    assert problem in html.unescape(_shown(share.problems_message(setup.problems)))


def test_an_unknown_architecture_falls_back_for_the_settings():
    setup = share.setup_from_query({"arch": "transformer", "width": "64"}, fallback_architecture="ann")
    assert setup.architecture is None and setup.hyperparameters == {"width": 64}


@pytest.mark.parametrize("query", [
    {"dataset": "mnist_sample", "arch": "cnn", "[Log in again](http://evil)": "1"},
    {"dataset": "![s](http://evil/s.png)", "arch": "[Log in](http://evil/)"},
    {"arch": "cnn", "epochs": "![s](http://evil/s.png)"},
], ids=["name", "dataset-and-arch", "value"])
def test_crafted_link_values_show_as_text_in_the_warning(query):
    setup = share.setup_from_query(query)
    rendered = _shown(share.problems_message(setup.problems))
    assert setup.problems and "<img" not in rendered and "<a " not in rendered
    assert "http://evil" in rendered.replace(text.WORD_JOINER, "")
