"""Logging the chosen model to MLflow with its signature and input example, and registering it.

Classification and regression models are scikit-learn pipelines (featurisation included),
logged with the ``sklearn`` flavour; a forecaster is logged as a ``pyfunc`` whose input is the
future rows (time, series ids, known columns) and whose output is one forecast per row.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature

from shipyard.automl.forecasting import ForecastModel

__all__ = ["ForecastPyfunc", "log_forecaster", "log_sklearn_model"]

_EXAMPLE_ROWS = 5


def _registered_version(info: Any) -> int | None:
    version = getattr(info, "registered_model_version", None)
    return None if version is None else int(version)


def log_sklearn_model(model: Any, X: pd.DataFrame, registered_model_name: str) -> int | None:
    """Log and register; the version registered (None when the store has no registry)."""
    example = X.head(_EXAMPLE_ROWS)
    signature = infer_signature(example, model.predict(example))
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        # skops refuses the custom steps (datetime parts, label decoding) and plain functions
        # of a featurisation pipeline; the model is Shipyard's own output, so pickle is safe.
        serialization_format="cloudpickle",
        signature=signature,
        input_example=example,
        registered_model_name=registered_model_name,
    )
    return _registered_version(info)


class ForecastPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    def __init__(self, forecaster: ForecastModel) -> None:
        self.forecaster = forecaster

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> Any:
        return pd.DataFrame({"forecast": self.forecaster.predict(pd.DataFrame(model_input))})


def log_forecaster(forecaster: ForecastModel, future: pd.DataFrame, registered_model_name: str) -> int | None:
    example = future.head(_EXAMPLE_ROWS)
    predicted = pd.DataFrame({"forecast": forecaster.predict(example)})
    signature = infer_signature(example, predicted)
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=ForecastPyfunc(forecaster),
        signature=signature,
        input_example=example,
        registered_model_name=registered_model_name,
        pip_requirements=_requirements(),
    )
    return _registered_version(info)


def _requirements() -> list[str]:
    from importlib import metadata

    out = []
    for name in (
        "mlflow-skinny",
        "pandas",
        "numpy",
        "scikit-learn",
        "scipy",
        "lightgbm",
        "xgboost-cpu",
        "PyYAML",
    ):
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return out
