"""``features: {top_n_feature_importance: N}``: the N features that tell most about the target.

Azure ML ranks features by the model's attributions; a monitor here may watch a model it
cannot call, so importance is measured on the reference data alone: the mutual information
between each feature and the target, both binned (numbers into 10 quantile bins, the target
into its classes or 10 quantile bins). It ranks the same features first as a model's
importance does whenever the model uses what the data holds; ties go to the file's order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from shipyard.errors import InvalidArgument

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["mutual_information", "top_features"]

_BINS = 10


def top_features(reference: pa.Table, features: list[str], target: str, n: int) -> list[str]:
    if target not in reference.column_names:
        raise InvalidArgument(f"top_n_feature_importance needs the target column {target!r} in the reference")
    y = _codes(reference.column(target).to_numpy(zero_copy_only=False))
    scored = [
        (mutual_information(_codes(reference.column(f).to_numpy(zero_copy_only=False)), y), i, f)
        for i, f in enumerate(features)
        if f in reference.column_names
    ]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [f for _, _, f in scored[:n]]


def mutual_information(x: npt.NDArray[np.intp], y: npt.NDArray[np.intp]) -> float:
    """I(X; Y) in nats of two integer-coded columns of equal length."""
    if len(x) == 0:
        return 0.0
    joint = np.zeros((int(x.max()) + 1, int(y.max()) + 1))
    np.add.at(joint, (x, y), 1.0)
    joint /= joint.sum()
    px = joint.sum(axis=1, keepdims=True)
    py = joint.sum(axis=0, keepdims=True)
    nonzero = joint > 0
    return float((joint[nonzero] * np.log(joint[nonzero] / (px @ py)[nonzero])).sum())


def _codes(values: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """Numbers into quantile bins (nulls their own bin), anything else by its distinct value."""
    if values.dtype.kind in "biuf":
        numbers = values.astype(np.float64)
        present = ~np.isnan(numbers)
        codes = np.full(len(numbers), _BINS, dtype=np.intp)
        if present.any():
            edges = np.unique(np.quantile(numbers[present], np.linspace(0, 1, _BINS + 1)[1:-1]))
            codes[present] = np.searchsorted(edges, numbers[present], side="right")
        return codes
    _, codes = np.unique(np.asarray([str(v) for v in values]), return_inverse=True)
    return codes.astype(np.intp)
