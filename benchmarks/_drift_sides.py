"""One side of the drift benchmark, run in its own process: ``python _drift_sides.py SIDE REF CUR``.

Sides: ``shipyard`` (``compare()``, then our binned KS statistics), ``scipy`` (the same
default metrics on full arrays, then exact KS statistics), ``evidently`` (the anchor's
DataDriftPreset; runs inside the anchor's own venv) and ``rss`` (``compare()`` only; the
process's peak resident memory). Prints one JSON object on stdout. Imports only what its
side needs, so the anchor's venv never imports Shipyard and ours never imports Evidently.

The timed region of every side is the same: read both Parquet files and compute every
column's drift value and verdict. Interpreter start and imports are not timed.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

Verdicts = dict[str, dict[str, Any]]


def _peak_rss_mb() -> float:
    """This process's own peak RSS (``VmHWM``).

    Not ``getrusage``'s ``ru_maxrss``: Linux carries it across ``exec`` from the parent, so a
    child of the benchmark (which wrote the 10M-row window) would report the parent's peak.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _timed(work: Callable[[], Verdicts]) -> tuple[float, Verdicts]:
    start = time.perf_counter()
    verdicts = work()
    return time.perf_counter() - start, verdicts


def shipyard(reference: str, current: str) -> dict[str, Any]:
    from shipyard.services.monitoring.compare import compare

    def work() -> Verdicts:
        answer = compare(reference, current)
        return {
            row["column"]: {"metric": row["metric"], "value": row["value"], "drifted": row["drifted"]}
            for row in answer["columns"]
        }

    seconds, verdicts = _timed(work)
    return {"seconds": seconds, "verdicts": verdicts, "ks": _binned_ks(reference, current)}


def _binned_ks(reference: str, current: str) -> dict[str, float]:
    """Our KS statistic per numerical column: the binned estimate used past EXACT_LIMIT."""
    import pyarrow.parquet as pq

    from shipyard.services.monitoring import metrics
    from shipyard.services.monitoring.profile import ColumnCounter, NumericalProfile, profile_column

    table = pq.read_table(reference)
    names = [f.name for f in table.schema if f.type.id in _NUMERIC_TYPE_IDS]
    profiles = {name: profile_column(name, table.column(name), "numerical") for name in names}
    counters = {name: ColumnCounter(p) for name, p in profiles.items()}
    for batch in pq.ParquetFile(current).iter_batches(columns=names):
        for name, counter in counters.items():
            counter.add(batch.column(name))
    out = {}
    for name, profile in profiles.items():
        assert isinstance(profile, NumericalProfile)
        out[name] = metrics.ks_statistic_bounds(profile.counts, counters[name].counts)[0]
    return out


def _numeric_type_ids() -> frozenset[int]:
    import pyarrow as pa

    return frozenset(t.id for t in (pa.int64(), pa.int32(), pa.float64(), pa.float32()))


def scipy_side(reference: str, current: str) -> dict[str, Any]:
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from scipy import stats
    from scipy.spatial import distance

    arrays: dict[str, tuple[Any, Any]] = {}

    def work() -> Verdicts:
        ref, cur = pq.read_table(reference), pq.read_table(current)
        verdicts: Verdicts = {}
        for field in ref.schema:
            r, c = ref.column(field.name), cur.column(field.name)
            if field.type.id in _NUMERIC_TYPE_IDS:
                rv, cv = r.to_numpy().astype(float), c.to_numpy().astype(float)
                arrays[field.name] = (rv, cv)
                value = stats.wasserstein_distance(rv, cv) / np.std(rv)
                verdicts[field.name] = {"metric": "normalized_wasserstein_distance", "value": float(value)}
            else:
                rc, cc = _value_counts(pc, r), _value_counts(pc, c)
                keys = sorted(set(rc) | set(cc))
                p = np.array([rc.get(k, 0) for k in keys], dtype=float)
                q = np.array([cc.get(k, 0) for k in keys], dtype=float)
                value = distance.jensenshannon(p / p.sum(), q / q.sum(), base=2)
                verdicts[field.name] = {"metric": "jensen_shannon_distance", "value": float(value)}
            verdicts[field.name]["drifted"] = verdicts[field.name]["value"] > 0.1
        return verdicts

    seconds, verdicts = _timed(work)
    start = time.perf_counter()
    ks = {name: float(stats.ks_2samp(rv, cv).statistic) for name, (rv, cv) in arrays.items()}
    return {"seconds": seconds, "verdicts": verdicts, "ks": ks, "ks_seconds": time.perf_counter() - start}


def _value_counts(pc: Any, column: Any) -> dict[str, int]:
    counted = pc.value_counts(column.drop_null())
    return dict(zip(counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True))


def evidently_side(reference: str, current: str) -> dict[str, Any]:
    # Only in the anchor's venv, never in ours (hence no types for mypy there).
    import evidently  # type: ignore[import-not-found]
    import pandas as pd  # type: ignore[import-untyped]
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset  # type: ignore[import-not-found]

    def work() -> Verdicts:
        ref, cur = pd.read_parquet(reference), pd.read_parquet(current)
        numerical = [c for c in ref.columns if pd.api.types.is_numeric_dtype(ref[c])]
        categorical = [c for c in ref.columns if c not in numerical]
        definition = DataDefinition(numerical_columns=numerical, categorical_columns=categorical)
        snapshot = Report([DataDriftPreset()]).run(
            Dataset.from_pandas(cur, data_definition=definition),
            Dataset.from_pandas(ref, data_definition=definition),
        )
        verdicts: Verdicts = {}
        for metric in snapshot.dict()["metrics"]:
            config = metric["config"]
            if not config["type"].endswith("ValueDrift"):
                continue
            method, value, threshold = config["method"], float(metric["value"]), config["threshold"]
            # Evidently: a p-value drifts below its threshold, a distance at or above it.
            drifted = value < threshold if "p_value" in method else value >= threshold
            verdicts[config["column"]] = {"metric": method, "value": value, "drifted": drifted}
        return verdicts

    seconds, verdicts = _timed(work)
    return {"seconds": seconds, "verdicts": verdicts, "version": evidently.__version__}


def rss(reference: str, current: str) -> dict[str, Any]:
    from shipyard.services.monitoring.compare import compare

    before = _peak_rss_mb()
    start = time.perf_counter()
    compare(reference, current)
    return {"seconds": time.perf_counter() - start, "peak_rss_mb": _peak_rss_mb(), "after_imports_mb": before}


SIDES: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "shipyard": shipyard,
    "scipy": scipy_side,
    "evidently": evidently_side,
    "rss": rss,
}

if __name__ == "__main__":
    _NUMERIC_TYPE_IDS = _numeric_type_ids()
    side, ref_path, cur_path = sys.argv[1:4]
    print(json.dumps(SIDES[side](ref_path, cur_path)))
