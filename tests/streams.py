"""`make test`: the suite as two pytest processes side by side, each with its own servers.

Most end-to-end tests wait — on servers starting, jobs running, workers loading models — while
the unit and in-process tests compute. One process runs them one after the other and leaves a
core idle much of the time; two streams of about equal length (measured on 2 cores: the suite
took ~26 min in one stream) use both. The split is by file, fixed here, so that each
session-scoped server is built in one stream only (``credit_server`` serves the monitoring,
lineage and studio-pages files: they stay together in stream A).

Stream B prints as it goes; stream A's report is kept in a file and printed when both are done.
The exit status is 0 only when both streams passed; pytest's 5 ("no tests ran") fails too.
Arguments are passed to both streams (``python tests/streams.py -x``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# End-to-end files that run beside the in-process tests (stream B): self-contained ones, about
# a third of the end-to-end time, so that both streams end at about the same time.
E2E_IN_B = [
    "tests/e2e/mlflow",
    "tests/e2e/test_endpoints_control.py",
    "tests/e2e/test_endpoints_scoring.py",
    "tests/e2e/test_readme_walkthrough.py",
    # test_mixed_load.py (~1 min) runs in stream A since the MLflow 3 tests grew stream B
    # (2026-12-06 clean-clone run: A 1,003 s, B 1,131 s).
    "tests/e2e/test_outages.py",
    "tests/e2e/test_model_environment.py",
]
STREAM_A = ["tests/e2e", *(f"--ignore={path}" for path in E2E_IN_B)]
STREAM_B = ["tests/contract", "tests/integration", "tests/unit", *E2E_IN_B]


def main(extra: list[str]) -> int:
    log = ROOT / ".test-stream-a.log"
    pytest = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    started = time.monotonic()
    with log.open("w") as out:
        a = subprocess.Popen([*pytest, *STREAM_A, *extra], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        print(
            f"stream A (end-to-end: {' '.join(STREAM_A)}) runs beside this one; its report: {log}", flush=True
        )
        b = subprocess.run([*pytest, *STREAM_B, *extra], cwd=ROOT, check=False).returncode
        b_done = time.monotonic() - started
        a_code = a.wait()
    a_done = time.monotonic() - started
    print(f"\n===== stream A's report ({log.name}) =====", flush=True)
    print(log.read_text(errors="replace"), flush=True)
    print(f"stream A: exit {a_code} after {a_done:.0f} s; stream B: exit {b} after {b_done:.0f} s")
    return 0 if a_code == 0 and b == 0 else (a_code or b)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
