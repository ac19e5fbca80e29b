"""What a mini-batch is scored with — the serving scorers, called with frames instead of
request bodies.

An MLflow model is loaded once (:class:`~shipyard.serving.scorers.MlflowScorer`) and called
with the mini-batch's rows; its predictions become ``prediction`` columns beside the input's
``row`` (and ``file``) ids. A scoring script is imported and ``init()`` called once
(:class:`~shipyard.serving.scorers.ScriptScorer`); ``run(mini_batch)`` receives a DataFrame
(rows of a file) or a list of file paths (a folder), as in Azure ML, and returns a DataFrame
or a list of rows (dicts, sequences or scalars).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra

from shipyard.serving.batch._inputs import MiniBatch, read_table
from shipyard.serving.scorers import MlflowScorer, ScriptScorer

__all__ = ["BatchModel", "MlflowBatchModel", "ScriptBatchModel", "rows_frame"]


class BatchModel(ABC):
    @abstractmethod
    def load(self) -> None:
        """Load the model or import the script and call ``init()`` (once)."""

    @abstractmethod
    def predict_batch(self, batch: MiniBatch) -> Any:
        """The mini-batch's output rows as a DataFrame."""


class MlflowBatchModel(MlflowScorer, BatchModel):
    def predict_batch(self, batch: MiniBatch) -> Any:
        if not batch.files:
            ids = pd.DataFrame({"row": batch.frame.index.to_numpy()})
            return _with_predictions(ids, self._model.predict(batch.frame.reset_index(drop=True)))
        parts = []
        for path in batch.files:
            frame = read_table(path)
            name = path.relative_to(batch.root).as_posix() if batch.root else path.name
            ids = pd.DataFrame({"file": name, "row": np.arange(len(frame))})
            parts.append(_with_predictions(ids, self._model.predict(frame)))
        return pd.concat(parts, ignore_index=True)


class ScriptBatchModel(ScriptScorer, BatchModel):
    def predict_batch(self, batch: MiniBatch) -> Any:
        mini_batch = [str(p) for p in batch.files] if batch.files else batch.frame
        return rows_frame(self._run(mini_batch))


def _with_predictions(ids: Any, predictions: Any) -> Any:
    out = _prediction_columns(predictions)
    if len(out) != len(ids):
        raise ValueError(f"the model returned {len(out)} predictions for {len(ids)} rows")
    return pd.concat([ids.reset_index(drop=True), out.reset_index(drop=True)], axis=1)


def _prediction_columns(predictions: Any) -> Any:
    if isinstance(predictions, pd.DataFrame):
        return predictions
    if isinstance(predictions, pd.Series):
        return pd.DataFrame({"prediction": predictions.to_numpy()})
    values = np.asarray(predictions)
    if values.ndim == 2:
        return pd.DataFrame({f"prediction_{i}": values[:, i] for i in range(values.shape[1])})
    return pd.DataFrame({"prediction": values.reshape(-1)})


def rows_frame(result: Any) -> Any:
    """What ``run()`` returned, as a DataFrame: a DataFrame as it is; a list of dicts by key;
    a list of sequences as ``col_0…``; a list of scalars as one ``result`` column."""
    if isinstance(result, pd.DataFrame):
        return result.reset_index(drop=True)
    if isinstance(result, pd.Series):
        return pd.DataFrame({"result": result.to_numpy()})
    if not isinstance(result, Sequence) or isinstance(result, (str, bytes)):
        raise TypeError(
            f"run() returned {type(result).__name__}; return a pandas DataFrame or a list of rows"
        )
    rows = list(result)
    if rows and all(isinstance(r, Mapping) for r in rows):
        return pd.DataFrame.from_records(rows)
    if rows and all(isinstance(r, (list, tuple)) for r in rows):
        frame = pd.DataFrame(rows)
        frame.columns = [f"col_{i}" for i in range(frame.shape[1])]
        return frame
    return pd.DataFrame({"result": rows})
