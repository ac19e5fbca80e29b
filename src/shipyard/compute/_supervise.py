"""The supervisor of one local job: runs its command and records how it ended.

Started by :class:`shipyard.compute.local.LocalTarget` as
``python -I -S _supervise.py LOG EXIT_FILE WORKING_DIR ARGV...`` in a session of its own, so
the job's whole process tree is one process group that outlives a server restart — or ahead
of its job as ``_supervise.py --wait``, a spare that reads its job from stdin (``LOG``,
``EXIT_FILE``, ``WORKING_DIR``, the number of ``ARGV`` items, ``ARGV...``, then ``KEY=VALUE``
of the command's environment, each ending in a NUL byte) once the target has one for it, so
a job does not wait for a Python to start. A spare whose stdin closes empty (its server
stopped) exits and records nothing. It runs
``ARGV`` with stdout and stderr appended to ``LOG``, waits, writes ``{"exit_code": N}`` or
``{"signal": N}`` with ``ended_at`` (epoch ms) atomically to ``EXIT_FILE``, then kills what
the command left behind in its process group. It enforces nothing else (timeouts and
cancels are the target's).

It starts once per job, on the path from a job's end to the next one's start, so it imports
almost nothing: ``subprocess`` (a fork and exec do; this process has one thread), ``json``
(which brings ``re``) and ``signal`` (which brings ``enum``) would triple its start-up. The
exit file is two integers, written by hand; ``_signal`` is the C module under ``signal``.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # no stubs: the C module under `signal`
import os
import sys
import time

_FORWARDED = (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP)


def _ignore(signum: int, frame: object) -> None:
    """A handler, not SIG_IGN: handlers reset to the default in the child at exec, so the
    command still dies of the SIGTERM its group gets while this process lives to record it."""


def _write_atomically(path: str, payload: dict[str, int]) -> None:
    """``payload`` as a JSON object of integers, replacing ``path`` in one step."""
    text = "{" + ", ".join(f'"{key}": {int(value)}' for key, value in payload.items()) + "}"
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _run(command: list[str], cwd: str, log_path: str, env: dict[str, str] | None = None) -> int:
    """Run ``command`` in ``cwd`` with stdout and stderr appended to ``log_path`` (and this
    process's environment, or ``env``); its exit code, or minus the signal that ended it (as
    ``Popen.wait``)."""
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.chdir(cwd)
    except OSError as exc:
        os.write(log, f"shipyard: cannot start the command: {exc}\n".encode())
        os.close(log)
        return 127
    pid = os.fork()
    if pid == 0:  # the child: becomes the command
        try:
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            for sig in _FORWARDED:
                _signal.signal(sig, _signal.SIG_DFL)
            if env is None:
                os.execvp(command[0], command)  # noqa: S606 -- [shell, "-c", the job's command]
            else:
                os.execvpe(command[0], command, env)  # noqa: S606
        except OSError as exc:
            os.write(2, f"shipyard: cannot start the command: {exc}\n".encode())
        os._exit(127)
    os.close(log)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except InterruptedError:  # a signal this process ignores (PEP 475 retries; be sure)
            continue
        return os.waitstatus_to_exitcode(status)


def _read_job() -> tuple[list[str], dict[str, str]] | None:
    """A spare's job from stdin: its arguments and its command's environment; None when the
    stream closes empty (the target stopped before it had a job for this process)."""
    chunks = []
    while chunk := os.read(0, 65536):
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        return None
    fields = [f.decode("utf-8", "surrogateescape") for f in data.split(b"\0")[:-1]]
    count = int(fields[3])
    argv = fields[:3] + fields[4 : 4 + count]
    env = dict(item.split("=", 1) for item in fields[4 + count :])
    return argv, env


def main(argv: list[str]) -> int:
    for sig in _FORWARDED:
        _signal.signal(sig, _ignore)
    env: dict[str, str] | None = None
    if argv == ["--wait"]:
        job = _read_job()
        if job is None:
            return 0
        argv, env = job
        log = os.open(argv[0], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.dup2(log, 1)  # what this process itself may print goes to the job's log, as for
        os.dup2(log, 2)  # a supervisor started with its job
        os.close(log)
    log_path, exit_path, cwd, *command = argv
    code = _run(command, cwd, log_path, env)
    result = {"exit_code": code} if code >= 0 else {"signal": -code}
    result["ended_at"] = time.time_ns() // 1_000_000
    _write_atomically(exit_path, result)
    os.killpg(0, _signal.SIGKILL)  # the command's leftover background processes, and this one
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
