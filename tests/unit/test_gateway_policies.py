"""Budget windows as MLflow's budget tracker aligns them (UTC): minutes, hours and days from
the epoch, weeks from the Sunday before it, months from January 1970; and the proto enums
accepted by name or number."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shipyard.domain.gateway_policies import (
    TARGET_SCOPES,
    budget_window,
    check_budget_target,
    enum_name,
    is_custom_code,
)
from shipyard.errors import InvalidArgument


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("unit", "value", "now", "start", "end"),
    [
        ("MINUTES", 15, _at(2026, 12, 6, 12, 7, 30), _at(2026, 12, 6, 12, 0), _at(2026, 12, 6, 12, 15)),
        ("HOURS", 6, _at(2026, 12, 6, 13, 59), _at(2026, 12, 6, 12), _at(2026, 12, 6, 18)),
        ("DAYS", 1, _at(2026, 12, 6, 23, 59, 59), _at(2026, 12, 6), _at(2026, 12, 7)),
        # 6 December 2026 is a Sunday: a one-week window starts on it.
        ("WEEKS", 1, _at(2026, 12, 6, 0, 0, 1), _at(2026, 12, 6), _at(2026, 12, 13)),
        ("WEEKS", 1, _at(2026, 12, 5, 23), _at(2026, 11, 29), _at(2026, 12, 6)),
        ("MONTHS", 1, _at(2026, 12, 31, 23), _at(2026, 12, 1), _at(2027, 1, 1)),
        # Quarters counted from January 1970: January, April, July, October.
        ("MONTHS", 3, _at(2026, 12, 6), _at(2026, 10, 1), _at(2027, 1, 1)),
        ("MONTHS", 5, _at(1970, 7, 2), _at(1970, 6, 1), _at(1970, 11, 1)),
    ],
)
def test_a_budget_window_is_aligned_as_mlflows(
    unit: str, value: int, now: datetime, start: datetime, end: datetime
) -> None:
    assert budget_window(unit, value, now) == (start, end)


def test_enums_are_taken_by_name_or_number_never_unspecified() -> None:
    assert enum_name("target_scope", "USER", TARGET_SCOPES) == "USER"
    assert enum_name("target_scope", 3, TARGET_SCOPES) == "ENDPOINT"
    for bad in ("TARGET_SCOPE_UNSPECIFIED", 0, 9, True, "user", None, 1.0):
        with pytest.raises(InvalidArgument):
            enum_name("target_scope", bad, TARGET_SCOPES)


def test_only_endpoint_and_user_policies_name_a_target() -> None:
    assert check_budget_target("USER", "alice") == "alice"
    assert check_budget_target("GLOBAL", None) is None
    with pytest.raises(InvalidArgument, match="required"):
        check_budget_target("ENDPOINT", None)
    with pytest.raises(InvalidArgument, match="only be set"):
        check_budget_target("WORKSPACE", "ws")


def test_a_scorer_with_its_source_is_custom_code_even_nested() -> None:
    assert is_custom_code('{"name": "f", "call_source": "return 1"}')
    assert is_custom_code('{"name": "e", "scorers": [{"call_source": "return 1"}]}')
    assert not is_custom_code('{"name": "j", "instructions_judge_pydantic_data": {"model": "gateway:/x"}}')
    assert not is_custom_code("not json")
