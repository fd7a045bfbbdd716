"""Explanations mean what they say: saliency on the ink, occlusion that costs, adversarial examples that fool
within their bound, filter pictures that excite their filter, and a map whose neighbours share a class.

Models are trained once per module on the offline MNIST sample (seconds each); images are the sample's test
images and digits drawn with Pillow and prepared by the MNIST recipe, as the Draw page does.
"""

import os
import shutil

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from core import backend, datasets, embedding, explanations, inference, preprocess, runs, training


def _train(store, architecture, hyperparameters, limit_train=None):
    meta = training.train("mnist_sample", architecture, dict(hyperparameters, seed=1), store=store,
                          name=f"test {architecture}", limit_train=limit_train)
    assert meta["status"] == "completed"
    return meta["id"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An ANN, a one-convolution CNN and a two-convolution CNN trained on the sample, in one run store."""
    store = runs.RunStore(tmp_path_factory.mktemp("explain") / "runs")
    ids = {
        "ann": _train(store, "ann", {"epochs": 2}, limit_train=4000),
        "cnn": _train(store, "cnn", {"epochs": 3}),
        "cnn_deep": _train(store, "cnn_deep", {"epochs": 1}, limit_train=2000),
    }
    return store, ids


@pytest.fixture(scope="module")
def sample():
    return datasets.load("mnist_sample", download=False)


def model_of(trained, architecture):
    store, ids = trained
    return inference.get_predictor(store, ids[architecture]).model


def drawn(points, width=18):
    """A digit drawn with a pen on the 280x280 canvas, prepared as the Draw page prepares it."""
    picture = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(picture).line(points, fill=(255, 255, 255, 255), width=width, joint="curve")
    return preprocess.preprocess(np.asarray(picture)).image


DRAWN_ONE = [(140, 40), (140, 240)]
DRAWN_SEVEN = [(80, 50), (210, 50), (120, 240)]


def correctly_read(model, sample, count, start=0):
    """Indices of `count` test images (spread over the classes) that the model reads right."""
    explainer = explanations.get_explainer(model)
    indices = np.arange(start, len(sample.x_test), 97)
    predictions = explainer.probabilities(sample.x_test[indices]).argmax(axis=1)
    right = indices[predictions == sample.y_test[indices]]
    assert len(right) >= count
    return right[:count]


# --- 1. where it looks ----------------------------------------------------------------------------------------


def test_a_dense_model_gets_integrated_gradients_that_lie_on_the_ink_and_add_up(trained, sample):
    model = model_of(trained, "ann")
    explainer = explanations.get_explainer(model)
    assert explainer.method == explanations.INTEGRATED_GRADIENTS
    tf = backend.tensorflow()
    for index in correctly_read(model, sample, 5):
        image = sample.x_test[index]
        label = int(sample.y_test[index])
        saliency = explainer.saliency(image, label)
        assert saliency.method == explanations.INTEGRATED_GRADIENTS
        assert saliency.mass_on(image > 0) > 0.99
        # Completeness: the attributions add up to the change of the score from a black image to this one.
        probabilities = explainer.probabilities(np.stack([np.zeros_like(image), image]))
        change = np.log(probabilities[1, label]) - np.log(probabilities[0, label])
        assert saliency.values.sum() == pytest.approx(change, rel=0.1, abs=0.1)
    assert tf is not None


def test_grad_cam_of_a_cnn_lies_mostly_on_the_drawn_digit_and_around_it(trained, sample):
    model = model_of(trained, "cnn_deep")
    explainer = explanations.get_explainer(model)
    assert explainer.method == explanations.GRAD_CAM
    images = [drawn(DRAWN_ONE), drawn(DRAWN_SEVEN)] + [sample.x_test[i] for i in correctly_read(model, sample, 8)]
    shares = []
    for image in images:
        predicted = int(explainer.probabilities(image)[0].argmax())
        saliency = explainer.saliency(image, predicted)
        assert saliency.heat.shape == (28, 28) and saliency.heat.max() == pytest.approx(1.0)
        # Grad-CAM's map is as coarse as the last convolution's: the ink and two pixels around it.
        neighbourhood = ndimage.binary_dilation(image > 64, iterations=2)
        shares.append(saliency.mass_on(neighbourhood))
    # The neighbourhood covers about a third of the image; by chance it would hold about a third of the mass.
    assert np.mean(shares) > 0.6, shares
    assert min(shares) > 0.4, shares


def test_any_class_can_be_explained_and_compared_with_another(trained):
    explainer = explanations.get_explainer(model_of(trained, "cnn_deep"))
    image = drawn(DRAWN_SEVEN)
    seven = explainer.saliency(image, 7)
    one = explainer.saliency(image, 1)
    seven_not_one = explainer.saliency(image, 7, versus=1)
    assert (seven.class_index, one.class_index, seven_not_one.versus) == (7, 1, 1)
    assert not np.allclose(seven.values, one.values)
    assert not np.allclose(seven.values, seven_not_one.values)
    # The seven's top bar is what tells a 7 from a 1: "why 7 and not 1" looks at the top rows more.
    top = np.zeros((28, 28), dtype=bool)
    top[:11] = True
    assert seven_not_one.mass_on(top) > one.mass_on(top)
    with pytest.raises(ValueError, match="versus must differ"):
        explainer.saliency(image, 7, versus=7)
    with pytest.raises(ValueError, match="between 0 and 9"):
        explainer.saliency(image, 10)


def test_grad_cam_needs_a_convolution(trained):
    explainer = explanations.get_explainer(model_of(trained, "ann"))
    with pytest.raises(explanations.CannotExplain, match="convolution"):
        explainer.saliency(drawn(DRAWN_ONE), 1, method=explanations.GRAD_CAM)
    with pytest.raises(explanations.CannotExplain, match="no convolution"):
        explainer.filter_wishes()


def test_bad_images_are_refused_with_a_message(trained):
    explainer = explanations.get_explainer(model_of(trained, "cnn"))
    with pytest.raises(ValueError, match="shape"):
        explainer.saliency(np.zeros((20, 20), dtype=np.uint8), 1)
    with pytest.raises(ValueError, match="uint8"):
        explainer.occlusion(np.zeros((28, 28), dtype=np.float32), 1)
    with pytest.raises(ValueError, match="patch"):
        explainer.occlusion(np.zeros((28, 28), dtype=np.uint8), 1, patch=40)
    with pytest.raises(ValueError, match="already says"):
        image = drawn(DRAWN_ONE)
        explainer.adversarial(image, target=int(explainer.probabilities(image)[0].argmax()))
    with pytest.raises(ValueError, match="epsilons"):
        explainer.adversarial(np.zeros((28, 28), dtype=np.uint8), epsilons=(0.0,))


def test_a_model_that_takes_whole_numbers_without_rescaling_cannot_be_explained():
    keras = backend.keras()
    inputs = keras.Input((28, 28), dtype="uint8")
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs))
    with pytest.raises(explanations.CannotExplain, match="rescale"):
        explanations.Explainer(keras.Model(inputs, outputs))


# --- 2. cover it up -------------------------------------------------------------------------------------------


def test_covering_the_ink_costs_the_class_more_than_covering_the_empty_border(trained):
    explainer = explanations.get_explainer(model_of(trained, "cnn"))
    image = drawn(DRAWN_SEVEN)
    occlusion = explainer.occlusion(image, 7, fill=0)
    assert occlusion.drops.shape == (12, 12)
    assert occlusion.heat.shape == (28, 28)
    # Black on black changes nothing: covering the empty corners costs nothing.
    assert abs(occlusion.drops[0, 0]) < 1e-6 and abs(occlusion.drops[-1, -1]) < 1e-6
    # A sure model (99.98% here) loses little anywhere; ink still costs most.
    assert occlusion.drops.max() > 0.005
    # The costliest place is on the digit.
    row, column = np.unravel_index(np.argmax(occlusion.drops), occlusion.drops.shape)
    window = image[row * 2:row * 2 + 6, column * 2:column * 2 + 6]
    assert window.max() > 64
    # Covering that one place by hand gives the same new probability as the map says.
    top, left = row * 2, column * 2
    covered, probabilities = explainer.cover(image, top + 3, left + 3, fill=0)
    assert (covered[top:top + 6, left:left + 6] == 0).all()
    assert probabilities[7] == pytest.approx(occlusion.probability - occlusion.drops[row, column], abs=1e-4)
    assert occlusion.place_of(top + 3, left + 3) == (row, column)
    assert occlusion.covered_classes[row, column] == int(probabilities.argmax())


def test_a_grey_patch_is_grey_and_the_place_must_lie_in_the_image():
    image = np.zeros((28, 28), dtype=np.uint8)
    covered = explanations.cover_image(image, 0, 27)
    assert (covered[:6, 22:] == explanations.GREY).all() and covered.sum() == 36 * explanations.GREY
    with pytest.raises(ValueError, match="in the image"):
        explanations.cover_image(image, 28, 0)


# --- 3. fool the model ----------------------------------------------------------------------------------------


def test_the_sample_ann_is_fooled_by_a_change_of_at_most_a_sixth_most_often_a_tenth(trained, sample):
    store, ids = trained
    predictor = inference.get_predictor(store, ids["ann"])
    explainer = explanations.get_explainer(predictor.model)
    within_a_tenth = 0
    for index in correctly_read(predictor.model, sample, 5):
        image = sample.x_test[index]
        fooled = explainer.adversarial(image, epsilons=(0.02, 0.05, 0.1, 0.15))
        assert fooled.success and fooled.epsilon <= 0.15
        within_a_tenth += fooled.epsilon <= 0.1
        assert fooled.original_class == sample.y_test[index]
        assert fooled.fooled_class != fooled.original_class
        # Within the bound, pixel by pixel, in the uint8 image every model reads.
        assert fooled.fooled.dtype == np.uint8 and fooled.fooled.shape == image.shape
        change = np.abs(fooled.fooled.astype(int) - image.astype(int))
        assert change.max() <= round(fooled.epsilon * 255)
        assert fooled.largest_change <= fooled.epsilon + 1e-6
        np.testing.assert_allclose(fooled.perturbation, (fooled.fooled.astype(np.float32) - image) / 255, atol=1e-6)
        # The model itself, as the Draw page calls it, says the new answer.
        probabilities = predictor.predict(fooled.fooled)
        assert int(probabilities.argmax()) == fooled.fooled_class
        assert probabilities.max() == pytest.approx(fooled.fooled_probability, abs=1e-4)
    # A change of a tenth of the pixel scale (about 25 of 255) fools it on most of them.
    assert within_a_tenth >= 3


def test_a_targeted_attack_makes_the_model_say_the_target_with_the_smallest_epsilon_of_the_ladder(trained):
    explainer = explanations.get_explainer(model_of(trained, "ann"))
    image = drawn(DRAWN_SEVEN)
    fooled = explainer.adversarial(image, target=3)
    assert fooled.success and fooled.fooled_class == 3 and fooled.target == 3
    ladder = [epsilon for epsilon, _, _ in fooled.tried]
    answers = [answer for _, answer, _ in fooled.tried]
    # No smaller epsilon of the ladder reached the target.
    assert all(answer != 3 for epsilon, answer in zip(ladder, answers) if epsilon < fooled.epsilon)


def test_every_model_votes_on_the_fooled_image(trained, sample):
    store, ids = trained
    explainer = explanations.get_explainer(model_of(trained, "ann"))
    index = correctly_read(explainer.model, sample, 1)[0]
    fooled = explainer.adversarial(sample.x_test[index])
    chosen = store.get(ids["ann"])
    voting_runs, left_out = inference.voters(store.list(), chosen)
    votes = inference.vote(store, voting_runs, fooled.fooled)
    assert votes[0].run.id == chosen.id and len(votes) == 3 and left_out == 0
    assert votes[0].predicted_class == fooled.fooled_class


# --- 4. what a filter wants -----------------------------------------------------------------------------------


def test_each_filter_picture_excites_its_filter_more_than_the_mean_test_image(trained, sample):
    explainer = explanations.get_explainer(model_of(trained, "cnn_deep"))
    wishes = explainer.filter_wishes()
    assert [wish.layer_name for wish in wishes] == ["conv_1", "conv_2"]
    mean_image = np.rint(sample.x_test.mean(axis=0)).astype(np.uint8)
    for wish in wishes:
        filters = len(wish.images)
        assert wish.images.dtype == np.uint8 and wish.images.shape == (filters, 28, 28)
        on_mean = explainer.filter_responses(wish.layer_name, mean_image[np.newaxis])[0][:filters]
        # A filter that never answers (its ReLU stays at zero for every input) cannot be excited at all.
        alive = wish.responses > 0
        assert alive.mean() >= 0.9
        assert (wish.responses[alive] > on_mean[alive]).all(), (wish.responses, on_mean)
        # Each filter wants something of its own, not one picture for all.
        assert len({image.tobytes() for image in wish.images}) == filters


# --- 5. the map of the test set -------------------------------------------------------------------------------


def test_on_the_map_of_a_trained_cnn_nearest_neighbours_share_their_class(trained, sample):
    model = model_of(trained, "cnn")
    indices = embedding.choose_images(sample.y_test, 400)
    assert np.bincount(sample.y_test[indices]).min() >= 35  # about as many of each class
    test_map = embedding.compute_map(model, sample.x_test[indices], sample.y_test[indices], indices)
    assert test_map.coordinates.shape == (400, 2)
    agreement = embedding.nearest_neighbour_agreement(test_map.coordinates, test_map.labels)
    assert agreement >= 0.9, agreement
    # A test image placed afresh lands where the map put it, among its own class.
    x, y = test_map.place(model, sample.x_test[indices[7]])
    assert np.hypot(x - test_map.coordinates[7, 0], y - test_map.coordinates[7, 1]) < 1e-3
    # A drawn one lands among the ones.
    star = np.array(test_map.place(model, drawn(DRAWN_ONE)))
    nearest = np.argsort(((test_map.coordinates - star) ** 2).sum(axis=1))[:5]
    assert (test_map.labels[nearest] == 1).sum() >= 3


def test_the_map_is_kept_in_the_run_folder_until_the_model_changes(trained, sample, tmp_path, monkeypatch):
    store, ids = trained
    folder = tmp_path / ids["cnn"]
    shutil.copytree(store.root / ids["cnn"], folder)
    run = runs.RunStore(tmp_path).get(ids["cnn"])
    model = model_of(trained, "cnn")
    first = embedding.get_map(run, model, sample, count=60)
    assert (folder / embedding.MAP_FILE).is_file()
    assert first.mistakes.dtype == bool and len(first.indices) == 60

    def fail(*arguments, **keywords):
        raise AssertionError("the map was computed again")

    monkeypatch.setattr(embedding, "compute_map", fail)
    again = embedding.get_map(run, model, sample, count=60)
    np.testing.assert_array_equal(again.coordinates, first.coordinates)
    # A retrained model (a new model file) gets a new map.
    stat = (folder / "model.keras").stat()
    os.utime(folder / "model.keras", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="computed again"):
        embedding.get_map(run, model, sample, count=60)


def test_a_damaged_map_file_is_made_again(trained, sample, tmp_path):
    store, ids = trained
    folder = tmp_path / ids["ann"]
    shutil.copytree(store.root / ids["ann"], folder)
    (folder / embedding.MAP_FILE).write_bytes(b"not a map")
    run = runs.RunStore(tmp_path).get(ids["ann"])
    test_map = embedding.get_map(run, model_of(trained, "ann"), sample, count=30)
    assert test_map.coordinates.shape == (30, 2)
    with pytest.raises(ValueError, match="at least 10"):
        embedding.choose_images(sample.y_test, 5)


def test_a_class_opening_a_new_map_at_once_makes_it_once(trained, sample, tmp_path, monkeypatch):
    import threading

    store, ids = trained
    shutil.copytree(store.root / ids["ann"], tmp_path / ids["ann"])
    run = runs.RunStore(tmp_path).get(ids["ann"])
    model = model_of(trained, "ann")
    made, real_compute = [], embedding.compute_map

    def counted(*arguments, **keywords):
        made.append(1)
        return real_compute(*arguments, **keywords)

    monkeypatch.setattr(embedding, "compute_map", counted)
    maps = []
    visitors = [threading.Thread(target=lambda: maps.append(embedding.get_map(run, model, sample, count=30)))
                for _ in range(3)]
    for visitor in visitors:
        visitor.start()
    for visitor in visitors:
        visitor.join()
    assert len(made) == 1 and len(maps) == 3
    for other in maps[1:]:
        np.testing.assert_array_equal(other.coordinates, maps[0].coordinates)


def test_a_convolution_followed_by_batch_norm_and_relu_wants_its_pattern_not_a_blank_square():
    """The default model's convolutions have no activation of their own (batch norm and ReLU follow): their mean
    answer is linear in the picture, so climbing it gave all-white or all-black squares whatever the filter. The
    climb is on the answer after the ReLU: an edge detector then wants stripes of ink and paper."""
    import keras

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(2, 3, padding="same", use_bias=False, name="block_conv")(inputs)
    x = keras.layers.BatchNormalization(name="block_bn")(x)
    x = keras.layers.ReLU(name="block_relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))
    edges = np.zeros((3, 3, 1, 2), np.float32)
    edges[:, 0, 0, 0], edges[:, 2, 0, 0] = -1.0, 1.0    # filter 0: a vertical edge (its weights add up to 0)
    edges[0, :, 0, 1], edges[2, :, 0, 1] = -1.0, 1.0    # filter 1: a horizontal edge
    model.get_layer("block_conv").set_weights([edges])
    [wish] = explanations.Explainer(model).filter_wishes(layers=1)
    for image in wish.images:
        # Both ink and paper, in stripes: not one blank square.
        assert (image > 200).mean() > 0.15 and (image < 55).mean() > 0.15, image
    # Stripes across the edge's direction: the vertical edge's picture changes along its rows, not its columns.
    vertical = wish.images[0].astype(float)
    assert np.abs(np.diff(vertical, axis=1)).mean() > 3 * np.abs(np.diff(vertical, axis=0)).mean()
