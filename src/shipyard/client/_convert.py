"""JSON of the native API → the SDK's objects, ignoring fields they do not know.

A newer server may add fields to an answer; an older SDK must still read it. So nothing here
builds an object from ``**data``: :func:`decode` keeps the fields the class declares and drops
the rest, and the converters of nested shapes pick what they need.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from shipyard.domain.data_assets import Column, DataAsset
from shipyard.domain.registry import ModelEvent, ModelVersion, RegisteredModel
from shipyard.domain.tracking import Experiment, MetricHistory, MetricSummary, Run, RunStatus

T = TypeVar("T")

_FIELDS: dict[type[Any], frozenset[str]] = {}


def decode(cls: type[T], data: Mapping[str, Any]) -> T:
    """``cls`` (a dataclass) from an answer's object, without the fields it does not declare."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = frozenset(f.name for f in dataclasses.fields(cls) if f.init)  # type: ignore[arg-type]
    return cls(**{key: value for key, value in data.items() if key in names})


def number(value: Any) -> float:
    """Accept the proto3 JSON spellings of non-finite floats ("NaN", "Infinity", "-Infinity")."""
    return float(value)


def experiment(data: dict[str, Any]) -> Experiment:
    return decode(Experiment, data)


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
    return decode(Run, {**data, "status": RunStatus(data["status"]), "metrics": metrics})


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
    return decode(RegisteredModel, data)


def version(data: dict[str, Any]) -> ModelVersion:
    return decode(ModelVersion, data)


def event(data: dict[str, Any]) -> ModelEvent:
    return decode(ModelEvent, data)


def data_asset(data: dict[str, Any]) -> DataAsset:
    columns = data.get("columns")
    return decode(
        DataAsset, {**data, "columns": None if columns is None else [decode(Column, c) for c in columns]}
    )
