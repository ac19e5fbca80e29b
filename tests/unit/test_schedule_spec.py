"""Schedule files: Azure ML's shapes load; each bad input is an InvalidSpec naming file and line."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shipyard.errors import InvalidSpec
from shipyard.specs._windows_zones import WINDOWS_ZONES
from shipyard.specs.loaded import LoadedJob
from shipyard.specs.schedule import load_schedule, trigger_of

JOB = "command: echo hello\n"


def write(tmp_path: Path, text: str, job: str | None = JOB) -> Path:
    if job is not None:
        (tmp_path / "job.yml").write_text(job)
    path = tmp_path / "schedule.yml"
    path.write_text(text)
    return path


def error(tmp_path: Path, text: str) -> InvalidSpec:
    with pytest.raises(InvalidSpec) as caught:
        load_schedule(write(tmp_path, text))
    return caught.value


def test_azure_cron_example_with_a_windows_time_zone(tmp_path: Path) -> None:
    loaded = load_schedule(
        write(
            tmp_path,
            """\
$schema: https://azuremlschemas.azureedge.net/latest/schedule.schema.json
name: simple_cron_job_schedule
display_name: Simple cron job schedule
trigger:
  type: cron
  expression: "0 * * * *"
  start_time: "2022-07-10T10:00:00" # optional - default will be schedule creation time
  time_zone: "Pacific Standard Time" # optional - default will be UTC
create_job: ./job.yml
""",
        )
    )
    assert isinstance(loaded.job, LoadedJob) and loaded.job.raw == {"command": "echo hello"}
    trigger = trigger_of(loaded.spec.trigger, 0)
    assert trigger.time_zone == "America/Los_Angeles"
    assert trigger.start_at == 1657472400000  # 10:00 in Los Angeles (PDT) is 17:00 UTC
    assert "create_job" not in loaded.fields


def test_azure_recurrence_example(tmp_path: Path) -> None:
    loaded = load_schedule(
        write(
            tmp_path,
            """\
name: simple_recurrence_job_schedule
trigger:
  type: recurrence
  frequency: day
  interval: 1
  schedule:
    hours: [4,5,10,11,12]
    minutes: [0,30]
  start_time: 2022-07-10T10:00:00
create_job: ./job.yml
""",
        )
    )
    trigger = trigger_of(loaded.spec.trigger, 0)
    assert trigger.hours == (4, 5, 10, 11, 12) and trigger.minutes == (0, 30)
    assert loaded.fields["trigger"]["start_time"] == "2022-07-10T10:00:00"  # YAML's datetime, as text


def test_inline_job_and_the_job_file_form_with_changes(tmp_path: Path) -> None:
    inline = load_schedule(
        write(
            tmp_path,
            """\
name: inline
trigger: {type: cron, expression: "*/5 * * * * *"}
create_job:
  command: echo ${{inputs.x}}
  inputs: {x: 3}
""",
        )
    )
    assert isinstance(inline.job, LoadedJob) and inline.job.spec.command == "echo ${{inputs.x}}"
    changed = load_schedule(
        write(
            tmp_path,
            """\
name: changed
trigger: {type: cron, expression: "0 3 * * *"}
create_job:
  job: ./job.yml
  tags: {schedule: nightly}
""",
        )
    )
    assert changed.job.raw["tags"] == {"schedule": "nightly"}


@pytest.mark.parametrize(
    ("trigger", "line", "words"),
    [
        ('{type: cron, expression: "61 * * * *"}', 2, "not a valid cron expression"),
        ('{type: cron, expression: "* * * *"}', 2, "has 4 fields"),
        ('{type: cron, expression: "@reboot"}', 2, "not a cron expression"),
        ('{type: cron, expression: "0 * * * *", time_zone: Pacific Time}', 2, "unknown time zone"),
        ('{type: cron, expression: "0 * * * *", time_zone: Europe/Pari}', 2, "did you mean 'Europe/Paris'"),
        ('{type: cron, expression: "0 * * * *", start_time: tomorrow}', 2, "not a date and time"),
        (
            '{type: cron, expression: "0 * * * *", start_time: "2025-01-02", end_time: "2025-01-01"}',
            2,
            "is not after start_time",
        ),
        ("{type: recurrence, frequency: fortnight, interval: 1}", 2, "frequency"),
        ("{type: recurrence, frequency: day, interval: 0}", 2, "greater than or equal to 1"),
        ("{type: recurrence, frequency: hour, interval: 1, schedule: {hours: 1, minutes: 0}}", 2, "applies to frequency day"),
        ("{type: recurrence, frequency: day, interval: 1, schedule: {hours: [24], minutes: 0}}", 2, "less than or equal to 23"),
        ("{type: recurrence, frequency: day, interval: 1, schedule: {hours: 1, minutes: 60}}", 2, "less than or equal to 59"),
        ("{type: recurrence, frequency: week, interval: 1, schedule: {hours: 1, minutes: 0, week_days: [funday]}}", 2, "not a day of the week"),
        ("{type: recurrence, frequency: week, interval: 1, schedule: {hours: 1, minutes: 0, month_days: [1]}}", 2, "month_days applies"),
        ("{type: recurrence, frequency: month, interval: 1, schedule: {hours: 1, minutes: 0, month_days: [32]}}", 2, "less than or equal to 31"),
    ],
)  # fmt: skip
def test_bad_triggers_name_the_file_and_line(tmp_path: Path, trigger: str, line: int, words: str) -> None:
    exc = error(tmp_path, f"name: s\ntrigger: {trigger}\ncreate_job: ./job.yml\n")
    assert words in exc.message
    assert f"schedule.yml line {line}" in exc.message
    assert exc.details["line"] == line


def test_a_missing_job_file_names_its_line(tmp_path: Path) -> None:
    exc = error(
        tmp_path, "name: s\ntrigger: {type: cron, expression: '0 * * * *'}\n\ncreate_job: ./nope.yml\n"
    )
    assert "the job file './nope.yml' does not exist" in exc.message
    assert exc.details["line"] == 4


def test_an_existing_job_reference_is_refused_with_what_to_do(tmp_path: Path) -> None:
    exc = error(
        tmp_path, "name: s\ntrigger: {type: cron, expression: '0 * * * *'}\ncreate_job: azureml:my-job\n"
    )
    assert "give the job file" in exc.message and exc.details["line"] == 3


def test_an_inline_job_error_points_into_the_schedule_file(tmp_path: Path) -> None:
    exc = error(
        tmp_path, "name: s\ntrigger: {type: cron, expression: '0 * * * *'}\ncreate_job:\n  comand: echo\n"
    )
    assert "schedule.yml line 4" in exc.message and "did you mean 'command'" in exc.message


def test_a_bad_job_file_is_reported_in_that_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidSpec) as caught:
        load_schedule(
            write(
                tmp_path,
                "name: s\ntrigger: {type: cron, expression: '0 * * * *'}\ncreate_job: job.yml\n",
                job="code: ./gone\ncommand: x\n",
            )
        )
    assert "job.yml line 1" in caught.value.message


def test_every_windows_time_zone_opens() -> None:
    for key in WINDOWS_ZONES.values():
        ZoneInfo(key)


def test_a_time_zone_is_read_in_any_case_as_azure_does() -> None:
    from shipyard.specs.schedule import time_zone_key

    assert time_zone_key("utc") == time_zone_key("UTC")
    assert time_zone_key("pacific standard time") == "America/Los_Angeles"
    assert time_zone_key("europe/paris") == "Europe/Paris"
