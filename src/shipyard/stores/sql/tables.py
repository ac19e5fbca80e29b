"""Every table of the metadata store, on one ``metadata``: what migrations and ``create_all``
must see. Each aggregate keeps its tables in its own module; list new modules here."""

from __future__ import annotations

from shipyard.stores.sql import schema_access as _schema_access  # noqa: F401 - registers its tables
from shipyard.stores.sql import schema_batch as _schema_batch  # noqa: F401
from shipyard.stores.sql import schema_data as _schema_data  # noqa: F401
from shipyard.stores.sql import schema_endpoints as _schema_endpoints  # noqa: F401
from shipyard.stores.sql import schema_jobs as _schema_jobs  # noqa: F401
from shipyard.stores.sql.schema import metadata

__all__ = ["metadata"]
