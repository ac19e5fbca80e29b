"""Every table of the metadata store, on one ``metadata``: what migrations and ``create_all``
must see. Each resource keeps its tables in modules of its own and names them in its
descriptor (``shipyard/resources/``); importing them registers their tables."""

from __future__ import annotations

import importlib

from shipyard.resources import resources
from shipyard.stores.sql.schema import metadata

__all__ = ["metadata"]

for _resource in resources():
    for _module in _resource.tables:
        importlib.import_module(_module)
