"""When a schedule's trigger fires: its ticks after (or at or before) a moment, in UTC milliseconds.

Two trigger types, as in Azure ML's schedule files:

- ``cron``: a 5-field expression (minute hour day-of-month month day-of-week), or a 6-field one
  whose *first* field is the second (a Shipyard extension, as in Quartz and Spring; Azure ML
  takes 5 fields only), read by croniter in the trigger's time zone.
- ``recurrence``: ``frequency`` (minute, hour, day, week, month) every ``interval`` of them,
  counted from the trigger's *anchor* (its ``start_time``, else the schedule's creation), at the
  ``hours`` by ``minutes`` of the pattern on its ``week_days`` or ``month_days``. Computed
  directly, period by period, so that ticks can be walked both forward and backward (the
  firing loop looks back from *now* to find the newest missed ticks without walking every
  tick of a long outage).

Minute and hour recurrences are absolute durations (every 2 hours is 7,200 s, whatever the
clocks do); day, week and month ones are wall-clock times in the time zone. A wall-clock time
that does not exist (a spring-forward gap) fires at the same instant as the time one hour
later would (zoneinfo's ``fold=0`` reading), and one that exists twice (fall back) fires once,
at its first occurrence.

Ticks are whole seconds. Nothing here reads a clock: callers pass *now*.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

__all__ = [
    "FREQUENCIES",
    "WEEK_DAYS",
    "Trigger",
    "cron_fields",
    "tick_at_or_before",
    "ticks_after",
    "ticks_before",
]

FREQUENCIES = ("minute", "hour", "day", "week", "month")
WEEK_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ABSOLUTE_S = {"minute": 60, "hour": 3600}
_MS = 1000
_EMPTY_PERIODS = 400


@dataclass(frozen=True, slots=True)
class Trigger:
    """A validated trigger (``specs/schedule.py`` checks the file; the service the values).

    ``time_zone`` is an IANA key (``America/Los_Angeles``); ``anchor_at`` is where a recurrence
    counts its intervals from (``start_at`` when given, else the schedule's creation); times are
    UTC milliseconds. ``week_days`` are 0 (Monday) to 6."""

    type: Literal["cron", "recurrence"]
    anchor_at: int
    time_zone: str = "UTC"
    start_at: int | None = None
    end_at: int | None = None
    expression: str = ""
    frequency: str = ""
    interval: int = 1
    hours: tuple[int, ...] = ()
    minutes: tuple[int, ...] = ()
    week_days: tuple[int, ...] = ()
    month_days: tuple[int, ...] = ()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", ZoneInfo(self.time_zone))

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "anchor_at": self.anchor_at,
            "time_zone": self.time_zone,
            "start_at": self.start_at,
            "end_at": self.end_at,
        }
        if self.type == "cron":
            out["expression"] = self.expression
        else:
            out |= {
                "frequency": self.frequency,
                "interval": self.interval,
                "hours": list(self.hours),
                "minutes": list(self.minutes),
                "week_days": [WEEK_DAYS[d] for d in self.week_days],
                "month_days": list(self.month_days),
            }
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trigger:
        return cls(
            type=data["type"],
            anchor_at=int(data["anchor_at"]),
            time_zone=data.get("time_zone") or "UTC",
            start_at=data.get("start_at"),
            end_at=data.get("end_at"),
            expression=data.get("expression") or "",
            frequency=data.get("frequency") or "",
            interval=int(data.get("interval") or 1),
            hours=tuple(data.get("hours") or ()),
            minutes=tuple(data.get("minutes") or ()),
            week_days=tuple(WEEK_DAYS.index(d) for d in data.get("week_days") or ()),
            month_days=tuple(data.get("month_days") or ()),
        )


def cron_fields(expression: str) -> int:
    """How many time fields a cron expression has (1 for ``@hourly`` and its kin)."""
    return 1 if expression.strip().startswith("@") else len(expression.split())


def ticks_after(trigger: Trigger, after: int) -> Iterator[int]:
    """The trigger's ticks strictly after ``after`` (UTC ms), ascending, until its end."""
    lower = after if trigger.start_at is None else max(after, trigger.start_at - 1)
    source = _cron_after(trigger, lower) if trigger.type == "cron" else _recurrence_after(trigger, lower)
    for tick in source:
        if trigger.end_at is not None and tick > trigger.end_at:
            return
        yield tick


def ticks_before(trigger: Trigger, before: int) -> Iterator[int]:
    """The trigger's ticks strictly before ``before`` (UTC ms), descending, down to its start."""
    upper = before if trigger.end_at is None else min(before, trigger.end_at + 1)
    source = _cron_before(trigger, upper) if trigger.type == "cron" else _recurrence_before(trigger, upper)
    for tick in source:
        if trigger.start_at is not None and tick < trigger.start_at:
            return
        yield tick


def tick_at_or_before(trigger: Trigger, moment: int) -> int | None:
    return next(ticks_before(trigger, moment + 1), None)


# -- cron ----------------------------------------------------------------------------------


def _croniter(trigger: Trigger, start: int, *, backward: bool) -> Any:
    from croniter import croniter  # the CLI never needs it

    moment = datetime.fromtimestamp(start / _MS, tz=trigger.zone)
    six = cron_fields(trigger.expression) == 6
    return croniter(trigger.expression, moment, is_prev=backward, second_at_beginning=six)


def _cron_after(trigger: Trigger, after: int) -> Iterator[int]:
    # From the last whole second at or before `after`: croniter returns ticks strictly later.
    it = _croniter(trigger, after - after % _MS, backward=False)
    while True:
        yield int(it.get_next(datetime).timestamp()) * _MS


def _cron_before(trigger: Trigger, before: int) -> Iterator[int]:
    # From the first whole second at or after `before`: croniter returns ticks strictly earlier.
    it = _croniter(trigger, before + (-before) % _MS, backward=True)
    while True:
        yield int(it.get_prev(datetime).timestamp()) * _MS


# -- recurrence: period k holds the ticks of the k-th interval from the anchor ----------------


def _recurrence_after(trigger: Trigger, after: int) -> Iterator[int]:
    k = max(0, _period_of(trigger, after))
    empty = 0
    # A pattern may never match again (the 30th of February, every 12 months from one):
    # stop after this many empty periods in a row rather than look forever.
    while empty < _EMPTY_PERIODS:
        ticks = [t for t in _period_ticks(trigger, k) if t > after]
        empty = 0 if ticks else empty + 1
        yield from ticks
        k += 1


def _recurrence_before(trigger: Trigger, before: int) -> Iterator[int]:
    k = _period_of(trigger, before)
    while k >= 0:
        for tick in reversed(_period_ticks(trigger, k)):
            if tick < before:
                yield tick
        k -= 1


def _local(trigger: Trigger, moment: int) -> datetime:
    return datetime.fromtimestamp(moment / _MS, tz=trigger.zone).replace(tzinfo=None)


def _utc_ms(trigger: Trigger, wall: datetime) -> int:
    return int(wall.replace(tzinfo=trigger.zone).astimezone(UTC).timestamp()) * _MS


def _period_of(trigger: Trigger, moment: int) -> int:
    """The period holding ``moment`` (negative before the anchor's)."""
    if trigger.frequency in _ABSOLUTE_S:
        return (moment - trigger.anchor_at) // (_ABSOLUTE_S[trigger.frequency] * trigger.interval * _MS)
    here, anchor = _local(trigger, moment).date(), _local(trigger, trigger.anchor_at).date()
    if trigger.frequency == "day":
        return (here - anchor).days // trigger.interval
    if trigger.frequency == "week":
        return (_monday(here) - _monday(anchor)).days // (7 * trigger.interval)
    return ((here.year - anchor.year) * 12 + here.month - anchor.month) // trigger.interval


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _period_ticks(trigger: Trigger, k: int) -> list[int]:
    """Period ``k``'s ticks, ascending, none before the anchor."""
    if trigger.frequency in _ABSOLUTE_S:
        return [trigger.anchor_at + k * _ABSOLUTE_S[trigger.frequency] * trigger.interval * _MS]
    anchor = _local(trigger, trigger.anchor_at)
    if trigger.hours:
        times = sorted((h, m, 0) for h in trigger.hours for m in trigger.minutes)
    else:
        times = [(anchor.hour, anchor.minute, anchor.second)]
    ticks = {
        _utc_ms(trigger, datetime(day.year, day.month, day.day, h, m, s))
        for day in _period_days(trigger, anchor.date(), k)
        for h, m, s in times
    }
    return sorted(t for t in ticks if t >= trigger.anchor_at)


def _period_days(trigger: Trigger, anchor: date, k: int) -> list[date]:
    if trigger.frequency == "day":
        return [anchor + timedelta(days=k * trigger.interval)]
    if trigger.frequency == "week":
        start = _monday(anchor) + timedelta(weeks=k * trigger.interval)
        return [start + timedelta(days=d) for d in sorted(trigger.week_days or (anchor.weekday(),))]
    months = anchor.year * 12 + anchor.month - 1 + k * trigger.interval
    year, month = divmod(months, 12)
    month += 1
    length = calendar.monthrange(year, month)[1]
    if trigger.week_days:
        days = (date(year, month, d) for d in range(1, length + 1))
        return [day for day in days if day.weekday() in trigger.week_days]
    # A day the month does not have (the 31st in April) is skipped, as Azure ML does.
    return [date(year, month, d) for d in sorted(trigger.month_days or (anchor.day,)) if d <= length]
