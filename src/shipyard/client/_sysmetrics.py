"""System metrics (CPU, memory, GPU where present) sampled while a run is active.

Logged as ordinary metrics under ``system/…`` (MLflow's names), so they chart and search
like any other metric.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Callable

import psutil

__all__ = ["SystemMetricsSampler", "sample"]


def _gpu() -> dict[str, float]:
    """Utilisation and memory of each NVIDIA GPU through nvidia-smi, when it is there."""
    if shutil.which("nvidia-smi") is None:
        return {}
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    metrics: dict[str, float] = {}
    for i, line in enumerate(out.strip().splitlines()):
        try:
            util, mem = (float(x) for x in line.split(","))
        except ValueError:
            continue
        metrics[f"system/gpu_{i}_utilization_percentage"] = util
        metrics[f"system/gpu_{i}_memory_usage_megabytes"] = mem
    return metrics


def sample() -> dict[str, float]:
    memory = psutil.virtual_memory()
    metrics = {
        "system/cpu_utilization_percentage": psutil.cpu_percent(interval=None),
        "system/system_memory_usage_megabytes": (memory.total - memory.available) / 2**20,
        "system/system_memory_usage_percentage": memory.percent,
    }
    metrics.update(_gpu())
    return metrics


class SystemMetricsSampler:
    def __init__(self, log: Callable[[dict[str, float], int], None], interval: float = 10.0) -> None:
        self._log = log
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="shipyard-sysmetrics", daemon=True)

    def start(self) -> None:
        psutil.cpu_percent(interval=None)  # the first reading is meaningless; prime it
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        step = 0
        while not self._stop.wait(self._interval):
            self._log(sample(), step)
            step += 1
