"""Tests of core.class_set: saving, listing and removing the class's drawings, and exporting and importing them
safely (the imported files are untrusted)."""

import csv
import io
import os
import threading
import zipfile

import numpy as np
import pytest
from PIL import Image

from core import class_set


def digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`count` random 28x28 uint8 images (all different) with labels cycling through 0-9."""
    generator = np.random.default_rng(seed)
    images = generator.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    return images, np.arange(count, dtype=np.int64) % 10


def filled(images, labels, folder) -> class_set.ClassSet:
    drawings = class_set.ClassSet(folder)
    for image, label in zip(images, labels):
        drawings.add(image, int(label))
    return drawings


def png(image: np.ndarray, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    picture = Image.fromarray(image)
    if mode != picture.mode:
        picture = picture.convert(mode)
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def npz_of(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


# --- saving and reading ------------------------------------------------------------------------------------


def test_add_saves_a_png_in_the_folder_of_its_label_and_reads_back_the_same_pixels(tmp_path):
    images, labels = digits(3)
    drawings = filled(images, labels, tmp_path)
    assert len(drawings) == 3
    read_images, read_labels = drawings.images_and_labels()
    assert read_images.dtype == np.uint8 and read_images.shape == (3, 28, 28)
    assert read_labels.dtype == np.int64
    np.testing.assert_array_equal(read_images, images)  # oldest first, pixel for pixel
    np.testing.assert_array_equal(read_labels, labels)
    first = drawings.drawings()[0]
    assert (tmp_path / "0" / f"{first.id}.png").is_file()
    assert first.label == 0 and first.created.tzinfo is not None


def test_the_default_folder_is_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(class_set.DRAWINGS_DIR_VARIABLE, str(tmp_path / "class"))
    drawing_id = class_set.ClassSet().add(np.zeros((28, 28), np.uint8), 4)
    assert (tmp_path / "class" / "4" / f"{drawing_id}.png").is_file()


def test_an_empty_or_missing_folder_is_an_empty_collection(tmp_path):
    drawings = class_set.ClassSet(tmp_path / "not yet")
    images, labels = drawings.images_and_labels()
    assert len(drawings) == 0 and images.shape == (0, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (0,) and labels.dtype == np.int64
    assert drawings.counts().tolist() == [0] * 10


@pytest.mark.parametrize(("image", "label", "message"), [
    (np.zeros((28, 28, 1), np.uint8), 3, r"28x28 greyscale.*\(28, 28, 1\)"),
    (np.zeros((280, 280), np.uint8), 3, "28x28"),
    (np.zeros((28, 28), np.float32), 3, "uint8"),
    ([[0] * 28] * 28, 3, "NumPy array"),
    (np.zeros((28, 28), np.uint8), 10, "0 to 9"),
    (np.zeros((28, 28), np.uint8), -1, "0 to 9"),
    (np.zeros((28, 28), np.uint8), 3.0, "whole number"),
    (np.zeros((28, 28), np.uint8), True, "whole number"),
    (np.zeros((28, 28), np.uint8), "7", "whole number"),
])
def test_add_refuses_a_bad_drawing_or_label_with_a_clear_message(tmp_path, image, label, message):
    drawings = class_set.ClassSet(tmp_path)
    with pytest.raises(ValueError, match=message):
        drawings.add(image, label)
    assert len(drawings) == 0


def test_a_numpy_integer_label_is_accepted(tmp_path):
    drawings = class_set.ClassSet(tmp_path)
    drawings.add(np.zeros((28, 28), np.uint8), np.int64(9))
    assert drawings.counts()[9] == 1


def test_ids_are_unique_sortable_and_safe_file_names():
    ids = [class_set.new_id() for _ in range(200)]
    assert len(set(ids)) == 200
    assert all(class_set.is_drawing_id(value) for value in ids)
    assert not any("/" in value or ".." in value for value in ids)
    assert not class_set.is_drawing_id("../../etc/passwd")


def test_concurrent_saves_from_many_sessions_lose_nothing_and_leave_no_temporary_files(tmp_path):
    images, labels = digits(60, seed=3)
    drawings = class_set.ClassSet(tmp_path)

    def save(part):
        for index in part:
            class_set.ClassSet(tmp_path).add(images[index], int(labels[index]))

    threads = [threading.Thread(target=save, args=(range(start, 60, 6),)) for start in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snapshot = drawings.snapshot()
    assert len(snapshot) == 60 and snapshot.unreadable == ()
    saved = {image.tobytes() for image in snapshot.images}
    assert saved == {image.tobytes() for image in images}
    assert not [name for _, _, files in os.walk(tmp_path) for name in files if name.startswith(".")]


def test_a_half_written_temporary_file_is_never_listed(tmp_path):
    drawings = filled(*digits(2), tmp_path)
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / ".saving-abc.png").write_bytes(b"\x89PNG half")
    assert len(drawings) == 2 and drawings.counts()[3] == 0


def test_a_damaged_file_is_left_out_and_reported(tmp_path):
    drawings = filled(*digits(2), tmp_path)
    damaged_id = class_set.new_id()
    (tmp_path / "5").mkdir()
    (tmp_path / "5" / f"{damaged_id}.png").write_bytes(b"not a png")
    snapshot = drawings.snapshot()
    assert len(snapshot) == 2 and snapshot.unreadable == (damaged_id,)


def test_version_changes_when_a_drawing_is_added_or_removed(tmp_path):
    drawings = filled(*digits(2), tmp_path)
    before = drawings.version()
    drawing_id = drawings.add(np.zeros((28, 28), np.uint8), 1)
    after = drawings.version()
    drawings.remove(drawing_id)
    assert before != after and drawings.version() == before


# --- removing ------------------------------------------------------------------------------------------------


def test_remove_deletes_one_drawing_and_says_when_it_was_already_gone(tmp_path):
    images, labels = digits(3)
    drawings = filled(images, labels, tmp_path)
    middle = drawings.drawings()[1]
    assert drawings.remove(middle.id) is True
    assert middle.id not in [drawing.id for drawing in drawings.drawings()]
    np.testing.assert_array_equal(drawings.images_and_labels()[0], images[[0, 2]])
    assert drawings.remove(middle.id) is False


@pytest.mark.parametrize("bad_id", ["../outside", "7/../../outside", "/etc/passwd", "", "a" * 30])
def test_remove_refuses_anything_but_an_id_and_touches_no_other_file(tmp_path, bad_id):
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"keep me")
    drawings = class_set.ClassSet(tmp_path / "drawings")
    with pytest.raises(ValueError, match="not a drawing id"):
        drawings.remove(bad_id)
    assert outside.read_bytes() == b"keep me"


def test_clear_removes_every_drawing(tmp_path):
    drawings = filled(*digits(4), tmp_path)
    assert drawings.clear() == 4 and len(drawings) == 0


def test_add_refuses_when_the_collection_is_full(tmp_path, monkeypatch):
    monkeypatch.setattr(class_set, "MAX_DRAWINGS", 2)
    drawings = filled(*digits(2), tmp_path)
    with pytest.raises(ValueError, match="full"):
        drawings.add(np.zeros((28, 28), np.uint8), 1)


def test_a_file_where_the_folder_should_be_gives_a_message_not_a_traceback(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(ValueError, match="drawings folder .*file cannot be read"):
        class_set.ClassSet(blocker).add(np.zeros((28, 28), np.uint8), 1)


def test_a_full_disk_gives_a_message_and_leaves_no_file(tmp_path, monkeypatch):
    def no_space(*arguments, **keywords):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(class_set.tempfile, "mkstemp", no_space)
    drawings = class_set.ClassSet(tmp_path)
    with pytest.raises(class_set.DrawingsFolderError, match="cannot be written.*No space left.*disk is not full"):
        drawings.add(np.zeros((28, 28), np.uint8), 1)
    assert len(drawings) == 0


# --- export ---------------------------------------------------------------------------------------------------


def test_the_zip_export_has_a_png_per_drawing_in_its_digit_folder_and_a_labels_table(tmp_path):
    images, labels = digits(3)
    drawings = filled(images, labels, tmp_path)
    with zipfile.ZipFile(io.BytesIO(drawings.export_zip())) as archive:
        names = archive.namelist()
        ids = [drawing.id for drawing in drawings.drawings()]
        assert {f"{label}/{drawing_id}.png" for label, drawing_id in zip(labels, ids)} <= set(names)
        assert "labels.csv" in names and "README.txt" in names
        rows = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
        assert [(row["file"], int(row["label"])) for row in rows] == \
               [(f"{label}/{drawing_id}.png", label) for label, drawing_id in zip(labels, ids)]
        with Image.open(io.BytesIO(archive.read(f"2/{ids[2]}.png"))) as picture:
            assert picture.mode == "L" and picture.size == (28, 28)
            np.testing.assert_array_equal(np.asarray(picture), images[2])


def test_the_zip_export_is_the_same_bytes_for_the_same_collection(tmp_path):
    drawings = filled(*digits(3), tmp_path)
    assert drawings.export_zip() == drawings.export_zip()


def test_the_npz_export_has_the_keys_and_layout_of_keras_mnist(tmp_path):
    images, labels = digits(4)
    drawings = filled(images, labels, tmp_path)
    with np.load(io.BytesIO(drawings.export_npz()), allow_pickle=False) as arrays:
        assert sorted(arrays.files) == ["x_test", "y_test"]
        assert arrays["x_test"].dtype == np.uint8 and arrays["y_test"].dtype == np.int64
        np.testing.assert_array_equal(arrays["x_test"], images)
        np.testing.assert_array_equal(arrays["y_test"], labels)


@pytest.mark.parametrize("kind", ["zip", "npz"])
def test_export_then_import_gives_the_same_images_and_labels(tmp_path, kind):
    images, labels = digits(25, seed=7)
    drawings = filled(images, labels, tmp_path / "this year")
    exported = drawings.export_zip() if kind == "zip" else drawings.export_npz()
    next_year = class_set.ClassSet(tmp_path / "next year")
    assert next_year.import_file(exported, f"class.{kind}") == 25
    read_images, read_labels = next_year.images_and_labels()
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)


def test_importing_the_same_file_twice_adds_nothing_the_second_time(tmp_path):
    drawings = filled(*digits(5), tmp_path / "a")
    other = class_set.ClassSet(tmp_path / "b")
    assert other.import_file(drawings.export_zip(), "a.zip") == 5
    assert other.import_file(drawings.export_npz(), "a.npz") == 0
    assert drawings.import_file(drawings.export_zip(), "a.zip") == 0
    assert len(other) == 5 and len(drawings) == 5


# --- import of other layouts ------------------------------------------------------------------------------------


def test_a_zip_with_a_top_folder_around_the_digit_folders_is_read(tmp_path):
    images, _ = digits(2)
    archive = zip_of({"class-drawings/": b"", "class-drawings/3/a.png": png(images[0]),
                      "class-drawings/8/b.png": png(images[1]), "__MACOSX/._a.png": b"junk"})
    drawings = class_set.ClassSet(tmp_path)
    assert drawings.import_file(archive, "folder.zip") == 2
    assert sorted(drawings.images_and_labels()[1].tolist()) == [3, 8]


def test_a_flat_zip_with_a_labels_table_is_read(tmp_path):
    images, _ = digits(2)
    archive = zip_of({"one.png": png(images[0]), "two.png": png(images[1]),
                      "labels.csv": b"file,label\none.png,1\ntwo.png,2\n"})
    drawings = class_set.ClassSet(tmp_path)
    assert drawings.import_file(archive, "flat.zip") == 2
    assert sorted(drawings.images_and_labels()[1].tolist()) == [1, 2]


def test_a_28x28_colour_image_is_converted_to_grey(tmp_path):
    grey = np.zeros((28, 28), np.uint8)
    grey[8:20, 12:16] = 255
    # A white digit on a transparent background whose hidden colour is white: transparent counts as black.
    transparent = np.full((28, 28, 4), 255, np.uint8)
    transparent[..., 3] = grey
    archive = zip_of({"1/colour.png": png(grey, mode="RGB"), "2/transparent.png": png(transparent, mode="RGBA")})
    drawings = class_set.ClassSet(tmp_path)
    assert drawings.import_file(archive, "colour.zip") == 2
    images, labels = drawings.images_and_labels()
    np.testing.assert_array_equal(images[labels == 1][0], grey)
    np.testing.assert_array_equal(images[labels == 2][0], grey)


def test_an_npz_with_images_and_labels_keys_and_a_channel_axis_is_read(tmp_path):
    images, labels = digits(3)
    data = npz_of(images=images[..., None], labels=labels.astype(np.uint8).reshape(-1, 1))
    drawings = class_set.ClassSet(tmp_path)
    assert drawings.import_file(data, "notebook.npz") == 3
    np.testing.assert_array_equal(drawings.images_and_labels()[0], images)


def test_float_images_from_0_to_1_are_scaled_to_0_to_255(tmp_path):
    images = np.zeros((1, 28, 28), np.float32)
    images[0, 10, 10] = 1.0
    drawings = class_set.ClassSet(tmp_path)
    drawings.import_file(npz_of(x_test=images, y_test=np.array([4])), "floats.npz")
    assert drawings.images_and_labels()[0][0, 10, 10] == 255


# --- refused imports -------------------------------------------------------------------------------------------


def refused(tmp_path, data: bytes, filename: str, message: str) -> None:
    drawings = filled(*digits(1), tmp_path)
    with pytest.raises(ValueError, match=message):
        drawings.import_file(data, filename)
    assert len(drawings) == 1  # nothing was added


def test_a_file_that_is_neither_zip_nor_npz_is_refused(tmp_path):
    refused(tmp_path, b"these are my notes", "notes.zip", "neither a .zip of drawings nor a .npz")


def test_an_empty_file_is_refused(tmp_path):
    refused(tmp_path, b"", "empty.npz", "empty")


def test_a_zip_bomb_is_refused_before_it_is_unpacked(tmp_path):
    bomb = zip_of({"0/big.png": bytes(class_set.MAX_IMPORT_BYTES + 1)})
    assert len(bomb) < 200_000
    refused(tmp_path, bomb, "bomb.zip", "zip bomb")


def test_a_zip_with_too_many_files_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(class_set, "MAX_ARCHIVE_ENTRIES", 5)
    image = png(np.zeros((28, 28), np.uint8))
    refused(tmp_path, zip_of({f"1/{index}.png": image for index in range(6)}), "many.zip", "6 files")


def test_more_drawings_than_a_class_set_holds_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(class_set, "MAX_DRAWINGS", 3)
    images, labels = digits(4, seed=2)
    refused(tmp_path, npz_of(x_test=images, y_test=labels), "big.npz", "more than the 3")


def test_an_import_that_would_overfill_the_collection_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(class_set, "MAX_DRAWINGS", 3)
    images, labels = digits(3, seed=2)
    refused(tmp_path, npz_of(x_test=images, y_test=labels), "three.npz", "would make 4")


@pytest.mark.parametrize("entry", ["../7/escape.png", "/7/absolute.png", "7/../../escape.png", "C:/7/drive.png"])
def test_an_entry_that_points_outside_the_archive_is_refused(tmp_path, entry):
    refused(tmp_path, zip_of({entry: png(np.zeros((28, 28), np.uint8))}), "evil.zip", "unsafe path")


def test_an_image_that_is_not_28x28_is_refused_naming_the_file(tmp_path):
    archive = zip_of({"1/good.png": png(np.zeros((28, 28), np.uint8)),
                      "1/photo.png": png(np.zeros((64, 48), np.uint8))})
    refused(tmp_path, archive, "mixed.zip", r"1/photo.png in “mixed.zip” is 48x64 pixels")


def test_a_file_that_claims_to_be_a_png_but_is_not_is_refused(tmp_path):
    refused(tmp_path, zip_of({"1/fake.png": b"not really a png"}), "fake.zip", "1/fake.png.*not an image")


def test_a_label_folder_outside_0_to_9_is_refused(tmp_path):
    refused(tmp_path, zip_of({"12/a.png": png(np.zeros((28, 28), np.uint8))}), "labels.zip", "digits from 0 to 9")


def test_an_image_without_a_label_is_refused(tmp_path):
    refused(tmp_path, zip_of({"loose.png": png(np.zeros((28, 28), np.uint8))}), "loose.zip", "has no label")


def test_a_folder_and_labels_table_that_disagree_are_refused(tmp_path):
    archive = zip_of({"3/a.png": png(np.zeros((28, 28), np.uint8)), "labels.csv": b"file,label\n3/a.png,5\n"})
    refused(tmp_path, archive, "disagree.zip", "in the folder 3 but labels.csv says 5")


def test_a_zip_without_drawings_is_refused(tmp_path):
    refused(tmp_path, zip_of({"notes.txt": b"hello"}), "notes.zip", "holds no drawings")


def test_npz_labels_outside_0_to_9_are_refused(tmp_path):
    images, _ = digits(2)
    refused(tmp_path, npz_of(x_test=images, y_test=np.array([3, 11])), "labels.npz", "from 3 to 11")


def test_npz_images_of_the_wrong_shape_are_refused(tmp_path):
    refused(tmp_path, npz_of(x_test=np.zeros((2, 32, 32), np.uint8), y_test=np.array([1, 2])), "cifar.npz",
            r"\(2, 32, 32\)")


def test_npz_with_one_label_too_few_is_refused(tmp_path):
    images, _ = digits(3)
    refused(tmp_path, npz_of(x_test=images, y_test=np.array([1, 2])), "short.npz", "one label per image")


def test_npz_holding_pickled_python_objects_is_refused(tmp_path):
    images, _ = digits(2)
    labels = np.array([1, {"run": "code"}], dtype=object)
    refused(tmp_path, npz_of(x_test=images, y_test=labels), "pickle.npz", "Python objects")


def test_npz_without_known_keys_says_which_keys_it_has(tmp_path):
    refused(tmp_path, npz_of(weights=np.zeros(3)), "weights.npz", "its arrays are: weights")


def _npz_with(members: dict) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_an_npy_header_promising_a_huge_array_is_refused_before_numpy_allocates_it(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                 "shape": (10**7, 10**7)})
    forged = header.getvalue()
    assert forged.startswith(b"\x93NUMPY") and len(forged) < 200
    labels = io.BytesIO()
    np.save(labels, np.zeros(1, dtype=np.int64))
    data = _npz_with({"x_test.npy": forged, "y_test.npy": labels.getvalue()})
    with pytest.raises(ValueError, match="far too small"):
        class_set.ClassSet(tmp_path / "drawings").import_file(data, "forged.npz")


def test_a_zip_with_corrupt_compressed_data_is_refused_with_a_message(tmp_path):
    image = io.BytesIO()
    np.save(image, np.zeros((1, 28, 28), dtype=np.uint8))
    data = bytearray(_npz_with({"x_test.npy": image.getvalue() * 20, "y_test.npy": image.getvalue()}))
    start = data.index(b"x_test.npy") + len("x_test.npy")
    for offset in range(start + 5, start + 40):
        data[offset] ^= 0xFF
    with pytest.raises(ValueError):
        class_set.ClassSet(tmp_path / "drawings").import_file(bytes(data), "corrupt.npz")


def test_a_zip_listing_a_flood_of_entries_is_refused_before_it_is_parsed(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for number in range(2 * class_set.MAX_ARCHIVE_ENTRIES + 1):
            archive.writestr(f"{number}", b"")
    with pytest.raises(ValueError, match="far more files"):
        class_set.ClassSet(tmp_path / "drawings").import_file(buffer.getvalue(), "flood.zip")


# --- labels.csv is read as a stream with limits ------------------------------------------------------------


def _zip_with_labels(labels_csv: bytes) -> bytes:
    import io
    import zipfile

    from PIL import Image

    buffer = io.BytesIO()
    png = io.BytesIO()
    Image.new("L", (28, 28)).save(png, format="PNG")
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.png", png.getvalue())
        archive.writestr("labels.csv", labels_csv)
    return buffer.getvalue()


@pytest.mark.parametrize("labels_csv, message", [
    # The review's file: 32 MB of rows, about 32 KB zipped; it cost 45 s and 1.1 GB before.
    (b"file,label\n" + b"a.png,1\n" * (4 * 2**20), "larger than a class set's labels table"),
    (b"file,label\n" + b"x" * (1024 * 1024) + b",1\n", "longer than 1024 characters"),
    (b"file,label\n" + b"a,1\n" * (class_set.MAX_LABELS_ROWS + 1), "larger than a class set's labels table"),
], ids=["32-MB", "one-huge-line", "too-many-rows"])
def test_a_huge_labels_csv_is_refused_early_with_little_memory(labels_csv, message):
    import time
    import tracemalloc

    data = _zip_with_labels(labels_csv)
    assert len(data) < 1.1 * 2**20
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        class_set.read_file(data, "class.zip")
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 2 and peak < 8 * 2**20, (seconds, peak)


def test_a_labels_csv_as_exported_is_read_in_full(tmp_path):
    drawings = class_set.ClassSet(tmp_path / "a")
    for label in range(10):
        image = np.zeros((28, 28), np.uint8)
        image[label:label + 5, 3:20] = 255
        drawings.add(image, label)
    images, labels = class_set.read_file(drawings.export_zip(), "export.zip")
    assert sorted(labels.tolist()) == list(range(10))


def test_one_student_cannot_fill_the_class_set_by_import_the_teacher_can(tmp_path):
    drawings = class_set.ClassSet(tmp_path)
    rng = np.random.default_rng(0)
    flood = rng.integers(0, 256, (class_set.STUDENT_IMPORT_LIMIT + 1, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, len(flood))
    with pytest.raises(ValueError, match="ask the teacher to import it"):
        drawings.add_many(flood, labels, owner="mallory01", owner_limit=class_set.STUDENT_IMPORT_LIMIT)
    assert len(drawings) == 0  # nothing written
    assert drawings.add_many(flood[:10], labels[:10], owner="mallory01",
                             owner_limit=class_set.STUDENT_IMPORT_LIMIT) == 10
    # The teacher's import has no such limit; another student still saves a drawing.
    assert drawings.add_many(flood, labels, owner="teacher01") == len(flood) - 10
    drawings.add(flood[0] // 2, 3, owner="alice0001")
    assert len(drawings) == len(flood) + 1


def test_saved_by_finds_a_students_own_copies_of_a_drawing_only(tmp_path):
    images, _ = digits(2, seed=3)
    drawings = class_set.ClassSet(tmp_path / "drawings")
    first = drawings.add(images[0], 3, owner="student-a")
    drawings.add(images[1], 5, owner="student-a")
    drawings.add(images[0], 8, owner="student-b")
    [found] = drawings.saved_by("student-a", images[0])
    assert (found.id, found.label) == (first, 3)
    assert [drawing.label for drawing in drawings.saved_by("student-b", images[0])] == [8]
    assert drawings.saved_by("student-c", images[0]) == []
    assert drawings.saved_by("student-a", np.zeros((28, 28), np.uint8)) == []
    # An owner id that names no folder of its own finds nothing and reads nothing.
    assert drawings.saved_by("../student-a", images[0]) == []
    assert drawings.has(first) and not drawings.has("../../etc/passwd")
    drawings.remove(first, owner="student-a")
    assert drawings.saved_by("student-a", images[0]) == [] and not drawings.has(first)
