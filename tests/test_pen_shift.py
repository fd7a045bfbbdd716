"""Domain shift: every digit run is scored on the held-out pen writers, and Results shows it with its misreadings."""

import json

import numpy as np

from conftest import open_page
from core import datasets, pen_shift, runs


def test_only_28x28_digit_datasets_are_scored():
    assert [name for name in datasets.DATASETS if pen_shift.applies_to(name)] == [
        "mnist_sample", "pendigits", "digits_mix", "mnist"]
    assert not pen_shift.applies_to("no such dataset")


def test_a_digit_run_records_its_score_on_the_held_out_writers(trained_run):
    run = runs.RunStore().get(trained_run)
    summary = pen_shift.summary_of(run.meta)
    assert summary["count"] == 2498
    assert 0.3 < summary["accuracy"] <= 1.0
    # The wrong ones are the first ones read wrong, each with what the model read; the score says how many.
    model = runs.RunStore().load_model(trained_run)
    images, labels = pen_shift.held_out()
    predicted = np.asarray(model.predict(images, verbose=0)).argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    assert summary["accuracy"] == np.mean(predicted == labels)
    assert summary["wrong"] == [[int(index), int(predicted[index])] for index in wrong[:pen_shift.MAX_WRONG_KEPT]]
    # Datasets of other images are not scored on digits.
    assert pen_shift.score(model, "fashion_mnist") is None


def test_a_missing_or_damaged_score_reads_as_none():
    assert pen_shift.summary_of({}) is None
    assert pen_shift.summary_of({"pen_writers": "93%"}) is None
    assert pen_shift.summary_of({"pen_writers": {"accuracy": None}}) is None
    assert pen_shift.summary_of({"pen_writers": {"accuracy": 0.9, "count": 10}})["accuracy"] == 0.9
    # A hand-edited run.json: nothing that is not a fraction of a whole number of digits reaches a page.
    for damaged in ({"accuracy": True, "count": 10}, {"accuracy": float("nan"), "count": 10},
                    {"accuracy": 55, "count": 10}, {"accuracy": 10 ** 400, "count": 10},
                    {"accuracy": -0.1, "count": 10},
                    {"accuracy": 0.9}, {"accuracy": 0.9, "count": "10"}, {"accuracy": 0.9, "count": True}):
        assert pen_shift.summary_of({"pen_writers": damaged}) is None, damaged


def test_the_sentence_puts_both_accuracies_side_by_side():
    text = pen_shift.sentence(0.987, {"accuracy": 0.937, "count": 2498}, "MNIST sample (offline)")
    assert text == ("Trained on MNIST sample (offline): 98.7% of its test digits, 93.7% of 2,498 digits drawn with "
                    "a pen by 10 people it never saw.")


def test_results_shows_the_score_and_the_pen_digits_read_wrong(trained_run):
    app = open_page("pages/results.py")
    summary = pen_shift.summary_of(runs.RunStore().get(trained_run).meta)
    assert any(f"{summary['accuracy']:.1%} of 2,498 digits drawn with a pen" in markdown.value
               for markdown in app.markdown)
    expander = [element for element in app.expander if "pen-drawn digits it reads wrong" in element.label][0]
    labels = pen_shift.held_out()[1]
    expected = [f"{labels[index]} read as {predicted}" for index, predicted in summary["wrong"][:20]]
    assert [caption.value for caption in expander.caption] == expected
    assert len(expander.get("image")) == len(expected)


def test_an_old_digit_run_without_the_score_says_so(trained_run, isolated_runs):
    path = isolated_runs / trained_run / "run.json"
    meta = json.loads(path.read_text())
    meta.pop("pen_writers")
    path.write_text(json.dumps(meta))
    app = open_page("pages/results.py")
    assert any("trained before digit models were scored" in caption.value for caption in app.caption)
    assert not [element for element in app.expander if "pen-drawn digits" in element.label]
