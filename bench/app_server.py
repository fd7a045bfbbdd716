"""The app as a separate process on a free local port, and the flags for Debian's Chromium to look at it.

The real-browser tests and the benchmark both need it:

    with app_server.running_app(runs_folder, log_path) as url:
        chromium = playwright.chromium.launch(executable_path=app_server.CHROMIUM, args=app_server.CHROMIUM_ARGS)
"""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from core import runs

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# No sandbox (we run as root), no GPU, and none of Chromium's own network traffic: this machine has no network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        return server.getsockname()[1]


def wait_for_health(url: str, process: subprocess.Popen, log_path: Path, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            pass
        if process.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"Streamlit did not start:\n{log_path.read_text()}")
        time.sleep(0.3)


@contextlib.contextmanager
def running_app(runs_folder: str | Path, log_path: str | Path):
    """Runs `streamlit run streamlit_app.py` with its runs in `runs_folder`, and yields its URL."""
    log_path = Path(log_path)
    port = free_port()
    environment = dict(os.environ, **{runs.RUNS_DIR_VARIABLE: str(runs_folder)})
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_health(url, process, log_path)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
