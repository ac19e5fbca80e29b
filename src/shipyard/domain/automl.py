"""AutoML's shared contract: tasks, metrics, algorithms and the settings a parent hands its trials.

An ``automl`` job (issue 17) is a parent whose children are command jobs running
``python -m shipyard.automl trial …`` (one per candidate) and, at the end,
``python -m shipyard.automl finish …``. The parent (``services/job_kinds/automl.py``) and the
engine (``shipyard.automl``) meet only here:

- :data:`TASKS`, :data:`PRIMARY_METRICS` and :data:`ALGORITHMS` use Azure ML's names, so an Azure
  ``type: automl`` file's ``primary_metric`` and ``allowed_training_algorithms`` mean the same.
- :class:`AutoMLSettings` is the normalised form of the file, passed to each child as JSON
  (:meth:`AutoMLSettings.to_json` / :meth:`AutoMLSettings.from_json`).
- An algorithm's search :attr:`Algorithm.space` is plain data (:class:`Dist`); the parent turns
  it into Optuna distributions, the child receives the sampled values as ``--params``.
- A trial is run as ``python -m shipyard.automl trial --settings settings.json --training-data PATH
  [--validation-data PATH] --algorithm NAME --params JSON [--trial N]``; it exits
  :data:`EXIT_ALGORITHM_UNAVAILABLE` when its algorithm's package is missing, 2 on bad input
  (the message names the error code), 0 otherwise.
- A trial ends by printing one line ``SHIPYARD_AUTOML_RESULT {json}`` (:func:`result_line`,
  :func:`parse_result_line`), a :data:`Trial` row of the leaderboard.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TypedDict

from shipyard.errors import InvalidSpec

__all__ = [
    "ALGORITHMS",
    "BLOCKABLE_TRANSFORMERS",
    "COLUMN_TYPES",
    "DEFAULT_PRIMARY_METRIC",
    "EXIT_ALGORITHM_UNAVAILABLE",
    "FEATURIZATION_MODES",
    "IMPUTER_STRATEGIES",
    "PRIMARY_METRICS",
    "REFUSED_TASKS",
    "RESULT_PREFIX",
    "TASKS",
    "UNSUPPORTED_FORECASTING_ALGORITHMS",
    "Algorithm",
    "AutoMLSettings",
    "Dist",
    "FeaturizationSettings",
    "ForecastingSettings",
    "Metric",
    "Task",
    "Trial",
    "candidate_algorithms",
    "check_task",
    "is_better",
    "parse_result_line",
    "result_line",
]

Task = Literal["classification", "regression", "forecasting"]
TASKS: tuple[Task, ...] = ("classification", "regression", "forecasting")

_TABULAR_ONLY = (
    "Shipyard runs tabular AutoML only (classification, regression, forecasting); "
    "the {task} task of Azure ML needs its image or NLP models, which Shipyard does not have"
)
REFUSED_TASKS: dict[str, str] = {
    task: _TABULAR_ONLY.format(task=task)
    for task in (
        "image_classification",
        "image_classification_multilabel",
        "image_object_detection",
        "image_instance_segmentation",
        "text_classification",
        "text_classification_multilabel",
        "text_ner",
    )
}
"""Azure ML tasks Shipyard refuses, each with the message the user sees."""

EXIT_ALGORITHM_UNAVAILABLE = 3
"""Exit code of a trial whose algorithm cannot run here (its package is not installed)."""

RESULT_PREFIX = "SHIPYARD_AUTOML_RESULT"


@dataclass(frozen=True, slots=True)
class Metric:
    greater_is_better: bool


_REGRESSION_METRICS = {
    "spearman_correlation": Metric(greater_is_better=True),
    "normalized_root_mean_squared_error": Metric(greater_is_better=False),
    "r2_score": Metric(greater_is_better=True),
    "normalized_mean_absolute_error": Metric(greater_is_better=False),
}
PRIMARY_METRICS: dict[str, dict[str, Metric]] = {
    "classification": {
        "accuracy": Metric(greater_is_better=True),
        "AUC_weighted": Metric(greater_is_better=True),
        "average_precision_score_weighted": Metric(greater_is_better=True),
        "norm_macro_recall": Metric(greater_is_better=True),
        "precision_score_weighted": Metric(greater_is_better=True),
    },
    "regression": dict(_REGRESSION_METRICS),
    "forecasting": dict(_REGRESSION_METRICS),
}
"""Task → the metrics a trial logs, under Azure ML's names; any of them may be primary."""

DEFAULT_PRIMARY_METRIC: dict[str, str] = {
    "classification": "accuracy",
    "regression": "spearman_correlation",
    "forecasting": "normalized_root_mean_squared_error",
}


@dataclass(frozen=True, slots=True)
class Dist:
    """One hyperparameter's search range. ``int``/``float`` use ``low``..``high`` (inclusive,
    ``log`` for a log scale); ``categorical`` picks one of ``choices``."""

    kind: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[str | int | float | bool | None, ...] = ()

    def __post_init__(self) -> None:
        if self.kind == "categorical":
            if not self.choices:
                raise ValueError("a categorical Dist needs choices")
        elif self.low is None or self.high is None or self.low > self.high:
            raise ValueError(f"a {self.kind} Dist needs low <= high")


@dataclass(frozen=True, slots=True)
class Algorithm:
    """``space`` holds the hyperparameters searched; any other is left at the engine's default.
    ``requires`` names an optional package (``lightgbm``, ``xgboost``) that may be missing."""

    space: Mapping[str, Dist]
    requires: str | None = None


def _i(low: int, high: int, *, log: bool = False) -> Dist:
    return Dist("int", low, high, log)


def _f(low: float, high: float, *, log: bool = False) -> Dist:
    return Dist("float", low, high, log)


def _c(*choices: str | int | float | bool | None) -> Dist:
    return Dist("categorical", choices=choices)


_FOREST = {
    "n_estimators": _i(20, 300, log=True),
    "max_depth": _c(None, 4, 8, 16),
    "min_samples_leaf": _i(1, 20, log=True),
    "max_features": _c("sqrt", "log2", 0.5, 1.0),
}
_TREE = {"max_depth": _i(2, 20), "min_samples_leaf": _i(1, 30, log=True)}
_KNN = {"n_neighbors": _i(1, 50, log=True), "weights": _c("uniform", "distance")}
_GBM = {
    "n_estimators": _i(30, 300, log=True),
    "learning_rate": _f(0.01, 0.3, log=True),
    "max_depth": _i(2, 8),
    "subsample": _f(0.5, 1.0),
}
_LIGHTGBM = {
    "n_estimators": _i(30, 400, log=True),
    "learning_rate": _f(0.01, 0.3, log=True),
    "num_leaves": _i(4, 128, log=True),
    "min_child_samples": _i(2, 50, log=True),
    "subsample": _f(0.5, 1.0),
    "colsample_bytree": _f(0.4, 1.0),
    "reg_lambda": _f(1e-3, 10.0, log=True),
}
_XGBOOST = {
    "n_estimators": _i(30, 400, log=True),
    "learning_rate": _f(0.01, 0.3, log=True),
    "max_depth": _i(2, 10),
    "subsample": _f(0.5, 1.0),
    "colsample_bytree": _f(0.4, 1.0),
    "reg_lambda": _f(1e-3, 10.0, log=True),
}
_REGRESSORS: dict[str, Algorithm] = {
    "ElasticNet": Algorithm({"alpha": _f(1e-4, 10.0, log=True), "l1_ratio": _f(0.0, 1.0)}),
    "LassoLars": Algorithm({"alpha": _f(1e-5, 1.0, log=True)}),
    "SGD": Algorithm({"alpha": _f(1e-6, 1e-1, log=True), "penalty": _c("l2", "l1", "elasticnet")}),
    "DecisionTree": Algorithm(_TREE),
    "KNN": Algorithm(_KNN),
    "RandomForest": Algorithm(_FOREST),
    "ExtremeRandomTrees": Algorithm(_FOREST),
    "GradientBoosting": Algorithm(_GBM),
    "LightGBM": Algorithm(_LIGHTGBM, requires="lightgbm"),
    "XGBoostRegressor": Algorithm(_XGBOOST, requires="xgboost"),
}
ALGORITHMS: dict[str, dict[str, Algorithm]] = {
    "classification": {
        "LogisticRegression": Algorithm({"C": _f(1e-3, 100.0, log=True)}),
        "SGD": Algorithm({"alpha": _f(1e-6, 1e-1, log=True), "penalty": _c("l2", "l1", "elasticnet")}),
        "LinearSVM": Algorithm({"C": _f(1e-3, 100.0, log=True)}),
        "MultinomialNaiveBayes": Algorithm({"alpha": _f(1e-3, 10.0, log=True)}),
        "BernoulliNaiveBayes": Algorithm({"alpha": _f(1e-3, 10.0, log=True)}),
        "DecisionTree": Algorithm(_TREE),
        "KNN": Algorithm(_KNN),
        "RandomForest": Algorithm(_FOREST),
        "ExtremeRandomTrees": Algorithm(_FOREST),
        "GradientBoosting": Algorithm(_GBM),
        "LightGBM": Algorithm(_LIGHTGBM, requires="lightgbm"),
        "XGBoostClassifier": Algorithm(_XGBOOST, requires="xgboost"),
    },
    "regression": dict(_REGRESSORS),
    # Forecasting fits one regressor across every series on lag, rolling-window and calendar
    # features, so its candidates are the regressors.
    "forecasting": dict(_REGRESSORS),
}
"""Task → Azure ML algorithm name → its search space. Order is the order tried first."""

UNSUPPORTED_FORECASTING_ALGORITHMS = frozenset(
    {
        "AutoArima",
        "Prophet",
        "Naive",
        "SeasonalNaive",
        "Average",
        "SeasonalAverage",
        "ExponentialSmoothing",
        "Arimax",
        "TCNForecaster",
    }
)
"""Azure's classical and deep forecasters: blocking them is a no-op, allowing only them an error."""

FEATURIZATION_MODES = ("auto", "custom", "off")
BLOCKABLE_TRANSFORMERS = frozenset(
    {
        # Implemented by the engine: low-cardinality one-hot, high-cardinality integer codes,
        # text as TF-IDF.
        "OneHotEncoder",
        "LabelEncoder",
        "TfIdf",
        # Azure's other names: accepted, nothing of ours to block.
        "HashOneHotEncoder",
        "CatTargetEncoder",
        "TextTargetEncoder",
        "WoETargetEncoder",
        "WordEmbedding",
        "NaiveBayes",
        "CountVectorizer",
    }
)
COLUMN_TYPES = ("numeric", "categorical", "datetime", "text")
IMPUTER_STRATEGIES = ("mean", "median", "most_frequent", "constant")


def check_task(task: str) -> Task:
    """The task if Shipyard runs it; :class:`InvalidSpec` naming the fix otherwise."""
    if task in REFUSED_TASKS:
        raise InvalidSpec(REFUSED_TASKS[task], field="task")
    for known in TASKS:
        if task == known:
            return known
    raise InvalidSpec(f"unknown AutoML task {task!r}: use one of {', '.join(TASKS)}", field="task")


def is_better(primary_metric: str, task: str, a: float | None, b: float | None) -> bool:
    """Whether score ``a`` beats ``b`` under the metric's direction; ``None``/NaN never wins."""
    if a is None or math.isnan(a):
        return False
    if b is None or math.isnan(b):
        return True
    if PRIMARY_METRICS[task][primary_metric].greater_is_better:
        return a > b
    return a < b


def candidate_algorithms(
    task: str, allowed: Iterable[str] | None = None, blocked: Iterable[str] = ()
) -> list[str]:
    """The algorithms to try, in :data:`ALGORITHMS` order; unknown names are an error."""
    known = ALGORITHMS[check_task(task)]
    ignorable = UNSUPPORTED_FORECASTING_ALGORITHMS if task == "forecasting" else frozenset()
    blocked = list(blocked)
    for name in blocked:
        if name not in known and name not in ignorable:
            raise InvalidSpec(_unknown_algorithm(task, name), field="blocked_training_algorithms")
    if allowed is None:
        names = list(known)
    else:
        names = []
        for name in allowed:
            if name in ignorable:
                continue
            if name not in known:
                raise InvalidSpec(_unknown_algorithm(task, name), field="allowed_training_algorithms")
            names.append(name)
    chosen = [name for name in known if name in names and name not in blocked]
    if not chosen:
        raise InvalidSpec(
            f"no {task} algorithm left to try once allowed and blocked algorithms are applied "
            f"(Shipyard has: {', '.join(known)}){_classical_hint(task)}",
            field="allowed_training_algorithms",
        )
    return chosen


def _classical_hint(task: str) -> str:
    if task != "forecasting":
        return ""
    return "; Shipyard forecasts with regressors on lag features, not classical models"


def _unknown_algorithm(task: str, name: str) -> str:
    return f"unknown {task} algorithm {name!r}: use one of {', '.join(ALGORITHMS[task])}"


@dataclass(frozen=True, slots=True)
class FeaturizationSettings:
    """``column_types`` maps a column to one of :data:`COLUMN_TYPES` (Azure's
    ``column_name_and_types``); ``imputers`` maps a column to one of :data:`IMPUTER_STRATEGIES`
    (Azure's ``transformer_params.imputer``). Both are honoured in ``custom`` mode only, as in
    Azure; ``off`` only imputes and encodes what a model cannot take as it is."""

    mode: Literal["auto", "custom", "off"] = "auto"
    blocked_transformers: tuple[str, ...] = ()
    column_types: Mapping[str, str] = field(default_factory=dict)
    imputers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in FEATURIZATION_MODES:
            raise InvalidSpec(
                f"featurization mode {self.mode!r} is not one of {', '.join(FEATURIZATION_MODES)}",
                field="featurization.mode",
            )
        for name in self.blocked_transformers:
            if name not in BLOCKABLE_TRANSFORMERS:
                raise InvalidSpec(
                    f"unknown transformer {name!r} in blocked_transformers: use one of "
                    f"{', '.join(sorted(BLOCKABLE_TRANSFORMERS))}",
                    field="featurization.blocked_transformers",
                )
        for column, kind in self.column_types.items():
            if kind not in COLUMN_TYPES:
                raise InvalidSpec(
                    f"column {column!r} has type {kind!r}: use one of {', '.join(COLUMN_TYPES)}",
                    field="featurization.column_name_and_types",
                )
        for column, strategy in self.imputers.items():
            if strategy not in IMPUTER_STRATEGIES:
                raise InvalidSpec(
                    f"imputer for {column!r} is {strategy!r}: use one of {', '.join(IMPUTER_STRATEGIES)}",
                    field="featurization.transformer_params",
                )


@dataclass(frozen=True, slots=True)
class ForecastingSettings:
    """``target_lags`` / ``target_rolling_window_size`` ``None`` means the engine chooses
    (Azure's ``auto``); ``frequency`` ``None`` means inferred from the time column;
    ``seasonality`` ``None`` means read from the frequency (7 for daily data…), 1 means none."""

    time_column_name: str
    time_series_id_column_names: tuple[str, ...] = ()
    forecast_horizon: int = 1
    frequency: str | None = None
    target_lags: tuple[int, ...] | None = None
    target_rolling_window_size: int | None = None
    seasonality: int | None = None

    def __post_init__(self) -> None:
        if self.seasonality is not None and self.seasonality < 1:
            raise InvalidSpec(
                "seasonality must be 'auto' or a positive number of periods", field="forecasting.seasonality"
            )
        if not self.time_column_name:
            raise InvalidSpec(
                "a forecasting job needs forecasting.time_column_name",
                field="forecasting.time_column_name",
            )
        if self.forecast_horizon < 1:
            raise InvalidSpec("forecast_horizon must be at least 1", field="forecasting.forecast_horizon")
        if self.target_lags is not None and any(lag < 1 for lag in self.target_lags):
            raise InvalidSpec("target_lags must be positive", field="forecasting.target_lags")
        if self.target_rolling_window_size is not None and self.target_rolling_window_size < 2:
            raise InvalidSpec(
                "target_rolling_window_size must be at least 2",
                field="forecasting.target_rolling_window_size",
            )


@dataclass(frozen=True, slots=True)
class AutoMLSettings:
    """What every child of an AutoML job needs to know, checked once when it is built.

    ``n_cross_validations`` is a fold count (≥ 2) or ``"auto"`` (chosen by data size); it is
    ignored when validation data or ``validation_data_size`` is given. ``allowed_algorithms``
    ``None`` means all of the task's."""

    task: Task
    target_column_name: str
    primary_metric: str = ""
    featurization: FeaturizationSettings = field(default_factory=FeaturizationSettings)
    n_cross_validations: int | Literal["auto"] = "auto"
    validation_data_size: float | None = None
    allowed_algorithms: tuple[str, ...] | None = None
    blocked_algorithms: tuple[str, ...] = ()
    enable_ensembling: bool = True
    forecasting: ForecastingSettings | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_task(self.task)
        if not self.target_column_name:
            raise InvalidSpec("target_column_name is required", field="target_column_name")
        if not self.primary_metric:
            object.__setattr__(self, "primary_metric", DEFAULT_PRIMARY_METRIC[self.task])
        if self.primary_metric not in PRIMARY_METRICS[self.task]:
            raise InvalidSpec(
                f"primary_metric {self.primary_metric!r} does not fit a {self.task} task: use one "
                f"of {', '.join(PRIMARY_METRICS[self.task])}",
                field="primary_metric",
            )
        folds = self.n_cross_validations
        if folds != "auto" and (isinstance(folds, bool) or not isinstance(folds, int) or folds < 2):
            raise InvalidSpec(
                f"n_cross_validations must be 'auto' or an integer of at least 2, not {folds!r}",
                field="n_cross_validations",
            )
        size = self.validation_data_size
        if size is not None and not 0.0 < size < 1.0:
            raise InvalidSpec(
                f"validation_data_size must be between 0 and 1 (exclusive), not {size}",
                field="validation_data_size",
            )
        if self.task == "forecasting" and self.forecasting is None:
            raise InvalidSpec(
                "a forecasting job needs forecasting.time_column_name",
                field="forecasting.time_column_name",
            )
        candidate_algorithms(self.task, self.allowed_algorithms, self.blocked_algorithms)

    @property
    def algorithms(self) -> list[str]:
        """The algorithms the search may try, allowed and blocked applied."""
        return candidate_algorithms(self.task, self.allowed_algorithms, self.blocked_algorithms)

    @property
    def greater_is_better(self) -> bool:
        return PRIMARY_METRICS[self.task][self.primary_metric].greater_is_better

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["featurization"]["column_types"] = dict(self.featurization.column_types)
        out["featurization"]["imputers"] = dict(self.featurization.imputers)
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AutoMLSettings:
        """Build from :meth:`to_dict`'s shape; unknown keys are an error (a typo must not be
        silently ignored)."""
        known = set(cls.__dataclass_fields__)
        extra = set(data) - known
        if extra:
            raise InvalidSpec(f"unknown AutoML settings: {', '.join(sorted(extra))}")
        values = dict(data)
        try:
            feat = values.get("featurization") or {}
            values["featurization"] = FeaturizationSettings(
                mode=feat.get("mode", "auto"),
                blocked_transformers=tuple(feat.get("blocked_transformers") or ()),
                column_types=dict(feat.get("column_types") or {}),
                imputers=dict(feat.get("imputers") or {}),
            )
            fc = values.get("forecasting")
            if fc is not None:
                lags = fc.get("target_lags")
                values["forecasting"] = ForecastingSettings(
                    time_column_name=fc.get("time_column_name", ""),
                    time_series_id_column_names=tuple(fc.get("time_series_id_column_names") or ()),
                    forecast_horizon=int(fc.get("forecast_horizon", 1)),
                    frequency=fc.get("frequency"),
                    target_lags=None if lags is None else tuple(int(lag) for lag in lags),
                    target_rolling_window_size=fc.get("target_rolling_window_size"),
                    seasonality=fc.get("seasonality"),
                )
            for key in ("allowed_algorithms",):
                if values.get(key) is not None:
                    values[key] = tuple(values[key])
            if "blocked_algorithms" in values:
                values["blocked_algorithms"] = tuple(values["blocked_algorithms"] or ())
            return cls(**values)
        except (TypeError, ValueError, AttributeError) as exc:
            raise InvalidSpec(f"malformed AutoML settings: {exc}") from exc

    @classmethod
    def from_json(cls, text: str) -> AutoMLSettings:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidSpec(f"AutoML settings are not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidSpec("AutoML settings must be a JSON object")
        return cls.from_dict(data)


class Trial(TypedDict):
    """One row of the leaderboard: what a trial printed on its result line, or what the parent
    recorded for a trial that failed (``score`` ``None``, ``status`` ``Failed``/``Unavailable``)."""

    trial: int
    algorithm: str
    params: dict[str, Any]
    score: float | None
    metrics: dict[str, float]
    status: str
    duration_s: float


def result_line(trial: Trial) -> str:
    """The last line a trial prints; NaN and infinities become ``null`` (JSON has neither)."""

    def clean(value: float | None) -> float | None:
        return None if value is None or not math.isfinite(value) else float(value)

    row = dict(trial)
    row["score"] = clean(trial["score"])
    row["metrics"] = {k: v for k, v in trial["metrics"].items() if clean(v) is not None}
    return f"{RESULT_PREFIX} {json.dumps(row, sort_keys=True)}"


def parse_result_line(log: str) -> Trial | None:
    """The trial row from the last ``SHIPYARD_AUTOML_RESULT`` line of a trial's log, or
    ``None`` when there is none or it is malformed (the trial then counts as failed)."""
    for line in reversed(log.splitlines()):
        if not line.startswith(RESULT_PREFIX + " "):
            continue
        try:
            row = json.loads(line[len(RESULT_PREFIX) + 1 :])
        except ValueError:
            return None
        if not isinstance(row, dict) or not {
            "trial",
            "algorithm",
            "params",
            "score",
            "metrics",
            "status",
            "duration_s",
        } <= set(row):
            return None
        trial: Trial = {
            "trial": int(row["trial"]),
            "algorithm": str(row["algorithm"]),
            "params": dict(row["params"]),
            "score": None if row["score"] is None else float(row["score"]),
            "metrics": {str(k): float(v) for k, v in dict(row["metrics"]).items()},
            "status": str(row["status"]),
            "duration_s": float(row["duration_s"]),
        }
        return trial
    return None
