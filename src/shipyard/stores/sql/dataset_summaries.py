"""Dataset summaries of experiments: one query over ``datasets`` and ``run_inputs``."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, select

from shipyard.services.dataset_summaries import CONTEXT_TAG, DatasetSummary, DatasetSummaryRepository
from shipyard.stores.sql import schema as s

__all__ = ["SqlDatasetSummaryRepository"]

_d, _i = s.datasets.c, s.run_inputs.c


class SqlDatasetSummaryRepository(DatasetSummaryRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def of_experiments(self, experiment_ids: Sequence[str], limit: int) -> list[DatasetSummary]:
        if not experiment_ids:
            return []
        # The context is one key of the input's tags (a JSON object): distinct tag texts are
        # few per dataset, so they are read distinct and the key picked out here, the same
        # way on SQLite and PostgreSQL.
        rows = self.conn.execute(
            select(_d.experiment_id, _d.name, _d.digest, _i.tags)
            .join(s.run_inputs, _i.dataset_id == _d.id)
            .where(_d.experiment_id.in_([int(e) for e in experiment_ids]))
            .distinct()
            .order_by(_d.experiment_id, _d.name, _d.digest, _i.tags)
        )
        found: dict[tuple[str, str, str, str | None], None] = {}
        for experiment_id, name, digest, tags in rows:
            context = json.loads(tags).get(CONTEXT_TAG)
            found[(str(experiment_id), name, digest, context)] = None
            if len(found) >= limit:
                break
        return [DatasetSummary(*key) for key in found]
