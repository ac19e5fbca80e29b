"""Compare a production window with a reference, column by column: ``monitor compare``.

The reference is read whole and profiled once; the current window is streamed — a Parquet
file row group by row group, a table batch by batch — into one :class:`ColumnCounter` per
column, so its size does not bound what can be compared. The answer is the issue's JSON::

    {"columns": [{"column", "type", "metric", "value", "threshold", "drifted"}, ...],
     "drifted_share": <share of the feature columns with at least one breach>}

``histograms=True`` adds ``"histograms"``: each column's reference and current counts over
the reference's bins or categories, what the HTML report draws (see :func:`histograms_of`).

pyarrow is imported inside the functions: it comes with the ``serving`` extra.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from shipyard.errors import InvalidArgument
from shipyard.services.monitoring import metrics as m
from shipyard.services.monitoring.profile import (
    DEFAULT_BINS,
    ColumnCounter,
    NumericalProfile,
    Profile,
    profile_column,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DEFAULT_CHUNK_ROWS", "DEFAULT_METRICS", "ColumnKind", "compare", "histograms_of", "profile_table"]

ColumnKind = Literal["numerical", "categorical"]

DEFAULT_METRICS: Mapping[str, Mapping[str, float | None]] = {
    "numerical": {"normalized_wasserstein_distance": None},
    "categorical": {"jensen_shannon_distance": None},
}
"""Azure ML's default data-drift metric per column type; ``None`` takes its default threshold."""

DEFAULT_CHUNK_ROWS = 65_536

_ALLOWED: Mapping[str, tuple[str, ...]] = {
    "numerical": m.NUMERICAL_METRICS,
    "categorical": m.CATEGORICAL_METRICS,
}


def compare(
    reference: pa.Table | str | Path | Mapping[str, Profile],
    current: pa.Table | str | Path | Iterable[pa.RecordBatch],
    *,
    target: str | None = None,
    metrics: Mapping[str, Mapping[str, float | None]] | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    bins: int = DEFAULT_BINS,
    histograms: bool = False,
) -> dict[str, Any]:
    """Each column's metrics, thresholds and verdicts, and the share of drifted features.

    ``metrics`` maps a column type to ``{metric: threshold or None}``, as Azure ML's
    ``metric_thresholds`` do; ``target`` is compared too (prediction drift) but is not a
    feature, so it does not count toward ``drifted_share``. ``histograms`` adds each column's
    counts (:func:`histograms_of`) under ``"histograms"``; the default answer is the issue's
    JSON, nothing more.

    ``reference`` may be profiles computed earlier (:func:`profile_table`, kept by a monitor
    so its reference is profiled once), and ``current`` any iterable of record batches (a
    deployment's collected window, a query's rows): both are then read as given.
    """
    wanted = _checked_metrics(DEFAULT_METRICS if metrics is None else metrics)
    if chunk_rows < 1:
        raise InvalidArgument(f"chunk_rows must be at least 1, not {chunk_rows}")
    profiles = (
        dict(reference) if isinstance(reference, Mapping) else profile_table(_read_reference(reference), bins)
    )
    names = list(profiles)
    batches = _current_batches(current, chunk_rows)
    first = next(batches, None)
    _check_columns(names, _names_of(current, first), target)
    kinds: dict[str, ColumnKind] = {name: profiles[name].kind for name in names}
    counters = {name: ColumnCounter(profile) for name, profile in profiles.items()}
    for batch in _chain(first, batches):
        for name, counter in counters.items():
            counter.add(batch.column(name))
    if not counters or not next(iter(counters.values())).rows:
        raise InvalidArgument("the current window has no rows: nothing to compare")
    rows = [row for name in names for row in _column_rows(name, kinds[name], counters[name], wanted)]
    features = [name for name in names if name != target]
    drifted = {row["column"] for row in rows if row["drifted"] and row["column"] != target}
    result: dict[str, Any] = {
        "columns": rows,
        "drifted_share": len(drifted) / len(features) if features else 0.0,
    }
    if histograms:
        result["histograms"] = {name: histograms_of(counter) for name, counter in counters.items()}
    return result


def profile_table(table: pa.Table, bins: int = DEFAULT_BINS) -> dict[str, Profile]:
    """Every column's reference profile (numbers and text/booleans; other types refused)."""
    if table.num_rows == 0:
        raise InvalidArgument("the reference has no rows: nothing to compare against")
    kinds = {name: _kind_of(name, table.schema.field(name).type) for name in table.column_names}
    return {
        name: profile_column(name, table.column(name), kinds[name], bins=bins) for name in table.column_names
    }


def histograms_of(counter: ColumnCounter) -> dict[str, Any]:
    """A column's reference and current counts over the reference's bins or categories.

    Numerical: ``edges`` as in :class:`NumericalProfile` (so one more count than edges, the
    end bins open), and ``minimum``/``maximum`` over both sides, which close the open end bins
    for drawing. Categorical: the reference's ``categories``, and ``unseen``, the current
    values of a category the reference never had (they fall in no bin).
    """
    profile = counter.profile
    current = [int(count) for count in counter.counts]
    if isinstance(profile, NumericalProfile):
        return {
            "kind": "numerical",
            "edges": list(profile.edges),
            "reference": list(profile.counts),
            "current": current,
            "minimum": min(profile.minimum, counter.minimum),
            "maximum": max(profile.maximum, counter.maximum),
        }
    return {
        "kind": "categorical",
        "categories": list(profile.categories),
        "reference": list(profile.counts),
        "current": current,
        "unseen": counter.unseen,
    }


def _checked_metrics(
    requested: Mapping[str, Mapping[str, float | None]],
) -> Mapping[ColumnKind, Mapping[str, float | None]]:
    for kind, chosen in requested.items():
        if kind not in _ALLOWED:
            raise InvalidArgument(
                f"metrics are given per column type 'numerical' or 'categorical', not {kind!r}"
            )
        allowed = _ALLOWED[kind]
        for metric, threshold in chosen.items():
            if metric not in allowed:
                raise InvalidArgument(
                    f"metric {metric!r} does not apply to {kind} columns: use one of {', '.join(allowed)}",
                    field="metric",
                )
            if threshold is not None and not threshold >= 0:
                raise InvalidArgument(f"the threshold of {metric!r} must be a number ≥ 0, not {threshold!r}")
    return {"numerical": requested.get("numerical", {}), "categorical": requested.get("categorical", {})}


def _column_rows(
    name: str,
    kind: ColumnKind,
    counter: ColumnCounter,
    wanted: Mapping[ColumnKind, Mapping[str, float | None]],
) -> Iterator[dict[str, Any]]:
    for metric, given in wanted[kind].items():
        if counter.present == 0 and metric not in m.DATA_QUALITY_METRICS:
            raise InvalidArgument(
                f"column {name!r} is null (or of another type) in every row of the current window: "
                f"no distribution to compare ({metric})"
            )
        threshold = m.DEFAULT_THRESHOLDS[metric] if given is None else given
        value = m.measure(metric, counter.profile, counter)
        yield {
            "column": name,
            "type": kind,
            "metric": metric,
            "value": value,
            "threshold": threshold,
            "drifted": m.breaches(metric, value, threshold),
        }


def _kind_of(name: str, arrow_type: pa.DataType) -> ColumnKind:
    import pyarrow as pa

    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        return "numerical"
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_boolean(arrow_type)
    ):
        return "categorical"
    raise InvalidArgument(
        f"column {name!r} has type {arrow_type}: only numbers, strings and booleans can be compared"
    )


def _check_columns(reference: list[str], current: list[str], target: str | None) -> None:
    missing = [name for name in reference if name not in current]
    extra = [name for name in current if name not in reference]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"the current window lacks {', '.join(map(repr, missing))}")
        if extra:
            parts.append(f"it has {', '.join(map(repr, extra))}, which the reference does not")
        raise InvalidArgument(
            "the reference and the current window have different columns: " + "; ".join(parts)
        )
    if target is not None and target not in reference:
        raise InvalidArgument(f"target column {target!r} is not among the columns: {', '.join(reference)}")


def _read_reference(source: pa.Table | str | Path) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(source, pa.Table):
        return source
    try:
        return pq.read_table(_existing(source, "reference"))
    except pa.ArrowException as error:
        raise InvalidArgument(f"the reference {source} is not a readable Parquet file: {error}") from error


def _current_batches(
    source: pa.Table | str | Path | Iterable[pa.RecordBatch], chunk_rows: int
) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(source, pa.Table):
        return iter(source.to_batches(max_chunksize=chunk_rows))
    if not isinstance(source, str | Path):
        return iter(source)
    try:
        # pre_buffer=False: by default pyarrow buffers every row group it will read, which
        # makes a 10-million-row window cost 2.7x the memory of a 1-million-row one.
        window = pq.ParquetFile(_existing(source, "current window"), pre_buffer=False)
        return iter(window.iter_batches(batch_size=chunk_rows))
    except pa.ArrowException as error:
        raise InvalidArgument(
            f"the current window {source} is not a readable Parquet file: {error}"
        ) from error


def _names_of(
    source: pa.Table | str | Path | Iterable[pa.RecordBatch], first: pa.RecordBatch | None
) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(source, pa.Table):
        return list(source.column_names)
    if first is not None:
        return list(first.schema.names)
    if not isinstance(source, str | Path):
        raise InvalidArgument("the current window has no rows: nothing to compare")
    return list(pq.read_schema(source).names)


def _existing(source: str | Path, what: str) -> Path:
    path = Path(source)
    if not path.is_file():
        raise InvalidArgument(f"the {what} file {path} does not exist")
    return path


def _chain(first: pa.RecordBatch | None, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    if first is not None:
        yield first
        yield from rest
