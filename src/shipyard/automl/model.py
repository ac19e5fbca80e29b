"""Logging the chosen model to MLflow with its signature and input example, and registering it.

Classification and regression models are scikit-learn pipelines (featurisation included),
logged with the ``sklearn`` flavour; a forecaster is logged as a ``pyfunc`` whose input is the
future rows (time, series ids, known columns) and whose output is one forecast per row.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import mlflow
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra
from mlflow.models import infer_signature

from shipyard.automl.forecasting import ForecastEnsemble, ForecastModel

with warnings.catch_warnings():
    # mlflow.pyfunc 3.17 warns, as it is imported, about the Any hints of its own chat types.
    warnings.filterwarnings("ignore", ".*Any type hint is inferred as AnyType", UserWarning)
    import mlflow.pyfunc
    import mlflow.sklearn

__all__ = ["ForecastPyfunc", "log_forecaster", "log_sklearn_model"]

_EXAMPLE_ROWS = 5


@contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """MLflow 3.17 compares a DataFrame's columns with a ``range`` when it saves the input
    example, which pandas 3 warns about on every call; the example is saved correctly."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Operation with range is deprecated")
        yield


def _example(frame: pd.DataFrame) -> pd.DataFrame:
    """The first rows, integer columns as floats: a signature of ``long`` would refuse the
    missing values a later request may hold (MLflow warns of exactly that)."""
    example = frame.head(_EXAMPLE_ROWS).copy()
    for column in example.columns:
        if pd.api.types.is_integer_dtype(example[column]):
            example[column] = example[column].astype("float64")
    return example


def _registered_version(info: Any) -> int | None:
    version = getattr(info, "registered_model_version", None)
    return None if version is None else int(version)


def log_sklearn_model(
    model: Any, X: pd.DataFrame, registered_model_name: str, needs: Iterable[str] = ()
) -> int | None:
    """Log and register; the version registered (None when the store has no registry)."""
    example = _example(X)
    signature = infer_signature(example, model.predict(example))
    with _quiet_mlflow():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            # skops refuses the custom steps (datetime parts, label decoding) and plain functions
            # of a featurisation pipeline; the model is Shipyard's own output, so pickle is safe.
            serialization_format="cloudpickle",
            signature=signature,
            input_example=example,
            registered_model_name=registered_model_name,
            pip_requirements=_requirements(needs),
        )
    return _registered_version(info)


class ForecastPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """The forecaster as a pyfunc. ``predict`` has no type hints, and MLflow is told not to
    look for them: it would take them over the signature logged with the model."""

    _skip_type_hint_validation = True

    def __init__(self, forecaster: ForecastModel | ForecastEnsemble) -> None:
        self.forecaster = forecaster

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return pd.DataFrame({"forecast": self.forecaster.predict(pd.DataFrame(model_input))})


def log_forecaster(
    forecaster: ForecastModel | ForecastEnsemble,
    future: pd.DataFrame,
    registered_model_name: str,
    needs: Iterable[str] = (),
) -> int | None:
    example = _example(future)
    for column in example.columns:  # times as text: what a JSON scoring request sends
        if pd.api.types.is_datetime64_any_dtype(example[column]):
            example[column] = example[column].dt.strftime("%Y-%m-%dT%H:%M:%S")
    predicted = pd.DataFrame({"forecast": forecaster.predict(example)})
    signature = infer_signature(example, predicted)
    with _quiet_mlflow():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=ForecastPyfunc(forecaster),
            signature=signature,
            input_example=example,
            registered_model_name=registered_model_name,
            pip_requirements=_requirements(needs),
        )
    return _registered_version(info)


_DISTRIBUTIONS = {"lightgbm": ("lightgbm",), "xgboost": ("xgboost-cpu", "xgboost")}


def _requirements(needs: Iterable[str]) -> list[str]:
    """The model's pip requirements, pinned to what fitted it: MLflow, the scientific stack,
    and LightGBM or XGBoost only when a member of the model uses them (``needs``)."""
    from importlib import metadata

    wanted: list[tuple[str, ...]] = [
        ("mlflow-skinny", "mlflow"),
        ("pandas",),
        ("numpy",),
        ("scikit-learn",),
        ("scipy",),
    ]
    wanted += [_DISTRIBUTIONS[package] for package in sorted(set(needs))]
    out = []
    for names in wanted:
        for name in names:
            try:
                out.append(f"{name}=={metadata.version(name)}")
            except metadata.PackageNotFoundError:
                continue
            break
    return out
