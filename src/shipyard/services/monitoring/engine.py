"""One monitor run: every signal of a ``monitor.yml`` computed over its windows.

The engine reads through :class:`~.sources.MonitorSources` and answers the ``MonitorReport``
of docs/monitoring.md (the shape the HTML report and ``monitor show`` read). A signal that
cannot be computed (no traffic in its window, no feedback yet) is reported with its error;
the others still are — one empty collection must not hide a drifted feature.

Windows: a signal's ``production_data.data_window`` (``lookback_window_size``/``offset``)
when given; else the time since the monitor's previous run; else the week before the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, cast

from shipyard.errors import InvalidArgument, ShipyardError
from shipyard.services.monitoring.compare import compare, profile_table
from shipyard.services.monitoring.profile import Profile, as_dict, profile_from_dict
from shipyard.services.monitoring.sources import MonitorSources, Reference
from shipyard.specs.monitor import MonitorSignal, MonitorSpec, SignalThreshold
from shipyard.specs.monitor_signals import SqlInputData

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["DEFAULT_LOOKBACK", "MonitorRun", "metric_key", "run_monitor"]

DEFAULT_LOOKBACK = timedelta(days=7)
"""A first run's window when the signal names none (Azure ML's monitors look back a week)."""

PREDICTION = "prediction"
"""The column holding the model's answer in collected outputs (see :mod:`.production`)."""

_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]")


@dataclass
class MonitorRun:
    """What :func:`run_monitor` answers: the report, the metrics to log on the run, and the
    breached signals (what triggers actions)."""

    report: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    breached: list[str] = field(default_factory=list)


def metric_key(signal: str, metric: str, column: str | None = None) -> str:
    """``drift/age/normalized_wasserstein_distance``: a valid MLflow metric key per value."""
    parts = [signal, *([column] if column is not None else []), metric]
    return "/".join(_KEY_UNSAFE.sub("_", part) for part in parts)[:250]


def run_monitor(
    name: str,
    spec: MonitorSpec,
    sources: MonitorSources,
    *,
    now_ms: int,
    previous_ms: int | None = None,
    history: Sequence[Mapping[str, Any]] = (),
) -> MonitorRun:
    target = spec.create_monitor.monitoring_target
    endpoint = target.endpoint if target else None
    deployment = target.deployment if target else None
    run = _Run(sources, endpoint, deployment, target.ml_task if target else None)
    signals = []
    windows = []
    for signal in spec.signals():
        start, end = _window(signal, now_ms, previous_ms)
        windows.append((start, end))
        try:
            result = run.signal(signal, start, end)
        except ShipyardError as error:
            result = _failed(signal, error.message)
        result["notes"] = [*result["notes"], *sources.drain_notes()]
        signals.append(result)
    out = MonitorRun(
        report={
            "monitor": name,
            "run_id": None,
            "job": None,
            "generated_at": now_ms,
            "window": {"start": min(s for s, _ in windows), "end": max(e for _, e in windows)}
            if windows
            else None,
            "target": f"{endpoint}:{deployment}" if endpoint else None,
            "reference": run.reference_description,
            "signals": signals,
            "history": list(history),
        }
    )
    for result in signals:
        for row in result["rows"]:
            if row["value"] is not None:
                out.metrics[metric_key(result["name"], row["metric"], row["column"])] = float(row["value"])
        if "drifted_share" in result:
            out.metrics[metric_key(result["name"], "drifted_share")] = float(result["drifted_share"])
        if result["error"] is None:
            out.metrics[metric_key(result["name"], "breached")] = 1.0 if result["breached"] else 0.0
        if result["breached"]:
            out.breached.append(result["name"])
    return out


def _window(signal: MonitorSignal, now_ms: int, previous_ms: int | None) -> tuple[int, int]:
    end = now_ms - int(signal.lookback_offset.total_seconds() * 1000)
    if signal.lookback is not None:
        return end - int(signal.lookback.total_seconds() * 1000), end
    if previous_ms is not None and previous_ms < end:
        return previous_ms, end
    return end - int(DEFAULT_LOOKBACK.total_seconds() * 1000), end


def _failed(signal: MonitorSignal, message: str) -> dict[str, Any]:
    return {
        "name": signal.name,
        "type": signal.type,
        "breached": False,
        "rows": [],
        "histograms": {},
        "notes": [],
        "error": message,
    }


class _Run:
    """One run's reads, shared by its signals (the reference is read and profiled once)."""

    def __init__(
        self, sources: MonitorSources, endpoint: str | None, deployment: str | None, task: str | None
    ) -> None:
        self.sources = sources
        self.endpoint = endpoint
        self.deployment = deployment
        self.task = task
        self._references: dict[str, Reference] = {}
        self._profiles: dict[str, dict[str, Profile]] = {}
        self.reference_description: str | None = None

    def signal(self, signal: MonitorSignal, start: int, end: int) -> dict[str, Any]:
        if signal.type == "system":
            return self._system(signal, start, end)
        if signal.type == "model_performance":
            return self._performance(signal, start, end)
        return self._distribution(signal, start, end)

    # -- drift and quality ------------------------------------------------------------

    def _distribution(self, signal: MonitorSignal, start: int, end: int) -> dict[str, Any]:
        reference = self._reference(signal)
        outputs = signal.type == "prediction_drift"
        batches = self._production(signal, "model_outputs" if outputs else "model_inputs", start, end)
        first = next(batches, None)
        if first is None:
            raise InvalidArgument(
                f"no production data in the window {_span(start, end)}: the deployment served no"
                " collected requests then (is data_collection on for it?)"
            )
        production_columns = list(first.schema.names)
        target = _target_column(signal, reference.table.column_names, production_columns)
        if outputs:
            predicted = _prediction_column(signal, production_columns)
            if target is None:
                raise InvalidArgument(
                    "prediction drift compares the model's answers with the reference's target: name"
                    " it in reference_data.data_column_names.target_column"
                )
            columns = {target: predicted}
        else:
            columns = {c: c for c in _features(signal, reference, production_columns, target)}
        profiles = self._profiles_of(reference)
        missing = [c for c in columns if c not in profiles]
        if missing:
            raise InvalidArgument(
                f"the reference ({reference.description}) lacks {', '.join(map(repr, missing))}"
            )
        chosen = {ref: profiles[ref] for ref in columns}
        current = _renamed(_chain(first, batches), {prod: ref for ref, prod in columns.items()})
        result = compare(chosen, current, metrics=_metrics_of(signal), histograms=True)
        rows = [
            _row(r["column"], r["type"], r["metric"], r["value"], _threshold(signal, r["type"], r["metric"]))
            for r in result["columns"]
        ]
        return {
            "name": signal.name,
            "type": signal.type,
            "breached": any(r["breached"] for r in rows),
            "rows": rows,
            "histograms": result.get("histograms", {}),
            "drifted_share": result["drifted_share"],
            "notes": [f"reference: {reference.description}"],
            "error": None,
        }

    def _reference(self, signal: MonitorSignal) -> Reference:
        given = signal.reference.input_data if signal.reference else None
        if isinstance(given, SqlInputData):
            raise InvalidArgument("reference_data is read from a data asset, not a SQL query")
        path = given.path if given is not None else None
        key = path or "<training data>"
        found = self._references.get(key)
        if found is None:
            if path is not None:
                found = self.sources.asset(path)
            else:
                if self.endpoint is None or self.deployment is None:
                    raise InvalidArgument(
                        "no reference_data and no deployment to find the training data through:"
                        " give reference_data.input_data.path"
                    )
                found = self.sources.training_data(self.endpoint, self.deployment)
            self._references[key] = found
            self.reference_description = self.reference_description or found.description
        return found

    def _profiles_of(self, reference: Reference) -> dict[str, Profile]:
        found = self._profiles.get(reference.key)
        if found is not None:
            return found
        stored = self.sources.stored_profile(reference.key)
        if stored is not None:
            found = {name: profile_from_dict(cast(dict[str, Any], p)) for name, p in stored.items()}
        else:
            found = profile_table(reference.table)
            self.sources.store_profile(reference.key, {name: as_dict(p) for name, p in found.items()})
        self._profiles[reference.key] = found
        return found

    def _production(
        self, signal: MonitorSignal, collection: str, start: int, end: int
    ) -> Iterator[pa.RecordBatch]:
        data = signal.production
        if data is not None and data.input_data is not None:
            given = data.input_data
            if isinstance(given, SqlInputData):
                return self.sources.sql(given.connection, given.query, start, end)
            return iter(self.sources.asset(given.path).table.to_batches(max_chunksize=65_536))
        if self.endpoint is None or self.deployment is None:
            raise InvalidArgument("no production_data and no deployment to read collected data from")
        return self.sources.collected(
            self.endpoint,
            self.deployment,
            "model_outputs" if collection == "model_outputs" else "model_inputs",
            start,
            end,
        )

    # -- model performance and system -------------------------------------------------

    def _performance(self, signal: MonitorSignal, start: int, end: int) -> dict[str, Any]:
        from shipyard.services.monitoring.performance import performance

        if self.endpoint is None or self.deployment is None:
            raise InvalidArgument(
                "model performance joins the deployment's answers with feedback: name the deployment"
            )
        regression = any(t.kind == "regression" for t in signal.thresholds)
        task: Literal["classification", "regression"] = "regression" if regression else "classification"
        predictions = self.sources.collected(self.endpoint, self.deployment, "model_outputs", start, end)
        feedback = self.sources.collected(self.endpoint, self.deployment, "feedback", start, end + _DAY_MS)
        result = performance(task, predictions, feedback)
        rows = [_row(None, t.kind, t.metric, result.metrics.get(t.metric), t) for t in signal.thresholds]
        notes = [f"{result.joined} answers joined with their ground truth", *result.notes]
        return {
            "name": signal.name,
            "type": signal.type,
            "breached": any(r["breached"] for r in rows),
            "rows": rows,
            "histograms": {},
            "notes": notes,
            "error": None,
        }

    def _system(self, signal: MonitorSignal, start: int, end: int) -> dict[str, Any]:
        if self.endpoint is None or self.deployment is None:  # the spec's check makes this unreachable
            raise InvalidArgument("a system signal reads a deployment: name it in monitoring_target")
        values = self.sources.system(self.endpoint, self.deployment, start, end)
        rows = [_row(None, "system", t.metric, values.get(t.metric), t) for t in signal.thresholds]
        notes = [f"{metric}: {value:g}" for metric, value in values.items() if value is not None]
        return {
            "name": signal.name,
            "type": signal.type,
            "breached": any(r["breached"] for r in rows),
            "rows": rows,
            "histograms": {},
            "notes": notes,
            "error": None,
        }


_DAY_MS = 24 * 3600 * 1000
"""Feedback arrives after the answer it is about: it is read up to a day past the window."""


def _row(
    column: str | None, kind: str, metric: str, value: float | None, threshold: SignalThreshold
) -> dict[str, Any]:
    breached = value is not None and (
        value > threshold.value if threshold.breach_when == "above" else value < threshold.value
    )
    return {
        "column": column,
        "type": kind,
        "metric": metric,
        "value": value,
        "threshold": threshold.value,
        "breach_when": threshold.breach_when,
        "breached": bool(breached),
    }


def _threshold(signal: MonitorSignal, kind: str, metric: str) -> SignalThreshold:
    for t in signal.thresholds:
        if t.kind == kind and t.metric == metric:
            return t
    raise AssertionError(f"{metric} of {kind} was computed without a threshold")  # pragma: no cover


def _metrics_of(signal: MonitorSignal) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {"numerical": {}, "categorical": {}}
    for t in signal.thresholds:
        if t.kind in out:
            out[t.kind][t.metric] = t.value
    return out


def _target_column(signal: MonitorSignal, reference: list[str], production: list[str]) -> str | None:
    names = signal.reference.data_column_names if signal.reference else {}
    given = names.get("target_column")
    if given is not None:
        if given not in reference:
            raise InvalidArgument(
                f"reference_data.data_column_names.target_column {given!r} is not a column of the"
                f" reference ({', '.join(reference)})"
            )
        return given
    # The training data holds the features the model is sent, and the target besides.
    extra = [c for c in reference if c not in production]
    return extra[0] if len(extra) == 1 else None


def _prediction_column(signal: MonitorSignal, production: list[str]) -> str:
    names = signal.production.data_column_names if signal.production else {}
    given = names.get("prediction_column")
    wanted = given or PREDICTION
    if wanted in production:
        return wanted
    outputs = [c for c in production if c not in _BOOKKEEPING]
    if given is None and len(outputs) == 1:
        return outputs[0]
    raise InvalidArgument(
        f"the model's answers have no column {wanted!r} (they have {', '.join(outputs)}): name it in"
        " production_data.data_column_names.prediction_column"
    )


# What the collector and the batch writer add beside a model's inputs: never features.
_BOOKKEEPING = ("request_id", "row", "timestamp", "deployment", "job_id", "mini_batch", "scored_at", "file")


def _features(
    signal: MonitorSignal, reference: Reference, production: list[str], target: str | None
) -> list[str]:
    inputs = [c for c in production if c not in _BOOKKEEPING and c != target]
    if signal.features is not None:
        unknown = [f for f in signal.features if f not in inputs]
        if unknown:
            raise InvalidArgument(
                f"features {', '.join(map(repr, unknown))} are not in the production data"
                f" (it has {', '.join(inputs)})"
            )
        return list(signal.features)
    missing = [c for c in inputs if c not in reference.table.column_names]
    if missing:
        raise InvalidArgument(
            f"the production data has {', '.join(map(repr, missing))}, which the reference"
            f" ({reference.description}) does not: pick the features to compare (features: [...])"
        )
    if signal.top_n is not None and target is not None:
        from shipyard.services.monitoring.importance import top_features

        return top_features(reference.table, inputs, target, signal.top_n)
    return inputs


def _renamed(batches: Iterable[pa.RecordBatch], names: Mapping[str, str]) -> Iterator[pa.RecordBatch]:
    """Only the compared columns, under the reference's names."""
    import pyarrow as pa

    for batch in batches:
        yield pa.RecordBatch.from_arrays(
            [batch.column(prod) for prod in names], names=[names[prod] for prod in names]
        )


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _span(start: int, end: int) -> str:
    import datetime as dt

    def text(ms: int) -> str:
        return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")

    return f"{text(start)} to {text(end)}"
