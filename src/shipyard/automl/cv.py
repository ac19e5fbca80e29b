"""How a candidate is validated: the folds over the training rows.

With validation data, the candidate is trained on the training rows and scored on the
validation rows (one split). With ``validation_data_size``, a random share of the training
rows is held out (stratified for classification). Otherwise k-fold cross-validation,
stratified for classification; ``"auto"`` folds follow Azure's rule by size — past 20,000
rows a 10 % holdout, else 5 folds below 1,000 rows (Azure uses 10; 5 halves a trial's time
for little change in the ranking) and 3 up to 20,000.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

__all__ = ["Split", "auto_folds", "splits"]

Split = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]
_HOLDOUT_ABOVE = 20_000


def auto_folds(rows: int) -> int | None:
    """Folds for ``n_cross_validations: auto``; None means a 10 % holdout."""
    if rows > _HOLDOUT_ABOVE:
        return None
    return 5 if rows < 1000 else 3


def splits(
    task: str,
    y: Any,
    *,
    n_cross_validations: int | Literal["auto"] = "auto",
    validation_size: float | None = None,
    validation_rows: int = 0,
    seed: int = 0,
) -> list[Split]:
    """Index pairs (train, validate) over ``y``. ``validation_rows`` > 0: the last that many
    rows of ``y`` are the validation data, appended after the training rows."""
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    y = np.asarray(y)
    everything = np.arange(len(y))
    if validation_rows:
        cut = len(y) - validation_rows
        return [(everything[:cut], everything[cut:])]
    folds = n_cross_validations
    if validation_size is None and folds == "auto":
        folds_or_none = auto_folds(len(y))
        if folds_or_none is None:
            validation_size = 0.1
        else:
            folds = folds_or_none
    stratify = task == "classification"
    if validation_size is not None:
        train, valid = train_test_split(
            everything,
            test_size=validation_size,
            random_state=seed,
            stratify=y if stratify and _smallest_class(y) >= 2 else None,
        )
        return [(np.sort(train), np.sort(valid))]
    assert isinstance(folds, int)
    if stratify:
        k = max(2, min(folds, _smallest_class(y)))
        return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(everything, y))
    return list(KFold(min(folds, len(y)), shuffle=True, random_state=seed).split(everything))


def _smallest_class(y: np.ndarray[Any, Any]) -> int:
    return int(np.unique(y, return_counts=True)[1].min())
