"""The append-only audit log, a hash chain."""

from shipyard.resources import Resource

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="audit",
    position=30,
    repositories={"audit": "shipyard.stores.sql.access:SqlAuditRepository"},
    services={"audit": "shipyard.server.providers.access:audit"},
    routers=("shipyard.server.routers.audit:router",),
    commands={"audit": "shipyard.cli.access:audit_app"},
    cli_position=120,
)
