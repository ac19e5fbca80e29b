"""Experiments, runs, params, tags and metrics."""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import replace

from shipyard.domain.context import DEFAULT_WORKSPACE, RequestContext
from shipyard.domain.downsample import downsample
from shipyard.domain.filters import (
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_filter,
    parse_order_by,
)
from shipyard.domain.logged_models import LoggedModelMetric
from shipyard.domain.pagination import decode_token, encode_token, fingerprint
from shipyard.domain.tracking import (
    DatasetInput,
    Experiment,
    MetricHistory,
    ModelOutput,
    Run,
    RunIO,
    RunStatus,
)
from shipyard.domain.validation import (
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    check_key,
    check_name,
    check_value,
)
from shipyard.errors import AlreadyExists, InvalidArgument, InvalidPageToken, NotFound, ParamAlreadySet
from shipyard.services._clock import now_ms
from shipyard.services.ports import Database, MetricBatch, RunRef, UnitOfWork

__all__ = ["DEFAULT_EXPERIMENT", "TrackingService", "ViewType", "check_run_link", "evenly_spread"]

DEFAULT_EXPERIMENT = "Default"
ViewType = str  # "active" | "deleted" | "all"
_STAGES = {"active": ("active",), "deleted": ("deleted",), "all": ("active", "deleted")}
_INT64 = (-(2**63), 2**63 - 1)
MAX_PAGE = 1000
MAX_HISTORY_PAGE = 1_000_000
# MLflow's limits for a chart's points (get-history-bulk-interval).
MAX_INTERVAL_RUNS = 100
MAX_INTERVAL_POINTS = 2500


def _stages(view: str) -> tuple[str, ...]:
    try:
        return _STAGES[view.lower()]
    except KeyError:
        raise InvalidArgument(f"view must be one of active, deleted, all; got {view!r}") from None


def _check_time(name: str, value: int | None) -> None:
    if value is not None and not 0 <= value <= _INT64[1]:
        raise InvalidArgument(f"{name} must be milliseconds since the epoch; got {value}")


def _is_int64(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and _INT64[0] <= value <= _INT64[1]


def _offset(page_token: str | None, query: str) -> int:
    offset = decode_token(page_token, query) or 0
    if not _is_int64(offset) or offset < 0:
        raise InvalidPageToken("page_token is not a token this server issued")
    return int(offset)


_RUN_LINK = re.compile(r"^[0-9A-Za-z_-]{1,32}$")


def check_run_link(what: str, run_id: str) -> str:
    """A link to a run that may live elsewhere (a parent, a version's or a logged model's
    source run): MLflow stores such links unchecked, we keep them to a run id's shape
    (32 characters at most, the width of the columns that hold them)."""
    if not isinstance(run_id, str) or not _RUN_LINK.match(run_id):
        raise InvalidArgument(
            f"{what} must be a run id (1 to 32 letters, digits, '-' or '_'); got {str(run_id)[:64]!r}"
        )
    return run_id


def _order_key(point: tuple[int, int, float]) -> tuple[int, int, float, bool]:
    """MLflow's order of a series' points: step, timestamp, value (a NaN as 0, then flagged)."""
    step, ts, value = point
    nan = math.isnan(value)
    return step, ts, 0.0 if nan else value, nan


def evenly_spread(points: Sequence[tuple[int, int, float]], k: int) -> list[tuple[int, int, float]]:
    """``k`` points of a series (step, ts, value) picked exactly as MLflow's chart endpoint
    (``get-history-bulk-interval``) picks them, so both servers draw the same chart.

    MLflow's store splits the ordered points into ``k`` buckets with SQL's ``NTILE(k)`` (the
    first ``n % k`` buckets one point larger), keeps the first point of each, and puts the
    series' last point in place of the last pick when it is not already there: steps 0..9
    with ``k = 5`` give 0, 2, 4, 6, 9; ``k = 1`` gives the last point alone.
    """
    ordered = sorted(points, key=_order_key)
    n = len(ordered)
    if n <= k:
        return ordered  # one bucket per point
    size, larger = divmod(n, k)
    starts = [i * size + min(i, larger) for i in range(k)]
    picked = [ordered[i] for i in starts]
    if _order_key(picked[-1]) != _order_key(ordered[-1]):
        picked[-1] = ordered[-1]
    return picked


def _check_page_size(size: int, limit: int) -> int:
    if not 1 <= size <= limit:
        raise InvalidArgument(f"max_results must be between 1 and {limit}; got {size}")
    return size


class TrackingService:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- bootstrap -----------------------------------------------------------------

    def bootstrap(self, actor: str = "system") -> None:
        """The ``default`` workspace and its ``Default`` experiment exist from the first start."""
        now = now_ms()
        with self.db.write() as uow:
            ws = uow.workspaces.ensure(DEFAULT_WORKSPACE, actor, now)
            if uow.experiments.get_by_name(DEFAULT_WORKSPACE, DEFAULT_EXPERIMENT) is None:
                uow.experiments.create(ws, DEFAULT_EXPERIMENT, DEFAULT_WORKSPACE, {}, actor, now)

    def visible_workspaces(self, ctx: RequestContext) -> list[str]:
        """The workspaces the caller has a role in (a principal sees only those)."""
        with self.db.read() as uow:
            names = uow.workspaces.names()
        return [name for name in names if ctx.principal.grants.sees(name)]

    # -- experiments ---------------------------------------------------------------

    def create_experiment(
        self, ctx: RequestContext, name: str, tags: dict[str, str] | None = None
    ) -> Experiment:
        check_name("experiment", name)
        tags = self._check_tags(tags or {})
        now = now_ms()
        with self.db.write() as uow:
            ws = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now)
            return uow.experiments.create(ws, name, ctx.workspace, tags, ctx.principal.name, now)

    def get_experiment(self, ctx: RequestContext, experiment_id: str) -> Experiment:
        with self.db.read() as uow:
            return self._experiment(uow, ctx, experiment_id)

    def get_experiment_by_name(self, ctx: RequestContext, name: str) -> Experiment:
        with self.db.read() as uow:
            found = uow.experiments.get_by_name(ctx.workspace, name)
        if found is None:
            raise NotFound(
                f"no experiment named {name!r} in workspace {ctx.workspace!r}", experiment_name=name
            )
        return found

    def list_experiments(
        self, ctx: RequestContext, view: str = "active", max_results: int = 100, page_token: str | None = None
    ) -> tuple[list[Experiment], str | None]:
        _check_page_size(max_results, MAX_PAGE)
        query = fingerprint("experiments", ctx.workspace, view)
        offset = _offset(page_token, query)
        with self.db.read() as uow:
            found = uow.experiments.list(ctx.workspace, _stages(view), offset, max_results + 1)
        token = encode_token(query, offset + max_results) if len(found) > max_results else None
        return found[:max_results], token

    def update_experiment(
        self,
        ctx: RequestContext,
        experiment_id: str,
        *,
        name: str | None = None,
        lifecycle_stage: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> Experiment:
        if name is not None:
            check_name("experiment", name)
        if lifecycle_stage is not None and lifecycle_stage not in ("active", "deleted"):
            raise InvalidArgument("lifecycle_stage must be 'active' or 'deleted'")
        tags = self._check_tags(tags or {})
        with self.db.write() as uow:
            self._experiment(uow, ctx, experiment_id)
            if name is not None:
                clash = uow.experiments.get_by_name(ctx.workspace, name)
                if clash is not None and clash.id != experiment_id:
                    raise AlreadyExists(f"an experiment named {name!r} already exists", experiment_name=name)
            uow.experiments.update(
                experiment_id,
                actor=ctx.principal.name,
                now=now_ms(),
                name=name,
                lifecycle_stage=lifecycle_stage,
                tags=tags,
            )
            return self._experiment(uow, ctx, experiment_id)

    def search_experiments(
        self,
        ctx: RequestContext,
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        view: str = "active",
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> tuple[list[Experiment], str | None]:
        _check_page_size(max_results, 50_000)
        clauses = parse_experiment_filter(filter_string)
        ordering = parse_experiment_order_by(list(order_by or []))
        query = fingerprint("experiment-search", ctx.workspace, filter_string, list(order_by or []), view)
        offset = _offset(page_token, query)
        with self.db.read() as uow:
            found = uow.experiments.search(
                ctx.workspace, clauses, ordering, _stages(view), offset, max_results + 1
            )
        token = encode_token(query, offset + max_results) if len(found) > max_results else None
        return found[:max_results], token

    def set_experiment_lifecycle(self, ctx: RequestContext, experiment_id: str, stage: str) -> None:
        """Delete or restore an experiment together with all of its runs, as MLflow does."""
        if stage not in ("active", "deleted"):
            raise InvalidArgument("lifecycle_stage must be 'active' or 'deleted'")
        now = now_ms()
        with self.db.write() as uow:
            self._experiment(uow, ctx, experiment_id)
            uow.experiments.update(experiment_id, actor=ctx.principal.name, now=now, lifecycle_stage=stage)
            uow.runs.set_stage_in_experiment(experiment_id, stage, ctx.principal.name, now)

    def delete_experiment_tag(self, ctx: RequestContext, experiment_id: str, key: str) -> None:
        with self.db.write() as uow:
            self._experiment(uow, ctx, experiment_id)
            if not uow.experiments.delete_tag(experiment_id, key):
                raise NotFound(
                    f"experiment {experiment_id} has no tag {key!r}", key=key, experiment_id=experiment_id
                )

    @staticmethod
    def _experiment(uow: UnitOfWork, ctx: RequestContext, experiment_id: str) -> Experiment:
        found = uow.experiments.get(ctx.workspace, str(experiment_id))
        if found is None:
            raise NotFound(
                f"no experiment with id {experiment_id!r} in workspace {ctx.workspace!r}",
                experiment_id=str(experiment_id)[:64],
            )
        return found

    # -- runs ----------------------------------------------------------------------

    def create_run(
        self,
        ctx: RequestContext,
        experiment_id: str,
        *,
        name: str | None = None,
        start_time: int | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        parent_run_id: str | None = None,
        keep_unknown_parent: bool = False,
    ) -> Run:
        """A new run. ``keep_unknown_parent`` stores a parent this workspace does not hold (as
        MLflow keeps any ``mlflow.parentRunId``: the parent may live on another server); the
        native API refuses it, since its runs are made by this server's own clients."""
        tags = self._check_tags(tags or {})
        params = self._check_params(params or {})
        if parent_run_id is not None and keep_unknown_parent:
            check_run_link("parent run id", parent_run_id)
        run_id = uuid.uuid4().hex
        if name is not None:
            check_name("run", name)
        _check_time("start_time", start_time)
        now = now_ms()
        with self.db.write() as uow:
            experiment = self._experiment(uow, ctx, experiment_id)
            if experiment.lifecycle_stage != "active":
                raise InvalidArgument(
                    f"experiment {experiment_id} is deleted; restore it first",
                    experiment_id=experiment_id,
                    lifecycle_stage=experiment.lifecycle_stage,
                )
            if parent_run_id is not None and not keep_unknown_parent:
                self._ref(uow, ctx, parent_run_id)
            return self.add_run(
                uow, experiment, run_id=run_id, name=name or f"run-{run_id[:8]}", status=RunStatus.RUNNING,
                start_time=start_time if start_time is not None else now, tags=tags, params=params,
                parent_run_id=parent_run_id, actor=ctx.principal.name, now=now,
            )  # fmt: skip

    @staticmethod
    def add_run(
        uow: UnitOfWork,
        experiment: Experiment,
        *,
        run_id: str,
        name: str,
        status: RunStatus,
        start_time: int,
        tags: dict[str, str],
        actor: str,
        now: int,
        params: dict[str, str] | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        """A new run in ``experiment`` (checked active by the caller), in the caller's
        transaction: the one way runs are made, by the tracking API and by jobs alike."""
        run = Run(
            id=run_id,
            experiment_id=experiment.id,
            name=name,
            status=status,
            start_time=start_time,
            end_time=None,
            parent_run_id=parent_run_id,
            lifecycle_stage="active",
            artifact_uri=f"{experiment.artifact_location}/{run_id}/artifacts",
            created_by=actor,
            updated_at=now,
            updated_by=actor,
            params=params or {},
            tags=tags,
        )
        uow.runs.create(run, actor, now)
        return run

    def get_run(self, ctx: RequestContext, run_id: str) -> Run:
        with self.db.read() as uow:
            self._ref(uow, ctx, run_id, allow_deleted=True)
            run = uow.runs.get(run_id)
        assert run is not None  # _ref found it in the same transaction
        return run

    def get_run_with_io(self, ctx: RequestContext, run_id: str) -> tuple[Run, RunIO]:
        """The run and its inputs and outputs, read in one transaction (MLflow's ``runs/get``
        answers both; a second transaction cost ~0.1 ms of a ~1.5 ms call)."""
        with self.db.read() as uow:
            self._ref(uow, ctx, run_id, allow_deleted=True)
            run = uow.runs.get(run_id)
            assert run is not None  # _ref found it in the same transaction
            return run, uow.run_io.of_runs([run_id])[run_id]

    def update_run(
        self,
        ctx: RequestContext,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        name: str | None = None,
    ) -> Run:
        parsed: RunStatus | None = None
        if status is not None:
            try:
                parsed = RunStatus(status)
            except ValueError:
                allowed = ", ".join(s.value for s in RunStatus)
                raise InvalidArgument(f"status must be one of {allowed}; got {status!r}") from None
        if name is not None:
            check_name("run", name)
        _check_time("end_time", end_time)
        now = now_ms()
        if end_time is None and parsed is not None and parsed != RunStatus.RUNNING:
            end_time = now
        with self.db.write() as uow:
            ref = self._ref(uow, ctx, run_id)
            uow.runs.update(
                ref,
                actor=ctx.principal.name,
                now=now,
                status=parsed.value if parsed else None,
                end_time=end_time,
                name=name,
            )
            run = uow.runs.get(run_id)
        assert run is not None
        return run

    def set_run_lifecycle(self, ctx: RequestContext, run_id: str, stage: str) -> None:
        with self.db.write() as uow:
            ref = self._ref(uow, ctx, run_id, allow_deleted=True)
            uow.runs.update(ref, actor=ctx.principal.name, now=now_ms(), lifecycle_stage=stage)

    def search_runs(
        self,
        ctx: RequestContext,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        view: str = "active",
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[Run], str | None]:
        _check_page_size(max_results, 50_000)
        if not experiment_ids:
            raise InvalidArgument("give at least one experiment id to search")
        if len(experiment_ids) > MAX_PAGE:
            raise InvalidArgument(f"search at most {MAX_PAGE} experiments at once; got {len(experiment_ids)}")
        clauses = parse_filter(filter_string)
        ordering = parse_order_by(list(order_by or []))
        query = fingerprint(
            "runs", ctx.workspace, sorted(experiment_ids), filter_string, list(order_by or []), view
        )
        offset = _offset(page_token, query)
        with self.db.read() as uow:
            for experiment_id in experiment_ids:
                self._experiment(uow, ctx, experiment_id)
            found = uow.runs.search(experiment_ids, clauses, ordering, _stages(view), offset, max_results + 1)
        token = encode_token(query, offset + max_results) if len(found) > max_results else None
        return found[:max_results], token

    # -- params, tags --------------------------------------------------------------

    def log_params(self, ctx: RequestContext, run_id: str, params: dict[str, str]) -> None:
        params = self._check_params(params)
        if not params:
            return
        with self.db.write() as uow:
            ref = self._ref(uow, ctx, run_id)
            self._add_params(uow, ref, params)

    def set_tags(self, ctx: RequestContext, run_id: str, tags: dict[str, str]) -> None:
        tags = self._check_tags(tags)
        if not tags:
            return
        with self.db.write() as uow:
            uow.runs.set_tags(self._ref(uow, ctx, run_id), tags)

    def delete_tag(self, ctx: RequestContext, run_id: str, key: str) -> None:
        with self.db.write() as uow:
            if not uow.runs.delete_tag(self._ref(uow, ctx, run_id), key):
                raise NotFound(f"run {run_id} has no tag {key!r}", key=key, run_id=run_id)

    def log_batch(
        self,
        ctx: RequestContext,
        run_id: str,
        *,
        metrics: MetricBatch,
        params: dict[str, str],
        tags: dict[str, str],
        name: str | None = None,
        model_metrics: Sequence[LoggedModelMetric] = (),
    ) -> None:
        """Params, tags, metrics (and a new name) in one transaction: all stored, or none.

        ``model_metrics`` are the points of ``metrics`` that name a logged model: they are
        linked to it too, as MLflow 3 does."""
        params = self._check_params(params)
        tags = self._check_tags(tags)
        self._check_batch(metrics)
        self._check_model_metrics(model_metrics)
        if name is not None:
            check_name("run", name)
        with self.db.write() as uow:
            ref = self._ref(uow, ctx, run_id)
            if name is not None:
                uow.runs.update(ref, actor=ctx.principal.name, now=now_ms(), name=name)
            if params:
                self._add_params(uow, ref, params)
            if tags:
                uow.runs.set_tags(ref, tags)
            if len(metrics):
                uow.metrics.ingest(ref, metrics, None, now_ms())
            self._link_model_metrics(uow, ctx, ref, model_metrics)

    # -- inputs and outputs --------------------------------------------------------

    def log_inputs(
        self,
        ctx: RequestContext,
        run_id: str,
        inputs: Sequence[DatasetInput],
        model_inputs: Sequence[str] = (),
    ) -> None:
        """Datasets the run read and, by id, logged models it read (MLflow 3's model inputs,
        stored unchecked as MLflow stores them: the model may live elsewhere)."""
        for model_id in model_inputs:
            if not isinstance(model_id, str) or not 1 <= len(model_id) <= 64:
                raise InvalidArgument("model_id must be 1 to 64 characters long")
        for item in inputs:
            for field_name in ("name", "digest", "source_type", "source"):
                if not isinstance(getattr(item.dataset, field_name), str):
                    raise InvalidArgument(f"dataset {field_name} must be a string")
            check_name("dataset", item.dataset.name)
            if not item.dataset.digest or len(item.dataset.digest) > 64:
                raise InvalidArgument("dataset digest must be 1 to 64 characters long")
            if len(item.dataset.source_type) > 36:
                raise InvalidArgument("dataset source_type is longer than 36 characters")
            self._check_tags(item.tags)
        if not inputs and not model_inputs:
            return
        with self.db.write() as uow:
            ref = self._ref(uow, ctx, run_id)
            if inputs:
                uow.run_io.add_inputs(ref, inputs)
            if model_inputs:
                uow.run_io.add_model_inputs(ref, model_inputs)

    def log_outputs(self, ctx: RequestContext, run_id: str, outputs: Sequence[ModelOutput]) -> None:
        for item in outputs:
            if not item.model_id or len(item.model_id) > 64:
                raise InvalidArgument("model_id must be 1 to 64 characters long")
            if not _is_int64(item.step):
                raise InvalidArgument("step must fit in 64 bits")
        if not outputs:
            return
        with self.db.write() as uow:
            uow.run_io.add_outputs(self._ref(uow, ctx, run_id), outputs)

    def run_io(self, ctx: RequestContext, run_ids: Sequence[str]) -> dict[str, RunIO]:
        """Inputs and outputs of runs the caller already loaded (through get or search)."""
        with self.db.read() as uow:
            return uow.run_io.of_runs(run_ids)

    # -- metrics -------------------------------------------------------------------

    def log_metrics(
        self,
        ctx: RequestContext,
        run_id: str,
        batch: MetricBatch,
        idempotency_key: str | None = None,
        *,
        model_metrics: Sequence[LoggedModelMetric] = (),
    ) -> bool:
        """Store a batch; False when ``idempotency_key`` was applied before (nothing stored).

        ``model_metrics`` are the points of ``batch`` that name a logged model (see log_batch)."""
        self._check_batch(batch)
        self._check_model_metrics(model_metrics)
        if idempotency_key is not None and not 8 <= len(idempotency_key) <= 64:
            raise InvalidArgument("idempotency key must be 8 to 64 characters long")
        with self.db.write() as uow:
            ref = self._ref(uow, ctx, run_id)
            applied = uow.metrics.ingest(ref, batch, idempotency_key, now_ms())
            if applied:
                self._link_model_metrics(uow, ctx, ref, model_metrics)
            return applied

    def metric_history(
        self,
        ctx: RequestContext,
        run_id: str,
        key: str,
        *,
        max_results: int = 100_000,
        page_token: str | None = None,
        max_points: int | None = None,
    ) -> MetricHistory:
        _check_page_size(max_results, MAX_HISTORY_PAGE)
        if max_points is not None and max_points < 2:
            raise InvalidArgument("max_points must be at least 2")
        query = fingerprint("history", run_id, key)
        after = decode_token(page_token, query)
        if after is not None and not (
            isinstance(after, list) and len(after) == 2 and all(map(_is_int64, after))
        ):
            raise InvalidPageToken("page_token is not a token this server issued")
        # A chart (max_points, first page) covers the whole series: from its rollups when it is
        # large, else from every point (up to MAX_HISTORY_PAGE), down-sampled below.
        whole = max_points is not None and after is None
        with self.db.read() as uow:
            ref = self._ref(uow, ctx, run_id, allow_deleted=True)
            charted = uow.metrics.chart(ref, key, max_points) if whole and max_points is not None else None
            if charted is not None:
                points, total = charted
                if max_points is not None and len(points) > max_points:
                    points = downsample(points, max_points)
                return MetricHistory(
                    key=key, steps=[p[0] for p in points], values=[p[2] for p in points],
                    timestamps=[p[1] for p in points], next_page_token=None, downsampled=True, total=total,
                )  # fmt: skip
            limit = MAX_HISTORY_PAGE if whole else max_results
            rows, total = uow.metrics.history(ref, key, (after[0], after[1]) if after else None, limit + 1)
        max_results = limit
        token = None
        if len(rows) > max_results:
            rows = rows[:max_results]
            token = encode_token(query, [rows[-1][0], rows[-1][1]])
        points = [(step, ts, value) for step, _id, ts, value in rows]
        sampled = False
        if max_points is not None and len(points) > max_points:
            points, sampled = downsample(points, max_points), True
        return MetricHistory(
            key=key,
            steps=[p[0] for p in points],
            values=[p[2] for p in points],
            timestamps=[p[1] for p in points],
            next_page_token=token,
            downsampled=sampled,
            total=total,
        )

    def metric_intervals(
        self,
        ctx: RequestContext,
        run_ids: Sequence[str],
        key: str,
        *,
        start_step: int | None = None,
        end_step: int | None = None,
        max_points: int = MAX_INTERVAL_POINTS,
    ) -> list[tuple[str, list[tuple[int, int, float]]]]:
        """Each run's points (step, ts, value) of one series between two steps (inclusive),
        thinned to ``max_points`` for a chart — the points of MLflow's
        ``get-history-bulk-interval`` and of its UI's GraphQL chart query.

        The checks are MLflow's, in its order and words, since both faces answer with them.
        """
        if not run_ids:
            raise InvalidArgument("Missing value for required parameter 'run_ids'.")
        if len(run_ids) > MAX_INTERVAL_RUNS:
            raise InvalidArgument(
                f"GetMetricHistoryBulkInterval request must specify at most {MAX_INTERVAL_RUNS}"
                f" run_ids. Received {len(run_ids)} run_ids."
            )
        if not 1 <= max_points <= MAX_INTERVAL_POINTS:
            raise InvalidArgument(f"max_results must be between 1 and {MAX_INTERVAL_POINTS}.")
        if (start_step is None) != (end_step is None):
            raise InvalidArgument("If either start step or end step are specified, both must be specified.")
        if start_step is not None and end_step is not None and start_step > end_step:
            raise InvalidArgument(
                "end_step must be greater than start_step."
                f" Found start_step={start_step} and end_step={end_step}."
            )
        out: list[tuple[str, list[tuple[int, int, float]]]] = []
        with self.db.read() as uow:
            for run_id in run_ids:
                ref = self._ref(uow, ctx, run_id, allow_deleted=True)
                rows, _total = uow.metrics.history(ref, key, None, MAX_HISTORY_PAGE)
                points = [
                    (step, ts, value)
                    for step, _id, ts, value in rows
                    if start_step is None or end_step is None or start_step <= step <= end_step
                ]
                out.append((run_id, evenly_spread(points, max_points)))
        return out

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    def _ref(uow: UnitOfWork, ctx: RequestContext, run_id: str, *, allow_deleted: bool = False) -> RunRef:
        ref = uow.runs.ref(run_id) if isinstance(run_id, str) and len(run_id) <= 64 else None
        if ref is None or ref.workspace != ctx.workspace:
            raise NotFound(
                f"no run with id {str(run_id)[:64]!r} in workspace {ctx.workspace!r}", run_id=str(run_id)[:64]
            )
        if ref.lifecycle_stage != "active" and not allow_deleted:
            raise InvalidArgument(
                f"run {run_id} is deleted; restore it before changing it",
                run_id=run_id,
                lifecycle_stage=ref.lifecycle_stage,
            )
        return ref

    @staticmethod
    def _add_params(uow: UnitOfWork, ref: RunRef, params: dict[str, str]) -> None:
        """Add new params; the same value again is fine, a different one is refused."""
        existing = uow.runs.params(ref, list(params))
        for key, old in existing.items():
            if old != params[key]:
                raise ParamAlreadySet(
                    f"param {key!r} is already {old!r} on run {ref.run_id}; params are immutable,"
                    " log the new value under another key or start a new run",
                    key=key,
                    old_value=old,
                    new_value=params[key],
                    run_id=ref.run_id,
                )
        fresh = {k: v for k, v in params.items() if k not in existing}
        if fresh:
            uow.runs.add_params(ref, fresh)

    @staticmethod
    def _check_params(params: dict[str, str]) -> dict[str, str]:
        if len(params) > 1000:
            raise InvalidArgument("at most 1,000 params per request")
        return {
            check_key("param", k): check_value("param", k, v, MAX_PARAM_VALUE_LENGTH)
            for k, v in params.items()
        }

    @staticmethod
    def _check_tags(tags: dict[str, str]) -> dict[str, str]:
        if len(tags) > 1000:
            raise InvalidArgument("at most 1,000 tags per request")
        return {check_key("tag", k): check_value("tag", k, v, MAX_TAG_VALUE_LENGTH) for k, v in tags.items()}

    @staticmethod
    def _check_model_metrics(metrics: Sequence[LoggedModelMetric]) -> None:
        for m in metrics:
            check_key("metric", m.key)
            if m.dataset_name is not None:
                check_name("dataset", m.dataset_name)
            if m.dataset_digest is not None and not 1 <= len(m.dataset_digest) <= 64:
                raise InvalidArgument("dataset digest must be 1 to 64 characters long")

    @staticmethod
    def _link_model_metrics(
        uow: UnitOfWork, ctx: RequestContext, ref: RunRef, metrics: Sequence[LoggedModelMetric]
    ) -> None:
        """Link points to the logged models they name; an unknown model refuses the whole write."""
        if not metrics:
            return
        wanted = {m.model_id for m in metrics}
        missing = wanted - uow.logged_models.active_ids(ctx.workspace, list(wanted))
        if missing:
            first = min(missing)[:64]
            raise NotFound(
                f"no logged model with id {first!r} in workspace {ctx.workspace!r}", model_id=first
            )
        uow.logged_models.add_metrics([replace(m, run_id=ref.run_id) for m in metrics])

    @staticmethod
    def _check_batch(batch: MetricBatch) -> None:
        lo, hi = _INT64
        seen: set[str] = set()
        for series in batch.series:
            check_key("metric", series.key)
            if series.key in seen:
                raise InvalidArgument(f"metric {series.key!r} appears twice in one batch; merge its points")
            seen.add(series.key)
            n = len(series.values)
            if not (len(series.steps) == len(series.timestamps) == n):
                raise InvalidArgument(f"metric {series.key!r}: steps, values and timestamps differ in length")
            if n and not (lo <= min(series.steps) and max(series.steps) <= hi):
                raise InvalidArgument(f"metric {series.key!r}: steps must fit in 64 bits")
            if n and not (min(series.timestamps) >= 0 and max(series.timestamps) <= hi):
                raise InvalidArgument(
                    f"metric {series.key!r}: timestamps must be milliseconds since the epoch"
                )
        # NaN and ±inf are valid metric values; the HTTP layer already made every value a float.
