"""Data drift on 1,000,000 rows x 25 columns: Shipyard's ``compare()`` vs Evidently 0.7 vs scipy.

    .venv/bin/python benchmarks/monitoring_drift.py              # 1,000,000 rows, 3 runs each (~12 min)
    .venv/bin/python benchmarks/monitoring_drift.py --quick      # 100,000 rows, 1 run each (~1 min)
    .venv/bin/python benchmarks/monitoring_drift.py --rows 300000 --runs 5 --json out.json

The data: a reference and a current window of ``--rows`` rows, 20 numerical columns (normal,
log-normal, exponential, uniform and Poisson counts) and 5 text ones (3 to 50 categories).
The current window shifts a known subset clearly (:data:`SHIFTED`): 5 numerical columns by
half a standard deviation or a 1.6x scale, 2 text columns by reversed category shares (one
also gains an unseen category); the other 18 are fresh draws from the reference's
distributions. Both are written as Parquet to a temporary directory.

Each measure runs in a fresh subprocess (``_drift_sides.py``), timed from reading the two
files to every column's verdict, median of ``--runs``:

* Shipyard: ``compare(reference, current)`` with its default metrics (Azure ML's: normalized
  Wasserstein for numbers, Jensen-Shannon for text, threshold 0.1), all columns.
* Evidently 0.7's ``DataDriftPreset`` (the issue's anchor) on the same files. It runs in its
  own venv, created with uv on first use under ``~/.cache/shipyard-bench/evidently`` (its
  pandas pin clashes with ours) and reused afterwards. Past 1,000 rows its defaults are the
  same two metrics with threshold 0.1; its Jensen-Shannon is in natural-log units (ours in
  base 2), so values differ by a constant factor, verdicts on a clear shift do not.
* scipy on the full arrays: the same metrics, no binning (the exact values).

Then: per-column verdict agreement (Shipyard vs Evidently and vs scipy), our binned KS
statistic vs scipy's exact ``ks_2samp`` statistic (max abs difference), and the peak RSS of
a ``compare()`` process on a current window 10x as long (10,000,000 rows) vs ``--rows``,
against the same reference. Goals (issue 14): >= 50x faster than Evidently, the same
verdicts, memory at 10x the rows within 1.5x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from _measure import markdown_table, median, run_header, say

HERE = Path(__file__).resolve().parent
SIDES = HERE / "_drift_sides.py"
ANCHOR_VENV = Path(
    os.environ.get("SHIPYARD_BENCH_EVIDENTLY", Path.home() / ".cache" / "shipyard-bench" / "evidently")
)
# evidently 0.7.x imports a pandas internal that pandas 3 removed, yet does not pin pandas < 3.
ANCHOR_REQUIREMENTS = ("evidently>=0.7,<0.8", "pandas<3", "pyarrow")

NUMERICAL = 20
CATEGORICAL = (3, 5, 8, 12, 50)  # categories per text column
SHIFTED = frozenset({"num_00", "num_06", "num_12", "num_17", "num_19", "cat_1", "cat_3"})
"""The columns the current window shifts; every other column is a fresh draw of the same law."""


@dataclass(frozen=True)
class Sizes:
    rows: int
    runs: int
    anchor_runs: int
    memory_factor: int


# -- data -----------------------------------------------------------------------------------


def _numerical(rng: np.random.Generator, index: int, rows: int, shifted: bool) -> pa.Array:
    kind = index % 5
    if kind == 0:
        values, std = rng.normal(10.0, 2.0, rows), 2.0
    elif kind == 1:
        values, std = rng.lognormal(0.0, 0.5, rows), 0.6
    elif kind == 2:
        values, std = rng.exponential(3.0, rows), 3.0
    elif kind == 3:
        values, std = rng.uniform(-1.0, 1.0, rows), 0.58
    else:
        counts = rng.poisson(3.0, rows)
        return pa.array(counts + 1 if shifted else counts)  # integers: +1 is 0.58 standard deviations
    if shifted and index == 12:
        values = values.mean() + (values - values.mean()) * 1.6  # same mean, wider
    elif shifted:
        values = values + 0.5 * std
    return pa.array(values)


def _categorical(rng: np.random.Generator, index: int, rows: int, shifted: bool) -> pa.Array:
    k = CATEGORICAL[index]
    names = [f"c{index}_{i:02d}" for i in range(k)]
    shares = 1.0 / np.arange(1, k + 1)  # Zipf-like: a few common categories, a long tail
    if shifted:
        shares = shares[::-1].copy()
        if index == 3:
            names.append("unseen")
            shares = np.append(shares, shares.sum() * 0.05)
    codes = rng.choice(len(names), size=rows, p=shares / shares.sum())
    return pc.take(pa.array(names), pa.array(codes))


def _chunk(rng: np.random.Generator, rows: int, current: bool) -> pa.Table:
    columns: dict[str, pa.Array] = {}
    for i in range(NUMERICAL):
        name = f"num_{i:02d}"
        columns[name] = _numerical(rng, i, rows, current and name in SHIFTED)
    for i in range(len(CATEGORICAL)):
        name = f"cat_{i}"
        columns[name] = _categorical(rng, i, rows, current and name in SHIFTED)
    return pa.table(columns)


def write_window(path: Path, rows: int, *, current: bool, seed: int) -> None:
    """Write in chunks of at most 1,000,000 rows: a 10,000,000-row window never sits in memory."""
    rng = np.random.default_rng(seed)
    writer: pq.ParquetWriter | None = None
    try:
        for start in range(0, rows, 1_000_000):
            table = _chunk(rng, min(1_000_000, rows - start), current)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


# -- the anchor's venv ----------------------------------------------------------------------


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if found is None:
        raise SystemExit("uv is needed to build the anchor's venv: `.venv/bin/pip install uv`")
    return found


def anchor_python() -> Path:
    """Evidently's own venv: built once with uv from the package registry, then reused."""
    python = ANCHOR_VENV / "bin" / "python"
    stamp = ANCHOR_VENV / ".anchor-installed"
    check = [str(python), "-c", "import evidently, pyarrow; print(evidently.__version__)"]
    if stamp.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return python
    say(f"building the anchor's venv in {ANCHOR_VENV} (once): {' '.join(ANCHOR_REQUIREMENTS)}")
    uv = _uv()
    if not python.exists():
        subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(ANCHOR_VENV)], check=True)
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(python), *ANCHOR_REQUIREMENTS], check=True
    )
    version = subprocess.run(check, capture_output=True, text=True, check=True).stdout.strip()
    say(f"anchor: evidently {version}")
    stamp.touch()
    return python


# -- running the sides ----------------------------------------------------------------------


def run_side(python: Path | str, side: str, reference: Path, current: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    done = subprocess.run(
        [str(python), str(SIDES), side, str(reference), str(current)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the {side} side failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def repeat_side(python: Path | str, side: str, reference: Path, current: Path, runs: int) -> dict[str, Any]:
    results = []
    for i in range(runs):
        results.append(run_side(python, side, reference, current))
        say(f"{side} {i + 1}/{runs}: {results[-1]['seconds']:.2f} s")
    last = results[-1]
    last["samples"] = [r["seconds"] for r in results]
    last["median"] = median(last["samples"])
    return last


# -- report ---------------------------------------------------------------------------------


def agreement(ours: dict[str, Any], other: dict[str, Any]) -> tuple[int, list[str]]:
    columns = sorted(ours)
    differ = [c for c in columns if c not in other or bool(ours[c]["drifted"]) != bool(other[c]["drifted"])]
    return len(columns) - len(differ), differ


def describe_disagreements(differ: list[str], ours: dict[str, Any], other: dict[str, Any]) -> list[str]:
    return [
        f"    {c}: ours {ours[c]['value']:.4f} ({'drift' if ours[c]['drifted'] else 'no drift'}), "
        f"theirs {other.get(c, {}).get('value', float('nan')):.4f} "
        f"({'drift' if other.get(c, {}).get('drifted') else 'no drift'})"
        for c in differ
    ]


def _time(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=None, help="rows per window (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=None, help="timed runs of Shipyard and scipy (default 3)")
    parser.add_argument("--anchor-runs", type=int, default=None, help="timed runs of Evidently (default 3)")
    parser.add_argument(
        "--memory-factor", type=int, default=10, help="the long window is this many times --rows"
    )
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 1 run each: a smoke run")
    parser.add_argument("--no-anchor", action="store_true", help="skip Evidently (no venv is built)")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args()
    default_rows, default_runs = (100_000, 1) if args.quick else (1_000_000, 3)
    sizes = Sizes(
        rows=args.rows or default_rows,
        runs=args.runs or default_runs,
        anchor_runs=args.anchor_runs or default_runs,
        memory_factor=args.memory_factor,
    )
    results: dict[str, Any] = run_header(sizes, args.quick)
    python = None if args.no_anchor else anchor_python()

    with tempfile.TemporaryDirectory(prefix="shipyard-drift-") as tmp:
        reference, current, long = (
            Path(tmp, "reference.parquet"),
            Path(tmp, "current.parquet"),
            Path(tmp, "long.parquet"),
        )
        long_rows = sizes.rows * sizes.memory_factor
        say(f"writing {sizes.rows:,}-row reference and current windows, and a {long_rows:,}-row one")
        write_window(reference, sizes.rows, current=False, seed=1)
        write_window(current, sizes.rows, current=True, seed=2)
        write_window(long, sizes.rows * sizes.memory_factor, current=True, seed=3)

        results["shipyard"] = repeat_side(sys.executable, "shipyard", reference, current, sizes.runs)
        results["scipy"] = repeat_side(sys.executable, "scipy", reference, current, sizes.runs)
        if python is not None:
            results["evidently"] = repeat_side(python, "evidently", reference, current, sizes.anchor_runs)
        results["rss_short"] = run_side(sys.executable, "rss", reference, current)
        say(f"rss {sizes.rows:,} rows: {results['rss_short']['peak_rss_mb']:.0f} MB")
        results["rss_long"] = run_side(sys.executable, "rss", reference, long)
        say(f"rss {sizes.rows * sizes.memory_factor:,} rows: {results['rss_long']['peak_rss_mb']:.0f} MB")

    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print_report(results, sizes)


def print_report(r: dict[str, Any], sizes: Sizes) -> None:
    ours, scipy = r["shipyard"], r["scipy"]
    anchor = r.get("evidently")
    rows: list[tuple[str, ...]] = [("measure", "value", "goal", "met")]
    rows.append(("Shipyard compare(), all 25 columns", _time(ours["median"]), "", ""))
    rows.append(("scipy on full arrays, same metrics", _time(scipy["median"]), "", ""))
    if anchor is not None:
        ratio = anchor["median"] / ours["median"]
        rows.append((f"Evidently {anchor['version']} DataDriftPreset", _time(anchor["median"]), "", ""))
        # The goal is set at 1,000,000 rows; below EXACT_LIMIT Shipyard is exact, and slower.
        goal = ">= 50x" if sizes.rows >= 1_000_000 else "(>= 50x at 1M rows)"
        met = ("yes" if ratio >= 50 else "NO") if sizes.rows >= 1_000_000 else ""
        rows.append(("Evidently / Shipyard", f"{ratio:.1f}x", goal, met))
    rows.append(("scipy / Shipyard", f"{scipy['median'] / ours['median']:.1f}x", "", ""))
    shifted = ", ".join(sorted(SHIFTED))
    lines = [f"Drift on {sizes.rows:,} rows x 25 columns (20 numerical, 5 text); shifted: {shifted}"]
    lines.append(
        f"runs: Shipyard {ours['samples']}, scipy {scipy['samples']}"
        + (f", Evidently {anchor['samples']}" if anchor else "")
    )

    agree_scipy, differ_scipy = agreement(ours["verdicts"], scipy["verdicts"])
    rows.append(
        (
            "verdicts agree with scipy (exact values)",
            f"{agree_scipy}/25",
            "25/25",
            "yes" if not differ_scipy else "NO",
        )
    )
    if anchor is not None:
        agree, differ = agreement(ours["verdicts"], anchor["verdicts"])
        rows.append(("verdicts agree with Evidently", f"{agree}/25", "25/25", "yes" if not differ else "NO"))
    truth = sorted(c for c, v in ours["verdicts"].items() if v["drifted"])
    rows.append(
        (
            "columns Shipyard finds drifted == the shifted ones",
            "yes" if set(truth) == SHIFTED else f"NO: {truth}",
            "",
            "",
        )
    )

    ks = max(abs(ours["ks"][c] - scipy["ks"][c]) for c in ours["ks"])
    rows.append(
        (
            "KS statistic: |binned - exact scipy|, max over 20 columns",
            f"{ks:.4f}",
            "<= 0.011 (bound)",
            "yes" if ks <= 0.011 else "NO",
        )
    )
    short, long = r["rss_short"], r["rss_long"]
    mem_ratio = long["peak_rss_mb"] / short["peak_rss_mb"]
    rows.append(
        (
            f"peak RSS, compare() on {sizes.rows * sizes.memory_factor:,} vs {sizes.rows:,} rows",
            f"{long['peak_rss_mb']:.0f} / {short['peak_rss_mb']:.0f} MB = {mem_ratio:.2f}x",
            "<= 1.5x",
            "yes" if mem_ratio <= 1.5 else "NO",
        )
    )
    rows.append(
        (
            f"└ compare() on the {sizes.rows * sizes.memory_factor:,}-row window",
            _time(long["seconds"]),
            "",
            "",
        )
    )
    print("\n".join(lines))
    print()
    print("\n".join(markdown_table(rows)))
    if differ_scipy:
        print("\nDisagreements with scipy:")
        print("\n".join(describe_disagreements(differ_scipy, ours["verdicts"], scipy["verdicts"])))
    if anchor is not None:
        methods = sorted({v["metric"] for v in anchor["verdicts"].values()})
        print(f"\nEvidently's per-column methods (its defaults pick by size and type): {', '.join(methods)}")
        print(
            "(its Jensen-Shannon distance uses natural logs, ours base 2 as Azure ML's: the values "
            "differ by a constant factor; both thresholds are 0.1)"
        )
        if differ:
            print("Disagreements with Evidently:")
            print("\n".join(describe_disagreements(differ, ours["verdicts"], anchor["verdicts"])))
    machine = r["machine"]
    print(
        f"\n{r['date']}, {machine['cpus']} cores (shared), "
        f"load before {machine['load_average_before'][0]:.2f}, Python {machine['python']}"
    )


if __name__ == "__main__":
    main()
