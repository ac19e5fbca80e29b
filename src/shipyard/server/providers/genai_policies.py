"""The gateway's governance records (bindings, budgets, guardrails): configuration only."""

from __future__ import annotations

from shipyard.server.wiring import Wiring
from shipyard.services.gateway_policies import GatewayPolicyService

__all__ = ["gateway_policies"]


def gateway_policies(wiring: Wiring) -> GatewayPolicyService:
    return GatewayPolicyService(wiring.database)
