"""AppTest of the Class drawings page: the empty collection, scoring a model, the gallery, export and import."""

import numpy as np
import pytest
from streamlit.runtime import memory_media_file_storage

from conftest import open_page, shown
from core import class_set, datasets, evaluation, runs

PAGE = "pages/class_set.py"


def seed_drawings(count: int = 30, owner: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Saves the first `count` test digits of the MNIST sample as if students (the session `owner`) had drawn
    them."""
    sample = datasets.load("mnist_sample", download=False)
    images, labels = sample.x_test[:count], sample.y_test[:count]
    drawings = class_set.ClassSet()
    for image, label in zip(images, labels):
        drawings.add(np.ascontiguousarray(image), int(label), owner=owner)
    return np.asarray(images), np.asarray(labels, dtype=np.int64)


def texts(elements) -> str:
    return " ".join(shown(element.value) for element in elements)


def metric(at, label: str):
    [found] = [element for element in at.metric if element.label == label]
    return found.value


def button(at, label: str):
    [found] = [element for element in at.button if element.label == label]
    return found


@pytest.fixture
def served_files(monkeypatch):
    """Records the bytes of every file the page offers for download (AppTest keeps no media files)."""
    served = {}
    original = memory_media_file_storage.MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        if filename:
            served[filename.rsplit(".", 1)[-1]] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(memory_media_file_storage.MemoryMediaFileStorage, "load_and_get_id", record)
    return served


def test_an_empty_collection_says_how_to_add_drawings_and_disables_export():
    at = open_page(PAGE)
    assert "No class drawings yet" in texts(at.info)
    assert "Go to the Draw page" in [link.proto.label for link in at.get("page_link")]
    download_buttons = at.get("download_button")
    assert len(download_buttons) == 2 and all(element.disabled for element in download_buttons)
    assert len(at.get("file_uploader")) == 1  # a teacher can still bring last year's drawings
    assert not at.tabs


def test_the_accuracy_shown_is_core_evaluation_on_the_same_drawings(trained_run):
    images, labels = seed_drawings(30)
    at = open_page(PAGE)
    store = runs.RunStore()
    expected = evaluation.evaluate(store.load_model(trained_run), images, labels)
    assert metric(at, "Class drawings accuracy") == f"{expected.accuracy:.1%}"
    right = int((expected.predictions == labels).sum())
    assert metric(at, "Read right") == f"{right} of 30"
    assert metric(at, "Drawings") == "30"
    charts = [chart.key for chart in at.get("plotly_chart")]
    assert charts == ["class_set_confusion", "class_set_per_digit"]
    mistakes = len(labels) - right
    # Every mistake is shown with its true label and the prediction (the sample digits are easy: maybe none).
    captions = [element.value for element in at.markdown if "predicted" in element.value]
    assert len(captions) == min(mistakes, 24)
    if mistakes == 0:
        assert "No mistakes" in texts(at.success)


def test_every_model_is_scored_in_one_table(trained_run):
    seed_drawings(12)
    at = open_page(PAGE)
    button(at, "Score every model (1)").click().run()
    assert not at.exception
    [table] = at.dataframe
    # Percentages (one decimal on the page, as everywhere), readable names, and the likely range.
    assert table.value["Class drawings accuracy"].between(0, 100).all()
    assert list(table.value["Model"]) == ["test cnn"] and list(table.value["Architecture"]) == ["CNN"]
    assert table.value["Likely range"].str.fullmatch(r"\d+% to \d+%").all()


def test_without_a_digit_model_the_page_says_where_to_train_one():
    seed_drawings(3)
    at = open_page(PAGE)
    assert "No digit model yet" in texts(at.info)


def test_a_drawing_is_removed_only_after_a_confirmation():
    seed_drawings(3, owner="student-a")
    newest = class_set.ClassSet().drawings()[-1]
    at = open_page(PAGE, owner="student-a")
    at.button(key=f"class_set_remove_{newest.id}").click().run()
    assert len(class_set.ClassSet()) == 3  # asked first, nothing removed yet
    at.button(key=f"class_set_keep_{newest.id}").click().run()
    assert len(class_set.ClassSet()) == 3
    at.button(key=f"class_set_remove_{newest.id}").click().run()
    at.button(key=f"class_set_confirm_{newest.id}").click().run()
    assert not at.exception
    assert newest.id not in [drawing.id for drawing in class_set.ClassSet().drawings()]
    assert "The drawing was removed" in texts(at.success)
    assert metric(at, "Drawings") == "2"


def test_a_bad_file_shows_the_error_and_adds_nothing():
    seed_drawings(3)
    at = open_page(PAGE, teacher=True)
    at.file_uploader[0].upload("notes.zip", b"these are not drawings", "application/zip").run()
    assert not at.exception
    assert "Nothing was imported" in texts(at.error)
    assert "neither a .zip of drawings nor a .npz" in texts(at.error)
    assert len(class_set.ClassSet()) == 3


def test_an_exported_zip_imports_again_to_the_same_count(served_files, tmp_path, monkeypatch):
    images, labels = seed_drawings(12)
    open_page(PAGE)
    exported_zip, exported_npz = served_files["zip"], served_files["npz"]
    # Next year's class: an empty collection, into which the teacher imports this year's file.
    monkeypatch.setenv(class_set.DRAWINGS_DIR_VARIABLE, str(tmp_path / "next year"))
    at = open_page(PAGE, teacher=True)
    at.file_uploader[0].upload("class-drawings.zip", exported_zip, "application/zip").run()
    assert not at.exception
    assert "Added 12 drawings from class-drawings.zip." in texts(at.success)
    assert metric(at, "Drawings") == "12"
    read_images, read_labels = class_set.ClassSet().images_and_labels()
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)
    # The npz of the same drawings adds nothing more: every drawing is already there.
    at.file_uploader[0].upload("class-drawings.npz", exported_npz, "application/octet-stream").run()
    assert "Added 0 drawings" in texts(at.success) and "12 were already in the collection" in texts(at.success)
    assert len(class_set.ClassSet()) == 12


def gallery_images(at) -> int:
    return len(at.get("image"))


def test_the_gallery_shows_a_page_at_a_time_and_one_digit_on_request():
    _, labels = seed_drawings(40)
    at = open_page(PAGE)
    assert gallery_images(at) == 36
    at.number_input(key="class_set_gallery_page_None_2").set_value(2).run()
    assert gallery_images(at) == 4
    at.selectbox(key="class_set_gallery_digit").set_value(3).run()
    assert gallery_images(at) == int((labels == 3).sum())
    assert all(element.value.startswith("**3**") for element in at.markdown if " · " in element.value)


def test_every_drawing_is_removed_only_once_the_teacher_confirms():
    seed_drawings(4)
    at = open_page(PAGE, teacher=True)
    clear = at.button(key="class_set_clear")
    assert clear.disabled
    at.checkbox(key="class_set_clear_confirm").check().run()
    at.button(key="class_set_clear").click().run()
    assert not at.exception
    assert len(class_set.ClassSet()) == 0
    assert "Removed 4 drawings" in texts(at.success)
    assert "No class drawings yet" in texts(at.info)


def test_a_student_can_remove_only_the_drawings_of_their_own_session():
    seed_drawings(2, owner="student-a")
    seed_drawings(3, owner="student-b")
    mine = class_set.ClassSet().owned_by("student-a")
    at = open_page(PAGE, owner="student-a")
    removable = {button.key.removeprefix("class_set_remove_") for button in at.button
                 if button.key and button.key.startswith("class_set_remove_")}
    assert removable == mine
    assert not [button for button in at.button if button.key == "class_set_clear"]  # the teacher's alone


def test_the_teacher_can_remove_any_drawing():
    seed_drawings(2, owner="student-b")
    at = open_page(PAGE, teacher=True, owner="teacher-session")
    theirs = class_set.ClassSet().drawings()[-1]
    at.button(key=f"class_set_remove_{theirs.id}").click().run()
    at.button(key=f"class_set_confirm_{theirs.id}").click().run()
    assert not at.exception and len(class_set.ClassSet()) == 1
