"""What sign-in costs: a server as every user gets it (sign-in on) beside one started with
``--no-auth``, both up for the whole run, measured in turns. Part of ``make bench``.

    .venv/bin/python benchmarks/auth.py          # 5 x 1,000,000-point ingests, 5 x 2,000 requests (~6 min)
    .venv/bin/python benchmarks/auth.py --quick  # 3 x 100,000-point ingests, 3 x 500 requests (~2 min)

- **ingest**: the tracking benchmark's SDK measure (``_ours.measure_ingest``): 10 keys x
  N/10 steps through ``run.log_metrics`` and ``flush``, signed in with the owner's token on
  the one server and with no token on the other; in turns on, off, off, on… (so a change of
  load, and the databases growing alike, hit both); medians of points/s. The issue's target:
  sign-in on within 5% of off.
- **scoring**: the same no-code model deployment (``_endpoints``: serving.py's model, 10 rows
  a request, 1 instance) behind four endpoints: (a) ``auth_mode: key`` on the sign-in
  server, (b) ``auth_mode: key`` on the ``--no-auth`` server, the anchor, (c) ``auth_mode:
  aml_token`` on the sign-in server, scored with the owner's Shipyard token (verified tokens
  are cached), and (d) a second key endpoint on the ``--no-auth`` server, a control: what two
  identical deployments differ by. One request in flight in all (aiohttp, one keep-alive
  connection per endpoint), the endpoints taking turns request by request, after a warm-up.
  Per run: p50 and mean of each; the table shows medians over runs and the overheads
  (a)-(b) and (c)-(b). The issue's target: at most 0.1 ms per request.

Results: ``.bench/auth.json`` (every sample) and ``.bench/auth.md``. See
docs/benchmarks.md#authentication-overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import _ours
import shipyard
from _endpoints import Capacity, deploy_model, endpoint_key, interleaved, train
from _measure import markdown_table, median, run_header, say
from _servers import Processes, Server, start_shipyard, wait_idle

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
INGEST_GOAL = 0.95  # sign-in on: at least 95% of --no-auth's points/s
SCORING_GOAL_MS = 0.1  # per request
CAPACITY = Capacity(instances=1, max_concurrent=16, max_batch=32)  # one request in flight: 1 worker


@dataclass(frozen=True)
class Sizes:
    ingest_points: int
    ingest_runs: int  # per server
    requests: int  # per endpoint and scoring run
    scoring_runs: int
    warmup: int  # requests per endpoint before the first run


@dataclass
class Endpoint:
    label: str
    url: str
    headers: dict[str, str]
    runs: list[list[float]] = field(default_factory=list)  # seconds per request, one list per run


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000-point ingests, 500 requests, 3 runs")
    parser.add_argument("--runs", type=int, help="ingests per server and scoring runs (default 5, --quick 3)")
    parser.add_argument("--points", type=int, help="points per ingest (default 1,000,000)")
    parser.add_argument("--requests", type=int, help="requests per endpoint and run (default 2,000)")
    parser.add_argument("--keep", action="store_true", help="keep the homes and logs under .bench/")
    return parser.parse_args()


# -- the measures ----------------------------------------------------------------------------


def ingest(on: Server, off: Server, sizes: Sizes) -> dict[str, list[float]]:
    """points/s of each server, in turns: on, off, then off, on, and so on."""
    rates: dict[str, list[float]] = {"on": [], "off": []}
    for i in range(sizes.ingest_runs):
        turns = [("on", on), ("off", off)] if i % 2 == 0 else [("off", off), ("on", on)]
        for label, server in turns:
            say(f"ingest {i + 1}/{sizes.ingest_runs}: sign-in {label}")
            shipyard.connect(server.url, token=server.token)  # the default client of start_run
            result, _run_id = _ours.measure_ingest(sizes.ingest_points, 1)
            rates[label].append(result["points"] / result["seconds"][0])
    return rates


def score_runs(endpoints: list[Endpoint], body: bytes, sizes: Sizes) -> None:
    targets = [(e.url, e.headers) for e in endpoints]
    asyncio.run(interleaved(targets, body, sizes.warmup))
    for run in range(sizes.scoring_runs):
        say(f"scoring run {run + 1}/{sizes.scoring_runs}: {sizes.requests:,} requests per endpoint")
        for e, samples in zip(
            endpoints, asyncio.run(interleaved(targets, body, sizes.requests)), strict=True
        ):
            e.runs.append(samples)


# -- checks ----------------------------------------------------------------------------------


def status_of(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if body else "GET")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def answer(e: Endpoint, body: bytes) -> Any:
    request = urllib.request.Request(e.url, data=body, headers=e.headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def check(
    on: Server, off: Server, endpoints: list[Endpoint], body: bytes, expected: list[int]
) -> dict[str, Any]:
    """Sign-in really is on and off, and every endpoint answers the model's predictions."""
    plain = {"Content-Type": "application/json"}
    by_label = {e.label: e for e in endpoints}
    seen = {
        "on: API without a token": status_of(f"{on.url}/api/v1/experiments"),
        "off: API without a token": status_of(f"{off.url}/api/v1/experiments"),
        "(c) aml_token endpoint without a token": status_of(by_label["c"].url, body, plain),
    }
    wanted = {
        "on: API without a token": 401,
        "off: API without a token": 200,
        "(c) aml_token endpoint without a token": 401,
    }
    if seen != wanted:
        raise RuntimeError(f"sign-in is not what this benchmark compares: {seen}, expected {wanted}")
    for e in endpoints:
        if (got := answer(e, body)) != {"predictions": expected}:
            raise RuntimeError(f"{e.label} answered {got}, expected {{'predictions': {expected}}}")
    return seen


# -- the report ------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def figures(runs: list[list[float]]) -> dict[str, float]:
    """Medians over runs of each run's p50, mean and p99, in seconds."""
    return {
        "p50": median([statistics.median(r) for r in runs]),
        "mean": median([statistics.fmean(r) for r in runs]),
        "p99": median([statistics.quantiles(r, n=100)[98] for r in runs]),
    }


LABELS = {
    "a": "(a) key endpoint, sign-in on",
    "b": "(b) key endpoint, --no-auth",
    "c": "(c) aml_token endpoint, sign-in on, Shipyard token",
    "d": "(d) control: a second key endpoint, --no-auth",
}


def scoring_rows(results: dict[str, Any], sizes: Sizes) -> list[tuple[str, ...]]:
    """(a), (c) and the control (d), each beside the anchor (b): p50 and mean."""
    anchor = figures(results["scoring"]["b"])
    rows: list[tuple[str, ...]] = []
    for label in ("a", "c", "d"):
        ours = figures(results["scoring"][label])
        for stat in ("p50", "mean"):
            over = (ours[stat] - anchor[stat]) * 1000
            goal, met = (f"<= +{SCORING_GOAL_MS} ms", "yes" if over <= SCORING_GOAL_MS else "NO")
            rows.append(
                (
                    f"scoring {stat}, 1 in flight: {LABELS[label]}",
                    ms(ours[stat]),
                    ms(anchor[stat]),
                    f"{ours[stat] / anchor[stat]:.3f}x; {over:+.3f} ms",
                    "" if label == "d" else goal,
                    "" if label == "d" else met,
                    f"{sizes.scoring_runs} x {sizes.requests:,}",
                )
            )
    return rows


def report(results: dict[str, Any], sizes: Sizes) -> list[str]:
    machine, rates = results["machine"], results["ingest"]
    on_rate, off_rate = median(rates["on"]), median(rates["off"])
    # The ratio is the median of each back-to-back pair's: the load of this shared machine
    # moves more between pairs (tens of percent) than within one.
    pairs = [x / y for x, y in zip(rates["on"], rates["off"], strict=True)]
    share = median(pairs)
    rows: list[tuple[str, ...]] = [
        ("measure", "sign-in on", "--no-auth (anchor)", "on / off", "goal", "met", "n"),
        (
            f"ingest: SDK, {sizes.ingest_points:,} points",
            f"{on_rate:,.0f} pts/s",
            f"{off_rate:,.0f} pts/s",
            f"{share:.3f}x (pairs)",
            f">= {INGEST_GOAL:.2f}x",
            "yes" if share >= INGEST_GOAL else "NO",
            f"{len(rates['on'])} / {len(rates['off'])}",
        ),
        *scoring_rows(results, sizes),
    ]
    control = per_run(results, "d")
    spread = (figures(results["scoring"]["d"])["p50"] - figures(results["scoring"]["b"])["p50"]) * 1000
    p99 = {label: figures(runs)["p99"] for label, runs in results["scoring"].items()}
    before, after = machine["load_average_before"][0], machine["load_average_after"][0]
    return [
        "Authentication overhead: sign-in on (the default) beside a --no-auth server, in turns (medians)",
        f"{results['date']}, {machine['cpus']} cores, {machine['platform']}, Python {machine['python']};"
        f" load average {before:.1f} before / {after:.1f} after;"
        f" whole run {results['wall_seconds'] / 60:.1f} min",
        "",
        *markdown_table(rows),
        "",
        f"- ingest points/s, every sample: on {', '.join(f'{r:,.0f}' for r in rates['on'])};"
        f" off {', '.join(f'{r:,.0f}' for r in rates['off'])}; on / off pair by pair (each pair"
        f" back to back): {', '.join(f'{x:.3f}' for x in pairs)};"
        f" ratio of the medians {on_rate / off_rate:.3f}x",
        *(
            f"- scoring p50 minus (b)'s, run by run: {LABELS[label]}: "
            + ", ".join(f"{d:+.3f}" for d in per_run(results, label))
            + " ms"
            for label in ("a", "c", "d")
        ),
        f"- resolution: two identical deployments, (d) and (b), differ by {spread:+.3f} ms at p50 (run by run"
        f" {min(control):+.3f} to {max(control):+.3f} ms): a difference of that size is noise, not sign-in",
        f"- scoring p99 (median over runs): {', '.join(f'({k}) {ms(v)}' for k, v in p99.items())}",
        f"- checks: {', '.join(f'{k} {v}' for k, v in results['checks'].items())}; every endpoint answered"
        " the model's predictions",
    ]


def per_run(results: dict[str, Any], label: str) -> list[float]:
    ours, anchor = results["scoring"][label], results["scoring"]["b"]
    return [(statistics.median(o) - statistics.median(m)) * 1000 for o, m in zip(ours, anchor, strict=True)]


# -- the run ---------------------------------------------------------------------------------


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `with` block that stops the processes


def endpoints_of(on: Server, off: Server, work: Path) -> tuple[list[Endpoint], list[int]]:
    """The model registered on both servers and deployed behind (a), (b), (c) and (d)."""
    say("training and registering the model on both servers through the mlflow client")
    for side in ("on", "off"):
        (work / side).mkdir()
    expected = train(on, work / "on")
    if train(off, work / "off") != expected:
        raise RuntimeError("the model trained on the two servers predicts differently")
    say("deploying (a) and (c) on the sign-in server, (b) and (d) on the --no-auth server")
    deploy_model(on, work / "on", "auth-key", CAPACITY)
    deploy_model(on, work / "on", "auth-token", CAPACITY, auth_mode="aml_token")
    deploy_model(off, work / "off", "auth-key", CAPACITY)
    deploy_model(off, work / "off", "auth-key-2", CAPACITY)
    plain = {"Content-Type": "application/json"}

    def keyed(label: str, server: Server, endpoint: str) -> Endpoint:
        key = endpoint_key(server, endpoint)
        return Endpoint(
            label, f"{server.url}/endpoints/{endpoint}/score", {**plain, "Authorization": f"Bearer {key}"}
        )

    token = {**plain, "Authorization": f"Bearer {on.token}"}
    endpoints = [
        keyed("a", on, "auth-key"),
        keyed("b", off, "auth-key"),
        Endpoint("c", f"{on.url}/endpoints/auth-token/score", token),
        keyed("d", off, "auth-key-2"),
    ]
    return endpoints, expected


def run(args: argparse.Namespace, sizes: Sizes, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = run_header(sizes, args.quick)
    began = time.perf_counter()
    with Processes() as procs:
        say("starting Shipyard twice: sign-in on (the default) and --no-auth")
        on = start_shipyard(procs, sys.executable, work / "home-on", work / "shipyard-on.log", ROOT)
        off = start_shipyard(
            procs, sys.executable, work / "home-off", work / "shipyard-off.log", ROOT, auth=False
        )
        for server in (on, off):
            wait_idle(server)
        results["ingest"] = ingest(on, off, sizes)
        endpoints, expected = endpoints_of(on, off, work)
        body = (work / "on" / "body.json").read_bytes()
        results["checks"] = check(on, off, endpoints, body, expected)
        for server in (on, off):
            wait_idle(server, timeout=120)
        score_runs(endpoints, body, sizes)
        results["scoring"] = {e.label: e.runs for e in endpoints}
    results["machine"]["load_average_after"] = os.getloadavg()
    results["wall_seconds"] = time.perf_counter() - began
    return results


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    # The --no-auth side gets no token: not one of the user's from the environment either.
    os.environ.pop("SHIPYARD_TOKEN", None)
    runs = args.runs or (3 if args.quick else 5)
    sizes = Sizes(
        ingest_points=args.points or (100_000 if args.quick else 1_000_000),
        ingest_runs=runs,
        requests=args.requests or (500 if args.quick else 2000),
        scoring_runs=runs,
        warmup=100 if args.quick else 300,
    )
    work = BENCH / f"auth-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True)
    try:
        results = run(args, sizes, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    lines = report(results, sizes)
    print("\n".join(lines))
    (BENCH / "auth.json").write_text(json.dumps(results, indent=2, default=str))
    (BENCH / "auth.md").write_text("\n".join(lines) + "\n")
    print(f"results: {BENCH / 'auth.json'}, {BENCH / 'auth.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
