"""What governs an AI gateway endpoint (MLflow 3.17): bindings to the resources that use it,
budget policies, and guardrails (a registered scorer run before or after a call).

Shipyard stores these as MLflow's server does, and enforces none of them: it makes no call to
a provider, so there is no traffic to bind, to cost or to guard. A budget window's spend is
therefore always 0 (``budget_window``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shipyard.errors import InvalidArgument

__all__ = [
    "BUDGET_ACTIONS",
    "BUDGET_UNITS",
    "DURATION_UNITS",
    "GUARDRAIL_ACTIONS",
    "GUARDRAIL_STAGES",
    "RESOURCE_TYPES",
    "TARGETED_SCOPES",
    "TARGET_SCOPES",
    "BudgetPolicy",
    "EndpointBinding",
    "Guardrail",
    "GuardrailLink",
    "budget_window",
    "check_budget_amount",
    "check_budget_target",
    "check_duration",
    "enum_name",
    "is_custom_code",
]

# MLflow's proto enums, index = the enum's number (0 is *_UNSPECIFIED, never valid).
BUDGET_UNITS = ("BUDGET_UNIT_UNSPECIFIED", "USD")
DURATION_UNITS = ("DURATION_UNIT_UNSPECIFIED", "MINUTES", "HOURS", "DAYS", "WEEKS", "MONTHS")
TARGET_SCOPES = ("TARGET_SCOPE_UNSPECIFIED", "GLOBAL", "WORKSPACE", "ENDPOINT", "USER")
BUDGET_ACTIONS = ("BUDGET_ACTION_UNSPECIFIED", "ALERT", "REJECT")
GUARDRAIL_STAGES = ("GUARDRAIL_STAGE_UNSPECIFIED", "BEFORE", "AFTER")
GUARDRAIL_ACTIONS = ("GUARDRAIL_ACTION_UNSPECIFIED", "VALIDATION", "SANITIZATION")
# A policy of these scopes names what it applies to (an endpoint id, a user name).
TARGETED_SCOPES = ("ENDPOINT", "USER")
RESOURCE_TYPES = ("scorer",)


@dataclass(frozen=True, slots=True)
class EndpointBinding:
    endpoint_id: str
    resource_type: str
    resource_id: str
    display_name: str | None
    created_at: int
    created_by: str | None
    last_updated_at: int
    last_updated_by: str | None


@dataclass(frozen=True, slots=True)
class BudgetPolicy:
    id: str
    budget_unit: str
    budget_amount: float
    duration_unit: str
    duration_value: int
    target_scope: str
    target_value: str | None
    budget_action: str
    created_at: int
    created_by: str | None
    last_updated_at: int
    last_updated_by: str | None


@dataclass(frozen=True, slots=True)
class Guardrail:
    id: str
    name: str
    scorer_id: str
    scorer_version: int
    stage: str
    action: str
    action_endpoint_id: str | None
    action_endpoint_name: str | None
    created_at: int
    created_by: str | None
    last_updated_at: int
    last_updated_by: str | None


@dataclass(frozen=True, slots=True)
class GuardrailLink:
    """A guardrail on an endpoint, with its place in the order (None: after the numbered)."""

    endpoint_id: str
    guardrail_id: str
    execution_order: int | None
    created_at: int
    created_by: str | None


def enum_name(field: str, value: object, names: tuple[str, ...]) -> str:
    """A proto enum as MLflow's JSON carries it (its name; its number is accepted too)."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, int) and 0 < value < len(names):
        return names[value]
    if isinstance(value, str) and value in names[1:]:
        return value
    raise InvalidArgument(f"Invalid {field}: {value!r}; one of {', '.join(names[1:])}")


def check_budget_amount(amount: object) -> float:
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise InvalidArgument(f"budget_amount must be a number; got {amount!r}")
    value = float(amount)
    if not value >= 0 or value == float("inf"):
        raise InvalidArgument(f"budget_amount must be a finite number, not negative; got {amount!r}")
    return value


def check_duration(unit: object, value: object) -> tuple[str, int]:
    name = enum_name("duration.unit", unit, DURATION_UNITS)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidArgument(f"duration.value must be a positive integer, got {value!r}")
    if value > 1_000_000:
        raise InvalidArgument(f"duration.value is at most 1,000,000; got {value}")
    return name, value


def check_budget_target(scope: str, target: str | None) -> str | None:
    """MLflow's rule: ENDPOINT and USER policies name their target; the others name none."""
    if scope in TARGETED_SCOPES:
        if not target:
            raise InvalidArgument(f"target_value is required when target_scope is {scope}.")
        return target
    if target:
        raise InvalidArgument("target_value can only be set when target_scope is ENDPOINT or USER.")
    return None


def _add_months(start: datetime, months: int) -> datetime:
    index = start.year * 12 + start.month - 1 + months
    return start.replace(year=index // 12, month=index % 12 + 1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SUNDAY_EPOCH = _EPOCH - timedelta(days=4)  # the Sunday before 1 January 1970
_FIXED = {"MINUTES": timedelta(minutes=1), "HOURS": timedelta(hours=1), "DAYS": timedelta(days=1)}


def budget_window(unit: str, value: int, now: datetime) -> tuple[datetime, datetime]:
    """The fixed window holding ``now``, as MLflow's budget tracker aligns them (UTC): minutes,
    hours and days counted from the epoch, weeks from the Sunday before it, months from
    January 1970."""
    if unit == "MONTHS":
        months = (now.year - 1970) * 12 + now.month - 1
        start = _add_months(_EPOCH, months // value * value)
        return start, _add_months(start, value)
    origin, step = (_SUNDAY_EPOCH, timedelta(days=7)) if unit == "WEEKS" else (_EPOCH, _FIXED[unit])
    length = step * value
    start = origin + length * ((now - origin) // length)
    return start, start + length


def _has_call_source(data: object) -> bool:
    if isinstance(data, dict):
        if data.get("call_source"):
            return True
        return any(_has_call_source(v) for v in data.values())
    if isinstance(data, list):
        return any(_has_call_source(v) for v in data)
    return False


def is_custom_code(serialized_scorer: str) -> bool:
    """Whether a serialized scorer is an ``@scorer`` function (its source is in it): MLflow
    keeps those out of guardrails, which would run them in the server."""
    try:
        return _has_call_source(json.loads(serialized_scorer))
    except ValueError:
        return False
