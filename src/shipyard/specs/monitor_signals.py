"""One entry of ``create_monitor.monitoring_signals``: its data, features, thresholds and
Shipyard's ``action`` (a webhook and/or a job file submitted on a breach)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator, model_validator

from shipyard.specs._base import StrictModel
from shipyard.specs.batch_endpoint import SqlOutput
from shipyard.specs.monitor_metrics import iso_duration
from shipyard.specs.monitor_thresholds import (
    DriftThresholds,
    PerformanceThresholds,
    QualityThresholds,
    SystemThresholds,
)

__all__ = [
    "AZURE_ONLY_TYPES",
    "SIGNAL_TYPES",
    "SQL_WINDOW_PARAMETERS",
    "Action",
    "AnyInputData",
    "AzureOnlySignal",
    "DataDriftSignal",
    "DataQualitySignal",
    "DataWindow",
    "InputData",
    "ModelPerformanceSignal",
    "MonitorData",
    "PredictionDriftSignal",
    "Signal",
    "SqlInputData",
    "SystemSignal",
    "TopFeatures",
    "Webhook",
]

# What Shipyard computes, and Azure's types it reads (so Azure's files load) but does not compute.
SIGNAL_TYPES = ("data_drift", "prediction_drift", "data_quality", "model_performance", "system")
# What a run binds into a SQL input's query (shipyard.services.monitoring.sql_source).
SQL_WINDOW_PARAMETERS = ("window_start", "window_end", "window_start_ms", "window_end_ms")
AZURE_ONLY_TYPES = (
    "feature_attribution_drift",
    "custom",
    "generation_safety_quality",
    "generation_token_statistics",
)


class InputData(StrictModel):
    path: str
    type: Literal["mltable", "uri_folder", "uri_file"] = "uri_folder"


# `:name` bind parameters; `::type` casts and times in quoted literals ('12:30') are not.
_BIND = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class SqlInputData(StrictModel):
    """Shipyard's: rows a batch endpoint wrote to a SQL table, selected per window by ``query``
    (bound parameters :window_start, :window_end, :window_start_ms, :window_end_ms)."""

    type: Literal["sql"]
    # A Shipyard secret holding the URL, or a URL whose password is one: checked as a batch
    # deployment's output.sql_url is, so a clear-text password is refused the same way.
    connection: str
    query: str

    @field_validator("connection")
    @classmethod
    def _connection(cls, value: str) -> str:
        try:
            return SqlOutput(sql_url=value, table="monitor").sql_url
        except ValidationError as exc:
            raise ValueError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is empty; write e.g. SELECT … WHERE scored_at >= :window_start_ms")
        unknown = sorted(set(_BIND.findall(value)) - set(SQL_WINDOW_PARAMETERS))
        if unknown:
            raise ValueError(
                f"the query uses {', '.join(':' + u for u in unknown)}, which no run binds; the"
                f" parameters are {', '.join(':' + p for p in SQL_WINDOW_PARAMETERS)}"
            )
        return value


def _input_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return "sql" if kind == "sql" else "path"


AnyInputData = Annotated[
    Annotated[InputData, Tag("path")] | Annotated[SqlInputData, Tag("sql")], Discriminator(_input_kind)
]


class DataWindow(StrictModel):
    lookback_window_size: str | None = None
    lookback_window_offset: str | None = None

    @field_validator("lookback_window_size", "lookback_window_offset")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            iso_duration(value)
        return value

    @field_validator("lookback_window_size")
    @classmethod
    def _positive(cls, value: str | None) -> str | None:
        if value is not None and iso_duration(value) <= timedelta(0):
            raise ValueError(f"{value!r} is an empty window; give a size such as 'P7D'")
        return value

    @property
    def size(self) -> timedelta | None:
        return iso_duration(self.lookback_window_size) if self.lookback_window_size else None

    @property
    def offset(self) -> timedelta:
        return iso_duration(self.lookback_window_offset) if self.lookback_window_offset else timedelta(0)


class MonitorData(StrictModel):
    """``reference_data`` or ``production_data``.

    Without ``input_data`` (Shipyard's): the deployment's own data — what it collected, for
    production; its model's training data, for the reference — with this window and these
    column names (Azure names the data collector's asset there instead)."""

    input_data: AnyInputData | None = None
    data_context: (
        Literal["model_inputs", "model_outputs", "training", "test", "validation", "ground_truth"] | None
    ) = None
    data_column_names: dict[str, str] = Field(default_factory=dict)
    data_window: DataWindow | None = None
    pre_processing_component: str | None = None


class TopFeatures(StrictModel):
    top_n_feature_importance: int = Field(ge=1)


Features = list[str] | Literal["all_features"] | TopFeatures


def _features(value: Any) -> Any:
    if value is None or value == "all_features" or isinstance(value, dict):
        return "all_features" if value is None else value
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return value
    raise ValueError(
        f"{value!r} is not a feature selection; give a list of column names, 'all_features',"
        " or {top_n_feature_importance: N}"
    )


class Webhook(StrictModel):
    url: str
    # The name of a Shipyard secret whose value signs the call (HMAC), never the value itself.
    secret: str | None = None

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")) or len(value.split("://", 1)[1]) == 0:
            raise ValueError(f"{value!r} is not an http(s) URL; write e.g. 'https://hooks.example.com/drift'")
        return value


class Action(StrictModel):
    """Shipyard's extension: what a breach of the signal does besides alerting."""

    webhook: Webhook | None = None
    # A job or pipeline file, relative to the monitor file: the retraining to submit.
    job: str | None = None

    @field_validator("job")
    @classmethod
    def _file(cls, value: str | None) -> str | None:
        if value is not None and value.strip().startswith("azureml:"):
            raise ValueError(
                f"{value!r} names an existing job; give the job file to submit (job: ./retrain.yml)"
            )
        return value

    @model_validator(mode="after")
    def _something(self) -> Action:
        if self.webhook is None and self.job is None:
            raise ValueError("an action needs a webhook, a job file, or both")
        return self


class _Signal(StrictModel):
    # Azure's default: a breach is recorded but e-mails only go out when alert_enabled is true.
    alert_enabled: bool = False
    properties: dict[str, str] = Field(default_factory=dict)
    action: Action | None = None


class DataDriftSignal(_Signal):
    type: Literal["data_drift"]
    production_data: MonitorData | None = None
    reference_data: MonitorData | None = None
    features: Features = "all_features"
    feature_type_override: dict[str, Literal["numerical", "categorical"]] = Field(default_factory=dict)
    metric_thresholds: DriftThresholds | None = None

    _features = field_validator("features", mode="before")(_features)


class PredictionDriftSignal(_Signal):
    type: Literal["prediction_drift"]
    production_data: MonitorData | None = None
    reference_data: MonitorData | None = None
    metric_thresholds: DriftThresholds | None = None


class DataQualitySignal(_Signal):
    type: Literal["data_quality"]
    production_data: MonitorData | None = None
    reference_data: MonitorData | None = None
    features: Features = "all_features"
    feature_type_override: dict[str, Literal["numerical", "categorical"]] = Field(default_factory=dict)
    metric_thresholds: QualityThresholds | None = None

    _features = field_validator("features", mode="before")(_features)


class ModelPerformanceSignal(_Signal):
    type: Literal["model_performance"]
    production_data: MonitorData | None = None
    reference_data: MonitorData | None = None
    metric_thresholds: PerformanceThresholds | None = None


class SystemSignal(_Signal):
    """Shipyard's: request rate, latency, errors and worker CPU/memory of the deployment."""

    type: Literal["system"]
    metric_thresholds: SystemThresholds | None = None
    data_window: DataWindow | None = None


class AzureOnlySignal(StrictModel):
    """Azure's feature attribution, custom and generative signals: read, not computed."""

    model_config = ConfigDict(extra="allow")

    type: Literal[
        "feature_attribution_drift", "custom", "generation_safety_quality", "generation_token_statistics"
    ]


Signal = Annotated[
    DataDriftSignal
    | PredictionDriftSignal
    | DataQualitySignal
    | ModelPerformanceSignal
    | SystemSignal
    | AzureOnlySignal,
    Discriminator("type"),
]
