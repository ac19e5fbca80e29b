"""``endpoint.yml``: Azure ML's managed online endpoint, as Shipyard reads it.

Shipyard endpoints authenticate with keys (``auth_mode: key``), with a Shipyard token that
holds ``endpoints:score`` (``aml_token``, Azure's token mode), or not at all (``none``, only
on a ``--no-auth`` server). ``aad_token`` needs Azure's identity service and is refused with
a message saying so, rather than silently turned into keys a client would not know to send. Fields
Azure accepts that mean nothing on one host are kept and reported by :meth:`notes`.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator

from shipyard.specs._base import SpecModel, scalar_map, visible

__all__ = ["ENDPOINT_IGNORED_FIELDS", "NAME_PATTERN", "OnlineEndpointSpec"]

#: Azure's rule for endpoint and deployment names: 3-32 letters, digits and '-', a letter first.
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]$"

ENDPOINT_IGNORED_FIELDS: dict[str, str] = {
    "identity": "workers run as the server's user with the server's credentials",
    "public_network_access": "the endpoint is reachable wherever the server is",
    "properties": "kept with the endpoint as metadata",
    "kind": "every endpoint is a managed online endpoint",
    "compute": "a Kubernetes endpoint's deployments run as worker processes on the server's host",
}


class OnlineEndpointSpec(SpecModel):
    """``shipyard online-endpoint create -f endpoint.yml``."""

    spec_kind: ClassVar[str] = "endpoint"

    name: Annotated[str, visible("endpoint")] = Field(pattern=NAME_PATTERN)
    auth_mode: str = "key"
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    traffic: dict[str, int] = Field(default_factory=dict)
    mirror_traffic: dict[str, int] = Field(default_factory=dict)
    identity: dict[str, Any] | None = None
    public_network_access: str | None = None
    properties: dict[str, Any] | None = None
    kind: str | None = None
    compute: str | None = None  # a Kubernetes online endpoint's cluster

    _scalars = field_validator("tags", mode="before")(scalar_map)

    @field_validator("auth_mode")
    @classmethod
    def _keys_only(cls, value: str) -> str:
        mode = value.lower()
        if mode == "aad_token":
            raise ValueError(
                f"'{value}' needs Azure's identity service, which Shipyard does not have; write"
                " 'key' (callers send Authorization: Bearer <key>) or 'aml_token' (callers send"
                " a Shipyard token that holds endpoints:score)"
            )
        if mode not in ("key", "aml_token", "none"):
            raise ValueError(f"'{value}' is not an auth mode; use 'key', 'aml_token' or 'none'")
        return mode

    @field_validator("traffic", "mirror_traffic")
    @classmethod
    def _percentages(cls, value: dict[str, int]) -> dict[str, int]:
        for name, weight in value.items():
            if not 0 <= weight <= 100:
                raise ValueError(f"the weight of '{name}' is {weight}; weights are percentages, 0 to 100")
        return value

    def notes(self) -> list[str]:
        """One line per accepted-but-ignored field present in this file."""
        return [f"{name}: {why}" for name, why in ENDPOINT_IGNORED_FIELDS.items() if getattr(self, name)]
