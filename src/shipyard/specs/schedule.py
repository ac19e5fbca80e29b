"""``schedule.yml``: the Azure ML CLI v2 job schedule, as Shipyard reads it.

::

    name: nightly_train
    trigger:
      type: cron                  # or recurrence: frequency, interval, schedule {hours, minutes, …}
      expression: "0 3 * * *"     # 6 fields: the first is the second (a Shipyard extension)
      time_zone: "Pacific Standard Time"   # a Windows name, as Azure writes it, or an IANA key
    create_job: ./train.yml       # a job file beside this one, or an inline job mapping
    catch_up: false               # Shipyard: fire ticks missed while no server ran (the newest 10)

Every problem is an :class:`~shipyard.errors.InvalidSpec` naming the file and the line:
an invalid cron expression or time zone, recurrence fields out of range or meaningless for
the frequency, a ``create_job`` file that does not exist. docs/schedules.md is the reference.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Discriminator, Field, field_validator, model_validator

from shipyard.domain.schedule_ticks import WEEK_DAYS, Trigger, cron_fields
from shipyard.errors import InvalidSpec
from shipyard.specs._base import SpecModel, StrictModel, scalar_map, visible
from shipyard.specs._windows_zones import WINDOWS_ZONES
from shipyard.specs._yaml import LineDict, LoadedText

__all__ = [
    "CronTrigger",
    "LoadedSchedule",
    "RecurrencePattern",
    "RecurrenceTrigger",
    "ScheduleFields",
    "ScheduleSpec",
    "load_schedule",
    "plain",
    "time_zone_key",
    "trigger_of",
]

MAX_INTERVAL = 1000

_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})


def time_zone_key(value: str) -> str:
    """The IANA key of a time zone given as Azure writes it (``Pacific Standard Time``) or as
    an IANA key (``America/Los_Angeles``); ValueError naming close matches otherwise."""
    name = value.strip()
    if name in WINDOWS_ZONES:
        return WINDOWS_ZONES[name]
    if name and not name.startswith(("/", ".")) and ".." not in name:
        try:
            ZoneInfo(name)
            return name
        except (ZoneInfoNotFoundError, ValueError):
            pass
    # Azure takes names in any case (its own examples write `utc`): match them so, when one
    # name alone matches.
    folded = [z for z in [*WINDOWS_ZONES, *available_timezones()] if z.casefold() == name.casefold()]
    if len(set(folded)) == 1:
        return time_zone_key(folded[0])
    close = difflib.get_close_matches(name, [*WINDOWS_ZONES, *available_timezones()], n=2, cutoff=0.7)
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    raise ValueError(
        f"unknown time zone {value!r}{hint}: use an IANA name such as 'Europe/Paris' or"
        " 'America/Los_Angeles', or a Windows name as Azure ML writes them ('Pacific Standard Time')"
    )


def _moment(value: Any) -> Any:
    """``start_time``/``end_time``: ISO 8601 text, or the date-time YAML read; kept as text."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return datetime.combine(value, time()).isoformat()
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{value!r} is not a date and time; write it as ISO 8601, e.g. '2025-07-10T10:00:00'"
                " (read in the trigger's time_zone) or '2025-07-10T10:00:00+02:00'"
            ) from None
        return value.strip()
    return value


def _ints(value: Any) -> Any:
    """``hours: 4`` is ``hours: [4]``, as in Azure ML."""
    return [value] if isinstance(value, int) and not isinstance(value, bool) else value


class _TriggerBase(StrictModel):
    start_time: str | None = None
    end_time: str | None = None
    time_zone: str = "UTC"

    _moments = field_validator("start_time", "end_time", mode="before")(_moment)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        time_zone_key(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> _TriggerBase:
        zone = ZoneInfo(time_zone_key(self.time_zone))
        start, end = _ms(self.start_time, zone), _ms(self.end_time, zone)
        if start is not None and end is not None and end <= start:
            raise ValueError(f"end_time {self.end_time} is not after start_time {self.start_time}")
        return self


class CronTrigger(_TriggerBase):
    type: Literal["cron"]
    expression: str

    @field_validator("expression")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter

        text = " ".join(value.split())
        fields = cron_fields(text)
        if fields == 1 and text not in _MACROS:
            raise ValueError(
                f"{value!r} is not a cron expression; the shortcuts are {', '.join(sorted(_MACROS))}"
            )
        if fields not in (1, 5, 6):
            raise ValueError(
                f"{value!r} has {fields} fields; a cron expression has 5 (minute hour day-of-month"
                " month day-of-week), or 6 with the second first (a Shipyard extension)"
            )
        if not croniter.is_valid(text, second_at_beginning=fields == 6):
            raise ValueError(
                f"{value!r} is not a valid cron expression (minute 0-59, hour 0-23, day of month"
                " 1-31, month 1-12, day of week 0-6; with 6 fields the first is the second, 0-59)"
            )
        return text


class RecurrencePattern(StrictModel):
    hours: list[Annotated[int, Field(ge=0, le=23)]] = Field(min_length=1)
    minutes: list[Annotated[int, Field(ge=0, le=59)]] = Field(min_length=1)
    week_days: list[str] = Field(default_factory=list)
    month_days: list[Annotated[int, Field(ge=1, le=31)]] = Field(default_factory=list)

    _lists = field_validator("hours", "minutes", "month_days", mode="before")(_ints)

    @field_validator("week_days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        days = [value] if isinstance(value, str) else value
        if not isinstance(days, list):
            return days
        for day in days:
            if not isinstance(day, str) or day.strip().lower() not in WEEK_DAYS:
                raise ValueError(f"{day!r} is not a day of the week; use {', '.join(WEEK_DAYS)}")
        return [d.strip().lower() for d in days]


class RecurrenceTrigger(_TriggerBase):
    type: Literal["recurrence"]
    frequency: Literal["minute", "hour", "day", "week", "month"]
    interval: int = Field(ge=1, le=MAX_INTERVAL)
    schedule: RecurrencePattern | None = None

    @model_validator(mode="after")
    def _pattern_fits(self) -> RecurrenceTrigger:
        pattern = self.schedule
        if pattern is None:
            return self
        if self.frequency in ("minute", "hour"):
            raise ValueError(
                f"a schedule (hours, minutes…) applies to frequency day, week or month, not"
                f" {self.frequency}: every {self.interval} {self.frequency}(s) counts from start_time"
            )
        if pattern.week_days and self.frequency == "day":
            raise ValueError("week_days applies to frequency week or month, not day")
        if pattern.month_days and self.frequency != "month":
            raise ValueError(f"month_days applies to frequency month, not {self.frequency}")
        if pattern.month_days and pattern.week_days:
            raise ValueError("give month_days or week_days, not both")
        return self


class ScheduleFields(SpecModel):
    """A schedule file but its ``create_job`` (what the server is sent beside the job body)."""

    spec_kind: ClassVar[str] = "schedule"

    name: Annotated[str, visible("schedule")] = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
    display_name: Annotated[str | None, visible("display_name")] = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, Any] | None = None
    trigger: Annotated[CronTrigger | RecurrenceTrigger, Discriminator("type")]
    # A Shipyard extension: fire ticks missed while no server ran (bounded), not only report them.
    catch_up: bool = False

    _scalars = field_validator("tags", mode="before")(scalar_map)


class ScheduleSpec(ScheduleFields):
    """``shipyard schedule create -f schedule.yml``."""

    create_job: str | dict[str, Any]

    @field_validator("create_job")
    @classmethod
    def _job(cls, value: str | dict[str, Any]) -> str | dict[str, Any]:
        if isinstance(value, str) and value.strip().startswith("azureml:"):
            raise ValueError(
                f"{value!r} names an existing job, which Shipyard does not re-run: give the job"
                " file (create_job: ./job.yml) or the job inline"
            )
        return value


def _ms(value: str | None, zone: ZoneInfo) -> int | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return int(moment.astimezone(UTC).timestamp() * 1000)


def trigger_of(spec: CronTrigger | RecurrenceTrigger, created_at: int) -> Trigger:
    """The trigger a schedule made at ``created_at`` (UTC ms) fires on; a recurrence without
    ``start_time`` counts from its creation (to the second), as in Azure ML."""
    zone_key = time_zone_key(spec.time_zone)
    zone = ZoneInfo(zone_key)
    start, end = _ms(spec.start_time, zone), _ms(spec.end_time, zone)
    anchor = start if start is not None else created_at - created_at % 1000
    if isinstance(spec, CronTrigger):
        return Trigger("cron", anchor, zone_key, start, end, expression=spec.expression)
    pattern = spec.schedule
    return Trigger(
        "recurrence",
        anchor,
        zone_key,
        start,
        end,
        frequency=spec.frequency,
        interval=spec.interval,
        hours=tuple(sorted(set(pattern.hours))) if pattern else (),
        minutes=tuple(sorted(set(pattern.minutes))) if pattern else (),
        week_days=tuple(sorted({WEEK_DAYS.index(d) for d in pattern.week_days})) if pattern else (),
        month_days=tuple(sorted(set(pattern.month_days))) if pattern else (),
    )


def plain(value: Any) -> Any:
    """A file's mapping as JSON can carry it (YAML's date-times become ISO text)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@dataclass(frozen=True)
class LoadedSchedule:
    """A schedule file read and checked, with the job it fires loaded like ``job create -f``.

    ``fields`` is the file's mapping but ``create_job`` (sent as the schedule's ``spec``);
    ``job`` is a :class:`~shipyard.specs.loaded.LoadedJob` or ``LoadedComposite``."""

    spec: ScheduleSpec
    source: Path
    fields: Mapping[str, Any]
    job: Any


def load_schedule(path: Path, overrides: Sequence[str] = ()) -> LoadedSchedule:
    """Read ``path`` (with ``--set`` overrides), then the job its ``create_job`` names or holds."""
    text = LoadedText.read(path, ScheduleSpec, overrides)
    spec = text.validate(ScheduleSpec)
    source = path.resolve()
    job = _load_job(spec.create_job, text, source)
    fields = {k: v for k, v in text.data.items() if k != "create_job"}
    return LoadedSchedule(spec=spec, source=source, fields=plain(fields), job=job)


def _load_job(create_job: str | dict[str, Any], text: LoadedText, source: Path) -> Any:
    from shipyard.specs.loaded import load_any

    if isinstance(create_job, str):
        return load_any(_job_file(create_job, source, text, "create_job"), ())
    given = text.data["create_job"]
    if "job" in given:
        # Azure's form: a job file and values that change it (settings, inputs, tags…).
        file = _job_file(str(given["job"]), source, text, "create_job.job")
        changes = {k: v for k, v in given.items() if k not in ("job", "type")}
        return load_any(file, _as_overrides(changes, text))
    return _inline_job(given, text, source)


def _job_file(value: str, source: Path, text: LoadedText, field: str) -> Path:
    if value.strip().startswith("azureml:"):
        raise text.locate(
            InvalidSpec(f"{value!r} names an existing job; give the job file or the job inline", field=field)
        )
    file = (source.parent / Path(value.strip()).expanduser()).resolve()
    if not file.is_file():
        raise text.locate(
            InvalidSpec(
                f"create_job: the job file '{value}' does not exist ({file}); paths are relative"
                f" to the schedule file's folder",
                field=field,
            )
        )
    return file


def _as_overrides(changes: Mapping[str, Any], text: LoadedText, prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in changes.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.extend(_as_overrides(value, text, f"{dotted}."))
        elif isinstance(value, list):
            raise text.locate(
                InvalidSpec(
                    f"create_job.{dotted}: a list cannot change the job file's value",
                    field=f"create_job.{dotted}",
                )
            )
        elif isinstance(value, bool):
            out.append(f"{dotted}={'true' if value else 'false'}")
        else:
            out.append(f"{dotted}={'' if value is None else value}")
    return out


def _inline_job(given: LineDict, text: LoadedText, source: Path) -> Any:
    from shipyard.specs.job import CommandJobSpec
    from shipyard.specs.loaded import loaded_command

    kind = str(given.get("type") or "command")
    if kind != "command":
        raise text.locate(
            InvalidSpec(
                f"an inline {kind} job is not supported yet: put it in a file and give its path"
                " (create_job: ./job.yml)",
                field="create_job.type",
            )
        )
    # The inline mapping keeps the lines of the schedule file: errors point into it.
    inner = LoadedText.__new__(LoadedText)
    inner.source, inner.data, inner.overridden = text.source, given, {}
    spec = inner.validate(CommandJobSpec)
    return loaded_command(spec, given, source, inner)
