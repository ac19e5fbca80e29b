"""Jobs on several servers: the shared queue's throughput with 1 and 2 servers, and a SIGKILL.

    .venv/bin/python benchmarks/job_failover.py                  # 200 jobs, 3 rounds each (~4 min)
    .venv/bin/python benchmarks/job_failover.py --quick          # 60 jobs, 1 round (~1.5 min)
    .venv/bin/python benchmarks/job_failover.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Needs PostgreSQL (``--database-url``, else ``SHIPYARD_TEST_DATABASE_URL``): each phase runs
on a fresh database made on that server and dropped at its end. Servers are real
``python -m shipyard up`` processes, each with a home of its own (as on two machines), one
artifact folder, one secret key, ``SHIPYARD_LOCAL_MAX_CONCURRENT=4`` each and the default
lease (10 s). Every job is ``sleep 0.2; echo $SHIPYARD_JOB_NAME >> ran.txt`` on the
built-in ``local`` target. Jobs are submitted by 4 client threads, round-robin over the
servers.

- **1 server** (the anchor) and **2 servers**, in turns, ``--rounds`` times each: throughput
  = jobs / (last job's terminal event minus first job's creation), from the servers' own clocks.
- **SIGKILL**: 2 servers, the same jobs; server A is killed at a random moment (uniform in
  20 to 60 % of the 2-server wall time, seeded with ``--seed``) and started again once its
  lease has lapsed. Every job must end ``Completed`` exactly once (``ran.txt``: one line per
  job, all distinct); *adoption* is, for each job A held, its "adopted by server" event
  minus the kill.

Results: ``.bench/job_failover.json`` (every sample) and ``.bench/job_failover.md``. See
docs/benchmarks.md#jobs-on-several-servers.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import secrets
import shutil
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from _measure import markdown_table, median, run_header, say
from _pg import fresh_database
from _servers import Processes, ServerFailed, _read_url, _wait_healthy

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
TERMINAL = {"Completed", "Failed", "Canceled"}
LEASE_S = 10.0  # the default; said in the report
GOAL_ADOPTION_S = 15.0
COMMAND = "sleep 0.2; echo $SHIPYARD_JOB_NAME >> {ran}"


@dataclass
class Sizes:
    jobs: int
    rounds: int
    seed: int


@dataclass
class Node:
    name: str
    home: Path
    url: str
    proc: Any


class Cluster:
    """Shipyard servers on one database, one artifact folder and one secret key."""

    def __init__(self, procs: Processes, work: Path, database_url: str, token: str) -> None:
        self.procs = procs
        self.work = work
        self.database_url = database_url
        self.token = token
        self.env = {
            "SHIPYARD_ADMIN_TOKEN": token,
            "SHIPYARD_SECRET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "SHIPYARD_LOCAL_MAX_CONCURRENT": "4",
        }

    def start(self, name: str) -> Node:
        home = self.work / name
        argv = [
            sys.executable, "-m", "shipyard", "up", "--host", "127.0.0.1", "--port", "0",
            "--home", str(home), "--database-url", self.database_url,
            "--artifacts", str(self.work / "artifacts"),
        ]  # fmt: skip
        log = self.work / f"{name}.log"
        deadline = time.monotonic() + 120
        proc = self.procs.spawn(argv, log=log, cwd=self.work, pipe_stdout=True, env=self.env)
        url = _read_url(proc, log, deadline)
        _wait_healthy(f"{url}/healthz", proc, deadline, log)
        return Node(name, home, url, proc)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="60 jobs, 1 round")
    parser.add_argument("--jobs", type=int, help="jobs per phase (default 200)")
    parser.add_argument(
        "--rounds", type=int, help="throughput rounds per server count (default 3; 0: the kill alone)"
    )
    parser.add_argument("--seed", type=int, default=12, help="seed of the kill's moment")
    parser.add_argument("--database-url", default=os.environ.get("SHIPYARD_TEST_DATABASE_URL"))
    parser.add_argument("--keep", action="store_true", help="keep the homes and server logs")
    return parser.parse_args()


def submit_all(urls: list[str], token: str, names: list[str], ran: Path) -> None:
    headers = {"Authorization": f"Bearer {token}"}

    def submit(i: int) -> None:
        body = {"spec": {"command": COMMAND.format(ran=ran), "name": names[i]}, "source": "job.yml"}
        response = httpx.post(f"{urls[i % len(urls)]}/api/v1/jobs", json=body, headers=headers, timeout=60)
        response.raise_for_status()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(submit, range(len(names))))


def fetch(url: str, token: str, name: str) -> dict[str, Any]:
    response = httpx.get(
        f"{url}/api/v1/jobs/{name}", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def wait_all(url: str, token: str, names: list[str], timeout: float = 900) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(names):
        for name in names:
            if name not in done:
                job = fetch(url, token, name)
                if job["status"] in TERMINAL:
                    done[name] = job
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(names) - len(done)} jobs did not end in {timeout:.0f} s")
        time.sleep(0.2)
    return done


def throughput(jobs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    first = min(j["created_at"] for j in jobs.values())
    last = max(j["events"][-1]["at"] for j in jobs.values())
    wall = (last - first) / 1000
    servers = {_claimed_by(j) for j in jobs.values()}
    return {"wall_s": wall, "jobs_per_s": len(jobs) / wall, "servers_that_ran_jobs": len(servers)}


def _claimed_by(job: dict[str, Any]) -> str:
    claims = [e["message"] for e in job["events"] if e["status"] == "Preparing"]
    return claims[0].rsplit("(server ", 1)[-1].rstrip(")") if claims else ""


def check_once(jobs: dict[str, dict[str, Any]], ran: Path) -> dict[str, Any]:
    lines = ran.read_text().split() if ran.exists() else []
    statuses = sorted({j["status"] for j in jobs.values()})
    return {
        "statuses": statuses,
        "lines": len(lines),
        "distinct": len(set(lines)),
        "exactly_once": statuses == ["Completed"] and sorted(lines) == sorted(jobs),
        # what went wrong, told by the jobs themselves
        "not_completed": {n: j["events"] for n, j in jobs.items() if j["status"] != "Completed"},
    }


def phase(args: argparse.Namespace, work: Path, servers: int, sizes: Sizes, label: str) -> dict[str, Any]:
    token = secrets.token_urlsafe(32)
    with fresh_database(args.database_url) as url, Processes() as procs:
        cluster = Cluster(procs, work, url, token)
        nodes = [cluster.start(f"{label}-{i}") for i in range(servers)]
        ran = work / f"{label}-ran.txt"
        names = [f"{label}-{i:03d}" for i in range(sizes.jobs)]
        busy = psutil.cpu_times()
        submit_all([n.url for n in nodes], token, names, ran)
        jobs = wait_all(nodes[-1].url, token, names)
        machine_busy = _busy_share(busy, psutil.cpu_times())
    return {**throughput(jobs), **check_once(jobs, ran), "machine_busy": machine_busy}


def _busy_share(before: Any, after: Any) -> float:
    """The share of all cores' time that was busy between two ``psutil.cpu_times()``: near 1, the
    machine (not the queue) is what limits throughput."""
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    total = sum(after) - sum(before)
    return float(1 - idle / total) if total else 0.0


def kill_phase(args: argparse.Namespace, work: Path, sizes: Sizes, wall_s: float) -> dict[str, Any]:
    token = secrets.token_urlsafe(32)
    rng = random.Random(sizes.seed)
    kill_after = rng.uniform(0.2, 0.6) * wall_s
    with fresh_database(args.database_url) as url, Processes() as procs:
        cluster = Cluster(procs, work, url, token)
        a, b = cluster.start("kill-a"), cluster.start("kill-b")
        node_a = json.loads((a.home / "node.json").read_text())["id"][:8]
        ran = work / "kill-ran.txt"
        names = [f"kill-{i:03d}" for i in range(sizes.jobs)]
        started = time.monotonic()
        with ThreadPoolExecutor(1) as pool:
            submitting = pool.submit(submit_all, [a.url, b.url], token, names, ran)
            time.sleep(max(0.0, kill_after - (time.monotonic() - started)))
            os.kill(a.proc.pid, signal.SIGKILL)  # the server only: its jobs' supervisors live on
            killed_ms = time.time() * 1000
            a.proc.wait()
            try:
                submitting.result()
            except httpx.HTTPError:
                # Submissions to the dead server fail, as a client would see; send the rest to B.
                submit_all([b.url], token, [n for n in names if not _exists(b.url, token, n)], ran)
        held = [n for n in names if _held_now(b.url, token, n, node_a)]
        say(f"  killed server A after {kill_after:.1f} s; restarting it once its lease has lapsed")
        time.sleep(LEASE_S + 2)
        restarted = cluster.start("kill-a")
        jobs = wait_all(restarted.url, token, names)
    adoption = [
        (e["at"] - killed_ms) / 1000
        for j in jobs.values()
        for e in j["events"]
        if e["message"].startswith("adopted by server") and e["at"] >= killed_ms
    ]
    return {
        "kill_after_s": kill_after,
        "held_by_a_at_kill": len(held),
        "adopted": len(adoption),
        "adoption_s": sorted(adoption),
        "adoption_max_s": max(adoption, default=None),
        "adoption_median_s": median(adoption) if adoption else None,
        **check_once(jobs, ran),
    }


def _held_now(url: str, token: str, name: str, node: str) -> bool:
    job = fetch(url, token, name)
    return job["status"] not in TERMINAL and _claimed_by(job).startswith(node)


def _exists(url: str, token: str, name: str) -> bool:
    response = httpx.get(
        f"{url}/api/v1/jobs/{name}", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    return response.status_code == 200


def report(results: dict[str, Any]) -> list[str]:
    kill = results["kill"]
    return [
        f"{results['sizes']['jobs']} jobs (`sleep 0.2`), {len(results['one'])} round(s) each, medians;"
        f" lease {LEASE_S:g} s, 4 local slots per server",
        "",
        *_throughput(results["one"], results["two"]),
        *markdown_table(
            [
                ("SIGKILL of one of 2 servers", "result", "goal"),
                ("killed after", f"{kill['kill_after_s']:.1f} s", ""),
                ("jobs adopted from it", str(kill["adopted"]), ""),
                (
                    "adoption after the kill (max / median)",
                    f"{kill['adoption_max_s'] or 0:.1f} s / {kill['adoption_median_s'] or 0:.1f} s",
                    f"≤ {GOAL_ADOPTION_S:g} s: {_verdict((kill['adoption_max_s'] or 0) <= GOAL_ADOPTION_S)}",
                ),
                (
                    "lines in ran.txt (distinct)",
                    f"{kill['lines']} ({kill['distinct']})",
                    f"{results['sizes']['jobs']} ({results['sizes']['jobs']})",
                ),
                ("statuses", ", ".join(kill["statuses"]), "Completed"),
                ("every job ended exactly once", str(kill["exactly_once"]), "True"),
            ]
        ),
        *(f"- {name}: {_story(events)}" for name, events in kill["not_completed"].items()),
    ]


def _story(events: list[dict[str, Any]]) -> str:
    return "; ".join(f"{e['status']} ({e['message']})" if e["message"] else e["status"] for e in events)


def _throughput(one: list[dict[str, Any]], two: list[dict[str, Any]]) -> list[str]:
    if not one or not two:
        return []
    tp1 = median([r["jobs_per_s"] for r in one])
    tp2 = median([r["jobs_per_s"] for r in two])
    return [
        *markdown_table(
            [
                ("measure", "1 server (anchor)", "2 servers", "2 / 1"),
                ("queue throughput", f"{tp1:.1f} jobs/s", f"{tp2:.1f} jobs/s", f"{tp2 / tp1:.2f}x"),
                (
                    "wall time",
                    f"{median([r['wall_s'] for r in one]):.1f} s",
                    f"{median([r['wall_s'] for r in two]):.1f} s",
                    "",
                ),
                (
                    "machine busy (all cores, anyone's work)",
                    f"{median([r['machine_busy'] for r in one]):.0%}",
                    f"{median([r['machine_busy'] for r in two]):.0%}",
                    "",
                ),
                (
                    "every job ended once",
                    str(all(r["exactly_once"] for r in one)),
                    str(all(r["exactly_once"] for r in two)),
                    "",
                ),
            ]
        ),
        "",
    ]


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def main() -> int:
    args = parse_args()
    if not args.database_url:
        print("needs PostgreSQL: --database-url or SHIPYARD_TEST_DATABASE_URL", file=sys.stderr)
        return 2
    sizes = Sizes(
        jobs=args.jobs or (60 if args.quick else 200),
        rounds=args.rounds if args.rounds is not None else (1 if args.quick else 3),
        seed=args.seed,
    )
    BENCH.mkdir(exist_ok=True)
    work = BENCH / f"job-failover-{time.strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True)
    results: dict[str, Any] = {**run_header(sizes, args.quick), "one": [], "two": []}
    started = time.monotonic()
    try:
        for r in range(sizes.rounds):  # in turns, so a load spike hits both
            for servers, key in ((1, "one"), (2, "two")):
                say(f"round {r + 1}/{sizes.rounds}: {sizes.jobs} jobs on {servers} server(s)")
                results[key].append(phase(args, work, servers, sizes, f"{key}{r}"))
                say(f"  {results[key][-1]['jobs_per_s']:.1f} jobs/s")
        say(f"SIGKILL: {sizes.jobs} jobs on 2 servers, one killed and restarted")
        # --rounds 0 runs the kill alone, at a moment drawn from ~5.5 jobs/s (2 cores)
        wall = median([r["wall_s"] for r in results["two"]]) if results["two"] else sizes.jobs / 5.5
        results["kill"] = kill_phase(args, work, sizes, wall)
    except (ServerFailed, httpx.HTTPStatusError) as exc:
        # Keep the servers' logs: the traceback of a 5xx is in one of them.
        print(f"failed: {exc}\nserver logs kept in {work}", file=sys.stderr)
        return 1
    if not args.keep and results["kill"]["exactly_once"]:
        shutil.rmtree(work, ignore_errors=True)
    elif not results["kill"]["exactly_once"]:
        say(f"not every job ended once: server logs kept in {work}")
    results["minutes"] = (time.monotonic() - started) / 60
    results["machine"]["load_average_after"] = os.getloadavg()
    (BENCH / "job_failover.json").write_text(json.dumps(results, indent=2))
    lines = report(results)
    (BENCH / "job_failover.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if results["kill"]["exactly_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
