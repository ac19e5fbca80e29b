"""Forecasting's regular grid: gaps closed so a lag of 7 is 7 days, the frequency named or
inferred, and a named frequency the times do not fit refused with the reason."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from shipyard.automl.forecasting import prepare_series
from shipyard.automl.gaps import regular_grid
from shipyard.domain.automl import AutoMLSettings, ForecastingSettings
from shipyard.errors import InvalidArgument
from tests.unit.automl.conftest import make_series


def _settings(frequency: str | None = None) -> AutoMLSettings:
    return AutoMLSettings(
        task="forecasting",
        target_column_name="sales",
        forecasting=ForecastingSettings(
            time_column_name="date",
            time_series_id_column_names=("store",),
            forecast_horizon=7,
            frequency=frequency,
        ),
    )


def _with_gaps(series: pd.DataFrame) -> pd.DataFrame:
    """Days 10-12 of store s0 and day 40 of store s2 taken out."""
    day = pd.to_datetime(series["date"])
    start = pd.Timestamp("2024-01-01")
    gone = (
        (series["store"] == "s0") & day.between(start + pd.Timedelta(days=10), start + pd.Timedelta(days=12))
    ) | ((series["store"] == "s2") & (day == start + pd.Timedelta(days=40)))
    return series[~gone].reset_index(drop=True)


@pytest.mark.parametrize("frequency", [None, "D"])
def test_missing_days_are_added_back_with_the_last_known_target(frequency: str | None) -> None:
    full = make_series()
    prepared = prepare_series(_settings(frequency), _with_gaps(full))
    assert prepared.frequency == "D" and prepared.filled == 4
    assert len(prepared.frame) == len(full)
    s0 = prepared.frame[prepared.frame["store"] == "s0"].reset_index(drop=True)
    assert list(s0["date"]) == list(pd.date_range("2024-01-01", periods=90, freq="D"))
    # Target carried forward from day 9; the id and the other columns filled within the series.
    assert list(s0.loc[10:12, "sales"]) == [s0.loc[9, "sales"]] * 3
    assert set(s0["store"]) == {"s0"} and s0["promo"].notna().all()
    # A lag of 7 reads 7 days back again: day 13's lag-7 row is day 6.
    assert s0.loc[13, "date"] - s0.loc[6, "date"] == pd.Timedelta(days=7)


def test_a_complete_table_is_left_as_it_is_and_its_frequency_inferred() -> None:
    full = make_series()
    prepared = prepare_series(_settings(), full)
    assert prepared.frequency == "D" and prepared.filled == 0 and len(prepared.frame) == len(full)


def test_weekly_data_on_mondays_is_inferred_as_such() -> None:
    weeks = pd.DataFrame(
        {"date": pd.date_range("2024-01-01", periods=30, freq="W-MON"), "sales": range(30)}
    ).drop(index=[5, 6])
    grid = regular_grid(weeks, "date", (), "sales", None)
    assert grid.frequency == "W-MON" and grid.filled == 2 and len(grid.frame) == 30


def test_irregular_times_are_left_alone_when_no_frequency_is_named() -> None:
    odd = pd.DataFrame(
        {
            "date": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-04 06:00", "2024-01-09"], format="mixed"
            ),
            "sales": [1, 2, 3, 4],
        }
    )
    grid = regular_grid(odd, "date", (), "sales", None)
    assert grid.frequency is None and grid.filled == 0 and grid.frame is odd


def test_a_named_frequency_the_times_do_not_sit_on_is_refused() -> None:
    odd = make_series(stores=1, days=20)
    odd.loc[5, "date"] = "2024-01-06 12:00"
    with pytest.raises(
        InvalidArgument, match=r"2024-01-06 12:00:00 of \{'store': 's0'\} is not on the 'D' grid"
    ):
        prepare_series(_settings("D"), odd)


def test_a_frequency_that_would_blow_the_table_up_is_refused() -> None:
    with pytest.raises(InvalidArgument, match=r"'min' would make \{'store': 's0'\} 128161 rows from its 90"):
        prepare_series(_settings("min"), make_series())


def test_a_frequency_pandas_does_not_know_is_refused_with_examples() -> None:
    with pytest.raises(
        InvalidArgument, match=r"'fortnightly' is not a pandas offset alias: use one such as 'D'"
    ):
        prepare_series(_settings("fortnightly"), make_series())


def test_rows_to_score_are_not_filled() -> None:
    prepared = prepare_series(_settings("D"), _with_gaps(make_series()), "test")
    assert prepared.filled == 0 and len(prepared.frame) == len(make_series()) - 4


def test_auto_lags_add_one_season_of_the_frequency_when_the_history_holds_it() -> None:
    from shipyard.automl.forecasting import choose_lags
    from shipyard.automl.gaps import season_of

    fc = _settings().forecasting
    assert fc is not None
    assert [season_of(f) for f in ("D", "h", "W-MON", "MS", "QS-JAN", "15min", "2D")] == [
        7,
        24,
        52,
        12,
        4,
        None,
        None,
    ]
    assert choose_lags(fc, "D", 90) == (1, 2, 3, 7)  # horizon 7 = the season
    assert choose_lags(replace(fc, forecast_horizon=14), "D", 90) == (1, 2, 3, 7, 14)
    assert choose_lags(replace(fc, forecast_horizon=14), "D", 40) == (1, 2, 3, 14)  # too short for a season
    assert choose_lags(replace(fc, forecast_horizon=2), "h", 200) == (1, 2, 3, 24)
    assert choose_lags(replace(fc, forecast_horizon=2, seasonality=5), "D", 200) == (1, 2, 3, 5)  # the file's
    assert choose_lags(replace(fc, forecast_horizon=2, seasonality=1), "D", 200) == (1, 2, 3)  # none
    assert choose_lags(replace(fc, target_lags=(1, 4)), "D", 200) == (1, 4)  # the file's lags win
    assert prepare_series(_settings(), make_series()).lags == (1, 2, 3, 7)
