"""Lineage over HTTP: ``client.operations(LineageOperations).show("model:credit:1")``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shipyard.domain.lineage import Graph

if TYPE_CHECKING:
    from shipyard.client.client import Client

__all__ = ["LineageOperations"]


class LineageOperations:
    def __init__(self, client: Client) -> None:
        self._http = client.http

    def show(self, node: str, *, direction: str = "both", depth: int | None = None) -> Graph:
        """The lineage graph around ``node`` (``data:NAME:VERSION``, ``job:NAME``, ``run:RUN_ID``,
        ``model:NAME:VERSION``, ``deployment:ENDPOINT/DEPLOYMENT``,
        ``batch-deployment:ENDPOINT/DEPLOYMENT``, ``monitor:NAME``): the nodes you may read,
        ``depth`` links away at most (the server's default covers a whole chain)."""
        params: dict[str, str | int] = {"node": node, "direction": direction}
        if depth is not None:
            params["depth"] = depth
        return Graph.from_json(self._http.request("GET", "/api/v1/lineage", params=params))
