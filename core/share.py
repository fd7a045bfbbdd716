"""Share by link: a Train page setup (dataset, architecture, every hyperparameter) as URL query parameters.

As TensorFlow Playground does, the Train page keeps its address in step with its settings, so that a teacher
can send the exact setup to the class:

    /train?dataset=mnist_sample&arch=cnn&filters=32&dropout=0.3&epochs=3&batch_size=128&learning_rate=0.003...

    from core import share
    query = share.setup_to_query("mnist_sample", "cnn", hyperparameters)      # {"dataset": ..., "arch": ...}
    setup = share.setup_from_query(query)                                       # back, checked value by value

Every value from a link is checked with its hyperparameter's own limits (`Hyperparameter.validate`): one that
is unknown, malformed or out of range is left out and named in `setup.problems`, and the default stays.
A link never makes the page fail. No Streamlit here: the page reads and writes `st.query_params`.
"""

import dataclasses
import urllib.parse

from core import architectures, datasets
from core.text import markdown_escape

DATASET_PARAMETER = "dataset"
ARCHITECTURE_PARAMETER = "arch"
# Not a training setting: the presenter mode of the screen that opens the link (pages/_presenter.py).
PRESENTER_PARAMETER = "presenter"
TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


@dataclasses.dataclass(frozen=True)
class SharedSetup:
    """What a link asks for: each part None (or left out of `hyperparameters`) when the link lacks it or it
    was refused; `problems` says in words what was ignored."""

    dataset: str | None
    architecture: str | None
    hyperparameters: dict
    problems: tuple[str, ...]


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # Eight significant digits: enough for any setting, short enough to read ("0.3", not
        # "0.30000000000000004" from a slider's steps).
        return f"{value:.8g}"
    return str(value)


def setup_to_query(dataset: str, architecture: str, hyperparameters: dict) -> dict[str, str]:
    """The query parameters of a setup: dataset, architecture, then the hyperparameters that differ from the
    architecture's defaults, in the page's order.

    A link that opens gives every setting it leaves out its default (the Train page's `apply_shared_link`), so
    the setup is the same; and a short link makes a QR code of fewer, larger squares, which a phone at the back
    of the room can read off a projector (the default `cnn` setup: version 5 instead of 11, with presenter mode).
    """
    query = {DATASET_PARAMETER: dataset, ARCHITECTURE_PARAMETER: architecture}
    for spec in architectures.get_architecture(architecture).hyperparameters:
        if spec.name in hyperparameters and _text(hyperparameters[spec.name]) != _text(spec.default):
            query[spec.name] = _text(hyperparameters[spec.name])
    return query


def share_url(page_url: str | None, query: dict[str, str]) -> str:
    """The page's address with the setup's query (the path alone, "/train?...", when the address is unknown)."""
    base = (page_url or "/train").split("?", 1)[0]
    return f"{base}?{urllib.parse.urlencode(query)}"


def _first(value) -> str:
    # Streamlit gives the last value of a repeated parameter; a plain dict of lists may come from elsewhere.
    if isinstance(value, (list, tuple)):
        return str(value[-1]) if value else ""
    return str(value)


def _parse(spec: architectures.Hyperparameter, text: str):
    if spec.kind is bool and spec.choices is None:
        word = text.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError(f"{spec.title} must be true or false; got {text!r}.")
    return spec.validate(text.strip() if spec.choices is None else text)


def setup_from_query(query, *, fallback_architecture: str = architectures.DEFAULT_ARCHITECTURE) -> SharedSetup:
    """The setup a link asks for, each value checked; the architecture named in the link decides which
    hyperparameters it may set (`fallback_architecture` when the link names none or an unknown one)."""
    query = {str(key): _first(value) for key, value in dict(query).items()}
    query.pop(PRESENTER_PARAMETER, None)
    problems = []
    dataset = query.pop(DATASET_PARAMETER, None)
    if dataset is not None and dataset not in datasets.DATASETS:
        problems.append(f"dataset={dataset!r}: there is no such dataset (choose one of "
                        f"{', '.join(datasets.DATASETS)}).")
        dataset = None
    architecture = query.pop(ARCHITECTURE_PARAMETER, None)
    if architecture is not None and architecture not in architectures.ARCHITECTURES:
        problems.append(f"arch={architecture!r}: there is no such architecture (choose one of "
                        f"{', '.join(architectures.ARCHITECTURES)}).")
        architecture = None
    specs = {spec.name: spec for spec in
             architectures.get_architecture(architecture or fallback_architecture).hyperparameters}
    hyperparameters = {}
    for name, text in query.items():
        spec = specs.get(name)
        if spec is None:
            problems.append(f"{name}={text!r}: "
                            f"{architecture or fallback_architecture} has no such setting.")
            continue
        try:
            hyperparameters[name] = _parse(spec, text)
        except ValueError as error:
            problems.append(f"{name}={text!r}: {error}")
    return SharedSetup(dataset, architecture, hyperparameters, tuple(problems))


def presenter_from_query(query) -> bool:
    """Whether a link asks for presenter mode (`presenter=on`, or any word `setup_from_query` reads as true)."""
    value = dict(query).get(PRESENTER_PARAMETER)
    return value is not None and _first(value).strip().lower() in TRUE_WORDS + ("on",)


def problems_message(problems) -> str:
    """One warning for the page (Markdown): which parts of the link were ignored, and that the defaults stand
    instead. Each problem quotes what the link said, so each is escaped whole: a link cannot put an image or
    a link of its own on the page."""
    listed = "\n".join(f"- {markdown_escape(problem)}" for problem in problems)
    return (f"This link asked for settings the app cannot use, so they were ignored and their defaults kept:\n"
            f"{listed}")


# --- links the class can open ------------------------------------------------------------------------------------

BASE_URL_VARIABLE = "NEURAL_CANVAS_BASE_URL"
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0", "")


def network_address() -> str | None:
    """This computer's address on its network (the one students' machines reach), or None when it has none.

    A UDP socket "connected" to an outside address sends nothing; it only makes the system pick the interface
    it would use, whose address is the one to give the class.
    """
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.254.254.254", 1))
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def _checked_base_url(base_url: str) -> urllib.parse.SplitResult:
    parts = urllib.parse.urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{BASE_URL_VARIABLE} must be an address such as http://192.168.1.20:8501 or "
                         f"https://canvas.school.example; got {base_url!r}.")
    return parts


@dataclasses.dataclass(frozen=True)
class ClassLink:
    """A link for the class: `url`, and `reachable` False when it names this computer only (no network)."""

    url: str
    reachable: bool
    note: str


def page_route(path: str, app_path: str = "") -> str:
    """The app's own path of a page ("/train") from the path the browser shows, which starts with Streamlit's
    `server.baseUrlPath` (`app_path`, "canvas") when the app is served under one ("/canvas/train")."""
    path = path or "/"
    prefix = "/" + app_path.strip("/") if app_path.strip("/") else ""
    if prefix and (path == prefix or path.startswith(prefix + "/")):
        path = path[len(prefix):] or "/"
    return path


def class_link(page_url: str | None, query: dict[str, str], *, base_url: str | None = None, app_path: str = "",
               route: str | None = None, find_address=network_address) -> ClassLink:
    """The link students open: the page's path and `query` on the address they can reach.

    In order: `base_url` (or the NEURAL_CANVAS_BASE_URL variable) when the teacher set one (a school's
    proxy, a public name: the address of the app's home, "https://school.example/canvas" for an app served
    under a path); the page's own address when it is not this computer's loopback; else the same port on this
    computer's network address (`find_address`). A link that stays on localhost says so in `note`.

    With a base address, the link is the base, then Streamlit's `server.baseUrlPath` (`app_path`) when the base is
    a host alone, then the page's `route` ("/train"; by default the page's path less `app_path`). The path the
    browser shows is not used there: behind a proxy it already holds the proxy's own path, which the base holds
    too ("/canvas/canvas/train").
    """
    import os

    base_url = base_url if base_url is not None else os.environ.get(BASE_URL_VARIABLE) or None
    page = urllib.parse.urlsplit(page_url or "/train")
    path = page.path or "/train"
    encoded = urllib.parse.urlencode(query)
    if base_url:
        base = _checked_base_url(base_url)
        prefix = base.path.rstrip("/")
        # A base of the host alone gets the app's path; a base with a path is the app's home as it is (a proxy
        # may serve it under another path than the app's own: /ml/ for the app's /canvas/).
        app = "/" + app_path.strip("/") if app_path.strip("/") and not prefix else ""
        route = route if route is not None else page_route(path, app_path)
        url = urllib.parse.urlunsplit((base.scheme, base.netloc, prefix + app + route, encoded, ""))
        return ClassLink(url, True, f"The address set in {BASE_URL_VARIABLE}.")
    if page.hostname and page.hostname not in _LOOPBACK_HOSTS:
        return ClassLink(urllib.parse.urlunsplit((page.scheme or "http", page.netloc, path, encoded, "")), True,
                         "The address this page was opened with.")
    address = find_address()
    port = f":{page.port}" if page.port else ""
    if address:
        return ClassLink(urllib.parse.urlunsplit((page.scheme or "http", f"{address}{port}", path, encoded, "")),
                         True, "This computer's address on the network; students must be on the same network.")
    host = page.netloc or "localhost"
    return ClassLink(urllib.parse.urlunsplit((page.scheme or "http", host, path, encoded, "")), False,
                     f"This computer has no network address, so the link opens on this computer only. Set "
                     f"{BASE_URL_VARIABLE} to the address students can reach.")


def qr_code_png(text: str, *, scale: int = 8) -> bytes:
    """A QR code of `text` as PNG bytes (dark modules on white), big enough to scan from a projector.

    A PNG rather than an SVG: the page shows it as an image, and Streamlit's HTML element strips inline SVG.
    """
    import io

    import segno

    if not text:
        raise ValueError("A QR code needs some text to encode; got an empty string.")
    buffer = io.BytesIO()
    # Four modules of white around it: the quiet zone the QR standard asks for, so that any phone finds its edge.
    segno.make(text, error="m").save(buffer, kind="png", scale=scale, border=4, dark="#111827", light="#ffffff")
    return buffer.getvalue()
