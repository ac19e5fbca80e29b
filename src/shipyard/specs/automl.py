"""``type: automl``: the Azure ML CLI v2 AutoML job (tabular tasks), as Shipyard reads it.

An AutoML job names a table (``training_data``, optionally ``validation_data`` and
``test_data``), its ``target_column_name`` and a ``task``; Shipyard tries algorithms and their
hyperparameters (trials, each a child command job) and registers the best model. The file's
fields map onto the engine's normalised :class:`~shipyard.domain.automl.AutoMLSettings`
(:meth:`AutoMLJobSpec.settings`); docs/automl.md is the reference.

Azure's files write algorithm names in snake case (``light_gbm``, ``xg_boost_regressor``) or
as the SDK's enum (``LightGBM``): both are read. Image and NLP tasks are refused before any
other field is looked at (their fields are not ours to check). Fields Azure accepts that
Shipyard does not act on (``log_verbosity``, ``enable_model_explainability``…) are kept and
reported as notes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, StrictBool, StrictInt, field_validator, model_validator

from shipyard.domain.automl import (
    ALGORITHMS,
    REFUSED_TASKS,
    UNSUPPORTED_FORECASTING_ALGORITHMS,
    AutoMLSettings,
    FeaturizationSettings,
    ForecastingSettings,
)
from shipyard.errors import InvalidSpec
from shipyard.specs._base import SpecModel, StrictModel, scalar_map, visible
from shipyard.specs._yaml import LoadedText
from shipyard.specs.job import MAX_TIMEOUT_S, is_serverless
from shipyard.specs.loaded import LoadedComposite, ResolvedInput
from shipyard.specs.refs import LocalPathRef, parse_ref

__all__ = [
    "DATA_FIELDS",
    "MIN_TRIAL_MINUTES",
    "AutoMLData",
    "AutoMLJobSpec",
    "AutoMLLimits",
    "algorithm_name",
    "load_file",
]

#: The inputs of an AutoML job, as its trials get them (``--training-data`` …).
DATA_FIELDS = ("training_data", "validation_data", "test_data")

#: The least time a trial is given: a budget that cannot hold one is refused at submission.
#: One minute (the unit of ``timeout_minutes``): a trial on a table of thousands of rows takes
#: seconds here, and the issue's budget beside FLAML is 60 s.
MIN_TRIAL_MINUTES = 1

#: Fields Azure's tabular AutoML files carry that Shipyard keeps and does not act on.
_IGNORED = {
    "log_verbosity": "Shipyard's trials log at their own level",
    "identity": "the job runs as the server's user with the server's credentials",
    "queue_settings": "jobs are queued first-in first-out per compute target",
    "resources": "the trials run on the compute target's own slots",
    "properties": "kept with the job as metadata",
    "test_data_size": "give test_data to score the best model on held-out rows",
    "weight_column_name": "rows are weighted equally",
    "cv_split_column_names": "folds are drawn by Shipyard",
    "positive_label": "metrics are averaged over the classes",
}


def algorithm_name(name: str, task: str) -> str:
    """Azure's spelling of ``name`` for ``task`` (``light_gbm`` → ``LightGBM``); an unknown
    name is returned as given (the settings refuse it, naming the known ones)."""
    key = _squash(name)
    for known in (*ALGORITHMS.get(task, {}), *UNSUPPORTED_FORECASTING_ALGORITHMS):
        if _squash(known) == key:
            return known
    return _ALIASES.get(key, name)


def _squash(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


_ALIASES = {"knearestneighbors": "KNN", "tcnforecaster": "TCNForecaster", "autoarima": "AutoArima"}


def _refuse_other_tasks(data: Any) -> Any:
    if isinstance(data, Mapping):
        task = data.get("task")
        if isinstance(task, str) and task in REFUSED_TASKS:
            raise InvalidSpec(REFUSED_TASKS[task], field="task")
    return data


class AutoMLData(StrictModel):
    """A table: an MLTable folder (Azure's form), a CSV/Parquet file or a folder of them —
    ``azureml:<name>:<version>`` / ``azureml:<name>@latest`` or a local path uploaded by the client."""

    type: Literal["mltable", "uri_file", "uri_folder"] = "mltable"
    path: str = Field(min_length=1)
    mode: str | None = None
    description: str | None = None


class AutoMLLimits(StrictModel):
    """Azure's limits; ``max_nodes`` and ``max_cores_per_trial`` are accepted and not used."""

    timeout_minutes: StrictInt | None = Field(default=None, gt=0, le=MAX_TIMEOUT_S // 60)
    trial_timeout_minutes: StrictInt | None = Field(default=None, gt=0, le=MAX_TIMEOUT_S // 60)
    max_trials: StrictInt = Field(default=1000, ge=1, le=10_000)
    max_concurrent_trials: StrictInt = Field(default=1, ge=1, le=1000)
    max_cores_per_trial: StrictInt | None = None
    max_nodes: StrictInt | None = Field(default=None, ge=1)
    enable_early_termination: StrictBool = True
    exit_score: float | None = None


class _Imputer(StrictModel):
    fields: list[str] = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)


class _TransformerParams(StrictModel):
    imputer: list[_Imputer] = Field(default_factory=list, alias="imputer")

    @model_validator(mode="before")
    @classmethod
    def _names(cls, data: Any) -> Any:
        # Azure's examples write `imputer:` and `Imputer:`; no other transformer takes parameters here.
        if isinstance(data, Mapping):
            out: dict[str, Any] = {}
            for key, value in data.items():
                if str(key).lower() != "imputer":
                    raise ValueError(f"'{key}': only imputer parameters are supported")
                out["imputer"] = value
            return out
        return data


class AutoMLFeaturization(StrictModel):
    mode: Literal["auto", "custom", "off"] = "auto"
    blocked_transformers: list[str] = Field(default_factory=list)
    column_name_and_types: dict[str, str] = Field(default_factory=dict)
    transformer_params: _TransformerParams | None = None
    enable_dnn_featurization: StrictBool | None = None

    @field_validator("mode", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class AutoMLTraining(StrictModel):
    allowed_training_algorithms: list[str] | None = None
    blocked_training_algorithms: list[str] = Field(default_factory=list)
    enable_stack_ensemble: StrictBool = True
    enable_vote_ensemble: StrictBool = True
    enable_model_explainability: StrictBool | None = None
    enable_dnn_training: StrictBool | None = None
    enable_onnx_compatible_models: StrictBool | None = None
    ensemble_model_download_timeout_minutes: StrictInt | None = None
    stack_ensemble_settings: dict[str, Any] | None = None
    training_mode: str | None = None

    @field_validator("blocked_training_algorithms", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


#: pandas offset aliases (what Azure ML's ``frequency`` takes), checked here so a typo fails
#: at submission; the engine parses the alias with pandas. An optional multiple ("15min") and
#: anchor ("W-MON", "QS-JAN") are allowed.
_FREQUENCY = re.compile(
    r"^(\d*)\s*(B|C|D|d|W|ME|M|SME|SM|BME|BM|CBME|MS|SMS|BMS|CBMS|QE|Q|QS|BQE|BQ|BQS|YE|Y|A|YS|AS|BYE|BY|BA|BYS|BAS"
    r"|h|H|bh|BH|cbh|min|T|s|S|ms|L|us|U|ns|N)(-[A-Z]{3})?$"
)
#: The aliases pandas 3 removed, as Azure's examples still write them ("H" in energy demand),
#: renamed to the ones it takes.
_LEGACY_FREQUENCY = {
    "d": "D", "M": "ME", "SM": "SME", "BM": "BME", "Q": "QE", "BQ": "BQE", "Y": "YE", "A": "YE",
    "AS": "YS", "BY": "BYE", "BA": "BYE", "BAS": "BYS", "H": "h", "BH": "bh", "T": "min", "S": "s",
    "L": "ms", "U": "us", "N": "ns",
}  # fmt: skip


def _auto_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and value.lower() == "auto" else value


class AutoMLForecasting(StrictModel):
    time_column_name: str = Field(min_length=1)
    time_series_id_column_names: Annotated[list[str], BeforeValidator(_one_or_many)] = Field(
        default_factory=list
    )
    forecast_horizon: Annotated[StrictInt | None, BeforeValidator(_auto_is_none)] = Field(default=1, ge=1)
    frequency: str | None = None
    target_lags: Annotated[
        list[StrictInt] | None, BeforeValidator(_one_or_many), BeforeValidator(_auto_is_none)
    ] = None
    target_rolling_window_size: Annotated[StrictInt | None, BeforeValidator(_auto_is_none)] = Field(
        default=None, ge=2
    )
    country_or_region_for_holidays: str | None = None
    seasonality: Annotated[StrictInt | None, BeforeValidator(_auto_is_none)] = Field(default=None, ge=1)
    short_series_handling_config: str | None = None
    target_aggregate_function: str | None = None
    use_stl: str | None = None
    feature_lags: str | None = None
    cv_step_size: Any = None

    @field_validator("frequency")
    @classmethod
    def _frequency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        found = _FREQUENCY.match(value.strip())
        if found is None:
            raise ValueError(
                f"{value!r} is not a pandas offset alias: use one such as 'D' (daily), 'W' (weekly), "
                "'MS' (month start), 'h' (hourly), '15min', or leave it out to infer it"
            )
        multiple, alias, anchor = found.groups()
        return f"{multiple}{_LEGACY_FREQUENCY.get(alias, alias)}{anchor or ''}"

    @field_validator("target_lags", mode="before")
    @classmethod
    def _int_lags(cls, value: Any) -> Any:
        # `target_lags: 3` is one lag.
        if isinstance(value, int) and not isinstance(value, bool):
            return [value]
        return value


class AutoMLJobSpec(SpecModel):
    """``shipyard job create -f automl.yml``."""

    spec_kind: ClassVar[str] = "automl job"

    type: Literal["automl"]
    task: Literal["classification", "regression", "forecasting"]
    name: Annotated[str | None, visible("job")] = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"
    )
    display_name: Annotated[str | None, visible("display_name")] = None
    experiment_name: Annotated[str | None, visible("experiment")] = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    compute: str | None = None
    primary_metric: str | None = None
    target_column_name: str = Field(min_length=1)
    training_data: AutoMLData
    validation_data: AutoMLData | None = None
    test_data: AutoMLData | None = None
    validation_data_size: float | None = None
    n_cross_validations: StrictInt | Literal["auto"] | None = None
    limits: AutoMLLimits = Field(default_factory=AutoMLLimits)
    featurization: AutoMLFeaturization = Field(default_factory=AutoMLFeaturization)
    training: AutoMLTraining = Field(default_factory=AutoMLTraining)
    forecasting: AutoMLForecasting | None = None
    # A Shipyard extension: the registered model's name (default: the experiment's, "-model").
    model_name: Annotated[str | None, visible("model")] = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$"
    )
    seed: StrictInt | None = Field(default=None, ge=0, lt=2**32)
    outputs: dict[str, Any] | None = None
    log_verbosity: str | None = None
    identity: dict[str, Any] | None = None
    queue_settings: dict[str, Any] | None = None
    resources: Any = None
    properties: dict[str, Any] | None = None
    test_data_size: float | None = None
    weight_column_name: str | None = None
    cv_split_column_names: list[str] | None = None
    positive_label: Any = None

    _scalars = field_validator("tags", mode="before")(scalar_map)

    @model_validator(mode="before")
    @classmethod
    def _tabular_only(cls, data: Any) -> Any:
        return _refuse_other_tasks(data)

    @model_validator(mode="after")
    def _settings_hold(self) -> AutoMLJobSpec:
        allowed = self.training.allowed_training_algorithms
        if allowed and all(
            algorithm_name(a, self.task) in UNSUPPORTED_FORECASTING_ALGORITHMS for a in allowed
        ):
            raise InvalidSpec(
                f"{', '.join(allowed)}: Shipyard does not train classical or deep-learning forecasters;"
                " it forecasts with regressors on lag and rolling-window features — remove"
                " allowed_training_algorithms (or name regressors such as LightGBM, RandomForest)",
                field="training.allowed_training_algorithms",
            )
        try:
            self.settings()
        except InvalidSpec as exc:  # the settings name their own fields; place them in the file
            raise InvalidSpec(
                exc.message, **{**exc.details, "field": _file_field(exc.details.get("field"))}
            ) from None
        return self

    @property
    def compute_target(self) -> str:
        if is_serverless(self.compute):
            return "local"
        return (self.compute or "local").removeprefix("azureml:")

    @property
    def registered_model_name(self) -> str:
        if self.model_name:
            return self.model_name
        base = self.experiment_name or self.name or "automl"
        return f"{base}-model"

    def settings(self, seed: int | None = None) -> AutoMLSettings:
        """The file's settings as the engine takes them (each trial gets them as JSON)."""
        task = self.task
        training = self.training
        allowed = training.allowed_training_algorithms
        forecasting = None
        if self.forecasting is not None:
            f = self.forecasting
            forecasting = ForecastingSettings(
                time_column_name=f.time_column_name,
                time_series_id_column_names=tuple(f.time_series_id_column_names),
                forecast_horizon=f.forecast_horizon or 1,
                frequency=f.frequency,
                target_lags=None if f.target_lags is None else tuple(f.target_lags),
                target_rolling_window_size=f.target_rolling_window_size,
                seasonality=f.seasonality,
            )
        elif task == "forecasting":
            raise InvalidSpec(
                "a forecasting job needs a 'forecasting' block with time_column_name (the column of"
                " dates or times)",
                field="forecasting",
            )
        return AutoMLSettings(
            task=task,
            target_column_name=self.target_column_name,
            primary_metric=self.primary_metric or "",
            featurization=self._featurization(),
            n_cross_validations=self.n_cross_validations or "auto",
            validation_data_size=self.validation_data_size,
            allowed_algorithms=None if allowed is None else tuple(algorithm_name(a, task) for a in allowed),
            blocked_algorithms=tuple(algorithm_name(a, task) for a in training.blocked_training_algorithms),
            enable_ensembling=training.enable_vote_ensemble or training.enable_stack_ensemble,
            forecasting=forecasting,
            seed=(self.seed or 0) if seed is None else seed,
        )

    def _featurization(self) -> FeaturizationSettings:
        feat = self.featurization
        imputers: dict[str, str] = {}
        for imputer in feat.transformer_params.imputer if feat.transformer_params else ():
            strategy = str(imputer.parameters.get("strategy", "mean"))
            if strategy in _IMPUTERS:
                imputers.update(dict.fromkeys(imputer.fields, strategy))
        return FeaturizationSettings(
            mode=feat.mode,
            blocked_transformers=tuple(feat.blocked_transformers),
            column_types={k: v.lower() for k, v in feat.column_name_and_types.items()},
            imputers=imputers,
        )

    def notes(self) -> list[str]:
        """One line per accepted field Shipyard does not act on."""
        out = [f"{name}: {why}" for name, why in _IGNORED.items() if getattr(self, name) is not None]
        if is_serverless(self.compute):
            out.append("compute serverless: the trials run on the default target (local)")
        for imputer in (
            self.featurization.transformer_params.imputer if self.featurization.transformer_params else ()
        ):
            strategy = str(imputer.parameters.get("strategy", "mean"))
            if strategy not in _IMPUTERS:
                out.append(
                    f"featurization imputer '{strategy}' for {', '.join(imputer.fields)} is not supported;"
                    f" the automatic imputer is used (supported: {', '.join(_IMPUTERS)})"
                )
        ignored = [a for a in self.training.allowed_training_algorithms or () if
                   algorithm_name(a, self.task) in UNSUPPORTED_FORECASTING_ALGORITHMS]  # fmt: skip
        if ignored:
            out.append(f"training: {', '.join(ignored)} are not trained (Shipyard forecasts with regressors)")
        if self.limits.max_nodes is not None or self.limits.max_cores_per_trial is not None:
            out.append("limits: max_nodes and max_cores_per_trial are not used")
        return out


_IMPUTERS = ("mean", "median", "most_frequent", "constant")


def _file_field(field: Any) -> str | None:
    """Where a setting's field (``allowed_training_algorithms``) is in the file."""
    if not field:
        return None
    text = str(field)
    if text.endswith("_training_algorithms"):
        return f"training.{text}"
    return {"featurization.column_name_and_types": "featurization.column_name_and_types"}.get(text, text)


def load_file(path: Path, overrides: Sequence[str] = ()) -> LoadedComposite:
    """Read an AutoML file (with ``--set`` overrides); its local tables are uploaded by the
    client as a pipeline's inputs are (``inputs``)."""
    source = path.resolve()
    text = LoadedText.read(path, AutoMLJobSpec, overrides)
    spec = text.validate(AutoMLJobSpec)
    inputs: dict[str, ResolvedInput] = {}
    for name in DATA_FIELDS:
        data: AutoMLData | None = getattr(spec, name)
        if data is None:
            continue
        try:
            ref = parse_ref(data.path, source.parent, field=f"{name}.path")
        except InvalidSpec as exc:
            raise text.locate(InvalidSpec(f"{name}: {exc.message}", field=f"{name}.path")) from None
        if isinstance(ref, LocalPathRef) and not ref.path.exists():
            raise text.locate(
                InvalidSpec(f"{name}: '{data.path}' does not exist ({ref.path})", field=f"{name}.path")
            )
        inputs[name] = ResolvedInput(name=name, type=data.type, ref=ref)
    return LoadedComposite(
        type="automl", source=source, raw=text.data, inputs=inputs, notes=tuple(spec.notes())
    )
