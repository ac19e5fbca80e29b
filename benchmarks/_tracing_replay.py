"""The server alone, for benchmarks/tracing.py: the requests the real ``mlflow`` 3.17 client
sent for N traces, recorded once by the client-alone server (``_tracing_floor.py RECORD``),
sent again to a fresh server by concurrent ``httpx`` clients — no ``mlflow`` client, no
spans made — with the server's CPU time (its process and children, ``psutil``). Prints one
JSON line.

    python _tracing_replay.py job.json

``job.json``: ``url``, ``token`` (or null), ``pid`` (the server's), ``record`` (the
recording), ``mode``, and for each mode:

- ``writes``: the first ``traces`` traces' writes, in the order the client sent them —
  every ``POST /v1/traces`` (OTLP span batches) and ``POST /api/3.0/mlflow/traces`` (a
  trace's info), headers and bodies as sent — into a new experiment whose id replaces the
  recorded one, ``concurrency`` in flight (the client's 10 export workers), in ``chunks``
  consecutive parts each timed on its own (the median of those);
- ``searches``: each distinct search of 100 the client made (``POST traces/search``) over
  the experiment named ``experiment`` (the traces the client itself logged to that server),
  followed, as the client does, by ``GET traces/batchGet`` of 10 of the traces found at a
  time, all at once (its thread pool): from the search to the last batch, the median of
  ``searches`` timed repeats after one untimed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from _servers import group_cpu_seconds

BATCH_GET = 10  # the client's traces per batchGet (MLFLOW_SEARCH_TRACES_MAX_BATCH_SIZE)
_TRACES = "/api/3.0/mlflow/traces"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its children, those already gone included."""
    return group_cpu_seconds(pid, reaped=True)


def load(record: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    writes, searches, seen, experiment = [], [], set(), None
    for line in record.read_text().splitlines():
        req = json.loads(line)
        req["body"] = base64.b64decode(req["body"])
        if req["path"] == "/v1/traces":
            writes.append(req)
            experiment = experiment or req["headers"].get("x-mlflow-experiment-id")
        elif req["path"] == _TRACES:
            writes.append(req)
        elif req["path"] == f"{_TRACES}/search":
            body = json.loads(req["body"])
            key = json.dumps(body, sort_keys=True)
            if int(body.get("max_results", 100)) == 100 and not body.get("page_token") and key not in seen:
                seen.add(key)
                searches.append(body)
    if experiment is None:
        raise SystemExit(f"{record}: no OTLP request recorded")
    return writes, searches, experiment


def _retarget(req: dict[str, Any], old: str, new: str) -> tuple[dict[str, str], bytes]:
    headers = dict(req["headers"])
    body: bytes = req["body"]
    if "x-mlflow-experiment-id" in headers:
        headers["x-mlflow-experiment-id"] = new
    if req["path"] == _TRACES:
        doc = json.loads(body)
        location = doc["trace"]["trace_info"]["trace_location"]["mlflow_experiment"]
        assert location["experiment_id"] == old, location
        location["experiment_id"] = new
        body = json.dumps(doc).encode()
    return headers, body


async def send_all(
    http: httpx.AsyncClient, requests: list[tuple[str, dict[str, str], bytes]], concurrency: int
) -> list[int]:
    """POST ``requests`` in order with ``concurrency`` in flight; the status codes."""
    statuses: list[int] = []
    queue = iter(requests)

    async def worker() -> None:
        for path, headers, body in queue:
            statuses.append((await http.post(path, content=body, headers=headers)).status_code)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses


async def one_search(http: httpx.AsyncClient, body: dict[str, Any]) -> tuple[int, int]:
    """A search and its batch reads, as the client makes them; (traces, spans) read."""
    found = await http.post(f"{_TRACES}/search", json=body)
    found.raise_for_status()
    ids = [t["trace_id"] for t in found.json().get("traces", [])]
    batches = [ids[i : i + BATCH_GET] for i in range(0, len(ids), BATCH_GET)]
    answers = await asyncio.gather(
        *(http.get(f"{_TRACES}/batchGet", params=[("trace_ids", i) for i in batch]) for batch in batches)
    )
    traces = spans = 0
    for answer in answers:
        answer.raise_for_status()
        for trace in answer.json().get("traces", []):
            traces += 1
            spans += len(trace.get("spans", []))
    return traces, spans


async def replay_writes(
    http: httpx.AsyncClient, job: dict[str, Any], writes: list[dict[str, Any]], old: str
) -> dict[str, Any]:
    """The first ``traces`` traces' writes into a new experiment, in ``chunks`` timed parts."""
    pid = int(job["pid"])
    made = await http.post(
        "/api/2.0/mlflow/experiments/create", json={"name": f"bench-replay-{time.time_ns()}"}
    )
    made.raise_for_status()
    new = str(made.json()["experiment_id"])
    infos = [i for i, r in enumerate(writes) if r["path"] == _TRACES][: int(job["traces"])]
    # Span batches of the last traces may follow their infos: up to the next trace's info.
    upto = len(writes) if len(infos) == sum(1 for r in writes if r["path"] == _TRACES) else infos[-1] + 1
    prepared = [(r["path"], *_retarget(r, old, new)) for r in writes[:upto]]
    # Consecutive parts holding the same number of traces (a trace's info closes it).
    chunks = max(1, int(job["chunks"]))
    per = len(infos) // chunks
    bounds = [0] + [infos[per * (k + 1) - 1] + 1 for k in range(chunks - 1)] + [len(prepared)]
    parts: list[dict[str, Any]] = []
    failed = 0
    for k in range(chunks):
        part = prepared[bounds[k] : bounds[k + 1]]
        traces = sum(1 for path, _, _ in part if path == _TRACES)
        cpu0, t0 = cpu_seconds(pid), time.perf_counter()
        statuses = await send_all(http, part, int(job["concurrency"]))
        seconds, cpu = time.perf_counter() - t0, cpu_seconds(pid) - cpu0
        failed += sum(1 for s in statuses if s >= 300)
        print(f"replay part {k + 1}/{chunks}: {traces} traces in {seconds:.1f} s, "
              f"server CPU {cpu:.1f} s, {len(statuses)} requests, {failed} failed so far",
              file=sys.stderr, flush=True)  # fmt: skip
        parts.append(
            {"traces": traces, "requests": len(part), "seconds": seconds, "server_cpu_s": cpu,
             "traces_per_s": traces / seconds, "cpu_ms_per_trace": 1000 * cpu / traces}
        )  # fmt: skip
    return {
        "traces": sum(p["traces"] for p in parts),
        "requests": len(prepared),
        "failed_requests": failed,
        "concurrency": int(job["concurrency"]),
        "parts": parts,
        "traces_per_s": statistics.median(p["traces_per_s"] for p in parts),
        "cpu_ms_per_trace": statistics.median(p["cpu_ms_per_trace"] for p in parts),
    }


async def replay_searches(
    http: httpx.AsyncClient, job: dict[str, Any], searches: list[dict[str, Any]]
) -> dict[str, Any]:
    """Each recorded search of 100, over the experiment named ``experiment`` (the traces the
    client logged there), with its batch reads; the median of ``searches`` timed repeats."""
    pid = int(job["pid"])
    got = await http.get(
        "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": job["experiment"]}
    )
    got.raise_for_status()
    location = {
        "type": "MLFLOW_EXPERIMENT",
        "mlflow_experiment": {"experiment_id": got.json()["experiment"]["experiment_id"]},
    }
    found: dict[str, Any] = {}
    for recorded in searches:
        body = {**recorded, "locations": [location]}
        body.pop("experiment_ids", None)
        name = body.get("filter") or "newest"
        times, cpus, read = [], [], (0, 0)
        await one_search(http, body)  # warm: the first read of a cold cache is not timed
        for _ in range(int(job["searches"])):
            cpu0, t0 = cpu_seconds(pid), time.perf_counter()
            read = await one_search(http, body)
            times.append(time.perf_counter() - t0)
            cpus.append(cpu_seconds(pid) - cpu0)
        found[name] = {
            "median_s": statistics.median(times),
            "server_cpu_s": statistics.median(cpus),
            "traces": read[0],
            "spans": read[1],
        }
    return {"searches": found}


async def main_async(job: dict[str, Any]) -> dict[str, Any]:
    writes, searches, old = load(Path(job["record"]))
    headers = {"Authorization": f"Bearer {job['token']}"} if job.get("token") else {}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=job["url"], headers=headers, timeout=120, limits=limits) as http:
        if job["mode"] == "writes":
            return await replay_writes(http, job, writes, old)
        return await replay_searches(http, job, searches)


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps(asyncio.run(main_async(job))))


if __name__ == "__main__":
    main()
