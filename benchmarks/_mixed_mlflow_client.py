"""mixed_load.py's mlflow client: the unchanged ``MlflowClient`` (its defaults: synchronous
calls, 7 retries with exponential back-off) in its own process, on Shipyard's MLflow API.

    MLFLOW_TRACKING_URI=… MLFLOW_TRACKING_TOKEN=… python _mixed_mlflow_client.py SIGNALS_DIR CALLS_PER_S RUN_S

A run every RUN_S seconds: three ``log_param`` calls, then ``log_metric`` ("loss", one step a
call) at CALLS_PER_S, until SIGNALS_DIR/stop exists. Every call that returned is written to
SIGNALS_DIR/mlflow-acked.jsonl (``["param", run, key, value]`` or ``["metric", run, key,
step]``); a call that raised after its retries is counted, not written. Prints a JSON summary.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlflow import MlflowClient


class Calls:
    """Runs client calls, counting the ones that fail and timing the slowest."""

    def __init__(self) -> None:
        self.errors = 0
        self.slowest = 0.0

    def __call__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[bool, Any]:
        started = time.perf_counter()
        try:
            return True, fn(*args, **kwargs)
        except Exception:  # what mlflow raises once its retries are spent
            self.errors += 1
            return False, None
        finally:
            self.slowest = max(self.slowest, time.perf_counter() - started)


def main() -> None:
    folder, rate, run_s = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    client = MlflowClient()
    call = Calls()
    stop, n = folder / "stop", 0
    found = client.get_experiment_by_name("mixed-mlflow")
    experiment = found.experiment_id if found else client.create_experiment("mixed-mlflow")
    with (folder / "mlflow-acked.jsonl").open("a") as ledger:
        while not stop.exists():
            ok, run = call(client.create_run, experiment, run_name=f"mlflow-{n}")
            if not ok:
                time.sleep(0.5)
                continue
            rid = run.info.run_id
            for p in range(3):
                key, value = f"p{p}", f"{n}-{p}"
                if call(client.log_param, rid, key, value)[0]:
                    ledger.write(json.dumps(["param", rid, key, value]) + "\n")
            step, began = 0, time.monotonic()
            while time.monotonic() - began < run_s and not stop.exists():
                pause = began + step / rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                if call(client.log_metric, rid, "loss", 1 / (step + 1), step=step)[0]:
                    ledger.write(json.dumps(["metric", rid, "loss", step]) + "\n")
                step += 1
            call(client.set_terminated, rid)
            n += 1
    print(json.dumps({"runs": n, "errors": call.errors, "slowest_call_s": call.slowest}), flush=True)


if __name__ == "__main__":
    main()
