"""Jobs: Queued → Running on ``local``, 100 jobs through two slots, beside Ray Jobs.

    .venv/bin/python benchmarks/jobs.py                 # 15 jobs per latency measure, 10 Ray jobs (~4 min)
    .venv/bin/python benchmarks/jobs.py --quick         # 5 / 3 jobs, 20 through two slots (~1.5 min)
    .venv/bin/python benchmarks/jobs.py --repeat 25 --keep

One Shipyard server (``python -m shipyard up``, SQLite, a fresh home under ``.bench/``) and,
for the anchor, one local Ray head (``shipyard.compute.ray_head.local_ray_head``), both
stopped at the end, also on an error, Ctrl-C or SIGTERM. Jobs run one after another, each
waited to the end, unless said otherwise; the table shows medians:

- **Queued → Running**, from the server's own event timestamps, of ``python -c "pass"`` on
  the built-in ``local`` target: with no environment (the server's interpreter), and with a
  built environment (``iniconfig``) that a warm-up job put in the cache, so the cache hit is
  inside. Also submit → Running (the client's clock before ``jobs.create`` against the
  server's Running timestamp, same host) and submit → Completed as the client sees it.
- **100 jobs through a ``local`` compute with ``max_concurrent: 2``**: all submitted, then
  waited for; wall time from the first submit to the last terminal event, beside the floor:
  the same 100 commands run with ``subprocess`` two at a time.
- **The anchor, Ray Jobs**: ``JobSubmissionClient.submit_job(entrypoint="python -c 'pass'")``
  until ``get_job_status`` is RUNNING or SUCCEEDED (polled every 10 ms), in turns with our
  no-environment job so a load spike hits both; then our job through a ``ray`` compute target.

Results: ``.bench/jobs.json`` (every sample) and ``.bench/jobs.md``. Cache hits and cold
builds of environments are ``benchmarks/environments.py``'s. See docs/benchmarks.md#jobs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from _measure import median, run_header, say
from _servers import Processes, start_shipyard
from shipyard.client.client import Client
from shipyard.compute.ray_head import local_ray_head
from shipyard.domain.jobs import TERMINAL, Job, JobStatus

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
GOAL_S = 1.0
POLL_S = 0.01
COMMAND = 'python -c "pass"'
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@dataclass
class Sizes:
    jobs: int  # per latency measure of ours
    ray_jobs: int
    batch: int
    batch_rounds: int
    slots: int


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="5 jobs per measure, 3 Ray jobs, 20 in the batch"
    )
    parser.add_argument("--repeat", type=int, help="jobs per latency measure (default 15, Ray 10)")
    parser.add_argument("--keep", action="store_true", help="keep the server's home and logs")
    return parser.parse_args()


# -- ours ------------------------------------------------------------------------------------


def event_at(job: Job, status: JobStatus) -> int | None:
    return next((e.at for e in job.events if e.status == status), None)


def wait_terminal(client: Client, name: str, timeout: float = 300) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = client.jobs.get(name)
        if job.status in TERMINAL:
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {name} is still {job.status} after {timeout:.0f} s")
        time.sleep(POLL_S)


def one_job(client: Client, job_file: Path) -> dict[str, Any]:
    """Submit, wait to the end; the server's timestamps and the client's view."""
    submitted_ms = time.time() * 1000
    started = time.perf_counter()
    name = client.jobs.create(job_file).name
    job = wait_terminal(client, name)
    seen_done = time.perf_counter() - started
    if job.status != JobStatus.COMPLETED:
        raise RuntimeError(f"job {name} ended {job.status}: {job.failure}")
    queued, running = event_at(job, JobStatus.QUEUED), event_at(job, JobStatus.RUNNING)
    # A process that ended between two ticks of the runner gets no Running event; it was
    # running before Finalizing, so that time is an upper bound.
    seen = running if running is not None else event_at(job, JobStatus.FINALIZING)
    if queued is None or seen is None:
        raise RuntimeError(f"job {name} has no Queued or Finalizing event: {job.events}")
    return {
        "name": name,
        "running_event": running is not None,
        "queued_to_running": (seen - queued) / 1000,
        "submit_to_running": (seen - submitted_ms) / 1000,
        "submit_to_completed": seen_done,
        "events": [(str(e.status), e.at) for e in job.events],
    }


def log_of(client: Client, name: str) -> str:
    return b"".join(client.jobs.stream(name, follow=False)).decode(errors="replace")


def serial(client: Client, job_file: Path, n: int, label: str) -> list[dict[str, Any]]:
    samples = []
    for i in range(n):
        say(f"{label} {i + 1}/{n}")
        samples.append(one_job(client, job_file))
    return samples


def batch(client: Client, job_file: Path, n: int) -> dict[str, Any]:
    """Submit ``n`` jobs, then wait for all; wall time to the last terminal event."""
    first_ms = time.time() * 1000
    names = [client.jobs.create(job_file).name for _ in range(n)]
    submitted_s = time.time() - first_ms / 1000
    jobs = [wait_terminal(client, name, timeout=600) for name in names]  # FIFO: mostly in order
    last_ms = max(max(e.at for e in job.events) for job in jobs)
    statuses = sorted({str(j.status) for j in jobs})
    no_running = sum(event_at(j, JobStatus.RUNNING) is None for j in jobs)
    total = (last_ms - first_ms) / 1000
    return {"total": total, "submitting": submitted_s, "statuses": statuses, "no_running_event": no_running}


def floor(n: int, slots: int) -> float:
    """The same commands with ``bash -c``, ``slots`` at a time (``main`` put this venv first on PATH)."""

    def run(_i: int) -> None:
        subprocess.run(["bash", "-c", COMMAND], check=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(slots) as pool:
        list(pool.map(run, range(n)))
    return time.perf_counter() - started


# -- the anchor ------------------------------------------------------------------------------


def ray_job(ray: Any) -> dict[str, Any]:
    started = time.perf_counter()
    submission = ray.submit_job(entrypoint="python -c 'pass'")
    running: float | None = None
    while True:
        status = str(ray.get_job_status(submission))
        if running is None and status.endswith(("RUNNING", "SUCCEEDED")):
            running = time.perf_counter() - started
        if status.endswith(("SUCCEEDED", "FAILED", "STOPPED")):
            break
        time.sleep(POLL_S)
    done = time.perf_counter() - started
    if not status.endswith("SUCCEEDED"):
        raise RuntimeError(f"Ray job {submission} ended {status}: {ray.get_job_logs(submission)[-2000:]}")
    return {"submit_to_running": running, "submit_to_completed": done}


def with_ray(client: Client, work: Path, files: dict[str, Path], sizes: Sizes) -> dict[str, Any]:
    from ray.job_submission import JobSubmissionClient

    out: dict[str, Any] = {"ray": [], "ours_in_turns": []}
    say("starting a local Ray head")
    started = time.perf_counter()
    with local_ray_head(num_cpus=2) as address:
        out["ray_head_start_s"] = time.perf_counter() - started
        ray = JobSubmissionClient(address)
        ray_job(ray)  # warm-up: the first job starts Ray's job supervisor machinery
        for i in range(sizes.ray_jobs):
            say(f"Ray job, then ours, {i + 1}/{sizes.ray_jobs}")
            out["ray"].append(ray_job(ray))
            out["ours_in_turns"].append(one_job(client, files["plain"]))
        client.computes.create("bench-ray", "ray", address=address)
        ray_file = work / "ray-job.yml"
        ray_file.write_text(f'command: {sys.executable} -c "pass"\ncompute: azureml:bench-ray\n')
        one_job(client, ray_file)
        out["ours_on_ray"] = serial(client, ray_file, sizes.ray_jobs, "our job on the ray target")
    return out


# -- the run ---------------------------------------------------------------------------------


def write_files(work: Path) -> dict[str, Path]:
    work.mkdir(parents=True, exist_ok=True)
    files = {
        "plain": f"command: {COMMAND}\nexperiment_name: bench-jobs\n",
        "env": (
            f"command: {COMMAND}\nexperiment_name: bench-jobs\nenvironment:\n  conda_file:\n"
            f"    dependencies:\n      - python={PYTHON}\n      - pip:\n          - iniconfig\n"
        ),
        "batch": f"command: {COMMAND}\nexperiment_name: bench-jobs\ncompute: azureml:bench-two\n",
    }
    paths = {}
    for key, text in files.items():
        paths[key] = work / f"{key}.yml"
        paths[key].write_text(text)
    return paths


def measure(client: Client, work: Path, sizes: Sizes) -> dict[str, Any]:
    files = write_files(work / "files")
    m: dict[str, Any] = {}
    say("warm-up job (no environment)")
    one_job(client, files["plain"])
    m["plain"] = serial(client, files["plain"], sizes.jobs, "no environment")
    say("warm-up job: builds the iniconfig environment")
    built = one_job(client, files["env"])
    m["env_build_s"] = built["queued_to_running"]
    m["env"] = serial(client, files["env"], sizes.jobs, "cached environment")
    m["env_cache_hits"] = sum(": cache hit" in log_of(client, s["name"]) for s in m["env"])
    client.computes.create("bench-two", "local", max_concurrent=sizes.slots)
    m["batch"], m["floor"] = [], []
    for i in range(sizes.batch_rounds):  # in turns, so a load spike hits both
        say(f"{sizes.batch} jobs through max_concurrent {sizes.slots}, round {i + 1}/{sizes.batch_rounds}")
        m["batch"].append(batch(client, files["batch"], sizes.batch))
        say(f"floor: {sizes.batch} commands with subprocess, {sizes.slots} at a time")
        m["floor"].append(floor(sizes.batch, sizes.slots))
    m.update(with_ray(client, work, files, sizes))
    return m


def med(samples: list[dict[str, Any]], key: str) -> float:
    return median([s[key] for s in samples])


def missing_running(m: dict[str, Any]) -> int:
    """Jobs whose process ended before the runner saw it running (no Running event)."""
    serial_ones = [s for k in ("plain", "env", "ours_in_turns", "ours_on_ray") for s in m[k]]
    batches: int = sum(b["no_running_event"] for b in m["batch"])
    return sum(not s["running_event"] for s in serial_ones) + batches


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def count(samples: list[dict[str, Any]]) -> str:
    """How many jobs, and how many of them had no Running event."""
    missing = sum(not s["running_event"] for s in samples)
    return f"{len(samples)}" + (f" ({missing} without Running)" if missing else "")


def table(m: dict[str, Any], sizes: Sizes) -> list[tuple[str, ...]]:
    ray_run, ray_done = med(m["ray"], "submit_to_running"), med(m["ray"], "submit_to_completed")
    plain = med(m["plain"], "queued_to_running")
    turns = med(m["ours_in_turns"], "queued_to_running")
    total, per = median([b["total"] for b in m["batch"]]), sizes.slots / sizes.batch
    n, r = count(m["plain"]), count(m["ours_on_ray"])

    def row(what: str, ours: float, anchor: float | None, count: str, goal: str = "") -> tuple[str, ...]:
        ratio = "" if anchor is None else f"{anchor / ours:.1f}x"
        return (what, fmt(ours), "" if anchor is None else fmt(anchor), ratio, goal, count)

    met = "met" if plain <= GOAL_S and turns <= GOAL_S else "NOT MET"
    rows = [
        ("measure", "Shipyard", "Ray Jobs", "Ray / Shipyard", "goal", "n"),
        row("Queued → Running, no environment (local)", plain, ray_run, n, f"≤ 1 s: {met}"),
        row("└ the same, in turns with Ray (head up)", turns, ray_run, count(m["ours_in_turns"])),
        row(
            "submit → Running (client clock → server event)", med(m["plain"], "submit_to_running"), ray_run, n
        ),
        row(
            "submit → Completed, as the client sees it",
            med(m["plain"], "submit_to_completed"),
            ray_done,
            str(sizes.jobs),
        ),
        row(
            f"Queued → Running, cached environment ({m['env_cache_hits']}/{sizes.jobs} cache hits)",
            med(m["env"], "queued_to_running"),
            ray_run,
            count(m["env"]),
        ),
        row(
            "submit → Completed, cached environment",
            med(m["env"], "submit_to_completed"),
            None,
            str(sizes.jobs),
        ),
        row(
            "Queued → Running on a `ray` compute target",
            med(m["ours_on_ray"], "queued_to_running"),
            ray_run,
            r,
        ),
        row(
            "submit → Completed on a `ray` compute target",
            med(m["ours_on_ray"], "submit_to_completed"),
            ray_done,
            r,
        ),
    ]
    floor_s, rounds = median(m["floor"]), str(sizes.batch_rounds)
    batch_rows = [
        ("measure", "Shipyard", "subprocess, 2 at a time", "Shipyard / floor", "", "n"),
        (
            f"{sizes.batch} jobs, max_concurrent {sizes.slots}: wall time",
            fmt(total),
            fmt(floor_s),
            f"{total / floor_s:.1f}x",
            "",
            rounds,
        ),
        ("└ jobs per second", f"{sizes.batch / total:.1f}", f"{sizes.batch / floor_s:.1f}", "", "", ""),
        (
            f"└ per job (wall x {sizes.slots} / {sizes.batch})",
            fmt(total * per),
            fmt(floor_s * per),
            "",
            "",
            "",
        ),
        ("└ Shipyard's overhead per job", fmt((total - floor_s) * per), "", "", "", ""),
    ]
    return [*rows, (), *batch_rows]


def render(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows if r) for i in range(6)]
    lines, header = [], True
    for r in rows:
        if not r:
            lines.append("")
            header = True
            continue
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")
        if header:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
            header = False
    return lines


def report(results: dict[str, Any], sizes: Sizes) -> list[str]:
    m, machine = results["measures"], results["machine"]
    before, after = machine["load_average_before"][0], machine["load_average_after"][0]
    lines = [
        f"Jobs: medians of {sizes.jobs} jobs (Ray: {sizes.ray_jobs}), each waited to the end",
        f"{results['date']}, {machine['cpus']} cores, {machine['platform']}, Python {machine['python']};"
        f" load average {before:.1f} before / {after:.1f} after;"
        f" whole run {results['wall_seconds'] / 60:.1f} min",
        "",
        *render(table(m, sizes)),
        "",
        "- first build of the iniconfig environment (Queued → Running of the warm-up job):"
        f" {fmt(m['env_build_s'])}",
        f"- the batches' jobs ended {', '.join(sorted({s for b in m['batch'] for s in b['statuses']}))};"
        f" submitting {sizes.batch} took {fmt(median([b['submitting'] for b in m['batch']]))};"
        f" jobs with no Running event: {missing_running(m)} (for one waited alone, Finalizing"
        " stands in for Running: an upper bound)",
        f"- the Ray head took {fmt(m['ray_head_start_s'])} to answer",
    ]
    return lines


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `with` blocks that stop the processes


def run(args: argparse.Namespace, sizes: Sizes, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = run_header(sizes, args.quick)
    began = time.perf_counter()
    with Processes() as procs:
        say("starting Shipyard")
        server = start_shipyard(procs, sys.executable, work / "home", work / "shipyard.log", ROOT)
        client = Client(server.url, token=server.token)
        try:
            results["measures"] = measure(client, work, sizes)
        finally:
            client.close()
    results["machine"]["load_average_after"] = os.getloadavg()
    results["wall_seconds"] = time.perf_counter() - began
    return results


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    jobs = args.repeat or (5 if args.quick else 15)
    sizes = Sizes(
        jobs=jobs,
        ray_jobs=args.repeat or (3 if args.quick else 10),
        batch=20 if args.quick else 100,
        batch_rounds=1 if args.quick else 3,
        slots=2,
    )
    # `python` in a job's command and in Ray's entrypoint: this venv's, as for the server.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    work = BENCH / f"jobs-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True)
    try:
        results = run(args, sizes, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    lines = report(results, sizes)
    print("\n".join(lines))
    (BENCH / "jobs.json").write_text(json.dumps(results, indent=2, default=str))
    (BENCH / "jobs.md").write_text("\n".join(lines) + "\n")
    print(f"results: {BENCH / 'jobs.json'}, {BENCH / 'jobs.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
