"""One worker process of a deployment: ``python -m shipyard.serving.worker``.

    python -m shipyard.serving.worker --plan plan.json --index 0 --bind unix:/path/w0.sock
    python -m shipyard.serving.worker --plan plan.json --bind 127.0.0.1:8001

Loads the plan's model once (a no-code MLflow model, or a scoring script's ``init()``) and
answers the worker protocol (:mod:`shipyard.services.serving_ports`) with uvicorn
(httptools and uvloop when installed) until SIGTERM; in-flight requests finish first (up to
``--drain-s``). Output goes to stdout/stderr, which the runtime writes to the deployment's
log. When the model cannot be loaded the reason is written to ``--failure-file`` (if
given), the traceback to stderr, and the process exits with status 3. A worker whose parent
(the runtime) dies stops by itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import uvicorn

from shipyard.services.serving_ports import DeploymentPlan
from shipyard.serving._planfile import read_plan
from shipyard.serving.app import WorkerApp
from shipyard.serving.scorers import MlflowScorer, Scorer, ScriptScorer

__all__ = ["main", "make_scorer"]

EXIT_LOAD_FAILED = 3


def make_scorer(plan: DeploymentPlan) -> Scorer:
    if plan.scoring_script is not None:
        if plan.code_dir is None:
            raise SystemExit("the plan has a scoring_script but no code_dir")
        return ScriptScorer(plan.code_dir, plan.scoring_script, plan.model_dir)
    if plan.model_dir is None:
        raise SystemExit("a no-code deployment needs a model_dir")
    return MlflowScorer(plan.model_dir)


def _exit_with_parent(server: uvicorn.Server) -> None:
    """Stop when the process that started this one is gone: a server that died without
    stopping its workers must not leave them serving a socket nobody watches."""
    parent = os.getppid()

    def watch() -> None:
        while not server.should_exit:
            if os.getppid() != parent:
                print("the runtime that started this worker is gone: stopping", file=sys.stderr, flush=True)
                server.should_exit = True
                return
            time.sleep(1.0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shipyard.serving.worker")
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--index", type=int, default=0)
    parser.add_argument("--bind", required=True, help="unix:/path.sock or [host:]port")
    parser.add_argument("--failure-file", type=Path)
    parser.add_argument("--drain-s", type=float, default=5.0)
    args = parser.parse_args(argv)
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
    _exit_with_parent(server)
    print(
        f"worker {args.index} of {plan.key} (revision {plan.revision}, pid {os.getpid()}) "
        f"listening on {args.bind}",
        file=sys.stderr,
        flush=True,
    )
    server.run()
    if app.load_error:
        return EXIT_LOAD_FAILED
    print(f"worker {args.index} stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
