"""The class set: digits the students drew and labelled, kept on disk as a test set any model can be scored on.

Students draw on the Draw page and save each drawing with the digit they meant. Those drawings are the class's
own handwriting, which no model has seen: scoring a model on them shows how well it copes with real pupils
rather than with MNIST's test set. A teacher keeps the collection from one class to the next by exporting it
(a zip of PNGs, or a `.npz`) and importing it again.

On disk, one 28x28 greyscale PNG per drawing, in a folder named after its label:

    drawings/7/20261123-181548-123456-1a2b3c4d.png

The file name is the drawing's id: the time it was saved (UTC, to the microsecond, so that names sort
oldest first) and eight random hexadecimal digits, so that two students saving in the same instant never pick
the same name. There is no index file to keep in step: the folders are the index. Every file is written to a
temporary name in its folder and then renamed into place (`os.replace`), so a reader never sees half a PNG and
two sessions saving at once never corrupt anything. The folder is `NEURAL_CANVAS_DRAWINGS` if set, else
`drawings/` beside the code.

Who saved a drawing is kept beside it, as an empty file named after the drawing in a folder named after the
owner (the student's owner id, core/students.py): `drawings/.owners/<owner>/<drawing id>`. It is written before
the drawing appears, and listing one owner's drawings costs one folder listing. A student removes only their own
drawings (`remove(drawing_id, owner=...)`); removing anyone's, or all (`clear`), is the teacher's (see
core/classroom.py).

    from core import class_set

    drawings = class_set.ClassSet()
    drawing_id = drawings.add(image, label=7)          # image: (28, 28) uint8, white digit on black
    images, labels = drawings.images_and_labels()      # uint8 (N, 28, 28), int64 (N,), oldest first
    archive = drawings.export_zip()                    # bytes: 7/<id>.png ..., labels.csv, README.txt
    added = class_set.ClassSet("/tmp/next-year").import_file(archive, "class-drawings.zip")

Exports:

- **zip**: `<label>/<id>.png` for every drawing, a `labels.csv` (`file,label,created`) and a short README.
- **npz**: the arrays `x_test` (uint8, N x 28 x 28) and `y_test` (int64, N), the same keys and layout as
  Keras's `mnist.npz` test split, so `np.load("class-drawings.npz")["x_test"]` works as it does for MNIST.

Imports are untrusted files. `import_file` reads both formats (recognised by their content, not their name),
and also a zip with a top folder around the digit folders, a flat zip of PNGs with a `labels.csv`, and a
`.npz` with the keys `images`/`labels` or `x`/`y`. It refuses, with a message that names the problem and what
to do: anything that is neither a zip nor a npz, more than `MAX_DRAWINGS` drawings or `MAX_IMPORT_BYTES`
uncompressed bytes (zip bombs), entries whose path leaves the archive (`../`, absolute paths), images that
are not 28x28, labels outside 0-9 and arrays stored as pickled Python objects. A 28x28 colour image is turned
to grey (transparent pixels count as the black background); pixels are otherwise kept as they are, so a dark
digit on a light background stays so and shows as such in the gallery. Drawings already in the collection
(the same pixels and label) are skipped, so importing the same file twice adds nothing.
"""

import csv
import dataclasses
import datetime
import hashlib
import io
import os
import re
import secrets
import tempfile
import warnings
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

DRAWINGS_DIR_VARIABLE = "NEURAL_CANVAS_DRAWINGS"
IMAGE_SIZE = 28
NUM_CLASSES = 10
CLASS_NAMES = tuple(str(digit) for digit in range(NUM_CLASSES))

# Limits that keep a hostile or mistaken file from filling the memory or the disk. A class saves a few hundred
# drawings a year; ten thousand is the size of MNIST's test set. A 28x28 drawing is under 1 kB as a PNG and
# 784 bytes in a npz, so 64 MB of uncompressed content is far more than ten thousand honest drawings need.
MAX_DRAWINGS = 10_000
MAX_IMPORT_BYTES = 64 * 1024 * 1024
MAX_ARCHIVE_ENTRIES = 2 * MAX_DRAWINGS + 100
# A labels.csv of MAX_DRAWINGS rows, as this page exports it, takes about 0.7 MB; a longer line than this is
# not a file name and a label. These bound every labels.csv of one import together.
MAX_LABELS_BYTES = 2 * 1024 * 1024
MAX_LABELS_ROWS = MAX_DRAWINGS + 100
MAX_LABELS_LINE = 1024

_ID = re.compile(r"^(?P<time>[0-9]{8}-[0-9]{6}-[0-9]{6})-[0-9a-f]{8}$")
_OWNER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
OWNERS_FOLDER = ".owners"
_ID_TIME_FORMAT = "%Y%m%d-%H%M%S-%f"
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")
_IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
# Files that zip tools on the teacher's computer add, which are not drawings and not worth a complaint.
_IGNORED_PARTS = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")
_NPZ_KEY_PAIRS = (("x_test", "y_test"), ("images", "labels"), ("x", "y"))


class DrawingsFolderError(ValueError):
    """The drawings folder cannot be read or written: the message says why and what to do.

    A ValueError, so that a page which shows the message of a ValueError (a bad drawing, a bad file) shows
    this one too rather than a traceback.
    """


@dataclasses.dataclass(frozen=True)
class Drawing:
    """One saved drawing: its id, its true label and when it was saved (UTC)."""

    id: str
    label: int
    created: datetime.datetime


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The whole collection read at one moment: entries, images and labels in the same order (oldest first).

    `unreadable` lists the ids of files that could not be read as 28x28 drawings (left out of the arrays).
    """

    drawings: tuple[Drawing, ...]
    images: np.ndarray
    labels: np.ndarray
    unreadable: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.drawings)


def default_drawings_dir() -> Path:
    configured = os.environ.get(DRAWINGS_DIR_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parent.parent / "drawings"


def is_drawing_id(value) -> bool:
    """Whether `value` is an id this module made (and so a safe file name: no slashes, no dots)."""
    return isinstance(value, str) and _ID.match(value) is not None


def created_time(drawing_id: str) -> datetime.datetime:
    """When the drawing with this id was saved, read from the id itself (UTC)."""
    match = _ID.match(drawing_id)
    if match is None:
        raise ValueError(f"{drawing_id!r} is not a drawing id.")
    moment = datetime.datetime.strptime(match["time"], _ID_TIME_FORMAT)
    return moment.replace(tzinfo=datetime.timezone.utc)


# How many drawings one student may bring in by import (the teacher imports a whole class's set): without it,
# one student could fill the class's set, up to MAX_DRAWINGS, and nobody else could save a drawing.
STUDENT_IMPORT_LIMIT = 50


def check_drawing(image, label) -> tuple[np.ndarray, int]:
    """The drawing and its label as the class set stores them, or a ValueError that says what is wrong."""
    if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
        raise ValueError(f"The label must be a whole number from 0 to 9 (the digit drawn), received {label!r}.")
    label = int(label)
    if not 0 <= label < NUM_CLASSES:
        raise ValueError(f"The label must be a digit from 0 to 9, received {label}.")
    if not isinstance(image, np.ndarray):
        raise ValueError(f"The drawing must be a NumPy array, received {type(image).__name__}.")
    if image.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(
            f"A drawing must be a 28x28 greyscale image (shape (28, 28)), received shape {image.shape}. "
            "Save the preprocessed image the model reads (core.preprocess), not the canvas."
        )
    if image.dtype != np.uint8:
        raise ValueError(
            f"A drawing must be uint8 (0-255, white digit on black), received dtype {image.dtype}. "
            "Convert with `np.clip(image, 0, 255).astype(np.uint8)`."
        )
    return np.ascontiguousarray(image), label


def _check_owner(owner) -> None:
    # Owner ids name a folder: only the plain tokens the app makes are accepted.
    if owner and not (isinstance(owner, str) and _OWNER.match(owner)):
        raise ValueError(f"An owner id is letters, digits, '-' and '_' (64 at most); got {str(owner)[:80]!r}.")


def new_id() -> str:
    now = datetime.datetime.now(datetime.timezone.utc)
    return f"{now.strftime(_ID_TIME_FORMAT)}-{secrets.token_hex(4)}"


def _fingerprint(image: np.ndarray, label: int) -> bytes:
    """What makes two drawings the same: the same pixels and the same label."""
    return hashlib.sha256(bytes([label]) + np.ascontiguousarray(image, dtype=np.uint8).tobytes()).digest()


def _png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image, mode="L").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


class ClassSet:
    """The class's labelled drawings in one folder. Safe for many sessions at once (see the module docstring).

    Args:
        folder: Where the drawings live; None means `NEURAL_CANVAS_DRAWINGS`, else `drawings/` beside the code.
            The folder is created on the first save, not before.
    """

    def __init__(self, folder: str | Path | None = None):
        self.root = Path(folder).expanduser() if folder is not None else default_drawings_dir()

    # --- reading -------------------------------------------------------------------------------------------

    def _label_folder(self, label: int) -> Path:
        return self.root / CLASS_NAMES[label]

    def _path(self, drawing: Drawing) -> Path:
        return self._label_folder(drawing.label) / f"{drawing.id}.png"

    def drawings(self) -> list[Drawing]:
        """Every drawing, oldest first (newest last). Reads only the folder listings, never the images."""
        found = []
        for label in range(NUM_CLASSES):
            try:
                with os.scandir(self._label_folder(label)) as entries:
                    names = [entry.name for entry in entries if entry.is_file()]
            except FileNotFoundError:
                continue
            except OSError as error:
                raise DrawingsFolderError(self._cannot_read(error)) from None
            for name in names:
                stem, suffix = os.path.splitext(name)
                if suffix == ".png" and is_drawing_id(stem):
                    found.append(Drawing(stem, label, created_time(stem)))
        return sorted(found, key=lambda drawing: drawing.id)

    def __len__(self) -> int:
        return len(self.drawings())

    def counts(self) -> np.ndarray:
        """How many drawings each digit has, ten integers in label order."""
        labels = [drawing.label for drawing in self.drawings()]
        return np.bincount(np.asarray(labels, dtype=np.int64), minlength=NUM_CLASSES)

    def version(self) -> str:
        """A short fingerprint of which drawings there are: it changes whenever one is added or removed, and
        costs only a folder listing (a page keys its caches on it)."""
        digest = hashlib.sha256()
        for drawing in self.drawings():
            digest.update(f"{drawing.label}/{drawing.id};".encode())
        return digest.hexdigest()[:16]

    def image(self, drawing_id: str) -> np.ndarray:
        """The 28x28 uint8 image of one drawing. Raises KeyError if there is no such drawing."""
        drawing = self._find(drawing_id)
        return _read_stored_png(self._path(drawing))

    def snapshot(self) -> Snapshot:
        """Every drawing with its image, read at once, oldest first.

        A file another session removes while this one reads is left out; a file that cannot be read as a
        28x28 drawing (damaged, or put there by hand) is left out and listed in `unreadable`.
        """
        drawings, images, unreadable = [], [], []
        for drawing in self.drawings():
            try:
                images.append(_read_stored_png(self._path(drawing)))
            except FileNotFoundError:
                continue
            except (OSError, ValueError):
                unreadable.append(drawing.id)
                continue
            drawings.append(drawing)
        stacked = (np.stack(images) if images else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8))
        labels = np.asarray([drawing.label for drawing in drawings], dtype=np.int64)
        return Snapshot(tuple(drawings), stacked, labels, tuple(unreadable))

    def images_and_labels(self) -> tuple[np.ndarray, np.ndarray]:
        """All drawings as arrays, oldest first: uint8 images (N, 28, 28) and int64 labels (N,)."""
        snapshot = self.snapshot()
        return snapshot.images, snapshot.labels

    def _find(self, drawing_id: str) -> Drawing:
        if not is_drawing_id(drawing_id):
            # Ids come from this module; anything else (a path, "..") names no drawing and touches no file.
            raise KeyError(f"{drawing_id!r} is not a drawing id.")
        for label in range(NUM_CLASSES):
            drawing = Drawing(drawing_id, label, created_time(drawing_id))
            if self._path(drawing).is_file():
                return drawing
        raise KeyError(f"There is no drawing {drawing_id}: it may have been removed already.")

    def has(self, drawing_id: str) -> bool:
        """Whether the drawing is still in the collection (not removed since it was saved)."""
        try:
            self._find(drawing_id)
        except KeyError:
            return False
        return True

    def saved_by(self, owner: str, image: np.ndarray) -> list[Drawing]:
        """The drawings `owner` saved with exactly these pixels (28x28 uint8), oldest first: whether a student
        already saved the drawing in front of them (a reloaded page brings their last drawing back). Reads only
        that student's drawings; a file that cannot be read counts as another drawing."""
        image = np.asarray(image)
        found = []
        for drawing_id in sorted(self.owned_by(owner)):
            try:
                drawing = self._find(drawing_id)
                same = np.array_equal(_read_stored_png(self._path(drawing)), image)
            except (KeyError, OSError, ValueError):
                continue
            if same:
                found.append(drawing)
        return found

    # --- writing -------------------------------------------------------------------------------------------

    def add(self, image: np.ndarray, label: int, owner: str = "") -> str:
        """Saves one drawing with its true label and returns its id.

        Args:
            image: The 28x28 uint8 image the model reads (white digit on black, as core.preprocess makes it).
            label: The digit the student meant, 0 to 9.
            owner: The owner id of the student who saves it: only that student (or the teacher) may remove
                it. Empty: nobody's, removed by the teacher only.

        Raises:
            ValueError: for a wrong shape, dtype or label, or when the collection already holds MAX_DRAWINGS.
            DrawingsFolderError (a ValueError): when the drawings folder cannot be written.
        """
        image, label = check_drawing(image, label)
        _check_owner(owner)
        if len(self) >= MAX_DRAWINGS:
            raise ValueError(
                f"The class set is full ({MAX_DRAWINGS:,} drawings). Export it on the Class drawings page, then "
                "remove some drawings before saving more."
            )
        return self._write(image, label, owner)

    def _owner_folder(self, owner: str) -> Path:
        return self.root / OWNERS_FOLDER / owner

    def owned_by(self, owner: str) -> set[str]:
        """The ids of the drawings saved by `owner` (a student's owner id); empty for an unknown owner."""
        if not owner or not _OWNER.match(str(owner)):
            return set()
        try:
            names = os.listdir(self._owner_folder(owner))
        except OSError:
            return set()
        return {name for name in names if is_drawing_id(name)}

    def _write(self, image: np.ndarray, label: int, owner: str = "") -> str:
        drawing_id = new_id()
        folder = self._label_folder(label)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if owner:
                # The owner first: a drawing never appears without it.
                self._owner_folder(owner).mkdir(parents=True, exist_ok=True)
                (self._owner_folder(owner) / drawing_id).touch()
            # A temporary name starting with a dot is never listed as a drawing; the rename makes the drawing
            # appear whole, at once, to every other session.
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".saving-", suffix=".png")
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(_png_bytes(image))
                os.replace(temporary, folder / f"{drawing_id}.png")
            except BaseException:
                try:
                    os.unlink(temporary)
                except FileNotFoundError:
                    pass
                raise
        except OSError as error:
            raise DrawingsFolderError(
                f"The drawings folder {self.root} cannot be written ({error.strerror or error}). Check that it "
                f"is a folder the app may write to and that the disk is not full (or set {DRAWINGS_DIR_VARIABLE} "
                "to another folder)."
            ) from None
        return drawing_id

    def add_many(self, images: np.ndarray, labels: np.ndarray, *, skip_duplicates: bool = True,
                 owner: str = "", owner_limit: int | None = None) -> int:
        """Saves several drawings at once and returns how many were added.

        With `skip_duplicates`, a drawing with the same pixels and label as one already saved (or as an
        earlier one in `images`) is not saved again. With `owner_limit`, `owner` may hold at most that many
        drawings afterwards (a student's import; the teacher's has none). Everything is checked before anything
        is written.
        """
        images = np.asarray(images)
        labels = np.asarray(labels).reshape(-1)
        if images.ndim != 3 or len(images) != len(labels):
            raise ValueError(
                f"Expected images of shape (N, 28, 28) and one label each; received images of shape "
                f"{images.shape} and {len(labels)} labels."
            )
        _check_owner(owner)
        checked = [check_drawing(image, label) for image, label in zip(images, labels.tolist())]
        seen = set()
        if skip_duplicates:
            existing = self.snapshot()
            seen = {_fingerprint(image, int(label)) for image, label in zip(existing.images, existing.labels)}
        to_write = []
        for image, label in checked:
            fingerprint = _fingerprint(image, label)
            if skip_duplicates and fingerprint in seen:
                continue
            seen.add(fingerprint)
            to_write.append((image, label))
        if owner_limit is not None and len(self.owned_by(owner)) + len(to_write) > owner_limit:
            raise ValueError(
                f"A student may add at most {owner_limit:,} drawings of their own by import, and this file holds "
                f"{len(to_write):,} new ones: ask the teacher to import it (the teacher key unlocks larger imports)."
            )
        total = len(self) + len(to_write)
        if total > MAX_DRAWINGS:
            raise ValueError(
                f"Adding {len(to_write):,} drawings would make {total:,}, more than the {MAX_DRAWINGS:,} a class "
                "set holds. Remove some drawings first, or import a smaller file."
            )
        for image, label in to_write:
            self._write(image, label, owner)
        return len(to_write)

    def remove(self, drawing_id: str, owner: str | None = None) -> bool:
        """Deletes one drawing for good. Returns False if it was already gone (another session removed it).

        With `owner` (a student's session id), only a drawing that session saved is removed; None removes any
        (the teacher's right: the page passes None only after checking the teacher key).

        Raises ValueError for a string that is not a drawing id (it never touches a file outside the folder),
        and PermissionError for a drawing that `owner` did not save.
        """
        if not is_drawing_id(drawing_id):
            raise ValueError(f"{drawing_id!r} is not a drawing id, so nothing was removed.")
        if owner is not None and drawing_id not in self.owned_by(owner):
            raise PermissionError("Only the student who saved this drawing, or the teacher, can "
                                  "remove it.")
        try:
            drawing = self._find(drawing_id)
        except KeyError:
            return False
        try:
            self._path(drawing).unlink()
        except FileNotFoundError:
            return False
        except OSError as error:
            raise DrawingsFolderError(
                f"The drawing could not be removed from {self.root} ({error.strerror or error}). Check that the "
                "app may write to that folder."
            ) from None
        for folder in self._owners_of(drawing_id):
            try:
                (folder / drawing_id).unlink()
            except OSError:
                pass  # the drawing is gone; a stray owner file names nothing
        return True

    def _owners_of(self, drawing_id: str) -> list[Path]:
        try:
            with os.scandir(self.root / OWNERS_FOLDER) as entries:
                folders = [Path(entry.path) for entry in entries if entry.is_dir()]
        except OSError:
            return []
        return [folder for folder in folders if (folder / drawing_id).exists()]

    def clear(self) -> int:
        """Deletes every drawing for good and returns how many were removed (to start a new class's set). The
        teacher's action: the page offers it only after checking the teacher key."""
        return sum(self.remove(drawing.id) for drawing in self.drawings())

    def _cannot_read(self, error: OSError) -> str:
        return (f"The drawings folder {self.root} cannot be read ({error.strerror or error}). Check that it "
                f"exists and that the app may read it (or set {DRAWINGS_DIR_VARIABLE} to another folder).")

    # --- export --------------------------------------------------------------------------------------------

    def export_zip(self) -> bytes:
        """A zip of the collection: `<label>/<id>.png` for each drawing, `labels.csv` and a README.txt."""
        snapshot = self.snapshot()
        buffer = io.BytesIO()
        table = io.StringIO()
        writer = csv.writer(table, lineterminator="\n")
        writer.writerow(["file", "label", "created"])
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(_zip_info("README.txt", None), _README)
            for drawing, image in zip(snapshot.drawings, snapshot.images):
                name = f"{drawing.label}/{drawing.id}.png"
                archive.writestr(_zip_info(name, drawing.created), _png_bytes(image))
                writer.writerow([name, drawing.label, drawing.created.isoformat(timespec="seconds")])
            archive.writestr(_zip_info("labels.csv", None), table.getvalue())
        return buffer.getvalue()

    def export_npz(self) -> bytes:
        """The collection as a compressed npz with `x_test` (uint8, N x 28 x 28) and `y_test` (int64, N), the
        keys and layout of Keras's mnist.npz, oldest drawing first."""
        images, labels = self.images_and_labels()
        buffer = io.BytesIO()
        np.savez_compressed(buffer, x_test=images, y_test=labels)
        return buffer.getvalue()

    # --- import --------------------------------------------------------------------------------------------

    def import_file(self, data: bytes, filename: str = "the file", owner: str = "") -> int:
        """Adds the drawings of an exported zip or npz and returns how many were added.

        Drawings already in the collection are skipped (so the count can be smaller than the file's). Raises
        ValueError, with a message naming the problem, for a file that is not a valid export; nothing is
        added then.
        """
        images, labels = read_file(data, filename)
        return self.add_many(images, labels, skip_duplicates=True, owner=owner)


_README = """Class drawings exported from Neural Canvas.

Each digit's drawings are in the folder named after it (7/ holds the sevens): 28x28 greyscale PNG images,
a white digit on a black background, as in MNIST. labels.csv lists every file with its label and the time
it was saved (UTC). Import this zip on the Class drawings page of Neural Canvas to get them back.
"""


def _zip_info(name: str, moment: datetime.datetime | None) -> zipfile.ZipInfo:
    """A zip entry with a fixed date (the drawing's own), so the same collection always exports the same bytes."""
    moment = moment or datetime.datetime(2020, 1, 1)
    info = zipfile.ZipInfo(name, date_time=moment.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


# --- reading untrusted files -------------------------------------------------------------------------------


def read_file(data: bytes, filename: str = "the file") -> tuple[np.ndarray, np.ndarray]:
    """The drawings of an exported zip of PNGs or npz, checked: uint8 images (N, 28, 28), int64 labels (N,).

    The format is recognised from the content (both are zip archives: a npz holds `.npy` arrays). Raises
    ValueError with a message for a teacher when the file is not one of the two, is too big, or holds
    something that is not a 28x28 digit drawing with a label from 0 to 9.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"Expected the bytes of a file, received {type(data).__name__}.")
    data = bytes(data)
    shown_name = _shown(filename)
    if not data:
        raise ValueError(f"{shown_name} is empty. Choose a .zip or .npz file exported from this page.")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ValueError(
            f"{shown_name} is neither a .zip of drawings nor a .npz file, so it cannot be imported. Choose a file "
            "exported from the Class drawings page (a zip of PNGs or a .npz)."
        )
    # zipfile reads the whole list of entries before anything can count them: a small file listing hundreds of
    # thousands of empty entries would cost the server seconds and memory. Each entry of that list starts with
    # this signature, so counting it first refuses such a file at once (stray copies inside compressed data
    # can only make the count larger, never let a file through).
    if data.count(b"PK\x01\x02") > 2 * MAX_ARCHIVE_ENTRIES:
        raise ValueError(
            f"{shown_name} lists far more files than a class set of {MAX_DRAWINGS:,} drawings holds: it was refused."
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = _checked_members(archive, shown_name)
            if any(member.filename.endswith(".npy") for member in members):
                return _read_npz(archive, members, shown_name)
            return _read_image_zip(archive, members, shown_name)
    except zipfile.BadZipFile as error:
        raise ValueError(f"{shown_name} is a damaged zip archive ({error}). Export it again and retry.") from None
    except (zipfile.LargeZipFile, NotImplementedError, RuntimeError, zlib.error, csv.Error, EOFError,
            MemoryError) as error:
        # Encrypted entries, unknown compression methods, zip64 oddities: not something this page exported.
        raise ValueError(f"{shown_name} cannot be read ({error}). Export it again from this page and retry.") \
            from None


def _shown(filename) -> str:
    """The file's name as a message quotes it: one line, short."""
    text = "".join(char for char in str(filename or "the file") if char.isprintable())[:80]
    return text if text == "the file" else f"“{text}”"


def _checked_members(archive: zipfile.ZipFile, shown_name: str) -> list[zipfile.ZipInfo]:
    """The archive's file entries, after refusing unsafe paths and archives too big to unpack."""
    members = archive.infolist()
    if len(members) > MAX_ARCHIVE_ENTRIES:
        raise ValueError(
            f"{shown_name} holds {len(members):,} files, far more than a class set of at most "
            f"{MAX_DRAWINGS:,} drawings: it was refused. Import a smaller file."
        )
    total = 0
    files = []
    for member in members:
        name = member.filename
        path = PurePosixPath(name.replace("\\", "/"))
        if (name.startswith(("/", "\\")) or ".." in path.parts or (path.parts and ":" in path.parts[0])
                or "\x00" in name):
            raise ValueError(
                f"{shown_name} contains an entry with an unsafe path ({name[:80]!r}) that points outside the "
                "archive: it was refused. Import a file exported from this page."
            )
        if member.is_dir():
            continue
        total += member.file_size
        if total > MAX_IMPORT_BYTES:
            raise ValueError(
                f"{shown_name} unpacks to more than {MAX_IMPORT_BYTES // 2**20} MB, far more than a class set of "
                f"{MAX_DRAWINGS:,} drawings needs (it may be a zip bomb): it was refused."
            )
        files.append(member)
    return files


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> bytes:
    # zipfile never returns more than the size the entry declares, and those sizes were capped above; the
    # bounded read is a second guard.
    with archive.open(member) as file:
        return file.read(MAX_IMPORT_BYTES + 1)[:MAX_IMPORT_BYTES]


def _is_ignored(path: PurePosixPath) -> bool:
    return any(part in _IGNORED_PARTS or part.startswith("._") for part in path.parts)


def _read_image_zip(archive, members, shown_name) -> tuple[np.ndarray, np.ndarray]:
    images_members = []
    csv_labels: dict[str, int] = {}
    budget = _LabelsBudget()
    for member in members:
        path = PurePosixPath(member.filename.replace("\\", "/"))
        if _is_ignored(path):
            continue
        if path.name.lower() == "labels.csv":
            csv_labels.update(_read_labels_csv(archive, member, path, shown_name, budget))
        elif path.suffix.lower() in _IMAGE_SUFFIXES:
            images_members.append((member, path))
    if not images_members:
        raise ValueError(
            f"{shown_name} holds no drawings: a class-drawings zip has PNG images in folders named 0 to 9 "
            "(7/ for the sevens). Export one from this page to see the layout."
        )
    if len(images_members) > MAX_DRAWINGS:
        raise ValueError(
            f"{shown_name} holds {len(images_members):,} images, more than the {MAX_DRAWINGS:,} a class set "
            "holds. Import a smaller file."
        )
    images, labels = [], []
    for member, path in images_members:
        label = _label_of(path, csv_labels, shown_name)
        image = _decode_image(_read_member(archive, member), f"{path} in {shown_name}")
        images.append(image)
        labels.append(label)
    return np.stack(images), np.asarray(labels, dtype=np.int64)


@dataclasses.dataclass
class _LabelsBudget:
    """What the labels.csv files of one import may still use, together."""

    bytes_left: int = MAX_LABELS_BYTES
    rows_left: int = MAX_LABELS_ROWS


def _read_labels_csv(archive, member, path: PurePosixPath, shown_name: str,
                     budget: _LabelsBudget) -> dict[str, int]:
    """File name (relative to the csv's folder, and bare) -> label, from a `file,label` table.

    Read as a stream, a line at a time, with limits on its size, its rows and the length of a line: a small
    zip can hold a labels.csv of hundreds of megabytes, and reading that whole (then splitting it) cost the
    page 45 s and 1.1 GB for a 32 MB file. Past a limit it is refused at once.
    """
    too_big = ValueError(
        f"{path} in {shown_name} is larger than a class set's labels table ({MAX_LABELS_BYTES // 2**20} MB, "
        f"{MAX_DRAWINGS:,} rows at most): it was refused. Export the drawings again from this page.")
    if member.file_size > budget.bytes_left:
        raise too_big
    def lines():
        # The csv reader pulls one line at a time from here; each is counted against the limits first.
        with archive.open(member) as raw:
            stream = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
            number = 0
            while True:
                try:
                    line = stream.readline(MAX_LABELS_LINE + 1)
                except UnicodeDecodeError:
                    raise ValueError(f"{path} in {shown_name} is not a UTF-8 text table: fix or remove it.") \
                        from None
                if not line:
                    return
                number += 1
                budget.bytes_left -= len(line)
                budget.rows_left -= 1
                if budget.bytes_left < 0 or budget.rows_left < 0:
                    raise too_big
                if len(line) > MAX_LABELS_LINE:
                    raise ValueError(f"Line {number} of {path} in {shown_name} is longer than {MAX_LABELS_LINE} "
                                     "characters: a labels table has a file name and a label on each line.")
                yield line

    found = {}
    header = None
    for row in csv.reader(lines()):
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            if "file" not in header or "label" not in header:
                raise ValueError(f"{path} in {shown_name} needs a header row with the columns file and label.")
            file_column, label_column = header.index("file"), header.index("label")
            continue
        if len(row) <= max(file_column, label_column):
            raise ValueError(f"Row {len(found) + 2} of {path} in {shown_name} has too few columns.")
        label = _parse_label(row[label_column], f"row {len(found) + 2} of {path} in {shown_name}")
        found[str(PurePosixPath(path.parent, row[file_column].strip().replace("\\", "/")))] = label
    return found


def _parse_label(text: str, where: str) -> int:
    text = str(text).strip()
    if not re.fullmatch(r"[0-9]+", text) or not 0 <= int(text) < NUM_CLASSES:
        raise ValueError(f"The label of {where} is {text[:20]!r}: labels must be digits from 0 to 9.")
    return int(text)


def _label_of(path: PurePosixPath, csv_labels: dict[str, int], shown_name: str) -> int:
    """The label of an image: the digit folder it is in, else its line in labels.csv."""
    from_folder = None
    if len(path.parts) >= 2:
        folder = path.parent.name
        if re.fullmatch(r"[0-9]+", folder):
            from_folder = _parse_label(folder, f"{path} in {shown_name}")
    from_csv = csv_labels.get(str(path))
    if from_folder is not None and from_csv is not None and from_folder != from_csv:
        raise ValueError(
            f"{path} in {shown_name} is in the folder {from_folder} but labels.csv says {from_csv}: fix one of "
            "them and import again."
        )
    label = from_folder if from_folder is not None else from_csv
    if label is None:
        raise ValueError(
            f"{path} in {shown_name} has no label: put each image in a folder named after its digit (0 to 9), "
            "or list it in a labels.csv with the columns file and label."
        )
    return label


def _decode_image(data: bytes, where: str) -> np.ndarray:
    """A 28x28 uint8 greyscale image from image bytes; ValueError naming `where` otherwise."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
            raise ValueError(f"{where} is not an image that can be read: export the drawings again.") from None
        with image:
            # The size comes from the header: a file that claims a huge picture is refused before decoding.
            if image.size != (IMAGE_SIZE, IMAGE_SIZE):
                width, height = image.size
                raise ValueError(
                    f"{where} is {width}x{height} pixels; class drawings are 28x28 greyscale images, as in MNIST. "
                    "Draw it on the Draw page instead, or resize it to 28x28 first."
                )
            try:
                image.seek(0)
                image.load()
                grey = _to_grey(image)
            except (OSError, SyntaxError, ValueError, EOFError):
                raise ValueError(f"{where} is damaged or cut short: export the drawings again.") from None
    return grey


def _to_grey(image: Image.Image) -> np.ndarray:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels count as the black background.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, rgba)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float64)
        high = float(values.max())
        scaled = values * (255.0 / high) if high > 0 else values
        return np.clip(np.round(scaled), 0, 255).astype(np.uint8)
    return np.asarray(image.convert("L"), dtype=np.uint8)


def _read_npz(archive, members, shown_name) -> tuple[np.ndarray, np.ndarray]:
    arrays = {PurePosixPath(member.filename).name[:-len(".npy")]: member
              for member in members if member.filename.endswith(".npy")}
    for images_key, labels_key in _NPZ_KEY_PAIRS:
        if images_key in arrays and labels_key in arrays:
            break
    else:
        keys = ", ".join(sorted(arrays)[:8]) or "none"
        raise ValueError(
            f"{shown_name} has no drawings under the names this app reads (x_test and y_test, or images and "
            f"labels); its arrays are: {keys}. Export the drawings again from this page."
        )
    images = _load_npy(archive, arrays[images_key], images_key, shown_name)
    labels = _load_npy(archive, arrays[labels_key], labels_key, shown_name)
    return _checked_arrays(images, labels, shown_name)


def _load_npy(archive, member, key, shown_name) -> np.ndarray:
    data = _read_member(archive, member)
    _check_npy_header(data, key, shown_name)
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as error:
        if "pickle" in str(error).lower():
            raise ValueError(
                f"The array {key} in {shown_name} holds Python objects, which could run code when opened: it was "
                "refused. Save plain numbers (uint8 images, integer labels) with np.savez."
            ) from None
        raise ValueError(f"The array {key} in {shown_name} cannot be read ({error}).") from None
    except (OSError, EOFError) as error:
        raise ValueError(f"The array {key} in {shown_name} is damaged ({error}).") from None


def _check_npy_header(data: bytes, key: str, shown_name: str) -> None:
    """Refuses an array whose header promises more numbers than its file holds, before numpy allocates them.

    np.load allocates the whole array the header describes before reading any of it: a 200-byte file can ask
    for terabytes.
    """
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(stream)
    except Exception as error:  # noqa: BLE001 - any header numpy cannot parse is a damaged file here
        raise ValueError(f"The array {key} in {shown_name} is damaged ({error}).") from None
    count = 1
    for side in shape:
        count *= int(side)
    if dtype.hasobject:
        return  # np.load refuses it below, with the message about Python objects
    if count * dtype.itemsize > len(data):
        raise ValueError(
            f"The array {key} in {shown_name} says it holds {count:,} numbers but the file is far too small for "
            "them (a damaged or forged file): it was refused."
        )


def _checked_arrays(images: np.ndarray, labels: np.ndarray, shown_name: str) -> tuple[np.ndarray, np.ndarray]:
    if images.ndim == 4 and images.shape[-1] in (1, 3, 4):
        images = _colour_stack_to_grey(images)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(
            f"The images in {shown_name} have the shape {images.shape}; class drawings are 28x28 greyscale "
            "images, an array of shape (N, 28, 28)."
        )
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(
            f"{shown_name} has {len(images):,} images but labels of shape {labels.shape}: it needs one label "
            "per image."
        )
    if len(images) > MAX_DRAWINGS:
        raise ValueError(
            f"{shown_name} holds {len(images):,} images, more than the {MAX_DRAWINGS:,} a class set holds. "
            "Import a smaller file."
        )
    if len(images) == 0:
        raise ValueError(f"{shown_name} holds no drawings.")
    if not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(np.isfinite(labels)) \
                and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise ValueError(f"The labels in {shown_name} must be whole numbers from 0 to 9, not {labels.dtype}.")
    if labels.min() < 0 or labels.max() >= NUM_CLASSES:
        raise ValueError(
            f"The labels in {shown_name} go from {labels.min()} to {labels.max()}; class drawings are digits, "
            "labelled 0 to 9."
        )
    return _as_uint8(images, shown_name), labels.astype(np.int64)


def _colour_stack_to_grey(images: np.ndarray) -> np.ndarray:
    if images.shape[-1] == 1:
        return images[..., 0]
    rgb = images[..., :3].astype(np.float64)
    # ITU-R 601 luma, as Pillow's convert("L").
    return rgb @ np.array([0.299, 0.587, 0.114])


def _as_uint8(images: np.ndarray, shown_name: str) -> np.ndarray:
    """uint8 pixels 0-255: integer images within that range as they are, floats from 0-1 or 0-255 scaled."""
    if images.dtype == np.uint8:
        return np.ascontiguousarray(images)
    if np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating):
        values = images.astype(np.float64)
        if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 255:
            raise ValueError(
                f"The images in {shown_name} have pixel values outside 0-255: save them as uint8 (0 black, 255 "
                "white)."
            )
        if np.issubdtype(images.dtype, np.floating) and values.max() <= 1.0:
            values = values * 255.0
        return np.round(values).astype(np.uint8)
    raise ValueError(f"The images in {shown_name} are of type {images.dtype}; save them as uint8 (0-255).")


def _read_stored_png(path: Path) -> np.ndarray:
    """A drawing this module saved. Raises ValueError if the file is not a 28x28 image."""
    data = path.read_bytes()
    return _decode_image(data, path.name)
