"""What the Results page shows about a trained run, computed without Streamlit.

The page asks this module for a run's evaluation (from the test probabilities that training saved, or, for an
older run without them, by predicting the test set again), for which images to show (random test images, one
page of mistakes, the images of one confusion-matrix cell), for the captions under them, and for the
confusion-matrix figure. The metrics themselves come from `core.evaluation`; this module only picks and words.

Example:

```python
from core import datasets, results_view, runs

store = runs.RunStore()
run = store.list()[0]
dataset = datasets.load(run.dataset)
result = results_view.evaluate_run(store, run, dataset)
print(results_view.count_sentence(len(result.mistakes()), len(result.labels)))
```
"""

import math

import numpy as np
import plotly.graph_objects as go

from core import charts, evaluation, runs

MISTAKES_PER_PAGE = 24
CELL_IMAGE_LIMIT = 36

# Colours that a projector keeps apart and that read as "right" and "wrong".
RIGHT_COLOUR = "green"
WRONG_COLOUR = "red"


# --- the evaluation ----------------------------------------------------------------------------------------


def has_test_probabilities(run) -> bool:
    """Whether training saved the run's test probabilities (runs trained before it did so have none)."""
    return (run.path / "test_probabilities.npy").is_file()


def evaluate_run(store, run, dataset) -> evaluation.Evaluation:
    """The run's evaluation on its dataset's test set.

    Uses the saved test probabilities when they fit the test set; otherwise loads the model and predicts the
    test images once (seconds on a CPU). Raises ValueError with a message for a person when neither works.
    """
    probabilities = store.load_array(run.id, "test_probabilities")
    expected_shape = (len(dataset.y_test), dataset.num_classes)
    if probabilities is not None and probabilities.shape == expected_shape:
        return evaluation.evaluate_probabilities(probabilities, dataset.y_test)
    if not run.has_model:
        raise ValueError("This run has no saved model (no epoch finished), so there is nothing to evaluate.")
    model = store.load_model(run.id)
    output_classes = model.output_shape[-1]
    if tuple(model.input_shape[1:]) != tuple(dataset.image_shape) or output_classes != dataset.num_classes:
        raise ValueError(
            f"This run's model takes {model.input_shape[1:]} images into {output_classes} classes, "
            f"which does not fit {dataset.title}. Its run.json may name the wrong dataset."
        )
    return evaluation.evaluate(model, dataset.x_test, dataset.y_test)


# --- which images --------------------------------------------------------------------------------------------


def page_count(total: int, per_page: int = MISTAKES_PER_PAGE) -> int:
    """How many pages `total` items fill (at least one, so an empty list still has a page to show)."""
    if per_page < 1:
        raise ValueError(f"per_page must be 1 or more, received {per_page}.")
    return max(1, math.ceil(total / per_page))


def page_of(indices: np.ndarray, page: int, per_page: int = MISTAKES_PER_PAGE) -> np.ndarray:
    """The items of page `page` (counted from 1); a page past the end gives the last page."""
    page = min(max(1, int(page)), page_count(len(indices), per_page))
    start = (page - 1) * per_page
    return np.asarray(indices)[start:start + per_page]


def confusion_cell(result: evaluation.Evaluation, true_class: int, predicted_class: int) -> np.ndarray:
    """The test images of one confusion-matrix cell, the ones the model was surest about first."""
    in_cell = (result.labels == true_class) & (result.predictions == predicted_class)
    indices = np.flatnonzero(in_cell)
    order = np.argsort(-result.confidence[indices], kind="stable")
    return indices[order]


def most_confused_cell(confusion: np.ndarray) -> tuple[int, int]:
    """The (true class, predicted class) of the most frequent mistake: the cell worth showing first. A model
    without mistakes gives the first class's right answers."""
    confusion = np.asarray(confusion)
    off_diagonal = confusion.copy()
    np.fill_diagonal(off_diagonal, 0)
    if off_diagonal.size == 0 or off_diagonal.max() == 0:
        return 0, 0
    true_class, predicted_class = np.unravel_index(int(off_diagonal.argmax()), off_diagonal.shape)
    return int(true_class), int(predicted_class)


# --- what the images say -------------------------------------------------------------------------------------


def prediction_caption(result: evaluation.Evaluation, index: int, class_names) -> str:
    """Two lines of Streamlit markdown under a test image: its true class, then the prediction with its
    probability; green when right, red when wrong, with a tick or a cross for those who cannot tell colours."""
    predicted_class = int(result.predictions[index])
    return caption(int(result.labels[index]), predicted_class, float(result.probabilities[index, predicted_class]),
                   class_names)


def caption(true_class: int, predicted_class: int, probability: float, class_names) -> str:
    """The two caption lines for one image whose true class, predicted class and probability are known."""
    right = true_class == predicted_class
    colour = RIGHT_COLOUR if right else WRONG_COLOUR
    mark = "✓" if right else "✗"
    return (f":{colour}[{mark} true {_unbreakable(class_names[true_class])}]  \n"
            f":{colour}[predicted {_unbreakable(class_names[predicted_class])}\N{NO-BREAK SPACE}({probability:.0%})]")


def count_sentence(count: int, total: int, *, noun: str = "mistakes") -> str:
    """A count in words, such as "118 mistakes of 2,000"."""
    return f"{count:,} {noun} of {total:,}"


def _unbreakable(class_name) -> str:
    """A class name that a narrow caption wraps before or after, never inside ("T-shirt/top", "Ankle boot")."""
    # A bracket would end the :colour[...] span, so brackets become parentheses.
    text = str(class_name).replace("[", "(").replace("]", ")")
    return text.replace(" ", "\N{NO-BREAK SPACE}").replace("-", "\N{NON-BREAKING HYPHEN}")


# --- deleting a run -----------------------------------------------------------------------------------------

def deletion_refusal(run, owner: str, teacher: bool = False) -> str | None:
    """Why the student `owner` may not delete `run`, in a sentence for the page; None when it may.

    Runs are shared by the whole class, so only the student who trained (or imported) a run deletes it, and
    never while it trains. A run without an owner (trained from the command line) is not deleted from a page.
    The teacher (a session that entered the teacher key, see core/classroom.py) may delete any run that is
    not training.
    """
    if run.status in runs.ACTIVE_STATUSES:
        return "This run is still training: stop it on the Train page first, then delete it."
    if teacher:
        return None
    if run.one_click:
        return ("This is the class's default digit model, trained by the Draw page's one click for everyone: only "
                "the teacher can delete it.")
    run_owner = run.owner
    if not run_owner:
        if run.damaged:
            return ("This run is damaged and nobody is recorded as its owner, so it cannot be deleted here: "
                    f"the teacher can delete its folder on the server ({run.path}).")
        return ("This run was not trained in a browser (for example from the command line), so it cannot be "
                "deleted here: the teacher can delete its folder on the server.")
    if run_owner != owner:
        return ("Only the student who trained this model can delete it, from the browser where they trained "
                "it. Everyone else can still study it and draw with it.")
    return None


# --- the epoch replay ---------------------------------------------------------------------------------------

REPLAY_PER_CLASS = 3


def replay_shown_images(replay, per_class: int = REPLAY_PER_CLASS, seed: int = 0) -> np.ndarray:
    """The replay images the page shows under the slider: `per_class` of each class, the same ones at every
    epoch, sorted by class.

    In each class, images the model learned along the way (wrong after some epoch, right after the last)
    come first, so that scrubbing through the epochs shows answers changing; the rest are picked at random.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(replay.labels)
    predictions = np.stack([replay.predictions(epoch) for epoch in range(1, replay.epochs + 1)])
    ever_wrong = (predictions != labels).any(axis=0)
    right_at_end = predictions[-1] == labels
    learned = ever_wrong & right_at_end
    chosen = []
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        # Up to two learned images per class: the rest show what the model got right (or wrong) all along.
        first = members[learned[members]][:max(1, per_class - 1)]
        rest = [index for index in members if index not in set(first)]
        chosen.extend([*first, *rest][:per_class])
    return np.asarray(chosen, dtype=np.int64)


def replay_captions(replay, indices, epoch: int, class_names) -> list[str]:
    """The caption of each shown replay image after `epoch`: its true class and that epoch's answer."""
    predictions = replay.predictions(epoch)
    confidences = replay.confidences(epoch)
    return [caption(int(replay.labels[index]), int(predictions[index]), float(confidences[index]), class_names)
            for index in indices]


def replay_change_sentence(replay, epoch: int) -> str:
    """One sentence (Streamlit markdown) on what changed between the previous epoch and `epoch`."""
    total = len(replay.labels)
    now_right = replay.predictions(epoch) == replay.labels
    if epoch == 1:
        return (f"After the first epoch the model already gets **{int(now_right.sum()):,} of the {total:,}** "
                f"images right ({now_right.mean():.1%}); an untrained model would get about "
                f"{1 / replay.num_classes:.0%} by guessing.")
    before_right = replay.predictions(epoch - 1) == replay.labels
    fixed = int((now_right & ~before_right).sum())
    broken = int((~now_right & before_right).sum())
    if fixed == 0 and broken == 0:
        return (f"Between epoch {epoch - 1} and epoch {epoch} not one answer went from wrong to right or back: "
                f"the model still gets **{int(now_right.sum()):,} of the {total:,}** right.")

    def images(count):
        return f"{count:,} image{'s' if count != 1 else ''}"

    def were(count):
        return "were" if count != 1 else "was"

    def are(count):
        return "are" if count != 1 else "is"

    if fixed:
        sentence = (f":green[**{images(fixed)}** that {were(fixed)} wrong after epoch {epoch - 1} {are(fixed)} right "
                    f"after epoch {epoch}]")
        if broken:
            sentence += f", and :red[**{broken:,}** that {were(broken)} right {are(broken)} now wrong]"
    else:
        sentence = (f":red[**{images(broken)}** that {were(broken)} right after epoch {epoch - 1} {are(broken)} "
                    f"wrong after epoch {epoch}]")
    before, after = before_right.mean(), now_right.mean()
    trend = "rose" if after > before else "fell" if after < before else "stayed"
    figures = f"from {before:.1%} to {after:.1%}" if after != before else f"at {after:.1%}"
    return f"{sentence}: accuracy on these images {trend} {figures}."


def replay_accuracy_figure(replay, epoch: int, height: int = 240, kept_epoch: int | None = None) -> go.Figure:
    """Accuracy on the replay images after every epoch, with the chosen epoch marked, and `kept_epoch` (the epoch
    whose model the run keeps, chosen by its loss: not always the highest point here) as a dashed line."""
    epochs = np.arange(1, replay.epochs + 1)
    accuracies = [replay.accuracy(int(value)) for value in epochs]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=epochs, y=accuracies, mode="lines+markers", name="accuracy",
                                line={"color": "#4f46e5"}, hovertemplate="epoch %{x}: %{y:.1%}<extra></extra>"))
    figure.add_trace(go.Scatter(x=[epoch], y=[accuracies[epoch - 1]], mode="markers", name="this epoch",
                                marker={"size": 14, "color": "#d62728"}, hoverinfo="skip"))
    if kept_epoch is not None and 1 <= kept_epoch <= replay.epochs and replay.epochs > 1:
        side = "left" if kept_epoch > (replay.epochs + 1) / 2 else "right"
        figure.add_vline(x=kept_epoch, line={"color": charts.BEST_EPOCH_COLOUR, "width": 2, "dash": "dash"},
                         annotation={"text": f"kept: epoch {kept_epoch}",
                                     "font": {"size": 12, "color": charts.BEST_EPOCH_COLOUR},
                                     "bgcolor": "rgba(255, 255, 255, 0.8)"},
                         annotation_position="bottom " + side)
    figure.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10}, showlegend=False,
                         title={"text": "Accuracy on these images, epoch by epoch", "font": {"size": 14}})
    figure.update_xaxes(title_text="Epoch", dtick=1 if replay.epochs <= 20 else None)
    figure.update_yaxes(tickformat=".0%")
    return figure


# --- the confusion matrix ------------------------------------------------------------------------------------


def confusion_figure(confusion: np.ndarray, class_names, *, selected: tuple[int, int] | None = None,
                     height: int = 620) -> go.Figure:
    """The confusion matrix as a heatmap: rows are the true classes, columns the predicted ones, each cell
    labelled with its count.

    Plotly's heatmaps report no clicked cell to Streamlit, so a transparent square marker sits on every cell:
    clicking a cell selects its marker, whose point says which cell it is (`selected_cell`). The colour uses a
    logarithmic scale so that a few dozen mistakes still show beside hundreds of right answers on the diagonal.
    """
    confusion = np.asarray(confusion)
    names = [str(name) for name in class_names]
    classes = len(names)
    figure = go.Figure()
    # Plotly writes each count in the cell, in black or white depending on the cell's shade.
    figure.add_trace(go.Heatmap(
        z=np.log1p(confusion), x=names, y=names, colorscale="Blues", showscale=False, hoverinfo="skip",
        text=[[f"{count:,}" for count in row] for row in confusion], texttemplate="%{text}",
        textfont={"size": 16},
    ))
    true_index, predicted_index = np.meshgrid(np.arange(classes), np.arange(classes), indexing="ij")
    figure.add_trace(go.Scatter(
        x=[names[column] for column in predicted_index.reshape(-1)],
        y=[names[row] for row in true_index.reshape(-1)],
        mode="markers",
        marker={"symbol": "square", "size": 40, "color": "rgba(0, 0, 0, 0)"},
        customdata=confusion.reshape(-1),
        hovertemplate="true %{y}, predicted %{x}: %{customdata:,} images<extra></extra>",
        showlegend=False,
    ))
    if selected is not None:
        row, column = selected
        figure.add_shape(type="rect", x0=column - 0.5, x1=column + 0.5, y0=row - 0.5, y1=row + 0.5,
                         line={"color": "#d62728", "width": 4})
    figure.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 10, "b": 10}, font={"size": 15},
        clickmode="event+select", dragmode=False,
    )
    # Fixed ranges: the big click markers would otherwise pad the axes and shrink the heatmap. The first class
    # is at the top, as in every textbook's confusion matrix.
    figure.update_xaxes(title_text="Predicted class", type="category", side="top", fixedrange=True,
                        showgrid=False, tickfont={"size": 16}, range=[-0.5, classes - 0.5])
    figure.update_yaxes(title_text="True class", type="category", fixedrange=True,
                        showgrid=False, tickfont={"size": 16}, range=[classes - 0.5, -0.5])
    return figure


def selected_cell(points, num_classes: int) -> tuple[int, int] | None:
    """The (true class, predicted class) of the cell clicked in `confusion_figure`, from Streamlit's selection
    points; None when nothing (or no cell) is selected.

    The markers are laid out row by row, so a marker's index is `true class * classes + predicted class`.
    Streamlit reports it as `point_index` of curve 1 (curve 0 is the heatmap, which reports nothing).
    """
    for point in points or []:
        if point.get("curve_number") != 1 or point.get("point_index") is None:
            continue
        true_class, predicted_class = divmod(int(point["point_index"]), num_classes)
        if 0 <= true_class < num_classes:
            return true_class, predicted_class
    return None

