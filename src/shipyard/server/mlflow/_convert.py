"""Domain objects → MLflow's JSON messages (``Experiment``, ``Run``, ``RunInfo``…).

Two of MLflow's tags live in our columns: ``mlflow.runName`` is the run's name and
``mlflow.parentRunId`` its parent. They are rendered here from the columns, so a run
renamed through ``/api/v1`` shows its new name to the ``mlflow`` client too.
"""

from __future__ import annotations

from typing import Any

from shipyard.domain.tracking import Experiment, Run, RunIO
from shipyard.server.mlflow._route import finite

__all__ = [
    "ARTIFACT_SCHEME",
    "PARENT_TAG",
    "RUN_NAME_TAG",
    "UNKNOWN_USER",
    "USER_TAG",
    "experiment",
    "run",
    "run_info",
    "tags",
]

ARTIFACT_SCHEME = "mlflow-artifacts:/"
RUN_NAME_TAG = "mlflow.runName"
PARENT_TAG = "mlflow.parentRunId"
USER_TAG = "mlflow.user"
UNKNOWN_USER = "unknown"  # MLflow's user_id when the client names none


def tags(mapping: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in mapping.items()]


def experiment(found: Experiment) -> dict[str, Any]:
    return {
        "experiment_id": found.id,
        "name": found.name,
        "artifact_location": ARTIFACT_SCHEME + found.artifact_location,
        "lifecycle_stage": found.lifecycle_stage,
        "last_update_time": found.updated_at,
        "creation_time": found.created_at,
        "tags": tags(found.tags),
    }


def run_info(found: Run) -> dict[str, Any]:
    info: dict[str, Any] = {
        "run_id": found.id,
        "run_uuid": found.id,
        "run_name": found.name,
        "experiment_id": found.experiment_id,
        # MLflow answers the user the client declared (the client sends its mlflow.user tag,
        # else "unknown"), never the server's principal: who made the run is an audit fact.
        "user_id": found.tags.get(USER_TAG) or UNKNOWN_USER,
        "status": found.status.value,
        "start_time": found.start_time,
        "artifact_uri": ARTIFACT_SCHEME + found.artifact_uri,
        "lifecycle_stage": found.lifecycle_stage,
    }
    if found.end_time is not None:
        info["end_time"] = found.end_time
    return info


def _io(io: RunIO | None) -> tuple[dict[str, Any], dict[str, Any]]:
    if io is None:
        return {}, {}
    inputs = {
        "dataset_inputs": [
            {
                "tags": tags(item.tags),
                "dataset": {
                    k: v
                    for k, v in (
                        ("name", item.dataset.name),
                        ("digest", item.dataset.digest),
                        ("source_type", item.dataset.source_type),
                        ("source", item.dataset.source),
                        ("schema", item.dataset.schema),
                        ("profile", item.dataset.profile),
                    )
                    if v is not None
                },
            }
            for item in io.inputs
        ],
        "model_inputs": [{"model_id": m} for m in io.model_inputs],
    }
    outputs = {"model_outputs": [{"model_id": o.model_id, "step": o.step} for o in io.outputs]}
    return inputs, outputs


def run(found: Run, io: RunIO | None = None) -> dict[str, Any]:
    shown = dict(found.tags)
    shown[RUN_NAME_TAG] = found.name
    if found.parent_run_id is not None:
        shown[PARENT_TAG] = found.parent_run_id
    inputs, outputs = _io(io)
    return {
        "info": run_info(found),
        "data": {
            "metrics": [
                {"key": m.key, "value": finite(m.value), "timestamp": m.timestamp, "step": m.step}
                for m in found.metrics.values()
            ],
            "params": tags(found.params),
            "tags": tags(shown),
        },
        "inputs": inputs,
        "outputs": outputs,
    }
