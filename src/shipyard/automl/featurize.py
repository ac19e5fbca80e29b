"""Automatic featurisation: what each column is, and the scikit-learn transformer that encodes it.

:func:`plan_columns` decides a column's kind from its data (``auto``), from the user's
``column_name_and_types`` (``custom``), or barely at all (``off``: nothing dropped, every
non-numeric column as integer codes). :func:`build_preprocessor` turns the plan into a
``ColumnTransformer`` that is the first step of every candidate's pipeline, so the logged
model takes the user's raw columns. :func:`describe` is what ``featurization.json`` holds.

Rules in ``auto`` mode, in order: a column of one value is dropped (constant); a text column
whose every value is different is dropped (an id), as is an integer column counting 0..n or
1..n, or distinct in every row and named as an id (``customer_id``, ``OrderID``); datetimes
(and text that parses as dates) become calendar parts; text of several words on average
becomes TF-IDF; other text, booleans and integer columns declared categorical become
categories — one-hot up to :data:`ONE_HOT_MAX` distinct values, integer codes beyond.
Missing numbers are imputed with the mean (``transformer_params.imputer`` may choose median,
most_frequent or constant), missing categories become their own category.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra

from shipyard.domain.automl import FeaturizationSettings

__all__ = ["ONE_HOT_MAX", "ColumnPlan", "build_preprocessor", "describe", "plan_columns"]

ONE_HOT_MAX = 30
_TEXT_MIN_WORDS = 3.0
_ID_MIN_ROWS = 20
_ID_NAME = re.compile(r"(^|[_\s-])(id|Id|ID)$|[a-z](Id|ID)$|^(id|Id|ID)[_\s-]")
"""``id``, ``customer_id``, ``CustomerID``, ``orderId``, ``ID number`` — not ``paid`` or ``valid``."""


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """``kind``: numeric, categorical, datetime, text or dropped; ``reason`` says why."""

    name: str
    kind: str
    reason: str
    encoder: str = ""
    imputer: str = ""


def _looks_like_dates(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(200)
    if sample.empty or pd.to_numeric(sample, errors="coerce").notna().mean() > 0.5:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.9)


def _infer(name: str, values: pd.Series) -> tuple[str, str]:
    non_null = values.dropna()
    distinct = non_null.nunique()
    if distinct <= 1:
        return "dropped", "constant: one value or none"
    if pd.api.types.is_bool_dtype(values):
        return "categorical", "boolean"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime", "datetime values"
    if pd.api.types.is_numeric_dtype(values):
        if pd.api.types.is_integer_dtype(values) and len(values) >= _ID_MIN_ROWS and distinct == len(values):
            if int(non_null.max()) - int(non_null.min()) + 1 == len(values):
                return "dropped", "id-like: a distinct running number in every row"
            if _ID_NAME.search(name):
                return "dropped", "id-like: named as an id, a distinct number in every row"
        return "numeric", "numbers"
    if _looks_like_dates(values):
        return "datetime", "text that parses as dates"
    words = non_null.astype(str).str.split().str.len().mean()
    if words >= _TEXT_MIN_WORDS:
        return "text", f"free text ({words:.1f} words per value)"
    if len(non_null) >= _ID_MIN_ROWS and distinct == len(non_null):
        return "dropped", "id-like: a different value in every row"
    return "categorical", f"{distinct} distinct values"


def _categorical(name: str, reason: str, distinct: int, blocked: set[str]) -> ColumnPlan:
    one_hot = distinct <= ONE_HOT_MAX and "OneHotEncoder" not in blocked
    if one_hot or "LabelEncoder" in blocked:
        if "OneHotEncoder" in blocked:
            return ColumnPlan(name, "dropped", "OneHotEncoder and LabelEncoder are both blocked")
        return ColumnPlan(name, "categorical", reason, encoder="OneHotEncoder")
    return ColumnPlan(name, "categorical", reason, encoder="LabelEncoder")


def plan_columns(frame: pd.DataFrame, featurization: FeaturizationSettings) -> list[ColumnPlan]:
    """What to do with each feature column of ``frame`` (the target already removed)."""
    blocked = set(featurization.blocked_transformers)
    plans: list[ColumnPlan] = []
    for name in frame.columns:
        values = frame[name]
        distinct = int(values.nunique())
        declared = featurization.column_types.get(str(name)) if featurization.mode == "custom" else None
        if featurization.mode == "off":
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                kind, reason = "numeric", "numbers (featurization off)"
            else:
                plans.append(ColumnPlan(str(name), "categorical", "featurization off", "LabelEncoder"))
                continue
        elif declared is not None:
            kind, reason = declared, "column_name_and_types"
        else:
            kind, reason = _infer(str(name), values)
        if kind == "categorical":
            plans.append(_categorical(str(name), reason, distinct, blocked))
        elif kind == "text" and "TfIdf" in blocked:
            plans.append(ColumnPlan(str(name), "dropped", "free text, and TfIdf is blocked"))
        elif kind == "numeric":
            strategy = (
                featurization.imputers.get(str(name), "mean") if featurization.mode == "custom" else "mean"
            )
            plans.append(ColumnPlan(str(name), "numeric", reason, imputer=strategy))
        else:
            encoder = {"text": "TfIdf", "datetime": "DatetimeParts"}.get(kind, "")
            plans.append(ColumnPlan(str(name), kind, reason, encoder=encoder))
    if not any(plan.kind != "dropped" for plan in plans):
        from shipyard.errors import InvalidArgument

        raise InvalidArgument(
            "no usable feature column is left: every column but the target was dropped "
            f"({'; '.join(f'{p.name}: {p.reason}' for p in plans) or 'there are none'})"
        )
    return plans


def build_preprocessor(plans: list[ColumnPlan]) -> Any:
    """An unfitted ``ColumnTransformer`` applying ``plans`` (dense output)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    from shipyard.automl.transforms import DatetimeParts

    parts: list[tuple[str, Any, Any]] = []
    by_strategy: dict[str, list[str]] = {}
    for plan in plans:
        if plan.kind == "numeric":
            by_strategy.setdefault(plan.imputer, []).append(plan.name)
    for strategy, columns in sorted(by_strategy.items()):
        parts.append(
            (
                f"numeric_{strategy}",
                SimpleImputer(strategy=strategy, fill_value=0, keep_empty_features=True),
                columns,
            )
        )
    missing = SimpleImputer(strategy="constant", fill_value="__missing__")
    one_hot = [p.name for p in plans if p.encoder == "OneHotEncoder"]
    if one_hot:
        encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        parts.append(("one_hot", make_pipeline(_as_text(), missing, encoder), one_hot))
    codes = [p.name for p in plans if p.encoder == "LabelEncoder"]
    if codes:
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        parts.append(("codes", make_pipeline(_as_text(), missing, encoder), codes))
    dates = [p.name for p in plans if p.kind == "datetime"]
    if dates:
        imputer = SimpleImputer(strategy="median", keep_empty_features=True)
        parts.append(("datetime", make_pipeline(DatetimeParts(), imputer), dates))
    for plan in plans:
        if plan.kind == "text":
            from sklearn.preprocessing import FunctionTransformer

            from shipyard.automl.transforms import column_as_text

            tfidf = make_pipeline(FunctionTransformer(column_as_text), TfidfVectorizer(max_features=200))
            parts.append((f"text_{plan.name}", tfidf, [plan.name]))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)


def _as_text() -> Any:
    from sklearn.preprocessing import FunctionTransformer

    from shipyard.automl.transforms import cells_as_text

    return FunctionTransformer(cells_as_text, feature_names_out="one-to-one")


def describe(plans: list[ColumnPlan], featurization: FeaturizationSettings) -> dict[str, Any]:
    """``featurization.json``: the mode and, per column, its kind, encoder, imputer and why."""
    return {
        "mode": featurization.mode,
        "blocked_transformers": list(featurization.blocked_transformers),
        "columns": [
            {
                "name": p.name,
                "kind": p.kind,
                "reason": p.reason,
                **({"encoder": p.encoder} if p.encoder else {}),
                **({"imputer": p.imputer} if p.imputer else {}),
            }
            for p in plans
        ],
    }
