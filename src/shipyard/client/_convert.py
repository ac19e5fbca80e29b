"""JSON of the native API → domain objects."""

from __future__ import annotations

from typing import Any

from shipyard.domain.data_assets import Column, DataAsset
from shipyard.domain.registry import ModelEvent, ModelVersion, RegisteredModel
from shipyard.domain.tracking import Experiment, MetricHistory, MetricSummary, Run, RunStatus


def number(value: Any) -> float:
    """Accept the proto3 JSON spellings of non-finite floats ("NaN", "Infinity", "-Infinity")."""
    return float(value)


def experiment(data: dict[str, Any]) -> Experiment:
    return Experiment(**data)


def run(data: dict[str, Any]) -> Run:
    metrics = {
        key: MetricSummary(
            key=m["key"],
            value=number(m["value"]),
            step=m["step"],
            timestamp=m["timestamp"],
            count=m["count"],
            min=number(m["min"]),
            max=number(m["max"]),
        )
        for key, m in data["metrics"].items()
    }
    fields = {k: v for k, v in data.items() if k not in ("metrics", "status")}
    return Run(status=RunStatus(data["status"]), metrics=metrics, **fields)


def history(data: dict[str, Any]) -> MetricHistory:
    return MetricHistory(
        key=data["key"],
        steps=data["steps"],
        values=list(map(float, data["values"])),  # "NaN"/"Infinity" parse too, at C speed
        timestamps=data["timestamps"],
        next_page_token=data.get("next_page_token"),
        downsampled=data.get("downsampled", False),
        total=data.get("total", 0),
    )


def model(data: dict[str, Any]) -> RegisteredModel:
    return RegisteredModel(**data)


def version(data: dict[str, Any]) -> ModelVersion:
    return ModelVersion(**data)


def event(data: dict[str, Any]) -> ModelEvent:
    return ModelEvent(**data)


def data_asset(data: dict[str, Any]) -> DataAsset:
    columns = data.get("columns")
    fields = {k: v for k, v in data.items() if k != "columns"}
    return DataAsset(columns=None if columns is None else [Column(**c) for c in columns], **fields)
