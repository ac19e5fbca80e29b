"""Identity, secrets and the audit log: built with the guard, before any resource."""

from __future__ import annotations

from shipyard.server.wiring import Wiring
from shipyard.services.access.audit import AuditLog
from shipyard.services.access.identity import IdentityService
from shipyard.services.access.secrets import SecretService

__all__ = ["audit", "identity", "secrets"]


def identity(wiring: Wiring) -> IdentityService:
    return wiring.access.identity


def secrets(wiring: Wiring) -> SecretService:
    return wiring.access.secrets


def audit(wiring: Wiring) -> AuditLog:
    return wiring.access.audit
