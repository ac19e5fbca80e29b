"""``monitor.yml``: Azure ML's monitor schedule, as Shipyard reads it.

::

    name: credit_monitor
    trigger: {type: recurrence, frequency: day, interval: 1}   # as in schedule.yml
    create_monitor:
      compute: {instance_type: standard_e4s_v3}   # accepted; Shipyard computes on the server
      monitoring_target:
        ml_task: classification
        endpoint_deployment_id: azureml:credit:blue
      monitoring_signals:
        drift:
          type: data_drift          # prediction_drift, data_quality, model_performance, system
          features: all_features    # or [a, b], or {top_n_feature_importance: 10}
          metric_thresholds: {numerical: {jensen_shannon_distance: 0.05}}
          action: {webhook: {url: https://hooks.example.com/x}, job: ./retrain.yml}
      alert_notification: {emails: [ops@example.com]}

:meth:`MonitorSpec.signals` is what a monitor run computes: each signal with Azure's default
thresholds filled in (or Azure's out-of-box signals when the file names none).
docs/monitor-yaml.md is the reference.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from shipyard.errors import InvalidSpec
from shipyard.specs._base import StrictModel
from shipyard.specs.monitor_metrics import DATA_QUALITY, DEFAULT_THRESHOLDS, Direction, direction_of
from shipyard.specs.monitor_signals import (
    AZURE_ONLY_TYPES,
    SIGNAL_TYPES,
    Action,
    AzureOnlySignal,
    DataDriftSignal,
    DataQualitySignal,
    ModelPerformanceSignal,
    MonitorData,
    PredictionDriftSignal,
    Signal,
    SystemSignal,
    TopFeatures,
)
from shipyard.specs.monitor_thresholds import QualityMetrics, given
from shipyard.specs.schedule import ScheduleFields

__all__ = [
    "AlertNotification",
    "LoadedMonitor",
    "MonitorDefinition",
    "MonitorSignal",
    "MonitorSpec",
    "MonitoringTarget",
    "SignalThreshold",
    "is_monitor_file",
    "load_monitor",
    "monitor_body",
]

_DEPLOYMENT_ID = re.compile(r"^azureml:([A-Za-z0-9][A-Za-z0-9-]{0,62}):([A-Za-z0-9][A-Za-z0-9_-]{0,63})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Azure ML's defaults, so thresholds carried over from Azure mean the same here.
_DRIFT_DEFAULTS = {
    "numerical": {m: DEFAULT_THRESHOLDS[m] for m in ("normalized_wasserstein_distance",)},
    "categorical": {m: DEFAULT_THRESHOLDS[m] for m in ("jensen_shannon_distance",)},
}
_QUALITY_DEFAULTS = {m: DEFAULT_THRESHOLDS[m] for m in DATA_QUALITY}
# Shipyard's choices (Azure has no published ones): a scale-free accuracy floor; a regression
# error is in the target's units, so no default can fit and one must be given.
_CLASSIFICATION_DEFAULTS = {"accuracy": 0.9}
_SYSTEM_DEFAULTS = {"error_rate": 0.05}
# The signals Azure ML creates for a monitor that names none ("out-of-box" monitoring).
_OUT_OF_BOX: dict[str, dict[str, Any]] = {
    "data-drift-signal": {"type": "data_drift"},
    "prediction-drift-signal": {"type": "prediction_drift"},
    "data-quality-signal": {"type": "data_quality"},
}


class MonitoringTarget(StrictModel):
    ml_task: Literal["classification", "regression", "question_answering"] | None = None
    endpoint_deployment_id: str | None = None
    model_id: str | None = None

    @field_validator("endpoint_deployment_id")
    @classmethod
    def _deployment(cls, value: str | None) -> str | None:
        if value is not None and not _DEPLOYMENT_ID.match(value.strip()):
            raise ValueError(
                f"{value!r} is not a deployment id; write azureml:<endpoint>:<deployment>,"
                " e.g. azureml:credit-default:main"
            )
        return value.strip() if value else value

    @property
    def endpoint(self) -> str | None:
        match = _DEPLOYMENT_ID.match(self.endpoint_deployment_id or "")
        return match.group(1) if match else None

    @property
    def deployment(self) -> str | None:
        match = _DEPLOYMENT_ID.match(self.endpoint_deployment_id or "")
        return match.group(2) if match else None


class AlertNotification(StrictModel):
    emails: list[str] = Field(default_factory=list)

    @field_validator("emails")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if not _EMAIL.match(address.strip()):
                raise ValueError(f"{address!r} is not an e-mail address")
        return [a.strip() for a in value]


class MonitorDefinition(StrictModel):
    # Azure's Spark pool; Shipyard computes signals in the server's process (see notes()).
    compute: dict[str, Any] | None = None
    monitoring_target: MonitoringTarget | None = None
    monitoring_signals: dict[str, Signal] = Field(default_factory=dict)
    alert_notification: AlertNotification | Literal["azmonitoring"] | None = None

    @field_validator("monitoring_signals", mode="before")
    @classmethod
    def _types(cls, value: Any) -> Any:
        # Said here, with the signal's name, rather than as pydantic's union-tag message.
        if not isinstance(value, dict):
            return value
        known = (*SIGNAL_TYPES, *AZURE_ONLY_TYPES)
        for name, signal in value.items():
            kind = signal.get("type") if isinstance(signal, dict) else None
            if kind not in known:
                what = f"unknown type {kind!r}" if kind is not None else "no type"
                # An InvalidSpec passes through pydantic: the loader places it on the signal's line.
                raise InvalidSpec(
                    f"signal '{name}' has {what}; use one of {', '.join(SIGNAL_TYPES)}",
                    field=f"create_monitor.monitoring_signals.{name}" + (".type" if kind is not None else ""),
                )
        return value


@dataclass(frozen=True)
class SignalThreshold:
    """``kind`` is the heading: numerical, categorical, classification, regression or system."""

    metric: str
    kind: str
    value: float
    breach_when: Direction


@dataclass(frozen=True)
class MonitorSignal:
    """A signal as a monitor run computes it, defaults filled in.

    ``features`` is None for all features; ``top_n`` asks for the N most important ones.
    ``production``/``reference`` None: the deployment's collected data / the training data
    found through the model's lineage. ``lookback`` None: the time since the previous run."""

    name: str
    type: str
    thresholds: tuple[SignalThreshold, ...]
    features: tuple[str, ...] | None = None
    top_n: int | None = None
    production: MonitorData | None = None
    reference: MonitorData | None = None
    lookback: timedelta | None = None
    lookback_offset: timedelta = timedelta(0)
    alert_enabled: bool = False
    action: Action | None = None


class MonitorSpec(ScheduleFields):
    """``shipyard schedule create -f monitor.yml``."""

    spec_kind: ClassVar[str] = "monitor"

    create_monitor: MonitorDefinition

    @model_validator(mode="after")
    def _fits_target(self) -> MonitorSpec:
        target = self.create_monitor.monitoring_target
        task = target.ml_task if target else None
        for name, signal in self.create_monitor.monitoring_signals.items():
            where = f"create_monitor.monitoring_signals.{name}"
            if isinstance(signal, ModelPerformanceSignal):
                _check_performance(signal, task, where)
            needs_endpoint = isinstance(signal, SystemSignal) or (
                not isinstance(signal, AzureOnlySignal)
                and (signal.production_data is None or signal.production_data.input_data is None)
            )
            if needs_endpoint and not (target and target.endpoint_deployment_id):
                raise InvalidSpec(
                    f"signal '{name}' reads the deployment's data: give"
                    " monitoring_target.endpoint_deployment_id (azureml:<endpoint>:<deployment>)"
                    + ("" if isinstance(signal, SystemSignal) else " or the signal's production_data"),
                    field=f"{where}.type",
                )
        return self

    def notes(self) -> list[str]:
        """One line per accepted-but-unused part of the file."""
        out = []
        if self.create_monitor.compute is not None:
            out.append("compute: Shipyard computes signals on the server; the Spark settings are not used")
        for name, signal in self.create_monitor.monitoring_signals.items():
            if isinstance(signal, AzureOnlySignal):
                out.append(f"signal '{name}' ({signal.type}) is Azure ML's: loaded, not computed")
            elif (
                not isinstance(signal, SystemSignal)
                and signal.production_data
                and signal.production_data.pre_processing_component
            ):
                out.append(
                    f"signal '{name}': pre_processing_component is not run yet; the data is read as is"
                )
        return out

    def signals(self) -> list[MonitorSignal]:
        """What a run computes: Shipyard's signals with defaults filled in; Azure's out-of-box
        drift and quality signals when the file names none."""
        given_signals = self.create_monitor.monitoring_signals
        if not given_signals:
            given_signals = {n: _out_of_box(s) for n, s in _OUT_OF_BOX.items()}
        return [
            _normalized(name, signal)
            for name, signal in given_signals.items()
            if not isinstance(signal, AzureOnlySignal)
        ]


def _out_of_box(fields: dict[str, Any]) -> Signal:
    if fields["type"] == "data_drift":
        return DataDriftSignal.model_validate(fields)
    if fields["type"] == "prediction_drift":
        return PredictionDriftSignal.model_validate(fields)
    return DataQualitySignal.model_validate(fields)


def _check_performance(signal: ModelPerformanceSignal, task: str | None, where: str) -> None:
    if task not in ("classification", "regression"):
        raise InvalidSpec(
            f"a model_performance signal needs monitoring_target.ml_task: classification or"
            f" regression (it is {task or 'not given'})",
            field=f"{where}.type",
        )
    thresholds = signal.metric_thresholds
    other = "regression" if task == "classification" else "classification"
    if thresholds is not None and getattr(thresholds, other) is not None:
        raise InvalidSpec(
            f"{other} thresholds do not fit ml_task {task}: give {task}: thresholds",
            field=f"{where}.metric_thresholds.{other}",
        )
    if task == "regression" and (thresholds is None or not given(thresholds.regression)):
        raise InvalidSpec(
            "a regression model_performance signal needs a threshold for mae, mse or rmse"
            " (in the target's units: no default fits every model)",
            field=f"{where}.metric_thresholds" if thresholds else f"{where}.type",
        )


def _normalized(name: str, signal: Signal) -> MonitorSignal:
    assert not isinstance(signal, AzureOnlySignal)
    features: tuple[str, ...] | None = None
    top_n = None
    if isinstance(signal, DataDriftSignal | DataQualitySignal):
        if isinstance(signal.features, list):
            features = tuple(signal.features)
        elif isinstance(signal.features, TopFeatures):
            top_n = signal.features.top_n_feature_importance
    window = (
        signal.data_window
        if isinstance(signal, SystemSignal)
        else (signal.production_data.data_window if signal.production_data else None)
    )
    return MonitorSignal(
        name=name,
        type=signal.type,
        thresholds=tuple(_thresholds(signal)),
        features=features,
        top_n=top_n,
        production=None if isinstance(signal, SystemSignal) else signal.production_data,
        reference=None if isinstance(signal, SystemSignal) else signal.reference_data,
        lookback=window.size if window else None,
        lookback_offset=window.offset if window else timedelta(0),
        alert_enabled=signal.alert_enabled,
        action=signal.action,
    )


def _thresholds(signal: Signal) -> list[SignalThreshold]:
    headed: dict[str, dict[str, float]] = {}
    if isinstance(signal, DataDriftSignal | PredictionDriftSignal):
        t = signal.metric_thresholds
        headed["numerical"] = given(t.numerical if t else None) or _DRIFT_DEFAULTS["numerical"]
        headed["categorical"] = given(t.categorical if t else None) or _DRIFT_DEFAULTS["categorical"]
    elif isinstance(signal, DataQualitySignal):
        q = signal.metric_thresholds
        for kind in ("numerical", "categorical"):
            metrics: QualityMetrics | None = getattr(q, kind) if q else None
            headed[kind] = given(metrics) or _QUALITY_DEFAULTS
    elif isinstance(signal, ModelPerformanceSignal):
        p = signal.metric_thresholds
        if p is not None and p.regression is not None:
            headed["regression"] = given(p.regression)
        else:
            headed["classification"] = given(p.classification if p else None) or _CLASSIFICATION_DEFAULTS
    elif isinstance(signal, SystemSignal):
        headed["system"] = given(signal.metric_thresholds) or _SYSTEM_DEFAULTS
    return [
        SignalThreshold(metric, kind, float(value), direction_of(metric))
        for kind, metrics_of in headed.items()
        for metric, value in metrics_of.items()
    ]


@dataclass(frozen=True)
class LoadedMonitor:
    """A monitor file read and checked, with the retraining job files its actions name loaded
    like ``job create -f`` (``actions``: signal name → a ``LoadedJob``/``LoadedComposite``).

    ``fields`` is the whole file (the monitor job carries it); ``schedule`` the schedule's part
    of it (name, trigger, tags…)."""

    spec: MonitorSpec
    source: Path
    fields: Mapping[str, Any]
    schedule: Mapping[str, Any]
    actions: Mapping[str, Any]


def is_monitor_file(path: Path) -> bool:
    """Whether ``path`` is a monitor schedule (``create_monitor``) rather than a job schedule."""
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[: 1 << 20]
    except OSError:
        return False
    return re.search(r"^create_monitor\s*:", head, re.MULTILINE) is not None


def load_monitor(path: Path, overrides: Sequence[str] = ()) -> LoadedMonitor:
    """Read ``path`` (with ``--set`` overrides), then the job files its actions name."""
    from shipyard.specs._yaml import LoadedText
    from shipyard.specs.loaded import load_any
    from shipyard.specs.schedule import plain

    text = LoadedText.read(path, MonitorSpec, overrides)
    spec = text.validate(MonitorSpec)
    source = path.resolve()
    actions: dict[str, Any] = {}
    for name, signal in spec.create_monitor.monitoring_signals.items():
        action = getattr(signal, "action", None)
        if action is None or action.job is None:
            continue
        file = (source.parent / Path(action.job.strip()).expanduser()).resolve()
        if not file.is_file():
            raise text.locate(
                InvalidSpec(
                    f"signal '{name}': the retraining job file '{action.job}' does not exist ({file});"
                    " paths are relative to the monitor file's folder",
                    field=f"create_monitor.monitoring_signals.{name}.action.job",
                )
            )
        actions[name] = load_any(file, ())
    fields = plain(dict(text.data))
    schedule = {k: v for k, v in fields.items() if k != "create_monitor"}
    return LoadedMonitor(spec=spec, source=source, fields=fields, schedule=schedule, actions=actions)


def monitor_body(
    fields: Mapping[str, Any], actions: Mapping[str, Mapping[str, Any]], source: str
) -> dict[str, Any]:
    """The job-create body of a monitor file: the file itself, and per signal the body of the
    retraining job its action names (prepared by the client like ``job create``'s)."""
    return {
        "spec": {"type": "monitor", "monitor_name": fields.get("name"), "monitor": dict(fields),
                 "actions": {k: dict(v) for k, v in actions.items()}},
        "source": source,
    }  # fmt: skip
