"""Code snapshots: content-addressed blobs and the manifests that list them."""

from shipyard.resources import Resource

__all__ = ["RESOURCE"]

RESOURCE = Resource(
    name="snapshots",
    position=60,
    services={"snapshots": "shipyard.server.providers.snapshots:snapshots"},
    routers=("shipyard.server.routers.snapshots:router",),
)
