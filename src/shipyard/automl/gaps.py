"""Forecasting's regular grid: the frequency of the series and the rows missing from it.

The forecaster's lags count rows ("the value 7 rows before"), so a missing day would make a
lag of 7 read 8 days back. Before anything is fitted each training series is put on a regular
grid of its frequency — ``forecasting.frequency`` when the file names one (a pandas offset
alias, as Azure ML takes), else inferred — and the rows it lacks are added: the target carried
forward from the last known value (Azure's default imputation for a forecasting target), the
other columns forward- then backward-filled within the series.

An inferred frequency that the data does not support (irregular times, no common step) leaves
the table as it is; a named one that the times do not sit on is an error that says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra

from shipyard.errors import InvalidArgument

__all__ = ["Grid", "regular_grid", "season_of"]

#: A named frequency may grow a series at most this many times (a typo such as "min" for
#: daily data would otherwise make a table 1,440 times larger before failing for memory).
_MAX_GROWTH = 10


@dataclass(frozen=True, slots=True)
class Grid:
    frame: pd.DataFrame
    frequency: str | None  # the pandas alias used, None when no regular grid was found
    filled: int  # rows added


def _offset(alias: str) -> Any:
    from pandas.tseries.frequencies import to_offset  # type: ignore[import-untyped]

    try:
        return to_offset(alias)
    except ValueError:
        raise InvalidArgument(
            f"forecasting.frequency {alias!r} is not a pandas offset alias: use one such as "
            "'D' (daily), 'W' (weekly), 'MS' (month start), 'h' (hourly)"
        ) from None


def _inferred(groups: Sequence[pd.DatetimeIndex]) -> Any:
    """The first series pandas can name a frequency for; else the smallest step when every
    step of every series is a whole multiple of it (a daily series with days missing)."""
    for times in sorted(groups, key=len, reverse=True):
        # freq="infer" gives the offset itself (pandas 3 warns that infer_freq's string goes).
        if len(times) >= 3 and (found := pd.DatetimeIndex(times, freq="infer").freq) is not None:
            return found
    steps = pd.Series(
        [step for times in groups for step in times.to_series().diff().dropna()], dtype="timedelta64[ns]"
    )
    if steps.empty or (smallest := steps.min()) <= pd.Timedelta(0):
        return None
    if ((steps.astype("int64") % smallest.value) != 0).any():
        return None
    # Named as pandas would name the full grid ("W-MON" rather than "168h" for Monday weeks).
    longest = max(groups, key=len)
    full = pd.date_range(longest[0], longest[-1], freq=smallest)
    return pd.DatetimeIndex(full.tolist(), freq="infer").freq if len(full) >= 3 else full.freq


def regular_grid(
    frame: pd.DataFrame, time_column: str, ids: Sequence[str], target: str, frequency: str | None
) -> Grid:
    """``frame`` sorted by ``ids`` then time, its dates parsed; each series reindexed onto its
    grid from its first time to its last."""
    named = frequency is not None
    groups = list(frame.groupby(list(ids), sort=False)) if ids else [((), frame)]
    stamps = [pd.DatetimeIndex(g[time_column]) for _, g in groups]
    offset = _offset(frequency) if frequency is not None else _inferred(stamps)
    if offset is None:
        return Grid(frame, None, 0)
    filled, parts = 0, []
    for (key, group), times in zip(groups, stamps, strict=True):
        if len(times) == 0:
            continue
        grid = pd.date_range(times[0], times[-1], freq=offset)
        keys = key if isinstance(key, tuple) else (key,)
        label = dict(zip(ids, keys, strict=True)) if ids else "the series"
        if len(grid) > _MAX_GROWTH * len(times) + 1:
            if named:
                raise InvalidArgument(
                    f"forecasting.frequency {frequency!r} would make {label} {len(grid)} rows from its "
                    f"{len(times)}: is that the data's frequency?"
                )
            return Grid(frame, None, 0)
        off_grid = times.difference(grid)
        if len(off_grid):
            if named:
                raise InvalidArgument(
                    f"time {off_grid[0]} of {label} is not on the {frequency!r} grid starting "
                    f"{times[0]}: name the data's frequency or leave forecasting.frequency out"
                )
            return Grid(frame, None, 0)
        regular = group.set_index(time_column).reindex(grid)
        filled += len(grid) - len(times)
        regular[target] = regular[target].ffill()
        others = [c for c in regular.columns if c != target and c not in ids]
        regular[others] = regular[others].ffill().bfill()
        for column, value in label.items() if isinstance(label, dict) else ():
            regular[column] = value
        parts.append(regular.rename_axis(time_column).reset_index()[list(frame.columns)])
    out = pd.concat(parts, ignore_index=True) if parts else frame
    return Grid(out, offset.freqstr, filled)


#: The season of a frequency's unit, when it has an obvious one (Azure's ``seasonality: auto``
#: detects it from the data; here it is read from the frequency).
_SEASONS = {"D": 7, "B": 5, "h": 24, "W": 52, "MS": 12, "ME": 12, "QS": 4, "QE": 4}


def season_of(frequency: str | None) -> int | None:
    """Periods in one season of ``frequency`` ("D" → 7: a week), None for a multiple ("15min",
    "2D") or a unit without one."""
    if frequency is None:
        return None
    offset = _offset(frequency)
    if offset.n != 1:
        return None
    return _SEASONS.get(offset.rule_code.split("-")[0])
