"""Trace metrics (MLflow's ``QueryTraceMetrics``): counts, latencies, token usage, span costs
and assessment values over an experiment's traces, grouped by dimensions and time buckets.

Plain aggregates (COUNT, SUM, AVG, MIN, MAX) are the database's, one grouped query. Two
cases read the matching values instead and aggregate them here (``domain.trace_metrics``):
percentiles, which SQLite has no aggregate for, and token counts and span costs, which live
in JSON text the client wrote (``mlflow.trace.tokenUsage`` metadata, the ``mlflow.llm.cost``
span attribute) that the database cannot be trusted to parse. Both read one value per
trace, span or assessment, and only those that match.

Results page by group: ``next_page_token`` is returned when more groups follow, which
MLflow 3.17's own server never does (it truncates at ``max_results``); a client that does
not page reads the same first page either way. Permissions are those of trace search: the
experiments must be the caller's workspace's.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shipyard.domain.context import RequestContext
from shipyard.domain.pagination import decode_token, encode_token, fingerprint
from shipyard.domain.trace_metrics import (
    MAX_METRIC_RESULTS,
    TIME_BUCKET,
    MetricQuery,
    aggregate,
    bucket_label,
    check_query,
    json_number,
)
from shipyard.errors import InvalidArgument, InvalidPageToken
from shipyard.services.ports import Database, RepositoryKey
from shipyard.services.tracking import TrackingService

__all__ = ["TRACE_METRICS", "MetricPoint", "TraceMetricsRepository", "TraceMetricsService"]

Group = tuple[Any, ...]


class TraceMetricsRepository(ABC):
    """Reads for trace metrics over experiments already checked to be the caller's."""

    @abstractmethod
    def grouped(
        self, query: MetricQuery, experiment_ids: Sequence[str], offset: int, limit: int
    ) -> list[tuple[Group, dict[str, Any]]]:
        """Each group (``query.grouping``, the time bucket as its start in ms) with its plain
        aggregates by label, in group order, a page at a time. No percentiles."""

    @abstractmethod
    def values(self, query: MetricQuery, experiment_ids: Sequence[str]) -> Iterable[tuple[Group, Any]]:
        """Every matching row's group and value: a number, or for metrics read from JSON
        (``query.in_json``) the JSON text they are read from."""


TRACE_METRICS: RepositoryKey[TraceMetricsRepository] = RepositoryKey("trace_metrics")
"""Aggregates over traces, spans and assessments."""


@dataclass(frozen=True, slots=True)
class MetricPoint:
    metric_name: str
    dimensions: dict[str, str]
    values: dict[str, float]


def _number(value: Any) -> float | None:
    return None if value is None else float(value) if isinstance(value, int | float | Decimal) else None


def _point(query: MetricQuery, group: Group, values: dict[str, Any]) -> MetricPoint | None:
    dimensions = {
        name: bucket_label(float(part)) if name == TIME_BUCKET else str(part)
        for name, part in zip(query.grouping, group, strict=True)
    }
    numbers = {label: n for label, value in values.items() if (n := _number(value)) is not None}
    return MetricPoint(query.metric, dimensions, numbers) if numbers else None


class TraceMetricsService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def query(
        self,
        ctx: RequestContext,
        experiment_ids: Sequence[str],
        *,
        view: str,
        metric: str,
        aggregations: Sequence[tuple[str, float | None]],
        dimensions: Sequence[str] = (),
        filters: Sequence[str] = (),
        interval_seconds: int | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        max_results: int = MAX_METRIC_RESULTS,
        page_token: str | None = None,
    ) -> tuple[list[MetricPoint], str | None]:
        if not experiment_ids:
            raise InvalidArgument("give at least one experiment id to query trace metrics in")
        query = check_query(
            view, metric, aggregations, dimensions, filters, interval_seconds, start_ms, end_ms
        )
        if not 1 <= max_results <= MAX_METRIC_RESULTS:
            raise InvalidArgument(
                f"max_results must be between 1 and {MAX_METRIC_RESULTS}; got {max_results}"
            )
        key = fingerprint("trace-metrics", ctx.workspace, sorted(experiment_ids), repr(query))
        offset = decode_token(page_token, key) or 0
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < 2**62:
            raise InvalidPageToken("page_token is not a token this server issued")
        with self.db.read() as uow:
            ids = [TrackingService._experiment(uow, ctx, e).id for e in experiment_ids]
            repo = uow[TRACE_METRICS]
            if query.percentiles or query.in_json:
                rows = repo.values(query, ids)
                if key_in_json := query.in_json:
                    rows = ((group, json_number(text, key_in_json)) for group, text in rows)
                found = aggregate(((g, _number(v)) for g, v in rows), query)[
                    offset : offset + max_results + 1
                ]
            else:
                found = repo.grouped(query, ids, offset, max_results + 1)
        points = [p for group, values in found[:max_results] if (p := _point(query, group, values))]
        token = encode_token(key, offset + max_results) if len(found) > max_results else None
        return points, token
