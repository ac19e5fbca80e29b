"""mixed_load.py's SDK client, a user's training script in its own process.

    python _mixed_sdk_client.py URL SIGNALS_DIR STEPS_PER_S RUN_S

Logs two metrics per step through ``shipyard.start_run`` (two params at the start), a new run
every RUN_S seconds, until SIGNALS_DIR/stop exists. Prints one JSON line per run once its
``end()`` returned (``error`` set when it raised), then the count of run starts the server
refused (it was down).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import shipyard
from shipyard.errors import ShipyardError


def main() -> None:
    url, folder, rate, run_s = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    shipyard.connect(url)
    stop, n, refused = folder / "stop", 0, 0
    while not stop.exists():
        try:  # a run started while the server is down is refused: try again, as a script's retry would
            run = shipyard.start_run(experiment="mixed-sdk", name=f"sdk-{n}", params={"n": n, "rate": rate})
        except ShipyardError:
            refused += 1
            time.sleep(0.5)
            continue
        step, began = 0, time.monotonic()
        while time.monotonic() - began < run_s and not stop.exists():
            pause = began + step / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            run.log_metrics({"loss": 1 / (step + 1), "acc": step / 1e6}, step=step)
            step += 1
        error = None
        try:
            run.end()
        except ShipyardError as exc:
            error = repr(exc)
        print(json.dumps({"run_id": run.id, "steps": step, "n": n, "error": error}), flush=True)
        n += 1
    print(json.dumps({"refused_starts": refused}), flush=True)


if __name__ == "__main__":
    main()
