"""Azure ML algorithm name + sampled hyperparameters → an unfitted scikit-learn estimator.

Linear models, KNN and SVMs get a scaler in front (the featurised columns are not on one
scale); LightGBM and XGBoost are imported only when asked for, and a missing one is
:class:`AlgorithmUnavailable` — the trial exits with
:data:`~shipyard.domain.automl.EXIT_ALGORITHM_UNAVAILABLE` and the search moves on.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from shipyard.domain.automl import ALGORITHMS
from shipyard.errors import InvalidArgument, Unavailable

__all__ = ["AlgorithmUnavailable", "build_estimator"]


class AlgorithmUnavailable(Unavailable):
    """The algorithm's package is not installed where the trial runs."""


def _module(name: str, algorithm: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise AlgorithmUnavailable(
            f"{algorithm} needs the {name!r} package, which is not installed in this trial's "
            f"environment: install shipyard[automl] (or {name}) there, or block {algorithm}",
            package=name,
            algorithm=algorithm,
        ) from exc


def _scaled(estimator: Any) -> Any:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), estimator)


def _classifier(name: str, p: dict[str, Any], seed: int) -> Any:
    from sklearn import ensemble, linear_model, naive_bayes, neighbors, svm, tree
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    from shipyard.automl.transforms import LabelDecodingClassifier

    builders: dict[str, Callable[[], Any]] = {
        "LogisticRegression": lambda: _scaled(linear_model.LogisticRegression(max_iter=2000, **p)),
        "SGD": lambda: _scaled(linear_model.SGDClassifier(loss="log_loss", random_state=seed, **p)),
        "LinearSVM": lambda: _scaled(CalibratedClassifierCV(svm.LinearSVC(**p), cv=3)),
        "MultinomialNaiveBayes": lambda: make_pipeline(MinMaxScaler(), naive_bayes.MultinomialNB(**p)),
        "BernoulliNaiveBayes": lambda: naive_bayes.BernoulliNB(**p),
        "DecisionTree": lambda: tree.DecisionTreeClassifier(random_state=seed, **p),
        "KNN": lambda: _scaled(neighbors.KNeighborsClassifier(**p)),
        "RandomForest": lambda: ensemble.RandomForestClassifier(random_state=seed, n_jobs=1, **p),
        "ExtremeRandomTrees": lambda: ensemble.ExtraTreesClassifier(random_state=seed, n_jobs=1, **p),
        "GradientBoosting": lambda: ensemble.GradientBoostingClassifier(random_state=seed, **p),
        "LightGBM": lambda: _module("lightgbm", name).LGBMClassifier(
            random_state=seed, verbose=-1, n_jobs=1, **p
        ),
        "XGBoostClassifier": lambda: LabelDecodingClassifier(
            _module("xgboost", name).XGBClassifier(random_state=seed, verbosity=0, n_jobs=1, **p)
        ),
    }
    return builders[name]()


def _regressor(name: str, p: dict[str, Any], seed: int) -> Any:
    from sklearn import ensemble, linear_model, neighbors, tree

    builders: dict[str, Callable[[], Any]] = {
        "ElasticNet": lambda: _scaled(linear_model.ElasticNet(random_state=seed, max_iter=5000, **p)),
        "LassoLars": lambda: _scaled(linear_model.LassoLars(random_state=seed, **p)),
        "SGD": lambda: _scaled(linear_model.SGDRegressor(random_state=seed, **p)),
        "DecisionTree": lambda: tree.DecisionTreeRegressor(random_state=seed, **p),
        "KNN": lambda: _scaled(neighbors.KNeighborsRegressor(**p)),
        "RandomForest": lambda: ensemble.RandomForestRegressor(random_state=seed, n_jobs=1, **p),
        "ExtremeRandomTrees": lambda: ensemble.ExtraTreesRegressor(random_state=seed, n_jobs=1, **p),
        "GradientBoosting": lambda: ensemble.GradientBoostingRegressor(random_state=seed, **p),
        "LightGBM": lambda: _module("lightgbm", name).LGBMRegressor(
            random_state=seed, verbose=-1, n_jobs=1, **p
        ),
        "XGBoostRegressor": lambda: _module("xgboost", name).XGBRegressor(
            random_state=seed, verbosity=0, n_jobs=1, **p
        ),
    }
    return builders[name]()


def build_estimator(task: str, algorithm: str, params: dict[str, Any], seed: int = 0) -> Any:
    """The unfitted estimator; an unknown algorithm or hyperparameter is :class:`InvalidArgument`."""
    known = ALGORITHMS.get(task, {})
    if algorithm not in known:
        raise InvalidArgument(
            f"unknown {task} algorithm {algorithm!r}: use one of {', '.join(known)}",
            algorithm=algorithm,
        )
    build = _classifier if task == "classification" else _regressor
    try:
        return build(algorithm, dict(params), seed)
    except TypeError as exc:
        raise InvalidArgument(f"{algorithm} does not take these parameters: {exc}") from exc
