"""One side of benchmarks/tracing.py, in its own process (mlflow's tracing state is global):
N traces of S spans logged by ``@mlflow.trace``-decorated code through the unchanged client,
then ``mlflow.search_traces`` timed over them. Prints one JSON line.

    python _tracing_client.py job.json

``job.json``: ``url``, ``token`` (or null), ``experiment``, ``traces``, ``spans``,
``searches`` (how many timed repeats of each query).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    if job.get("token"):
        os.environ["MLFLOW_TRACKING_TOKEN"] = job["token"]
    # The client's export queue holds 1,000 tasks by default and drops the rest while the
    # server falls behind ("Trace export queue is full, trace will be discarded"). A trace is
    # not one task: each span batch exported as spans end is one (at most one per span), and
    # the trace's info another. Sized for the worst case, so the figure is the server's pace
    # and nothing is lost on either side.
    tasks = int(job["traces"]) * (int(job["spans"]) + 1)
    os.environ["MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE"] = str(tasks + 1000)
    # And the traces waiting for their spans to be exported: the client abandons those past
    # 1,000 (MLFLOW_TRACE_BUFFER_MAX_SIZE) — 87 % of 10,000 were lost on every side so.
    os.environ["MLFLOW_TRACE_BUFFER_MAX_SIZE"] = str(int(job["traces"]) + 1000)
    import mlflow
    from mlflow.tracing.processor import base_mlflow

    # Before that queue, spans wait in OpenTelemetry's batch span processor, whose queue
    # (2,048 spans: about 200 traces) drops spans ("Queue full, dropping Span") when the
    # calling thread outpaces its export thread on a busy machine — a trace whose root span
    # is dropped is lost. The client has no setting for it (only the batch size, 5 spans,
    # which would change what is sent): sized to hold every span, as the export queue is.
    base_mlflow._DEFAULT_OTEL_MAX_QUEUE_SIZE = int(job["traces"]) * int(job["spans"]) + 2048

    mlflow.set_tracking_uri(job["url"])
    experiment = mlflow.set_experiment(job["experiment"])
    children = int(job["spans"]) - 1

    @mlflow.trace(span_type="TOOL")
    def tool(i: int, total: float) -> float:
        return total + i * 0.5

    @mlflow.trace(span_type="CHAIN")
    def answer(question: str, k: int) -> dict[str, Any]:
        total = 0.0
        for i in range(children):
            total = tool(i, total)
        mlflow.update_current_trace(tags={"bench.bucket": str(k % 10)})
        return {"answer": f"{question}: {total}"}

    def cpu() -> float:  # this process, every thread: the calls, spans and export
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    started, cpu0 = time.perf_counter(), cpu()
    for k in range(int(job["traces"])):
        answer(f"question {k}", k)
    mlflow.flush_trace_async_logging(terminate=False)
    logged_s, logged_cpu_s = time.perf_counter() - started, cpu() - cpu0

    ids = [experiment.experiment_id]
    queries: dict[str, dict[str, Any]] = {
        "newest 100": {"max_results": 100},
        "tag filter, 100": {"filter_string": "tags.`bench.bucket` = '3'", "max_results": 100},
        "status + time, 100": {
            "filter_string": "trace.status = 'OK' AND trace.execution_time_ms >= 0",
            "max_results": 100,
            "order_by": ["timestamp_ms DESC"],
        },
    }
    searches: dict[str, dict[str, Any]] = {}
    for name, kwargs in queries.items():
        times, cpus, found = [], [], 0
        for _ in range(int(job["searches"])):
            t0, c0 = time.perf_counter(), cpu()
            got = mlflow.search_traces(experiment_ids=ids, return_type="list", **kwargs)
            times.append(time.perf_counter() - t0)
            cpus.append(cpu() - c0)
            found = len(got)
            spans = sum(len(t.data.spans) for t in got)
        searches[name] = {
            "median_s": statistics.median(times),
            "client_cpu_s": statistics.median(cpus),
            "found": found,
            "spans": spans,
        }
    # Every trace arrived, with all its spans: counted through the same client.
    total, token = 0, None
    while True:
        page = mlflow.MlflowClient().search_traces(
            locations=ids, max_results=500, page_token=token, include_spans=False
        )
        total += len(page)
        token = page.token
        if not token:
            break
    print(
        json.dumps(
            {
                "logged_s": logged_s,
                "logged_cpu_s": logged_cpu_s,
                "traces": int(job["traces"]),
                "stored": total,
                "searches": searches,
            }
        )
    )


if __name__ == "__main__":
    main()
