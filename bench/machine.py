"""The machine a benchmark runs on: its CPU, versions and device, how busy it was, and a process's memory."""

import datetime
import os
import platform
import resource

from core import backend


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags(wanted=("avx2", "avx512f", "avx512_bf16", "amx_bf16")) -> list[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [flag for flag in wanted if flag in flags]
    except OSError:
        pass
    return []


def machine_info() -> dict:
    """Date, CPU, core count, versions and the training device of this run."""
    tf = backend.tensorflow()
    keras = backend.keras()
    gpus = tf.config.list_physical_devices("GPU")
    gpu = None
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        gpu = details.get("device_name", gpus[0].name)
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cpu_flags": cpu_flags(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "device": backend.device_name(),
        "gpu": gpu,
        # The other programs on a shared machine: the 1-minute load average when this run started.
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }


def cpu_times() -> list[int] | None:
    """The machine's CPU time counters (/proc/stat: user, nice, system, idle, iowait, irq, softirq, steal...)."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            return [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None


def busy_shares(before, after) -> dict | None:
    """How the CPUs spent the time between two cpu_times(): busy (anyone here), idle, and stolen by other VMs."""
    if not before or not after:
        return None
    spent = [late - early for early, late in zip(before, after)]
    total = max(1, sum(spent[:8]))
    idle = spent[3] + spent[4]
    steal = spent[7] if len(spent) > 7 else 0
    return {"busy": (total - idle - steal) / total, "idle": idle / total, "stolen": steal / total}


def _status_bytes(field: str) -> int | None:
    """A memory figure of this process from /proc/self/status ("VmRSS", "VmHWM"), in bytes; None if unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_rss_bytes() -> int:
    """The most resident memory this process has used.

    VmHWM rather than getrusage's ru_maxrss: Linux carries ru_maxrss over an exec from the process that started
    it, so a worker started by a big benchmark process would report its parent's size instead of its own.
    """
    peak = _status_bytes("VmHWM")
    if peak is not None:
        return peak
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss_bytes() -> int:
    return _status_bytes("VmRSS") or 0
