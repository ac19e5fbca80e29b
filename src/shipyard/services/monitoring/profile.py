"""A reference column's profile, and the streaming counter production values go into.

The reference is profiled once (it may be stored: every profile is plain JSON data); the
production window is then read chunk by chunk into a :class:`ColumnCounter`, whose memory
does not grow with the number of rows: it holds bin counts, one count per reference
category, and — only while the window is small enough for an exact KS test — the values.

Both are vectorised, since a monitor reads millions of rows: a numerical reference is
sorted once (its quantiles, bin counts and extremes are then read off by index), a
production chunk is binned with ``searchsorted``/``bincount``, and text or boolean values
are counted by pyarrow's hash-based ``value_counts`` (one Python step per *distinct*
value, never per row). Values may come as numpy arrays or as pyarrow arrays; odd inputs
pyarrow does not read as one type (text mixed with numbers…) take a per-value path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from shipyard.errors import InvalidArgument

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "DEFAULT_BINS",
    "EXACT_LIMIT",
    "QUANTILE_SAMPLE",
    "CategoricalProfile",
    "ColumnCounter",
    "EdgeBinner",
    "NumericalProfile",
    "Profile",
    "as_dict",
    "profile_column",
    "profile_from_dict",
    "sorted_quantiles",
]

DEFAULT_BINS = 100
"""Quantile bins per numerical reference column: each holds ~1% of the reference."""

EXACT_LIMIT = 100_000
"""Up to this many values on *each* side, KS and Wasserstein are computed exactly."""

QUANTILE_SAMPLE = EXACT_LIMIT
"""Past :data:`EXACT_LIMIT` values, a reference's bin edges are this sample's quantiles."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class NumericalProfile:
    """Bins are ``(-inf, edges[0])``, ``[edges[0], edges[1])`` … ``[edges[-1], +inf)``.

    The end bins are open so production values outside the reference's range still land
    somewhere; ``minimum``/``maximum`` bound the reference's own values within them.
    """

    edges: list[float]
    counts: list[int]
    minimum: float
    maximum: float
    mean: float
    std: float
    rows: int
    nulls: int
    end_means: list[float] = field(default_factory=list)
    """The mean of the values in the two open end bins (an edge when a bin is empty)."""
    sample: list[float] | None = None
    """The sorted non-null values when there are at most :data:`EXACT_LIMIT` of them."""
    kind: Literal["numerical"] = "numerical"

    def bin_of(self, values: FloatArray) -> npt.NDArray[np.intp]:
        return np.searchsorted(np.asarray(self.edges, dtype=np.float64), values, side="right")


@dataclass(frozen=True)
class CategoricalProfile:
    categories: list[str]
    counts: list[int]
    rows: int
    nulls: int
    value_type: Literal["string", "bool"] = "string"
    kind: Literal["categorical"] = "categorical"


Profile = NumericalProfile | CategoricalProfile


def profile_from_dict(data: dict[str, Any]) -> Profile:
    """The inverse of :func:`dataclasses.asdict` on a profile (how a stored one is read back)."""
    if data.get("kind") == "numerical":
        return NumericalProfile(**data)
    if data.get("kind") == "categorical":
        return CategoricalProfile(**data)
    raise InvalidArgument(f"not a column profile: kind {data.get('kind')!r}", field="kind")


def profile_column(
    name: str,
    values: npt.NDArray[Any] | pa.Array | pa.ChunkedArray,
    kind: Literal["numerical", "categorical"],
    *,
    bins: int = DEFAULT_BINS,
) -> Profile:
    """Profile one reference column (numpy nulls are ``None`` or NaN; pyarrow's are nulls)."""
    if bins < 1:
        raise InvalidArgument(f"bins must be at least 1, not {bins}")
    if len(values) == 0:
        raise InvalidArgument(f"the reference is empty: column {name!r} has no rows")
    if kind == "numerical":
        return _profile_numerical(name, _as_numpy(values), bins)
    return _profile_categorical(name, values)


def sorted_quantiles(ordered: FloatArray, quantiles: FloatArray) -> FloatArray:
    """``np.quantile(ordered, quantiles)`` (its default linear method) on already sorted values.

    Read off by index in O(len(quantiles)): ``np.quantile`` would partition the values
    again, which costs about as much as the sort itself.
    """
    position = quantiles * (ordered.size - 1)
    below = np.floor(position).astype(np.intp)
    above = np.minimum(below + 1, ordered.size - 1)
    a, b, t = ordered[below], ordered[above], position - below
    # numpy's own interpolation, from the nearer side, so the results are identical.
    return np.asarray(np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t), dtype=np.float64)


def _profile_numerical(name: str, values: npt.NDArray[Any], bins: int) -> NumericalProfile:
    numbers, nulls, errors = _as_numbers(values)
    kept = numbers[~np.isnan(numbers)] if nulls else numbers
    if kept.size == 0:
        raise InvalidArgument(f"column {name!r} is null in every reference row: nothing to compare against")
    if errors:
        raise InvalidArgument(f"column {name!r} of the reference holds {errors} values that are not numbers")
    quantiles = np.linspace(0, 1, bins + 1)[1:-1]
    if kept.size <= EXACT_LIMIT:
        # The one O(n log n) step: quantiles, bin counts, extremes and the exact sample are
        # then read off the sorted values by index.
        kept = np.sort(kept)  # a copy: the caller's array stays as it was
        # Interior quantile edges, deduplicated: a value repeated across many quantiles (a
        # spike) gets one bin rather than empty zero-width ones.
        edges = np.unique(sorted_quantiles(kept, quantiles))
        # Bin i holds edges[i-1] <= v < edges[i]: its bounds in the sorted values are where
        # each edge would be inserted on the left (as ``bin_of``'s side="right" on the values).
        bounds = np.concatenate([[0], np.searchsorted(kept, edges, side="left"), [kept.size]])
        counts = np.diff(bounds)
        end_sums = np.array([kept[: bounds[1]].sum(), kept[bounds[-2] :].sum()])
        low, high = float(kept[0]), float(kept[-1])
    else:
        # Sorting a million values costs more than all else here; the edges only need to
        # split the reference into about equal shares, which the quantiles of a fixed-seed
        # sample do (each bin then holds 1 % ± 0.1 %). The counts stay exact, and every
        # bound that rests on them (the KS error) is computed from the actual counts.
        sample = np.sort(kept[np.random.default_rng(0).integers(0, kept.size, QUANTILE_SAMPLE)])
        edges = np.unique(sorted_quantiles(sample, quantiles))
        positions = EdgeBinner(edges).bins(kept)
        counts = np.bincount(positions, minlength=edges.size + 1)
        end_sums = np.array([kept[positions == 0].sum(), kept[positions == edges.size].sum()])
        low, high = float(kept.min()), float(kept.max())
    return NumericalProfile(
        edges=edges.tolist(),
        counts=counts.tolist(),
        minimum=low,
        maximum=high,
        mean=float(kept.mean()),
        std=float(kept.std()),
        rows=len(values),
        nulls=nulls,
        end_means=_end_means(edges, counts, end_sums, low, high),
        sample=kept.tolist() if kept.size <= EXACT_LIMIT else None,
    )


def _end_means(
    edges: FloatArray, counts: npt.NDArray[Any], end_sums: npt.NDArray[Any], low: float, high: float
) -> list[float]:
    """The mean value in each open end bin: where the tails' mass sits, which bins alone lose."""
    default_low = float(edges[0]) if edges.size else low
    default_high = float(edges[-1]) if edges.size else high
    return [
        float(end_sums[0] / counts[0]) if counts[0] else default_low,
        float(end_sums[-1] / counts[-1]) if counts[-1] else default_high,
    ]


def _profile_categorical(
    name: str, values: npt.NDArray[Any] | pa.Array | pa.ChunkedArray
) -> CategoricalProfile:
    tally = _tally(values)
    if tally is None:  # not one type pyarrow reads: value by value
        return _profile_categorical_slowly(name, _as_numpy(values))
    if tally.present == 0:
        raise InvalidArgument(f"column {name!r} is null in every reference row: nothing to compare against")
    if tally.kind == "other":  # numbers in a categorical column: as text, as before
        return _profile_categorical_slowly(name, _as_numpy(values))
    order = sorted(range(len(tally.names)), key=tally.names.__getitem__)
    return CategoricalProfile(
        categories=[tally.names[i] for i in order],
        counts=[tally.counts[i] for i in order],
        rows=len(values),
        nulls=tally.nulls,
        value_type="bool" if tally.kind == "bool" else "string",
    )


def _profile_categorical_slowly(name: str, values: npt.NDArray[Any]) -> CategoricalProfile:
    present = values[~_null_mask(values)]
    if present.size == 0:
        raise InvalidArgument(f"column {name!r} is null in every reference row: nothing to compare against")
    value_type: Literal["string", "bool"] = (
        "bool" if all(isinstance(v, bool | np.bool_) for v in present) else "string"
    )
    categories, counts = np.unique(present.astype(str), return_counts=True)
    return CategoricalProfile(
        categories=categories.tolist(),
        counts=counts.tolist(),
        rows=len(values),
        nulls=len(values) - present.size,
        value_type=value_type,
    )


@dataclass(frozen=True)
class _Tally:
    """A chunk's distinct non-null values (as text, ``str(True)`` for a flag) and their counts."""

    kind: Literal["string", "bool", "null", "other"]
    names: list[str]
    counts: list[int]
    nulls: int
    present: int


def _tally(values: npt.NDArray[Any] | pa.Array | pa.ChunkedArray) -> _Tally | None:
    """Count values by pyarrow's hash table; ``None`` when they are not of one type it reads.

    ``other`` is a column of another single type (numbers, bytes): every value is then a
    type error for a categorical counter, and ``names`` stays empty.
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pyarrow comes with the serving extra; numpy alone still counts
        return None
    if isinstance(values, np.ndarray) and values.dtype.kind in "iuf":
        nulls = int(np.isnan(values).sum()) if values.dtype.kind == "f" else 0
        return _Tally("other", [], [], nulls, len(values) - nulls)
    if isinstance(values, pa.Array | pa.ChunkedArray):
        arrow = values
    else:
        try:
            arrow = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
    if pa.types.is_dictionary(arrow.type):
        arrow = arrow.cast(arrow.type.value_type)
    nulls = arrow.null_count
    present = len(arrow) - nulls
    if pa.types.is_null(arrow.type):
        return _Tally("null", [], [], nulls, 0)
    if pa.types.is_boolean(arrow.type):
        kind: Literal["string", "bool"] = "bool"
    elif pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type):
        kind = "string"
    elif isinstance(values, np.ndarray) and values.dtype.kind == "O":
        return None  # mixed objects pyarrow coerced (text with bytes…): judge each value
    else:
        return _Tally("other", [], [], nulls, present)
    counted = pc.value_counts(arrow.drop_null())
    names = [str(v) for v in counted.field("values").to_pylist()]
    return _Tally(kind, names, counted.field("counts").to_pylist(), nulls, present)


def _as_numpy(values: npt.NDArray[Any] | pa.Array | pa.ChunkedArray) -> npt.NDArray[Any]:
    if isinstance(values, np.ndarray):
        return values
    # pyarrow: integers with nulls become floats with NaN, text becomes objects with None.
    return np.asarray(values.to_numpy(zero_copy_only=False))


def _null_mask(values: npt.NDArray[Any]) -> npt.NDArray[np.bool_]:
    if values.dtype.kind == "f":
        return np.asarray(np.isnan(values), dtype=np.bool_)
    if values.dtype.kind in "iub":
        return np.zeros(values.shape, dtype=np.bool_)
    # Object arrays: None, or NaN (the only value not equal to itself).
    return np.fromiter((v is None or v != v for v in values), dtype=np.bool_, count=len(values))


def _as_numbers(values: npt.NDArray[Any]) -> tuple[FloatArray, int, int]:
    """Values as floats with NaN where null or not a number; the null and type-error counts."""
    if values.dtype.kind in "fiu":
        numbers = values.astype(np.float64, copy=False)
        return numbers, int(np.isnan(numbers).sum()), 0
    nulls = _null_mask(values)
    # A bool is an int to Python, but a flag in a numerical column is a type error.
    is_number = np.fromiter(
        (
            isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)
            for v in values
        ),
        dtype=np.bool_,
        count=len(values),
    )
    numbers = np.full(len(values), np.nan)
    good = is_number & ~nulls
    numbers[good] = values[good].astype(np.float64)
    return numbers, int(nulls.sum()), int((~nulls & ~is_number).sum())


class EdgeBinner:
    """``np.searchsorted(edges, values, side="right")`` in a few flat passes instead of a search.

    A binary search over 100 edges costs about 40 ns a value, most of a chunk's cost. Here a
    value's cell on a uniform grid over the edges' span (one multiply) gives, from a table,
    how many edges lie in earlier cells: all of them are below the value, because the cell
    map is monotone and is applied to edges and values alike. Only the few values whose
    cell also holds an edge are compared with it. The result is exactly searchsorted's.

    Few edges, or values that mostly sit on an edge (integers, spikes), gain nothing: the
    binner then hands over to ``searchsorted`` for good.
    """

    CELLS = 65536
    MIN_EDGES = 32

    def __init__(self, edges: FloatArray) -> None:
        self.edges = edges
        if edges.size < self.MIN_EDGES or not np.isfinite(edges).all() or edges[-1] - edges[0] <= 0:
            self._scale = None
            return
        self._low, self._scale = float(edges[0]), self.CELLS / float(edges[-1] - edges[0])
        per_cell = np.bincount(self._cells(edges), minlength=self.CELLS + 2)
        self._before = np.concatenate([[0], np.cumsum(per_cell)[:-1]])  # edges in earlier cells
        self._in_cell = per_cell

    def _cells(self, values: FloatArray) -> npt.NDArray[np.intp]:
        """Each value's cell, plus one (so 0 is below the grid), as an index into the tables."""
        assert self._scale is not None
        position = values * self._scale  # one temporary, shifted in place: chunks are large
        position -= self._low * self._scale - 1.0
        np.clip(position, 0.0, float(self.CELLS + 1), out=position)
        return position.astype(np.intp)  # truncation is monotone too: all the argument needs

    def bins(self, values: FloatArray) -> npt.NDArray[np.intp]:
        if self._scale is None:
            return np.searchsorted(self.edges, values, side="right")
        cells = self._cells(values)
        positions = self._before[cells]
        crowded = np.flatnonzero(self._in_cell[cells])
        if crowded.size > values.size // 4:  # values on edges: searching is cheaper from now on
            self._scale = None
            return np.searchsorted(self.edges, values, side="right")
        if crowded.size:
            v, first, n = values[crowded], positions[crowded], self._in_cell[cells[crowded]]
            found = first.copy()
            for k in range(int(n.max())):  # edges sharing one cell: rarely more than one
                candidate = np.minimum(first + k, self.edges.size - 1)
                found += (k < n) & (v >= self.edges[candidate])
            positions[crowded] = found
        return positions


@dataclass
class ColumnCounter:
    """Production values of one column, accumulated chunk by chunk against a reference profile."""

    profile: Profile
    exact_limit: int = EXACT_LIMIT
    rows: int = 0
    nulls: int = 0
    type_errors: int = 0
    out_of_bounds: int = 0
    counts: FloatArray = field(init=False)
    unseen: int = 0
    """Categorical only: non-null values of a category the reference never had."""
    minimum: float = np.inf
    maximum: float = -np.inf
    end_sums: list[float] = field(default_factory=lambda: [0.0, 0.0])
    """Numerical only: the sum of the values in the two open end bins (see ``end_means``)."""
    _kept: list[FloatArray] | None = field(default_factory=list, repr=False)
    _binner: EdgeBinner | None = field(default=None, repr=False)
    _index: dict[str, int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.counts = np.zeros(len(self.profile.counts), dtype=np.float64)

    @property
    def present(self) -> int:
        """Values that entered the distribution: neither null nor of the wrong type."""
        return self.rows - self.nulls - self.type_errors

    @property
    def end_means(self) -> list[float]:
        """As :attr:`NumericalProfile.end_means`, for the values counted so far."""
        assert isinstance(self.profile, NumericalProfile)
        edges, counts = self.profile.edges, self.counts
        low = self.end_sums[0] / counts[0] if counts[0] else (edges[0] if edges else self.minimum)
        high = self.end_sums[1] / counts[-1] if counts[-1] else (edges[-1] if edges else self.maximum)
        return [float(low), float(high)]

    @property
    def sample(self) -> FloatArray | None:
        """Every value seen, sorted, while there are at most ``exact_limit``; else ``None``."""
        if self._kept is None:
            return None
        return np.sort(np.concatenate(self._kept)) if self._kept else np.empty(0)

    def add(self, values: npt.NDArray[Any] | pa.Array | pa.ChunkedArray) -> None:
        """Count one chunk: numpy (nulls ``None`` or NaN) or pyarrow values."""
        self.rows += len(values)
        if isinstance(self.profile, NumericalProfile):
            self._add_numerical(self.profile, _as_numpy(values))
        else:
            self._add_categorical(self.profile, values)

    def _add_numerical(self, profile: NumericalProfile, values: npt.NDArray[Any]) -> None:
        numbers, nulls, errors = _as_numbers(values)
        self.nulls += nulls
        self.type_errors += errors
        kept = numbers[~np.isnan(numbers)] if nulls or errors else numbers
        if kept.size == 0:
            return
        if self._binner is None:  # built once per counter from the profile's edges
            self._binner = EdgeBinner(np.asarray(profile.edges, dtype=np.float64))
        positions = self._binner.bins(kept)
        self.counts += np.bincount(positions, minlength=self.counts.size)
        # Values below the reference's minimum all sit in the first bin, those above its
        # maximum in the last: only the end bins' values need looking at again.
        low, high = kept[positions == 0], kept[positions == self.counts.size - 1]
        self.end_sums[0] += float(low.sum())
        self.end_sums[1] += float(high.sum())
        self.out_of_bounds += int((low < profile.minimum).sum()) + int((high > profile.maximum).sum())
        self.minimum = min(self.minimum, float(kept.min()))
        self.maximum = max(self.maximum, float(kept.max()))
        if self._kept is not None:
            self._kept.append(kept.copy() if kept is values else kept)  # never a view of the caller's chunk
            if self.present > self.exact_limit:
                self._kept = None  # past the limit: the bins alone bound the memory

    def _add_categorical(
        self, profile: CategoricalProfile, values: npt.NDArray[Any] | pa.Array | pa.ChunkedArray
    ) -> None:
        tally = _tally(values)
        if tally is None:
            self._add_categorical_slowly(profile, _as_numpy(values))
            return
        self.nulls += tally.nulls
        if tally.kind != profile.value_type:  # flags in a text column, numbers, …
            self.type_errors += tally.present
            return
        if self._index is None:
            self._index = {c: i for i, c in enumerate(profile.categories)}
        for category, count in zip(tally.names, tally.counts, strict=True):  # per distinct value
            position = self._index.get(category)
            if position is None:
                self.unseen += count
                self.out_of_bounds += count
            else:
                self.counts[position] += count

    def _add_categorical_slowly(self, profile: CategoricalProfile, values: npt.NDArray[Any]) -> None:
        """Value by value: for object arrays of mixed types, which pyarrow does not read as one."""
        nulls = _null_mask(values)
        self.nulls += int(nulls.sum())
        present = values[~nulls]
        wanted = bool | np.bool_ if profile.value_type == "bool" else str | np.str_
        wrong = np.fromiter((not isinstance(v, wanted) for v in present), dtype=np.bool_, count=present.size)
        self.type_errors += int(wrong.sum())
        names, counts = np.unique(present[~wrong].astype(str), return_counts=True)
        index = {c: i for i, c in enumerate(profile.categories)}
        for category, count in zip(names.tolist(), counts.tolist(), strict=True):
            position = index.get(category)
            if position is None:
                self.unseen += count
                self.out_of_bounds += count
            else:
                self.counts[position] += count


def as_dict(profile: Profile) -> dict[str, Any]:
    """A profile as plain JSON data (:func:`profile_from_dict` reads it back)."""
    return dataclasses.asdict(profile)
