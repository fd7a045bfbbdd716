"""Helpers shared by the job-engine tests: a poisoned model file, waiting for a job, a worker's pid."""

import io
import json
import time
import zipfile


def poisoned_model_bytes(tmp_path) -> bytes:
    """A 1-layer model whose activation names a Keras setter: loading it once changed Keras for everyone."""
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(10, activation="softmax")])
    path = tmp_path / "good.keras"
    model.save(path)
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(content)
                for layer in config["config"]["layers"]:
                    if layer["class_name"] == "Dense":
                        layer["config"]["activation"] = {"module": "keras.config", "class_name": "set_max_epochs",
                                                         "config": 1, "registered_name": None}
                content = json.dumps(config).encode()
            target.writestr(item, content)
    return out.getvalue()


def wait_for(queue, run_id, predicate, timeout=240, what="the job"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = queue.status(run_id)
        if status is not None and predicate(status):
            return status
        time.sleep(0.1)
    raise AssertionError(f"{what} {run_id} did not get there in {timeout} s: {queue.status(run_id)}")


def finished(queue, run_id, timeout=240):
    return wait_for(queue, run_id, lambda status: status.state == "finished", timeout, "finishing")


def has_epoch(queue, run_id, timeout=240):
    return wait_for(queue, run_id, lambda status: bool(status.epochs), timeout, "an epoch of")


def has_saved_epoch(store, run_id, timeout=120) -> None:
    """Waits until the run folder holds a model (the best epoch is saved just after its epoch event)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (store.root / run_id / "model.keras").is_file():
            time.sleep(0.3)
            return
        time.sleep(0.1)
    raise AssertionError(f"no saved epoch for {run_id}")


def worker_pid(store, run_id, timeout=60) -> int:
    deadline = time.time() + timeout
    while time.time() < deadline:
        pid = (store.get(run_id).meta.get("worker") or {}).get("pid")
        if pid:
            return pid
        time.sleep(0.1)
    raise AssertionError(f"no worker pid for {run_id}")
