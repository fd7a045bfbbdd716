"""The map of the test set: every test image placed in 2-D by what the model's last hidden layer makes of it.

Images the model finds alike land close together, so a well-trained model's map shows one island per class;
its mistakes sit on the wrong island, and a student's drawing can be placed among them as a star.

    from core import embedding

    test_map = embedding.get_map(store, run_id, model, dataset)     # computed once (seconds), then from disk
    test_map.coordinates                   # (n, 2) float32: where each test image lies
    test_map.indices                       # which test images: dataset.x_test[test_map.indices]
    test_map.labels, test_map.predictions  # true classes and the model's answers
    x, y = test_map.place(model, drawing)  # where a new image lies (among its nearest neighbours)

How: the features of the last hidden layer (the input of the final dense layer) of a fixed, class-balanced
choice of test images; PCA to at most 30 dimensions with NumPy (an SVD); then t-SNE to 2-D from
scikit-learn, seeded, so the same run always gives the same map. t-SNE places only the points it was given:
a new image is placed at the weighted mean of its nearest neighbours' places, found in the PCA features.
The map is saved in the run's folder as `embedding.npz` beside the model and used again while the model file
is unchanged.
"""

import dataclasses
import os
import tempfile
import threading
from pathlib import Path

import numpy as np

from core import backend

MAP_FILE = "embedding.npz"
DEFAULT_COUNT = 2000
# PCA to 30 dimensions, perplexity 20 and 400 iterations of t-SNE (250 of them of early exaggeration): measured
# on 2,000 sample images of a small CNN, a nearest neighbour on the map agreed with the labels as often (90 %) as
# with 50 dimensions, perplexity 30 and 500 iterations, in less than half the time.
PCA_DIMENSIONS = 30
PERPLEXITY = 20.0
NEIGHBOURS = 5
TSNE_ITERATIONS = 400
# Bumped when the way a map is made changes, so that maps saved by an older version are made again.
VERSION = 2

_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class TestSetMap:
    """Test images placed in 2-D.

    Attributes:
        coordinates: (n, 2) float32, each image's place.
        indices: (n,) int: the images' positions in the dataset's test set.
        labels: (n,) int: their true classes.
        predictions: (n,) int: the model's answers.
        features: (n, d) float32: their PCA features, to place a new image among its neighbours.
        mean, components: the PCA (features = (hidden - mean) @ components.T).
        dataset: The dataset's name.
    """

    coordinates: np.ndarray
    indices: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    features: np.ndarray
    mean: np.ndarray
    components: np.ndarray
    dataset: str

    @property
    def mistakes(self) -> np.ndarray:
        """A boolean mask of the images the model gets wrong."""
        return self.labels != self.predictions

    def place(self, model, image: np.ndarray) -> tuple[float, float]:
        """Where `image` (a uint8 image of the model's input shape) lies on this map."""
        hidden, _ = hidden_features(model, np.asarray(image)[np.newaxis])
        return self.place_features(hidden[0])

    def place_features(self, hidden: np.ndarray) -> tuple[float, float]:
        """Where an image with these last-hidden-layer features lies: among its nearest neighbours."""
        point = (np.asarray(hidden, dtype=np.float32) - self.mean) @ self.components.T
        distances = np.sqrt(((self.features - point) ** 2).sum(axis=1))
        nearest = np.argsort(distances)[:NEIGHBOURS]
        weights = 1.0 / (distances[nearest] + 1e-6)
        x, y = (self.coordinates[nearest] * weights[:, np.newaxis]).sum(axis=0) / weights.sum()
        return float(x), float(y)


def _last_dense(model):
    dense = [layer for layer in model.layers if type(layer).__name__ == "Dense" and len(layer.output.shape) == 2]
    if not dense:
        raise ValueError("This model has no dense output layer, so it has no last hidden layer to map.")
    return dense[-1]


_feature_models: dict[int, tuple[object, object]] = {}


def hidden_features(model, images: np.ndarray, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """(features of the last hidden layer, probabilities) for a batch of raw images, float32."""
    keras = backend.keras()
    key = id(model)
    with _lock:
        cached = _feature_models.get(key)
        if cached is None or cached[0] is not model:
            hidden = _last_dense(model).input
            cached = (model, keras.Model(model.inputs, [hidden, model.outputs[0]]))
            _feature_models.clear()  # one model at a time: each holds its model in memory
            _feature_models[key] = cached
    twin = cached[1]
    images = np.asarray(images)
    if images.shape[1:] != tuple(model.input_shape[1:]):
        raise ValueError(f"This model reads images of shape {tuple(model.input_shape[1:])}; got a batch of shape "
                         f"{images.shape}.")
    features, probabilities = [], []
    for start in range(0, len(images), batch_size):
        hidden, output = twin([images[start:start + batch_size]], training=False)
        features.append(np.asarray(hidden, dtype=np.float32).reshape(len(hidden), -1))
        probabilities.append(np.asarray(output, dtype=np.float32))
    return np.concatenate(features), np.concatenate(probabilities)


def choose_images(labels: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """`count` test images, about as many of each class, in a seeded order (the test sets are stored by class)."""
    labels = np.asarray(labels)
    if count < 10:
        raise ValueError(f"A map needs at least 10 images, received count={count}.")
    order = np.random.default_rng(seed).permutation(len(labels))
    if count >= len(labels):
        return np.sort(order)
    classes = np.unique(labels)
    # Round robin over the classes, each in its shuffled order: a balanced choice of `count` images.
    per_class = [order[labels[order] == label] for label in classes]
    chosen = []
    for rank in range(max(len(items) for items in per_class)):
        for items in per_class:
            if rank < len(items):
                chosen.append(items[rank])
        if len(chosen) >= count:
            break
    return np.sort(np.asarray(chosen[:count]))


def pca(features: np.ndarray, dimensions: int = PCA_DIMENSIONS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(projected features, mean, components): the principal components of `features`, by an SVD."""
    features = np.asarray(features, dtype=np.float32)
    mean = features.mean(axis=0)
    centred = features - mean
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    components = components[:min(dimensions, components.shape[0])].astype(np.float32)
    return centred @ components.T, mean.astype(np.float32), components


def compute_map(model, images: np.ndarray, labels: np.ndarray, indices: np.ndarray | None = None, *,
                dataset: str = "", seed: int = 0) -> TestSetMap:
    """The map of `images` (raw, the model's input shape) with their true `labels`: PCA, then t-SNE."""
    from sklearn.manifold import TSNE

    images = np.asarray(images)
    labels = np.asarray(labels).astype(np.int64)
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels: give one label per image.")
    if len(images) < 10:
        raise ValueError(f"A map needs at least 10 images, received {len(images)}.")
    hidden, probabilities = hidden_features(model, images)
    features, mean, components = pca(hidden)
    perplexity = min(PERPLEXITY, (len(images) - 1) / 3)
    coordinates = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                       max_iter=TSNE_ITERATIONS, random_state=seed).fit_transform(features)
    return TestSetMap(
        coordinates=coordinates.astype(np.float32),
        indices=np.arange(len(images)) if indices is None else np.asarray(indices),
        labels=labels, predictions=probabilities.argmax(axis=1), features=features.astype(np.float32),
        mean=mean, components=components, dataset=dataset,
    )


def _cache_key(model_path: Path, dataset: str, count: int, seed: int) -> str:
    stat = model_path.stat()
    return f"v{VERSION}|{dataset}|{count}|{seed}|{stat.st_size}|{stat.st_mtime_ns}"


def load_cached(folder: Path, key: str) -> TestSetMap | None:
    """The map saved in a run's folder for `key`, or None (none saved, another key, damaged)."""
    path = Path(folder) / MAP_FILE
    try:
        with np.load(path, allow_pickle=False) as saved:
            if str(saved["key"]) != key:
                return None
            return TestSetMap(**{field.name: (saved[field.name] if field.name != "dataset" else str(saved["dataset"]))
                                 for field in dataclasses.fields(TestSetMap)})
    except (OSError, KeyError, ValueError, EOFError):
        return None


def save(folder: Path, key: str, test_map: TestSetMap) -> None:
    """Saves the map in the run's folder, atomically (a half-written file is never read)."""
    folder = Path(folder)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".embedding-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, key=np.array(key), **{field.name: np.asarray(getattr(test_map, field.name))
                                                 for field in dataclasses.fields(TestSetMap)})
        os.replace(temporary, folder / MAP_FILE)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# One lock per run folder: a map is made by one visitor at a time (t-SNE takes the whole CPU for seconds).
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(folder: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(folder, threading.Lock())


def get_map(run, model, dataset, *, count: int = DEFAULT_COUNT, seed: int = 0) -> TestSetMap:
    """The map of `count` test images of `dataset` (a `core.datasets.Dataset`) for a run's model, cached.

    `run` is a `core.runs.Run`; the map is kept in its folder and made again when the model file changes. A
    folder that cannot be written to only loses the cache: the map is still returned.
    """
    folder = Path(run.path)
    model_path = folder / "model.keras"
    count = min(int(count), len(dataset.x_test))
    key = _cache_key(model_path, dataset.name, count, seed)
    cached = load_cached(folder, key)
    if cached is not None:
        return cached
    # A class opening the map of a new model at once makes it once: the others wait for it, then read it.
    with _lock_for(str(folder)):
        cached = load_cached(folder, key)
        if cached is not None:
            return cached
        indices = choose_images(dataset.y_test, count, seed)
        test_map = compute_map(model, dataset.x_test[indices], dataset.y_test[indices], indices,
                               dataset=dataset.name, seed=seed)
        try:
            save(folder, key, test_map)
        except OSError:
            pass  # a read-only runs folder: the map is made again next time
        return test_map


def nearest_neighbour_agreement(coordinates: np.ndarray, labels: np.ndarray) -> float:
    """The share of points whose nearest other point on the map has the same label (leave-one-out 1-NN)."""
    coordinates = np.asarray(coordinates, dtype=np.float64)
    squared = (coordinates ** 2).sum(axis=1)
    distances = squared[:, None] + squared[None, :] - 2 * coordinates @ coordinates.T
    np.fill_diagonal(distances, np.inf)
    nearest = distances.argmin(axis=1)
    labels = np.asarray(labels)
    return float((labels[nearest] == labels).mean())
