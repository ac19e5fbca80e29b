"""The services of a server, built from what each resource registers.

``create_app`` opens the stores and the access services, then asks every resource's service
factories (``Resource.services``, ``f(wiring) -> service``) for their services. A factory asks
the wiring for the services it depends on by name (:meth:`Wiring.service`), so build order
follows dependencies, and registers what must start and stop with the server
(:meth:`Wiring.on_start`); stops run in the reverse order of starts.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from shipyard.resources import load, merged
from shipyard.server.access_runtime import Access
from shipyard.services.ports import ArtifactStore, Database
from shipyard.settings import Settings

__all__ = ["Wiring"]

_T = TypeVar("_T")
_BUILDING = object()


class Wiring:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        store: ArtifactStore,
        access: Access,
        public_url: Callable[[], str],
    ) -> None:
        self.settings = settings
        self.database = database
        self.store = store
        self.access = access
        self.public_url = public_url
        self._factories = merged("services")
        self._built: dict[str, object] = {}
        self._starts: list[Callable[[], object]] = []
        self._stops: list[Callable[[], object]] = []

    def service(self, name: str) -> Any:
        """The service ``name``, built by its resource's factory on first ask."""
        found = self._built.get(name)
        if found is _BUILDING:
            raise RuntimeError(f"service {name!r} depends on itself")
        if found is None:
            if name not in self._factories:
                raise LookupError(f"no resource registers a service named {name!r}")
            self._built[name] = _BUILDING
            found = self._built[name] = load(self._factories[name])(self)
        return found

    def typed(self, name: str, kind: type[_T]) -> _T:
        """:meth:`service`, checked to be a ``kind``."""
        found = self.service(name)
        if not isinstance(found, kind):
            raise TypeError(f"service {name!r} is a {type(found).__name__}, not a {kind.__name__}")
        return found

    def build_all(self) -> dict[str, object]:
        """Every registered service, built now (a broken factory stops the start, not a request)."""
        for name in self._factories:
            self.service(name)
        return dict(self._built)

    def on_start(self, start: Callable[[], object], stop: Callable[[], object | Awaitable[object]]) -> None:
        """Run ``start`` when the server starts and ``stop`` (sync or async) when it stops."""
        self._starts.append(start)
        self._stops.append(stop)

    def start(self) -> None:
        for start in self._starts:
            start()

    async def stop(self) -> None:
        for stop in reversed(self._stops):
            result = stop()
            if inspect.isawaitable(result):
                await result
