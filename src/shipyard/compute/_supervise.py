"""The supervisor of one local job: runs its command and records how it ended.

Started by :class:`shipyard.compute.local.LocalTarget` as
``python -I _supervise.py LOG EXIT_FILE WORKING_DIR ARGV...`` in a session of its own, so
the job's whole process tree is one process group that outlives a server restart. It runs
``ARGV`` with stdout and stderr appended to ``LOG``, waits, writes ``{"exit_code": N}`` or
``{"signal": N}`` with ``ended_at`` (epoch ms) atomically to ``EXIT_FILE``, then kills what
the command left behind in its process group. It enforces nothing else (timeouts and
cancels are the target's). Standard library only: it starts once per job and must be quick.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time


def _ignore(signum: int, frame: object) -> None:
    """A handler, not SIG_IGN: handlers reset to the default in the child at exec, so the
    command still dies of the SIGTERM its group gets while this process lives to record it."""


def _write_atomically(path: str, payload: dict[str, int]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    log_path, exit_path, cwd, *command = argv
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _ignore)
    with open(log_path, "ab", buffering=0) as log:
        try:
            proc = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        except OSError as exc:
            log.write(f"shipyard: cannot start the command: {exc}\n".encode())
            code = 127
        else:
            code = proc.wait()
    result = {"exit_code": code} if code >= 0 else {"signal": -code}
    result["ended_at"] = time.time_ns() // 1_000_000
    _write_atomically(exit_path, result)
    os.killpg(0, signal.SIGKILL)  # the command's leftover background processes, and this one
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
