"""Mixed load on two servers sharing one PostgreSQL, with one ``kill -9`` of each: nothing a
client was told was written is lost, and memory stays flat.

    .venv/bin/python benchmarks/mixed_load.py                  # 10 minutes of load (~12 min)
    .venv/bin/python benchmarks/mixed_load.py --minutes 1      # a quick look (~2.5 min)

Needs PostgreSQL (``--database-url``, else ``SHIPYARD_TEST_DATABASE_URL``): a fresh database
is made on that server and dropped at the end. Two real ``shipyard up`` processes, A and B,
each with a home of its own (as on two machines), one artifact folder, one secret key, the
default job lease (``--lease``, 10 s). For ``--minutes``, at once:

- **SDK**: a script (its own process) logs two metrics per step at ``--sdk-rate`` steps/s
  through ``shipyard.start_run`` against A, a new run with two params every 20 s. A run's
  points count as acknowledged once ``end()`` returned without an error (the SDK's promise:
  every point is in, or it says so).
- **mlflow**: the unchanged ``mlflow`` client (``MlflowClient``, its own process) against
  B's MLflow API: a run every 20 s with three ``log_param`` calls, then ``log_metric`` at
  ``--mlflow-rate`` steps/s. Every call that returned is written to a ledger.
- **jobs**: ``--job-rate`` jobs/s submitted to A and B in turn, each ``echo $SHIPYARD_JOB_NAME
  >> ran.txt``; a 2xx answer acknowledges one.
- **scoring**: ``--score-rate`` requests/s to an online endpoint (a scoring script, one worker
  per server that runs it), to A and B in turn; a request the first server does not answer 200
  goes to the other (as a load balancer would). The deployment is created through A, which
  brings it up; the load starts once B follows it (how long that took is reported).

B is killed with SIGKILL (the server process, as the kernel's OOM killer would) at the first
of ``--kill-at`` (fractions of the load's duration, default 10 % and 16 %: early, so that each
restarted server then runs for most of the load) and A at the second; each is started again
on its home and port ``--down-s`` later (default 15 s: past the lease, so the other server
adopts the jobs). After the load: every acknowledged write is looked up through the restarted
servers — SDK points (distinct steps) and params, mlflow params and metric steps, jobs ended
``Completed`` exactly once (``ran.txt``), scoring requests answered. Memory: each server's RSS
(its process and its scoring worker) sampled every 2 s, the median of the 30 s from minute 2
of its last life against the median of the load's last 30 s (goal: within 10 %).

Results: ``.bench/mixed_load.json`` and ``.bench/mixed_load.md`` (``--out`` elsewhere); exits
1 when anything acknowledged is missing. See docs/benchmarks.md#mixed-load-with-a-kill-of-each-server.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

from _measure import markdown_table, run_header, say
from _pg import fresh_database
from _servers import Processes, Server, ServerFailed, clean_env, start_shipyard

ROOT = Path(__file__).resolve().parent.parent
TERMINAL = {"Completed", "Failed", "Canceled"}
RUN_S = 20.0  # a client's run lasts this long, then it starts the next
RSS_WINDOW_S = 30.0
GOAL_RSS = 0.10

# The two clients that run in their own processes, as a user's scripts do.
SDK_CLIENT = Path(__file__).with_name("_mixed_sdk_client.py")
MLFLOW_CLIENT = Path(__file__).with_name("_mixed_mlflow_client.py")

SCORE = "def init():\n    pass\n\n\ndef run(raw_data):\n    return {'echo': raw_data}\n"
DEPLOYMENT = """\
name: blue
endpoint_name: mixed
model:
  path: model
code_configuration:
  code: code
  scoring_script: score.py
instance_count: 1
readiness_probe:
  initial_delay: 0
  period: 1
"""


@dataclass
class Node:
    """One server and what it takes to start it again on the same home and port."""

    label: str
    home: Path
    args: list[str]
    env: dict[str, str]
    server: Server
    lives: list[float] = field(default_factory=list)  # when each life began (monotonic)

    @property
    def url(self) -> str:
        return self.server.url


class Cluster:
    def __init__(self, procs: Processes, work: Path, database_url: str, lease_s: float) -> None:
        self.procs = procs
        self.work = work
        self.token = secrets.token_urlsafe(32)
        self.args = ["--database-url", database_url, "--artifacts", str(work / "artifacts")]
        self.env = {
            "SHIPYARD_SECRET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "SHIPYARD_JOB_LEASE_SECONDS": f"{lease_s:g}",
            "SHIPYARD_LOCAL_MAX_CONCURRENT": "4",
        }

    def start(self, label: str) -> Node:
        home = self.work / label
        server = self._start(home, label, 0)
        return Node(label, home, self.args, self.env, server, [time.monotonic()])

    def restart(self, node: Node) -> None:
        node.server = self._start(node.home, node.label, urlsplit(node.url).port or 0)
        node.lives.append(time.monotonic())

    def _start(self, home: Path, label: str, port: int) -> Server:
        log = self.work / f"{label}.log"
        return start_shipyard(
            self.procs,
            sys.executable,
            home,
            log,
            ROOT,
            port=port,
            token=self.token,
            args=self.args,
            env=self.env,
        )

    def kill(self, node: Node) -> None:
        os.kill(node.server.proc.pid, signal.SIGKILL)  # the server only, as the OOM killer would
        node.server.proc.wait()


# -- the in-process clients: jobs and scoring ------------------------------------------------


@dataclass
class Jobs:
    """Submits jobs to the servers in turn; a 2xx answer acknowledges one."""

    nodes: list[Node]
    headers: dict[str, str]
    ran: Path
    rate: float
    acked: list[str] = field(default_factory=list)
    unsure: list[str] = field(default_factory=list)  # no answer: it may exist

    def run(self, stop: threading.Event) -> None:
        i = 0
        began = time.monotonic()
        with httpx.Client(headers=self.headers, timeout=30) as http:
            while not stop.is_set():
                stop.wait(max(0.0, began + i / self.rate - time.monotonic()))
                name = f"mixed-{i:05d}"
                body = {
                    "spec": {"command": f"echo $SHIPYARD_JOB_NAME >> {self.ran}", "name": name},
                    "source": "job.yml",
                }
                try:
                    answer = http.post(f"{self.nodes[i % 2].url}/api/v1/jobs", json=body)
                    (self.acked if answer.is_success else self.unsure).append(name)
                except httpx.TransportError:
                    self.unsure.append(name)
                i += 1


@dataclass
class Scoring:
    """Scores through the servers in turn; what the first does not answer 200 goes to the other."""

    nodes: list[Node]
    key: str
    rate: float
    sent: int = 0
    answered: int = 0
    second_try: int = 0
    wrong: int = 0  # answered 200 with another request's answer
    refusals: Counter[str] = field(default_factory=Counter)  # what each server said instead of 200

    def run(self, stop: threading.Event) -> None:
        began = time.monotonic()
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}
        with httpx.Client(headers=headers, timeout=30) as http:
            while not stop.is_set():
                stop.wait(max(0.0, began + self.sent / self.rate - time.monotonic()))
                body = json.dumps({"i": self.sent})
                for attempt in range(2):
                    node = self.nodes[(self.sent + attempt) % 2]
                    try:
                        answer = http.post(f"{node.url}/endpoints/mixed/score", content=body)
                    except httpx.TransportError as exc:
                        self.refusals[f"{node.label}: {type(exc).__name__}"] += 1
                        continue
                    if answer.status_code != 200:
                        self.refusals[f"{node.label}: {answer.status_code} {answer.text[:120]}"] += 1
                    else:
                        self.answered += 1
                        self.second_try += attempt
                        self.wrong += answer.json() != {"echo": body}
                        break
                self.sent += 1


@dataclass
class Memory:
    """Each server's RSS (its process and its scoring workers) every 2 s."""

    nodes: list[Node]
    samples: dict[str, list[tuple[float, int, int]]] = field(default_factory=dict)  # (t, pid, bytes)

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(2.0):
            for node in self.nodes:
                pid = node.server.proc.pid
                rss = _rss(pid, str(node.home))
                if rss:
                    self.samples.setdefault(node.label, []).append((time.monotonic(), pid, rss))


def _rss(pid: int, home: str) -> int:
    try:
        total = psutil.Process(pid).memory_info().rss
    except psutil.NoSuchProcess:
        return 0
    for proc in psutil.process_iter(["cmdline", "memory_info"]):
        argv = proc.info["cmdline"] or []
        if "shipyard.serving.worker" in argv and any(home in a for a in argv) and proc.info["memory_info"]:
            total += proc.info["memory_info"].rss
    return int(total)


# -- the run ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the load runs (10)")
    parser.add_argument("--kill-at", default="0.10,0.16", help="when A, then B, is killed (fractions)")
    parser.add_argument("--down-s", type=float, default=15.0, help="how long a killed server stays down (15)")
    parser.add_argument("--lease", type=float, default=10.0, help="job lease seconds (10, the default)")
    parser.add_argument("--sdk-rate", type=float, default=200.0, help="SDK steps/s, 2 metrics each (200)")
    parser.add_argument("--mlflow-rate", type=float, default=10.0, help="mlflow log_metric calls/s (10)")
    parser.add_argument("--job-rate", type=float, default=0.5, help="jobs submitted per second (0.5)")
    parser.add_argument("--score-rate", type=float, default=20.0, help="scoring requests per second (20)")
    parser.add_argument("--database-url", default=os.environ.get("SHIPYARD_TEST_DATABASE_URL"))
    parser.add_argument("--out", type=Path, default=ROOT / ".bench", help="where the results go")
    parser.add_argument("--keep", action="store_true", help="keep the homes and logs")
    return parser.parse_args(argv)


def deploy(node: Node, work: Path, token: str) -> str:
    """An endpoint with a scoring script, one worker on each server; its key."""
    from shipyard.client.client import Client

    (work / "model").mkdir()
    (work / "model" / "weights.txt").write_text("w")
    (work / "code").mkdir()
    (work / "code" / "score.py").write_text(SCORE)
    (work / "ep.yml").write_text("name: mixed\nauth_mode: key\n")
    (work / "blue.yml").write_text(DEPLOYMENT)
    with Client(node.url, token=token) as client:
        client.online_endpoints.create(work / "ep.yml")
        client.online_deployments.create(work / "blue.yml", all_traffic=True)
        done = client.online_deployments.wait("mixed", "blue", timeout_s=180)
        if done.provisioning_state != "Succeeded":
            raise ServerFailed(f"the deployment did not come up: {done.provisioning_state}")
        return client.online_endpoints.get_keys("mixed")["primaryKey"]


def wait_scoring(nodes: list[Node], key: str) -> None:
    """Until every server answers a scoring request (each runs its own worker)."""
    deadline = time.monotonic() + 180
    for node in nodes:
        while True:
            try:
                answer = httpx.post(
                    f"{node.url}/endpoints/mixed/score",
                    json={"warm": 1},
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=30,
                )
                if answer.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise ServerFailed(f"{node.label} never answered a scoring request")
            time.sleep(0.5)


def run_load(args: argparse.Namespace, work: Path, database_url: str) -> dict[str, Any]:
    with Processes() as procs:
        cluster = Cluster(procs, work, database_url, args.lease)
        a, b = cluster.start("a"), cluster.start("b")
        nodes = [a, b]
        key = deploy(a, work, cluster.token)
        succeeded = time.monotonic()
        wait_scoring([b], key)  # B follows the revision A brought up (its own worker)
        follow_s = time.monotonic() - succeeded
        headers = {"Authorization": f"Bearer {cluster.token}"}
        signals = work / "signals"
        signals.mkdir()
        env = clean_env(
            SHIPYARD_TOKEN=cluster.token,
            SHIPYARD_SPILL_DIR=str(work / "spill"),
            MLFLOW_TRACKING_URI=b.url,
            MLFLOW_TRACKING_TOKEN=cluster.token,
        )
        extra = {k: v for k, v in env.items() if k.startswith(("SHIPYARD_", "MLFLOW_"))}
        sdk = procs.spawn(
            [sys.executable, str(SDK_CLIENT), a.url, str(signals), str(args.sdk_rate), str(RUN_S)],
            log=work / "sdk.log",
            cwd=work,
            pipe_stdout=True,
            env=extra,
        )
        mlflow = procs.spawn(
            [sys.executable, str(MLFLOW_CLIENT), str(signals), str(args.mlflow_rate), str(RUN_S)],
            log=work / "mlflow.log",
            cwd=work,
            pipe_stdout=True,
            env=extra,
        )
        jobs = Jobs(nodes, headers, work / "ran.txt", args.job_rate)
        scoring = Scoring(nodes, key, args.score_rate)
        memory = Memory(nodes)
        stop = threading.Event()
        threads = [threading.Thread(target=c.run, args=(stop,), daemon=True) for c in (jobs, scoring, memory)]
        for thread in threads:
            thread.start()
        began = time.monotonic()
        duration = args.minutes * 60
        kills = _kill_schedule(cluster, [b, a], began, duration, args, key)
        time.sleep(max(0.0, began + duration - time.monotonic()))
        stop.set()
        (signals / "stop").touch()
        ended = time.monotonic()
        for thread in threads:
            thread.join(timeout=60)
        say("load stopped; waiting for the clients to end their runs")
        sdk_out, _ = sdk.communicate(timeout=900)
        mlflow_out, _ = mlflow.communicate(timeout=900)
        say("looking every acknowledged write up")
        results: dict[str, Any] = {
            "duration_s": ended - began,
            "kills": kills,
            "b_follows_the_deployment_s": follow_s,
            "sdk": check_sdk(a, cluster.token, sdk_out),
            "mlflow": check_mlflow(b, cluster.token, signals / "mlflow-acked.jsonl", mlflow_out),
            "jobs": check_jobs(a, headers, jobs),
            "scoring": {
                "sent": scoring.sent,
                "answered": scoring.answered,
                "second_try": scoring.second_try,
                "wrong": scoring.wrong,
                "refusals": dict(scoring.refusals),
            },
            "rss": rss_report(memory, nodes, ended),
        }
        results["jobs"]["rate"] = len(jobs.acked) / (ended - began)
        results["scoring"]["rate"] = scoring.answered / (ended - began)
        return results


def _kill_schedule(
    cluster: Cluster, nodes: list[Node], began: float, duration: float, args: argparse.Namespace, key: str
) -> list[dict[str, Any]]:
    """Kill each node at its moment and start it again; the next kill waits until the restarted
    one scores again (as a rolling restart would), so one server always serves."""
    kills = []
    for node, at in zip(nodes, (float(f) for f in args.kill_at.split(",")), strict=True):
        time.sleep(max(0.0, began + at * duration - time.monotonic()))
        killed = time.monotonic()
        cluster.kill(node)
        say(f"killed {node.label} at {killed - began:.0f} s; down for {args.down_s:g} s")
        time.sleep(args.down_s)
        cluster.restart(node)
        back = time.monotonic() - killed
        wait_scoring([node], key)
        kills.append(
            {
                "server": node.label,
                "at_s": killed - began,
                "back_after_s": back,
                "scoring_after_s": time.monotonic() - killed,
            }
        )
    return kills


# -- the checks ------------------------------------------------------------------------------


def check_sdk(node: Node, token: str, out: str) -> dict[str, Any]:
    from shipyard.client.client import Client

    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    runs = [r for r in lines if "run_id" in r]
    refused = next((r["refused_starts"] for r in lines if "refused_starts" in r), None)
    acked = lost = duplicates = params_lost = 0
    failed_ends = [r for r in runs if r["error"]]
    with Client(node.url, token=token) as client:
        for r in runs:
            if r["error"]:
                continue
            run = client.get_run(r["run_id"])
            expected = set(range(r["steps"]))
            for key in ("loss", "acc"):
                steps = client.get_metric_history(r["run_id"], key).steps if r["steps"] else []
                acked += len(expected)
                lost += len(expected - set(steps))
                duplicates += len(steps) - len(set(steps))
            params_lost += sum(1 for k in ("n", "rate") if k not in run.params)
    return {
        "runs": len(runs),
        "runs_end_failed": len(failed_ends),
        "refused_starts": refused,
        "points_acked": acked,
        "points_lost": lost,
        "points_twice": duplicates,
        "params_lost": params_lost,
    }


def check_mlflow(node: Node, token: str, ledger: Path, out: str) -> dict[str, Any]:
    from shipyard.client.client import Client

    summary = json.loads(out.splitlines()[-1]) if out.strip() else {}
    metrics: dict[str, set[int]] = {}
    params: dict[str, dict[str, str]] = {}
    for line in ledger.read_text().splitlines() if ledger.exists() else []:
        kind, rid, key, value = json.loads(line)
        if kind == "metric":
            metrics.setdefault(rid, set()).add(int(value))
        else:
            params.setdefault(rid, {})[key] = value
    lost = twice = params_lost = 0
    with Client(node.url, token=token) as client:
        for rid, steps in metrics.items():
            stored = client.get_metric_history(rid, "loss").steps
            lost += len(steps - set(stored))
            twice += len(stored) - len(set(stored))
        for rid, wanted in params.items():
            have = client.get_run(rid).params
            params_lost += sum(1 for k, v in wanted.items() if have.get(k) != v)
    return {
        "runs": len(params.keys() | metrics.keys()),
        "metric_steps_acked": sum(len(s) for s in metrics.values()),
        "metric_steps_lost": lost,
        "metric_points_twice": twice,
        "params_acked": sum(len(p) for p in params.values()),
        "params_lost": params_lost,
        "errors": summary.get("errors"),
        "slowest_call_s": summary.get("slowest_call_s"),
    }


def check_jobs(node: Node, headers: dict[str, str], jobs: Jobs) -> dict[str, Any]:
    """Wait for every job that exists to end; each acknowledged one must have run exactly once."""
    statuses: dict[str, str] = {}
    deadline = time.monotonic() + 600
    with httpx.Client(base_url=node.url, headers=headers, timeout=30) as http:
        pending = jobs.acked + jobs.unsure
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                answer = http.get(f"/api/v1/jobs/{name}")
                if answer.status_code == 404 and name in jobs.unsure:
                    pending.remove(name)  # its submission never landed
                elif answer.is_success and answer.json()["status"] in TERMINAL:
                    statuses[name] = answer.json()["status"]
                    pending.remove(name)
            time.sleep(0.5)
    lines = jobs.ran.read_text().split() if jobs.ran.exists() else []
    counts = {name: lines.count(name) for name in set(lines)}
    return {
        "acked": len(jobs.acked),
        "unanswered_submissions": len(jobs.unsure),
        "unanswered_that_exist": sum(1 for n in jobs.unsure if n in statuses),
        "acked_not_ended": sum(1 for n in jobs.acked if n not in statuses),
        "acked_not_completed": sum(1 for n in jobs.acked if statuses.get(n, "Completed") != "Completed"),
        "acked_not_run": sum(1 for n in jobs.acked if n not in counts),
        "ran_twice": sum(1 for c in counts.values() if c > 1),
        "statuses": sorted(set(statuses.values())),
    }


def rss_report(memory: Memory, nodes: list[Node], ended: float) -> dict[str, Any]:
    """Per server: RSS in the 30 s from minute 2 of its last life against the load's last 30 s."""
    report: dict[str, Any] = {}
    for node in nodes:
        life = node.lives[-1]
        samples = [(t, rss) for t, _, rss in memory.samples.get(node.label, []) if t >= life]
        early = [rss for t, rss in samples if life + 120 <= t < life + 120 + RSS_WINDOW_S]
        late = [rss for t, rss in samples if t >= ended - RSS_WINDOW_S]
        entry: dict[str, Any] = {"last_life_s": ended - life}
        if early and late and ended - RSS_WINDOW_S >= life + 120 + RSS_WINDOW_S:
            entry |= {
                "minute_2_mb": statistics.median(early) / 2**20,
                "end_mb": statistics.median(late) / 2**20,
            }
            entry["growth"] = entry["end_mb"] / entry["minute_2_mb"] - 1
        report[node.label] = entry
    return report


def lost_anything(results: dict[str, Any]) -> list[str]:
    sdk, ml, jobs, scoring = results["sdk"], results["mlflow"], results["jobs"], results["scoring"]
    problems = {
        "SDK points lost": sdk["points_lost"],
        "SDK params lost": sdk["params_lost"],
        "SDK runs whose end() failed": sdk["runs_end_failed"],
        "mlflow metric steps lost": ml["metric_steps_lost"],
        "mlflow params lost": ml["params_lost"],
        "acknowledged jobs that never ended": jobs["acked_not_ended"],
        "acknowledged jobs not Completed": jobs["acked_not_completed"],
        "acknowledged jobs that never ran": jobs["acked_not_run"],
        "jobs that ran twice": jobs["ran_twice"],
        "scoring requests no server answered": scoring["sent"] - scoring["answered"],
        "scoring answers to another request": scoring["wrong"],
    }
    return [f"{what}: {n}" for what, n in problems.items() if n]


def report(results: dict[str, Any], args: argparse.Namespace) -> list[str]:
    sdk, ml, jobs, scoring = results["sdk"], results["mlflow"], results["jobs"], results["scoring"]
    kills = ", ".join(
        f"{k['server'].upper()} at {k['at_s']:.0f} s (answering {k['back_after_s']:.0f} s later,"
        f" scoring {k['scoring_after_s']:.0f} s later)"
        for k in results["kills"]
    )
    rows: list[tuple[str, ...]] = [
        ("client", "acknowledged", "lost", "notes"),
        (
            "SDK metric points (2 per step)",
            f"{sdk['points_acked']:,}",
            str(sdk["points_lost"]),
            f"{sdk['runs']} runs; {sdk['points_twice']} stored twice; "
            f"{sdk['refused_starts']} run starts refused while down",
        ),
        ("SDK params", f"{2 * (sdk['runs'] - sdk['runs_end_failed']):,}", str(sdk["params_lost"]), ""),
        (
            "mlflow log_metric",
            f"{ml['metric_steps_acked']:,}",
            str(ml["metric_steps_lost"]),
            f"{ml['runs']} runs; {ml['metric_points_twice']} stored twice (a retried POST);"
            f" {ml['errors']} calls failed; longest call {ml['slowest_call_s'] or 0:.1f} s",
        ),
        ("mlflow log_param", f"{ml['params_acked']:,}", str(ml["params_lost"]), ""),
        (
            "jobs (ended Completed exactly once)",
            f"{jobs['acked']:,}",
            str(jobs["acked_not_ended"] + jobs["acked_not_completed"] + jobs["acked_not_run"]),
            f"{jobs['ran_twice']} ran twice; {jobs['unanswered_submissions']} submissions unanswered"
            f" ({jobs['unanswered_that_exist']} of them exist and ended);"
            f" statuses {', '.join(jobs['statuses'])}",
        ),
        (
            "scoring requests answered 200",
            f"{scoring['answered']:,} of {scoring['sent']:,} sent",
            str(scoring["sent"] - scoring["answered"]),
            f"{scoring['second_try']} answered by the other server; {scoring['wrong']} wrong answers",
        ),
    ]
    mem: list[tuple[str, ...]] = [
        ("server", "RSS, minute 2 of its last life", "RSS at the end", "growth", "goal")
    ]
    for label, entry in results["rss"].items():
        if "growth" in entry:
            mem.append(
                (
                    label.upper(),
                    f"{entry['minute_2_mb']:.0f} MB",
                    f"{entry['end_mb']:.0f} MB",
                    f"{entry['growth']:+.1%}",
                    f"within ±{GOAL_RSS:.0%}: {'met' if abs(entry['growth']) <= GOAL_RSS else 'MISSED'}",
                )
            )
        else:
            mem.append(
                (label.upper(), "-", "-", "-", f"its last life ({entry['last_life_s']:.0f} s) is too short")
            )
    return [
        f"{results['duration_s'] / 60:.1f} minutes of mixed load on 2 servers (one PostgreSQL); "
        f"kill -9 of {kills}; job lease {args.lease:g} s; B followed the deployment in"
        f" {results['b_follows_the_deployment_s']:.1f} s",
        f"load: SDK {args.sdk_rate:g} steps/s, mlflow {args.mlflow_rate:g} calls/s, "
        f"jobs {jobs['rate']:.2f}/s, scoring {scoring['rate']:.1f} answered/s",
        "",
        *markdown_table(rows),
        "",
        *markdown_table(mem),
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.database_url:
        print("needs PostgreSQL: --database-url or SHIPYARD_TEST_DATABASE_URL", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.out / f"mixed-load-{time.strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True)
    results: dict[str, Any] = run_header(
        argparse.Namespace(**{k: str(v) for k, v in vars(args).items()}), False
    )
    try:
        with fresh_database(args.database_url) as url:
            results |= run_load(args, work, url)
    except (ServerFailed, httpx.HTTPError) as exc:
        print(f"failed: {exc}\nlogs kept in {work}", file=sys.stderr)
        return 1
    results["machine"]["load_average_after"] = os.getloadavg()
    results["lost"] = lost_anything(results)
    lines = report(results, args)
    if results["lost"]:
        lines += ["", "LOST: " + "; ".join(results["lost"]), f"logs kept in {work}"]
        lines += [f"scoring refused: {results['scoring']['refusals']}"]
    elif not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    (args.out / "mixed_load.json").write_text(json.dumps(results, indent=2))
    (args.out / "mixed_load.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 1 if results["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
