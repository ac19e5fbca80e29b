"""When triggers fire, and what a firing pass does with a schedule's due ticks (a fake clock)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice
from zoneinfo import ZoneInfo

from shipyard.domain.schedule_ticks import Trigger, tick_at_or_before, ticks_after, ticks_before
from shipyard.domain.schedules import CATCH_UP_MAX, fired_job_name, next_ticks, plan

S = 1000
PARIS = ZoneInfo("Europe/Paris")


def ms(*args: int, tz: ZoneInfo | None = None) -> int:
    return int(datetime(*args, tzinfo=tz or UTC).timestamp() * 1000)  # type: ignore[misc]


def local(moments: list[int], tz: ZoneInfo) -> list[str]:
    return [datetime.fromtimestamp(m / 1000, tz).strftime("%a %Y-%m-%d %H:%M:%S") for m in moments]


def test_cron_in_a_time_zone_keeps_wall_clock_time_across_dst() -> None:
    trigger = Trigger("cron", 0, "Europe/Paris", expression="0 9 * * *")
    ticks = next_ticks(trigger, ms(2025, 3, 29, 12), 2)
    assert local(ticks, PARIS) == ["Sun 2025-03-30 09:00:00", "Mon 2025-03-31 09:00:00"]
    assert ticks[1] - ticks[0] == 24 * 3600 * S  # the clocks went forward on the 30th, before 09:00


def test_six_fields_put_the_second_first() -> None:
    trigger = Trigger("cron", 0, expression="*/20 * * * * *")
    assert next_ticks(trigger, ms(2025, 1, 1, 0, 0, 5), 3) == [
        ms(2025, 1, 1, 0, 0, 20), ms(2025, 1, 1, 0, 0, 40), ms(2025, 1, 1, 0, 1, 0),
    ]  # fmt: skip


def test_cron_start_and_end_bound_its_ticks() -> None:
    trigger = Trigger("cron", 0, start_at=ms(2025, 1, 1, 3), end_at=ms(2025, 1, 1, 5), expression="0 * * * *")
    assert list(ticks_after(trigger, ms(2025, 1, 1))) == [ms(2025, 1, 1, h) for h in (3, 4, 5)]
    assert list(ticks_before(trigger, ms(2025, 1, 2))) == [ms(2025, 1, 1, h) for h in (5, 4, 3)]


def test_minute_recurrence_counts_from_its_anchor_not_the_hour() -> None:
    anchor = ms(2025, 1, 1, 10, 7)
    trigger = Trigger("recurrence", anchor, frequency="minute", interval=15)
    assert next_ticks(trigger, anchor - 1, 3) == [anchor, anchor + 15 * 60 * S, anchor + 30 * 60 * S]
    assert tick_at_or_before(trigger, anchor + 29 * 60 * S) == anchor + 15 * 60 * S
    assert tick_at_or_before(trigger, anchor - 1) is None


def test_day_recurrence_every_other_day_at_the_pattern_times() -> None:
    anchor = ms(2025, 1, 1, 12, tz=PARIS)
    trigger = Trigger(
        "recurrence", anchor, "Europe/Paris", frequency="day", interval=2, hours=(4, 16), minutes=(0, 30)
    )
    assert local(next_ticks(trigger, anchor, 5), PARIS) == [
        "Wed 2025-01-01 16:00:00", "Wed 2025-01-01 16:30:00",
        "Fri 2025-01-03 04:00:00", "Fri 2025-01-03 04:30:00", "Fri 2025-01-03 16:00:00",
    ]  # fmt: skip


def test_week_recurrence_on_week_days_every_two_weeks() -> None:
    anchor = ms(2025, 1, 1)  # a Wednesday
    trigger = Trigger(
        "recurrence", anchor, frequency="week", interval=2, hours=(9,), minutes=(0,), week_days=(0, 4)
    )
    assert local(next_ticks(trigger, anchor, 4), ZoneInfo("UTC")) == [
        "Fri 2025-01-03 09:00:00", "Mon 2025-01-13 09:00:00", "Fri 2025-01-17 09:00:00", "Mon 2025-01-27 09:00:00",
    ]  # fmt: skip


def test_month_recurrence_skips_days_a_month_lacks() -> None:
    anchor = ms(2025, 1, 15)
    trigger = Trigger(
        "recurrence", anchor, frequency="month", interval=1, hours=(0,), minutes=(0,), month_days=(31,)
    )
    assert local(next_ticks(trigger, anchor, 3), ZoneInfo("UTC")) == [
        "Fri 2025-01-31 00:00:00", "Mon 2025-03-31 00:00:00", "Sat 2025-05-31 00:00:00",
    ]  # fmt: skip


def test_a_pattern_that_never_matches_again_ends_instead_of_looping() -> None:
    anchor = ms(2025, 1, 15)
    trigger = Trigger(
        "recurrence", anchor, frequency="month", interval=12, hours=(0,), minutes=(0,), month_days=(30,)
    )
    assert next_ticks(trigger, anchor, 3) == [ms(2025, 1, 30), ms(2026, 1, 30), ms(2027, 1, 30)]
    never = Trigger(
        "recurrence",
        ms(2025, 2, 1),
        frequency="month",
        interval=12,
        hours=(0,),
        minutes=(0,),
        month_days=(30,),
    )
    assert next_ticks(never, 0, 1) == []


def test_walking_back_matches_walking_forward() -> None:
    anchor = ms(2025, 1, 1, tz=PARIS)
    trigger = Trigger(
        "recurrence",
        anchor,
        "Europe/Paris",
        frequency="week",
        interval=1,
        hours=(2, 3),
        minutes=(30,),
        week_days=(6,),
    )
    forward = next_ticks(trigger, anchor, 20)  # across the spring-forward Sunday
    backward = list(islice(ticks_before(trigger, forward[-1] + 1), 20))
    assert backward[::-1] == forward
    assert len(set(forward)) == len(forward)


# -- plan: what a pass does --------------------------------------------------------------

EVERY_10S = Trigger("cron", 0, expression="*/10 * * * * *")
T0 = ms(2025, 1, 1)


def test_a_due_tick_fires_once_and_moves_the_cursor() -> None:
    step = plan(EVERY_10S, T0, T0 + 10 * S + 200, late_limit_ms=60 * S, catch_up=False)
    assert step.fire == (T0 + 10 * S,) and step.missed is None and step.cursor == T0 + 10 * S
    again = plan(EVERY_10S, step.cursor, T0 + 10 * S + 700, late_limit_ms=60 * S, catch_up=False)
    assert again.fire == () and again.cursor is None


def test_ticks_older_than_the_late_limit_are_reported_missed_not_fired() -> None:
    now = T0 + 300 * S + 500  # the server was down for 5 minutes
    step = plan(EVERY_10S, T0, now, late_limit_ms=60 * S, catch_up=False)
    assert step.fire == tuple(T0 + s * S for s in range(250, 301, 10))  # the last minute's: late, not missed
    assert step.missed == (T0 + 10 * S, T0 + 240 * S, 24)
    assert step.cursor == T0 + 300 * S


def test_catch_up_fires_the_newest_missed_ticks_and_reports_the_rest() -> None:
    now = T0 + 3600 * S
    step = plan(EVERY_10S, T0, now, late_limit_ms=0, catch_up=True)
    assert len(step.caught_up) == CATCH_UP_MAX
    assert min(step.caught_up) == T0 + (3600 - 10 * (CATCH_UP_MAX - 1)) * S
    assert step.missed == (T0 + 10 * S, min(step.caught_up) - 10 * S, 360 - CATCH_UP_MAX)
    few = plan(EVERY_10S, T0, T0 + 30 * S, late_limit_ms=0, catch_up=True)
    assert few.fire == (T0 + 10 * S, T0 + 20 * S, T0 + 30 * S) and few.missed is None


def test_a_very_long_outage_is_counted_up_to_a_cap_in_bounded_work() -> None:
    every_second = Trigger("cron", 0, expression="* * * * * *")
    step = plan(every_second, T0, T0 + 7 * 24 * 3600 * S, late_limit_ms=0, catch_up=False)
    assert step.missed is not None and step.missed[2] == 10_000
    assert step.missed[1] == T0 + 7 * 24 * 3600 * S  # the newest found by walking back from now


def test_fired_job_names_are_fixed_by_the_tick() -> None:
    assert fired_job_name("nightly_train", ms(2025, 7, 10, 3, 0, 5)) == "nightly_train-20250710-030005"
