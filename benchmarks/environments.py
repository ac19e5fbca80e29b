"""Job environments: a cache hit, and a cold uv build beside ``python -m venv`` + ``pip install``.

    .venv/bin/python benchmarks/environments.py                  # scikit-learn, 3 builds each (~3 min)
    .venv/bin/python benchmarks/environments.py --quick          # iniconfig, 1 build each (seconds)
    .venv/bin/python benchmarks/environments.py --spec "pandas" --spec "requests" --repeat 5

Measured, medians of ``--repeat`` runs taken in turns (uv, pip, uv, pip…) so a load spike
hits both sides:

- **cache hit**: ``UvEnvironmentBuilder.ensure`` of a spec already built (goal ≤ 0.2 s);
- **cold build (empty caches)**: Shipyard's builder with a fresh ``UV_CACHE_DIR``, against
  ``python -m venv`` + ``pip install --no-cache-dir`` of the same spec; both download
  everything from the same index (pypi.org: pip's site config — local find-links and file
  indexes on this machine — is switched off so both sides fetch the same files);
- **warm uv cache, new env**: a new environment when uv's cache already holds the wheels,
  as for the second spec that shares packages with an earlier one.

Both sides compile bytecode (pip does by default; the builder passes ``--compile-bytecode``).
Work goes to ``.bench/environments-<time>/`` (removed afterwards unless ``--keep``);
results to ``.bench/environments.json``. See docs/environments.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _measure import median, run_header, say, time_calls
from shipyard.environments import UvEnvironmentBuilder
from shipyard.services.environment_ports import EnvironmentRequest

ROOT = Path(__file__).resolve().parent.parent
HIT_GOAL_SECONDS = 0.2


@dataclass
class Sizes:
    spec: tuple[str, ...]
    repeat: int
    hits: int


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spec", action="append", help="a requirement (repeatable); default scikit-learn")
    parser.add_argument("--repeat", type=int, help="builds of each kind (default 3, --quick 1)")
    parser.add_argument("--quick", action="store_true", help="iniconfig, one build each")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    return parser.parse_args()


def pip_environment() -> dict[str, str]:
    """pip with no site config and no cache: it fetches from pypi.org, as uv does here."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("PIP_FIND_LINKS", "PIP_CONSTRAINT", "VIRTUAL_ENV")
    }
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_CACHE_DIR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def pip_build(target: Path, spec: tuple[str, ...]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
    subprocess.run(
        [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet", *spec],
        check=True,
        env=pip_environment(),
    )
    return time.perf_counter() - started


def uv_build(cache_dir: Path, uv_cache: Path, request: EnvironmentRequest) -> float:
    started = time.perf_counter()
    env = UvEnvironmentBuilder(cache_dir, uv_cache_dir=uv_cache).ensure(request)
    assert not env.cache_hit
    return time.perf_counter() - started


def measure(work: Path, sizes: Sizes) -> dict[str, Any]:
    request = EnvironmentRequest(requirements=sizes.spec)
    cold_uv, cold_pip, warm_uv = [], [], []
    for i in range(sizes.repeat):
        say(f"cold uv build {i + 1}/{sizes.repeat}")
        uv_cache = work / f"uv-cache-{i}"
        cold_uv.append(uv_build(work / f"uv-envs-{i}", uv_cache, request))
        say(f"warm uv cache, new env {i + 1}/{sizes.repeat}")
        warm_uv.append(uv_build(work / f"uv-envs-{i}-warm", uv_cache, request))
        say(f"python -m venv + pip install {i + 1}/{sizes.repeat}")
        cold_pip.append(pip_build(work / f"pip-env-{i}", sizes.spec))
        shutil.rmtree(work / f"pip-env-{i}", ignore_errors=True)

    say(f"cache hit x{sizes.hits}")
    builder = UvEnvironmentBuilder(work / "uv-envs-0", uv_cache_dir=work / "uv-cache-0")
    hits = time_calls(lambda _i: builder.ensure(request), sizes.hits, warmup=1)
    first_hit_new_process = fresh_process_hit(work / "uv-envs-0", sizes.spec)
    server = time_calls(lambda _i: builder.ensure(EnvironmentRequest()), sizes.hits)
    return {
        "cold_uv": cold_uv,
        "cold_pip": cold_pip,
        "warm_uv": warm_uv,
        "hit": hits,
        "hit_first_in_new_process": first_hit_new_process,
        "server_interpreter": server,
    }


def fresh_process_hit(cache_dir: Path, spec: tuple[str, ...]) -> float:
    """The first ``ensure`` in a new process (imports done first, not counted)."""
    code = (
        "import sys, time; from pathlib import Path\n"
        "from shipyard.environments import UvEnvironmentBuilder\n"
        "from shipyard.services.environment_ports import EnvironmentRequest\n"
        "b = UvEnvironmentBuilder(Path(sys.argv[1]))\n"
        "r = EnvironmentRequest(requirements=tuple(sys.argv[2:]))\n"
        "t = time.perf_counter(); e = b.ensure(r); print(time.perf_counter() - t, e.cache_hit)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(cache_dir), *spec], check=True, capture_output=True, text=True
    )
    seconds, hit = out.stdout.split()
    assert hit == "True", out.stdout
    return float(seconds)


def report(results: dict[str, Any]) -> list[str]:
    m, machine, sizes = results["measures"], results["machine"], results["sizes"]
    before, after = machine["load_average_before"][0], machine["load_average_after"][0]
    uv, pip, warm = median(m["cold_uv"]), median(m["cold_pip"]), median(m["warm_uv"])
    hit = median(m["hit"])
    rows = [
        ("measure", "Shipyard (uv)", "python -m venv + pip", "pip / uv"),
        ("cold build (empty caches)", f"{uv:.2f} s", f"{pip:.2f} s", f"{pip / uv:.1f}x"),
        ("warm uv cache, new env", f"{warm:.2f} s", "—", f"{pip / warm:.1f}x"),
        (
            "cache hit (goal ≤ 0.2 s)",
            f"{hit * 1000:.2f} ms",
            "—",
            "met" if hit <= HIT_GOAL_SECONDS else "NOT MET",
        ),
        ("cache hit, first in a new process", f"{m['hit_first_in_new_process'] * 1000:.2f} ms", "—", ""),
        ("no requirements: server interpreter", f"{median(m['server_interpreter']) * 1e6:.1f} µs", "—", ""),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        f"Environments, spec {' '.join(sizes['spec'])}: medians of {sizes['repeat']} builds"
        f" and {sizes['hits']} hits",
        f"{results['date']}, {machine['cpus']} cores, {machine['platform']}, Python {machine['python']};"
        f" load average {before:.1f} before / {after:.1f} after;"
        f" whole run {results['wall_seconds'] / 60:.1f} min",
        "",
    ]
    for i, row in enumerate(rows):
        lines.append("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
        if i == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return lines


def main() -> int:
    args = parse_args()
    spec = tuple(args.spec or (["iniconfig"] if args.quick else ["scikit-learn"]))
    sizes = Sizes(spec=spec, repeat=args.repeat or (1 if args.quick else 3), hits=200)
    bench = ROOT / ".bench"
    work = bench / f"environments-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True)
    began = time.perf_counter()
    results: dict[str, Any] = run_header(sizes, args.quick)
    try:
        results["measures"] = measure(work, sizes)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    results["machine"]["load_average_after"] = os.getloadavg()
    results["wall_seconds"] = time.perf_counter() - began
    print("\n".join(report(results)))
    (bench / "environments.json").write_text(json.dumps(results, indent=2))
    print(f"results: {bench / 'environments.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
