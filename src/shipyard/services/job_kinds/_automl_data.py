"""What an AutoML job is checked against before any trial runs: its training table's columns.

A registered data asset carries its schema (read when it was registered); a table the client
uploaded with the job is read here, as registration reads one (:mod:`shipyard.services._tables`).
Every problem is an :class:`~shipyard.errors.InvalidArgument` whose ``reason`` is stable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from shipyard.domain.automl import AutoMLSettings
from shipyard.domain.context import RequestContext
from shipyard.domain.data_assets import Column
from shipyard.domain.snapshots import blob_key
from shipyard.errors import InvalidArgument
from shipyard.services._tables import mltable_info, table_info
from shipyard.services.job_inputs import find_data_asset
from shipyard.services.jobs import InputValue, JobService

__all__ = [
    "BUDGET_TOO_SMALL",
    "NO_TARGET",
    "NO_TIME_COLUMN",
    "TASK_DOES_NOT_FIT",
    "check_budget",
    "check_table",
    "training_columns",
]

NO_TARGET = "automl_target_missing"
TASK_DOES_NOT_FIT = "automl_task_target_mismatch"
NO_TIME_COLUMN = "automl_time_column_missing"
BUDGET_TOO_SMALL = "automl_budget_too_small"

_NUMERIC = ("int", "uint", "double", "float", "decimal")


def training_columns(ctx: RequestContext, jobs: JobService, item: InputValue) -> list[Column] | None:
    """The training table's columns; None when they cannot be known before it runs (an
    external URL, a table uploads still pending, a format with no schema)."""
    if item.kind == "data":
        with jobs.db.read() as uow:
            asset = find_data_asset(uow, ctx.workspace, "training_data", item.value)
        if asset.columns is not None or not asset.content_hash:
            return asset.columns
        digest = asset.content_hash
    elif item.kind == "snapshot" and item.value:
        digest = item.value
    else:
        return None
    snapshots = jobs.snapshots
    if snapshots is None:
        return None
    files = {f.path: f.sha256 for f in snapshots.manifest(digest).files}

    @contextmanager
    def opener(path: str) -> Iterator[BinaryIO]:
        with snapshots.store.get(blob_key(files[path])) as handle:
            yield handle

    if "MLTable" in files:
        info = mltable_info(files, opener)
        return info[0] if info else None
    for path in sorted(files):
        info = table_info(path, opener)
        if info is not None:
            return info[0]
    return None


def check_table(settings: AutoMLSettings, columns: list[Column]) -> None:
    """The target (and the time column) exist, and the task fits the target's type."""
    types = {c.name: c.type for c in columns}
    names = ", ".join(list(types)[:30])
    target = settings.target_column_name
    if target not in types:
        raise InvalidArgument(
            f"target_column_name '{target}' is not a column of the training data (its columns: {names})",
            reason=NO_TARGET,
            field="target_column_name",
        )
    kind = types[target]
    numeric = kind.startswith(_NUMERIC)
    if settings.task in ("regression", "forecasting") and not numeric:
        raise InvalidArgument(
            f"a {settings.task} task predicts a number, and the target '{target}' holds {kind} values:"
            " use task: classification, or a numeric target",
            reason=TASK_DOES_NOT_FIT,
            field="task",
        )
    if settings.task == "classification" and kind.startswith(("double", "float", "decimal")):
        raise InvalidArgument(
            f"a classification task predicts a class, and the target '{target}' holds fractional numbers"
            f" ({kind}): use task: regression, or a target of labels",
            reason=TASK_DOES_NOT_FIT,
            field="task",
        )
    if settings.forecasting is not None:
        needed = [settings.forecasting.time_column_name, *settings.forecasting.time_series_id_column_names]
        for column in needed:
            if column not in types:
                field = (
                    "forecasting.time_column_name"
                    if column == settings.forecasting.time_column_name
                    else "forecasting.time_series_id_column_names"
                )
                raise InvalidArgument(
                    f"forecasting column '{column}' is not a column of the training data"
                    f" (its columns: {names})",
                    reason=NO_TIME_COLUMN,
                    field=field,
                )


def check_budget(timeout_minutes: int | None, trial_timeout_minutes: int | None, minimum: int) -> None:
    """The job's time can hold one trial."""
    if timeout_minutes is None:
        return
    trial = trial_timeout_minutes or minimum
    if timeout_minutes < max(trial, minimum):
        raise InvalidArgument(
            f"limits.timeout_minutes ({timeout_minutes}) cannot hold one trial"
            f" ({max(trial, minimum)} minutes at least): raise timeout_minutes",
            reason=BUDGET_TOO_SMALL,
            field="limits.timeout_minutes",
        )
