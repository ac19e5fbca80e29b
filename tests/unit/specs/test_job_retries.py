"""``retries:`` (a Shipyard extension of the job file): only a whole number from 0 to 10."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard.errors import InvalidSpec
from shipyard.specs import load_job

BAD = {
    "-1": "greater than or equal to 0",
    "1000": "less than or equal to 10",
    "1.5": "valid integer",
    "two": "valid integer",
    "true": "valid integer",  # YAML's true is not one retry
    "[1]": "valid integer",
}


@pytest.mark.parametrize("value", sorted(BAD))
def test_a_bad_retries_is_named_with_its_file_and_line(value: str, write: Callable[[str, str], Path]) -> None:
    path = write("job.yml", f"command: echo hi\n\nretries: {value}\n")
    with pytest.raises(InvalidSpec) as caught:
        load_job(path)
    assert caught.value.message.startswith(f"{path} line 3: field 'retries': ")
    assert BAD[value] in caught.value.message


def test_retries_given_through_set_is_checked_alike(write: Callable[[str, str], Path]) -> None:
    path = write("job.yml", "command: echo hi\n")
    assert load_job(path, overrides=["retries=2"]).spec.retries == 2
    with pytest.raises(InvalidSpec, match=r"--set retries=-3\): field 'retries'"):
        load_job(path, overrides=["retries=-3"])
