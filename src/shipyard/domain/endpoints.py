"""Online endpoints and their deployments, with Azure ML's traffic rules.

An endpoint is a stable name with keys; its deployments are the models behind it. Live
traffic is split by integer weights (percent) that sum to 100 — or are all 0 while no
deployment takes traffic — and a share of live requests may be mirrored (at most 50%) to a
deployment that takes no live traffic. A deployment that still receives traffic cannot be
deleted. A deployment's state moves::

    Creating → Succeeded | Failed        Succeeded|Failed → Updating → Succeeded | Failed
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shipyard.errors import Conflict, InvalidArgument

__all__ = [
    "BUSY",
    "MAX_MIRROR_PERCENT",
    "AuthMode",
    "Deployment",
    "DeploymentState",
    "Endpoint",
    "check_mirror",
    "check_traffic",
    "hash_key",
    "new_key",
    "parse_weights",
    "refuse_delete_with_traffic",
]

MAX_MIRROR_PERCENT = 50


class AuthMode(StrEnum):
    KEY = "key"
    AML_TOKEN = "aml_token"  # noqa: S105 - a mode's name; a Shipyard token holding endpoints:score, as Azure's token mode
    NONE = "none"


class DeploymentState(StrEnum):
    CREATING = "Creating"
    UPDATING = "Updating"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


BUSY = frozenset({DeploymentState.CREATING, DeploymentState.UPDATING})


def new_key() -> str:
    """A fresh endpoint key: 32 random bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """What the scoring router compares a presented key with (SHA-256, hex)."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    workspace: str
    auth_mode: AuthMode
    description: str
    tags: dict[str, str]
    traffic: dict[str, int]
    mirror_traffic: dict[str, int]
    primary_key: str
    secondary_key: str
    created_at: int
    created_by: str
    updated_at: int
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Deployment:
    """``spec`` is the resolved deployment (model, code, environment, settings) the plan is
    built from; ``model`` says which registered version (or uploaded folder) it serves."""

    endpoint: str
    name: str
    workspace: str
    state: DeploymentState
    reason: str
    revision: str
    spec: dict[str, Any]
    model: dict[str, Any]
    created_at: int
    created_by: str
    updated_at: int

    @property
    def busy(self) -> bool:
        return self.state in BUSY


def parse_weights(text: str, what: str = "traffic") -> dict[str, int]:
    """``"blue=90 green=10"`` (spaces or commas between pairs) → ``{"blue": 90, "green": 10}``."""
    out: dict[str, int] = {}
    for pair in text.replace(",", " ").split():
        name, sep, weight = pair.partition("=")
        if not sep or not name or not weight.strip().lstrip("-").isdigit():
            raise InvalidArgument(f'{what} {pair!r} is not <deployment>=<percent>, e.g. "blue=90 green=10"')
        if name in out:
            raise InvalidArgument(f"{what} names deployment {name!r} twice")
        out[name] = int(weight)
    return out


def check_traffic(traffic: Mapping[str, int], deployments: Collection[str]) -> dict[str, int]:
    """Azure's rule: integer percentages of existing deployments summing to 100 (or all 0)."""
    _check_percentages(traffic, deployments, "traffic")
    total = sum(traffic.values())
    if total not in (0, 100):
        shown = " ".join(f"{k}={v}" for k, v in traffic.items())
        raise InvalidArgument(
            f"traffic weights must sum to 100 (or all be 0); {shown} sums to {total}", traffic=dict(traffic)
        )
    return {k: v for k, v in traffic.items()}


def check_mirror(
    mirror: Mapping[str, int], traffic: Mapping[str, int], deployments: Collection[str]
) -> dict[str, int]:
    """Mirror at most 50% of live traffic, to deployments that take no live traffic."""
    _check_percentages(mirror, deployments, "mirror traffic")
    for name, weight in mirror.items():
        if weight > MAX_MIRROR_PERCENT:
            raise InvalidArgument(
                f"mirror traffic to {name!r} is {weight}%; at most {MAX_MIRROR_PERCENT}% may be mirrored"
            )
        if weight and traffic.get(name, 0):
            raise InvalidArgument(
                f"deployment {name!r} takes {traffic[name]}% of live traffic; mirrored traffic"
                " goes to a deployment with 0% live traffic (a shadow)"
            )
    if sum(mirror.values()) > MAX_MIRROR_PERCENT:
        raise InvalidArgument(f"mirror traffic may total at most {MAX_MIRROR_PERCENT}%")
    return {k: v for k, v in mirror.items() if v}


def _check_percentages(weights: Mapping[str, int], deployments: Collection[str], what: str) -> None:
    for name, weight in weights.items():
        if name not in deployments:
            known = ", ".join(sorted(deployments)) or "none yet"
            raise InvalidArgument(
                f"{what} names deployment {name!r}, which does not exist (deployments: {known})",
                deployment=name,
            )
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise InvalidArgument(f"{what} for {name!r} is {weight!r}; weights are integers from 0 to 100")


def refuse_delete_with_traffic(endpoint: Endpoint, deployment: str) -> None:
    """A deployment still receiving live or mirrored traffic cannot be deleted (409)."""
    live = endpoint.traffic.get(deployment, 0)
    mirrored = endpoint.mirror_traffic.get(deployment, 0)
    if live or mirrored:
        kind = f"{live}% of live traffic" if live else f"{mirrored}% of mirrored traffic"
        raise Conflict(
            f"deployment {deployment!r} still receives {kind} on endpoint {endpoint.name!r};"
            f" move it elsewhere first, e.g. `shipyard online-endpoint update -n {endpoint.name}"
            f' --traffic "<other>=100"`',
            deployment=deployment,
        )
