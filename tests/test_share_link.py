"""Links the class can open (core.share.class_link) and their QR code."""

import pytest

from core import share

QUERY = {"dataset": "mnist_sample", "arch": "cnn"}


def test_a_localhost_page_gives_the_network_address_with_its_port():
    link = share.class_link("http://localhost:8501/train?old=1", QUERY, base_url="",
                            find_address=lambda: "192.168.1.20")
    assert link.url == "http://192.168.1.20:8501/train?dataset=mnist_sample&arch=cnn"
    assert link.reachable


def test_a_page_opened_by_its_network_name_keeps_it():
    link = share.class_link("http://canvas-pc:8501/train", QUERY, base_url="", find_address=lambda: "10.0.0.5")
    assert link.url.startswith("http://canvas-pc:8501/train?")


def test_the_configured_base_url_wins_and_keeps_its_path():
    link = share.class_link("http://localhost:8501/train", QUERY, base_url="https://school.example/canvas/",
                            find_address=lambda: "10.0.0.5")
    assert link.url == "https://school.example/canvas/train?dataset=mnist_sample&arch=cnn"


@pytest.mark.parametrize("app_path", ["canvas", "/canvas/", "canvas/"])
def test_an_app_served_under_a_path_names_it_once(app_path):
    """`--server.baseUrlPath canvas` behind https://school.example/canvas/: the page's address already starts with
    the path, and the teacher's base address ends with it."""
    for base_url in ("https://school.example/canvas", "https://school.example/canvas/"):
        link = share.class_link("http://127.0.0.1:8501/canvas/train?x=1", QUERY, base_url=base_url,
                                app_path=app_path, find_address=lambda: None)
        assert link.url == "https://school.example/canvas/train?dataset=mnist_sample&arch=cnn"
    # A base address of the host alone (as the README showed for an app at the root) gets the app's path.
    link = share.class_link("http://127.0.0.1:8501/canvas/train", QUERY, base_url="https://school.example",
                            app_path=app_path, find_address=lambda: None)
    assert link.url == "https://school.example/canvas/train?dataset=mnist_sample&arch=cnn"
    # Without a base address the page's own path is kept, the app's path with it.
    link = share.class_link("http://localhost:8680/canvas/train", QUERY, base_url="", app_path=app_path,
                            find_address=lambda: "192.168.1.20")
    assert link.url == "http://192.168.1.20:8680/canvas/train?dataset=mnist_sample&arch=cnn"


@pytest.mark.parametrize(("path", "app_path", "route"), [
    ("/canvas/train", "canvas", "/train"), ("/canvas", "canvas", "/"), ("/canvas/", "canvas", "/"),
    ("/canvasx/train", "canvas", "/canvasx/train"), ("/train", "", "/train"), ("/a/b/train", "a/b", "/train"),
    ("", "", "/"),
])
def test_a_page_route_drops_only_the_app_path(path, app_path, route):
    assert share.page_route(path, app_path) == route


def test_the_variable_is_read_when_no_base_url_is_given(monkeypatch):
    monkeypatch.setenv(share.BASE_URL_VARIABLE, "http://10.1.2.3:9000")
    assert share.class_link("http://localhost:8501/train", QUERY).url.startswith("http://10.1.2.3:9000/train?")


@pytest.mark.parametrize("bad", ["javascript:alert(1)", "school.example", "ftp://x/"])
def test_a_base_url_that_is_no_web_address_is_refused(bad):
    with pytest.raises(ValueError, match="NEURAL_CANVAS_BASE_URL must be an address"):
        share.class_link("http://localhost:8501/train", QUERY, base_url=bad)


def test_without_a_network_the_link_says_it_opens_here_only():
    link = share.class_link("http://localhost:8501/train", QUERY, base_url="", find_address=lambda: None)
    assert not link.reachable
    assert link.url.startswith("http://localhost:8501/train?")
    assert "this computer only" in link.note


def test_network_address_is_none_or_not_loopback():
    address = share.network_address()
    assert address is None or not address.startswith("127.")


def test_the_qr_code_png_holds_the_links_qr_matrix():
    import io

    import numpy as np
    import segno
    from PIL import Image

    url = "http://192.168.1.20:8501/train?dataset=mnist_sample"
    picture = np.asarray(Image.open(io.BytesIO(share.qr_code_png(url, scale=8))).convert("L"))
    matrix = np.asarray(segno.make(url, error="m").matrix, dtype=bool)
    side = (len(matrix) + 8) * 8  # four modules of white border on each side (the standard's quiet zone)
    assert picture.shape == (side, side) and side >= 200
    assert (picture[:32] > 128).all() and (picture[:, -32:] > 128).all()
    modules = picture[32:-32:8, 32:-32:8] < 128  # the top-left pixel of each module, dark or light
    assert np.array_equal(modules, matrix)
    with pytest.raises(ValueError, match="needs some text"):
        share.qr_code_png("")


@pytest.mark.parametrize("value, expected", [("on", True), ("1", True), ("true", True), ("off", False),
                                             ("nonsense", False), (None, False)])
def test_presenter_mode_is_read_from_the_link(value, expected):
    query = {} if value is None else {share.PRESENTER_PARAMETER: value}
    assert share.presenter_from_query(query) is expected


def test_the_presenter_value_is_not_a_training_setting():
    setup = share.setup_from_query({"arch": "cnn", "presenter": "on", "epochs": "3"})
    assert setup.problems == () and setup.hyperparameters == {"epochs": 3}


def test_behind_a_proxy_that_strips_its_path_the_link_names_it_once():
    """nginx `location /strip/ { proxy_pass http://127.0.0.1:8501/; }`: the app is at its root, the browser shows
    /strip/train, and the teacher's base address is .../strip. The page's own route decides, not the path the
    browser shows (nor an encoded one of it)."""
    for page_url in ("https://school.example/strip/train", "https://school.example/strip/%74rain",
                     "http://localhost:8501/train"):
        link = share.class_link(page_url, QUERY, base_url="https://school.example/strip", route="/train",
                                find_address=lambda: None)
        assert link.url == "https://school.example/strip/train?dataset=mnist_sample&arch=cnn", page_url


def test_a_proxy_that_serves_the_app_under_another_path_is_trusted():
    """nginx `location /ml/ { proxy_pass http://127.0.0.1:8501/canvas/; }` with `--server.baseUrlPath canvas`: the
    app's home is https://school.example/ml, and the link must not add the app's own path to it."""
    link = share.class_link("https://school.example/ml/train", QUERY, base_url="https://school.example/ml",
                            app_path="canvas", route="/train", find_address=lambda: None)
    assert link.url == "https://school.example/ml/train?dataset=mnist_sample&arch=cnn"
