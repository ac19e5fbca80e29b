"""One worker process of a deployment: ``python -m shipyard.serving.worker``.

    python -m shipyard.serving.worker --plan plan.json --index 0 --bind unix:/path/w0.sock
    python -m shipyard.serving.worker --plan plan.json --bind 127.0.0.1:8001

Loads the plan's model once (a no-code MLflow model, or a scoring script's ``init()``) and
answers the worker protocol (:mod:`shipyard.services.serving_ports`) with uvicorn
(httptools and uvloop when installed) until SIGTERM; in-flight requests finish first (up to
``--drain-s``). Output goes to stdout/stderr, which the runtime writes to the deployment's
log. When the model cannot be loaded the reason is written to ``--failure-file`` (if
given), the traceback to stderr, and the process exits with status 3.

A worker started by a runtime (``--parent-fd``, ``--owner-dir``) stops within
``_ORPHAN_GRACE_S`` of that runtime's death, and holds ``<owner-dir>/<pid>.lock`` while it
lives so that the next runtime can tell it is still there (``_owners.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import sys
import threading
import time
from pathlib import Path

import uvicorn

from shipyard.services.serving_ports import DeploymentPlan
from shipyard.serving._owners import hold_worker_lock
from shipyard.serving._planfile import read_plan
from shipyard.serving.app import WorkerApp
from shipyard.serving.scorers import MlflowScorer, Scorer, ScriptScorer

__all__ = ["main", "make_scorer"]

EXIT_LOAD_FAILED = 3
EXIT_ORPHANED = 4
_ORPHAN_GRACE_S = 2.0


def make_scorer(plan: DeploymentPlan) -> Scorer:
    if plan.scoring_script is not None:
        if plan.code_dir is None:
            raise SystemExit("the plan has a scoring_script but no code_dir")
        return ScriptScorer(plan.code_dir, plan.scoring_script, plan.model_dir)
    if plan.model_dir is None:
        raise SystemExit("a no-code deployment needs a model_dir")
    return MlflowScorer(plan.model_dir)


def _parent_gone(parent_fd: int) -> bool:
    """True when the runtime's end of the pipe is closed (EOF is readable at once)."""
    readable, _, _ = select.select([parent_fd], [], [], 0)
    return bool(readable) and not os.read(parent_fd, 1)


def _exit_with_parent(parent_fd: int, server: uvicorn.Server) -> threading.Event:
    """Stop when the runtime that started this worker is gone, however it died.

    The runtime holds the write end of a pipe whose read end is ``parent_fd``; the kernel
    closes it when that process ends, even by SIGKILL, and the read below returns at once.
    (Polling ``getppid()`` was what this did before: the message it printed went to the
    dead runtime's pipe, raised ``BrokenPipeError`` and killed the watcher, so orphans
    served on for ever.) A graceful stop is asked for first — nobody can reach this worker
    any more, so it is quick — and after ``_ORPHAN_GRACE_S`` the process group is killed.
    The event returned is set once the runtime is gone.
    """
    gone = threading.Event()

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(parent_fd, 1):
                pass
        gone.set()
        server.should_exit = True
        with contextlib.suppress(OSError):  # stderr went to the runtime too: likely broken
            print("the runtime that started this worker is gone: stopping", file=sys.stderr, flush=True)
        time.sleep(_ORPHAN_GRACE_S)
        _kill_own_group()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    return gone


def _kill_own_group() -> None:
    """This worker leads its process group (the runtime starts it in a session of its own):
    whatever the scoring script started goes with it."""
    os.killpg(os.getpgrp(), signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shipyard.serving.worker")
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--bind", required=True, help="unix:/path.sock or [host:]port")
    parser.add_argument("--failure-file", type=Path)
    parser.add_argument("--drain-s", type=float, default=5.0)
    parser.add_argument("--parent-fd", type=int, help="a pipe the runtime holds open: EOF means it is gone")
    parser.add_argument("--owner-dir", type=Path, help="the runtime's folder, where <pid>.lock is held")
    args = parser.parse_args(argv)
    if args.owner_dir is not None:
        hold_worker_lock(args.owner_dir)  # before the pipe check: see hold_worker_lock
    if args.parent_fd is not None and _parent_gone(args.parent_fd):
        return EXIT_ORPHANED  # started as the runtime died: nobody would route to it
    plan = read_plan(args.plan)

    server: uvicorn.Server | None = None

    def load_failed(reason: str) -> None:
        if args.failure_file is not None:
            args.failure_file.write_text(reason, encoding="utf-8")
        if server is not None:
            server.should_exit = True

    app = WorkerApp(
        make_scorer(plan),
        plan.key.deployment,
        endpoint=plan.key.endpoint,
        concurrency=max(1, plan.max_concurrent_requests_per_instance),
        max_batch=plan.max_batch_size,
        timeout_s=plan.request_timeout_ms / 1000,
        on_load_failed=load_failed,
    )
    where: dict[str, object]
    if args.bind.startswith("unix:"):
        where = {"uds": args.bind.removeprefix("unix:")}
    else:
        host, _, port = args.bind.rpartition(":")
        where = {"host": host or "127.0.0.1", "port": int(port)}
    config = uvicorn.Config(
        app,
        **where,  # type: ignore[arg-type]
        loop="auto",  # uvloop and httptools when installed (shipyard's own environment has both);
        http="auto",  # a deployment environment without them still serves, slower
        lifespan="on",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=int(max(1.0, args.drain_s)),
    )
    server = uvicorn.Server(config)
    orphaned = threading.Event() if args.parent_fd is None else _exit_with_parent(args.parent_fd, server)
    print(
        f"worker {args.index} of {plan.key} (revision {plan.revision}, pid {os.getpid()}) "
        f"listening on {args.bind}",
        file=sys.stderr,
        flush=True,
    )
    server.run()
    if orphaned.is_set():
        _kill_own_group()  # now: the interpreter's exit would wait for the scoring threads
    if app.load_error:
        return EXIT_LOAD_FAILED
    print(f"worker {args.index} stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
