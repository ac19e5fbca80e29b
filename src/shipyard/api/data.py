"""A data asset version's profile, as ``/api/v1/data/{name}/versions/{version}/profile`` answers it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from shipyard.api._config import ANSWER_CONFIG

__all__ = ["ColumnProfile", "DataProfile", "Histogram", "ValueCount"]


@dataclass(frozen=True, slots=True)
class Histogram:
    """Equal-width bins over [minimum, maximum]: bin i holds edges[i] <= v < edges[i+1] (the last
    bin also holds the maximum)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    edges: list[float]
    """One more than ``counts``."""
    counts: list[int]


@dataclass(frozen=True, slots=True)
class ValueCount:
    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    value: str
    count: int


@dataclass(frozen=True, slots=True)
class ColumnProfile:
    """One column over the rows read."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    name: str
    type: str
    """numerical, categorical (text and flags), datetime, or other (lists, bytes, all-null…)."""
    data_type: str
    """The column's type as read (Arrow's name: int64, double, string, timestamp[s]…)."""
    count: int
    """Non-null values (NaN counts as null)."""
    nulls: int
    distinct: int
    """Distinct non-null values among the rows read."""
    minimum: float | None = None
    """Numerical columns only, as are maximum, mean, std and histogram."""
    maximum: float | None = None
    mean: float | None = None
    std: float | None = None
    """The population standard deviation."""
    histogram: Histogram | None = None
    earliest: str | None = None
    """Datetime columns only: the first and last instant, ISO 8601."""
    latest: str | None = None
    top: list[ValueCount] = field(default_factory=list)
    """Categorical columns only: the 10 most frequent values, most frequent first."""


@dataclass(frozen=True, slots=True)
class DataProfile:
    """Computed once per version (versions are immutable) and kept by the server."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    name: str
    version: str
    rows: int | None
    """Rows in the whole asset, when known (a Parquet footer, or the count read at registration)."""
    rows_read: int
    sampled: bool
    """True when only the first ``rows_read`` rows were read (at most 1,000,000): every
    statistic is then over those rows."""
    columns: int
    column_profiles: list[ColumnProfile]
    files: list[str]
    """The table files read, in order."""
    computed_at: int
