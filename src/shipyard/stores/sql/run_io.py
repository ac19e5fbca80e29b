"""A run's inputs (datasets, deduplicated per experiment; logged models) and outputs (logged models)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from shipyard.domain.tracking import Dataset, DatasetInput, ModelOutput, RunIO
from shipyard.services.ports import RunIORepository, RunRef
from shipyard.stores.sql import schema as s
from shipyard.stores.sql._ids import new_id

__all__ = ["SqlRunIORepository"]


_r, _i, _d, _o, _mi = s.runs.c, s.run_inputs.c, s.datasets.c, s.run_outputs.c, s.run_model_inputs.c
# Built once: every run read (MLflow's runs/get and runs/search) asks for both.
_INPUTS_OF = (
    select(_r.run_id, _i.tags, _d.name, _d.digest, _d.source_type, _d.source, _d.schema, _d.profile)
    .join(s.run_inputs, _i.run_pk == _r.pk)
    .join(s.datasets, _d.id == _i.dataset_id)
    .where(_r.run_id.in_(bindparam("run_ids", expanding=True)))
    .order_by(_r.run_id, _d.id)
)
_OUTPUTS_OF = (
    select(_r.run_id, _o.model_id, _o.step)
    .join(s.run_outputs, _o.run_pk == _r.pk)
    .where(_r.run_id.in_(bindparam("run_ids", expanding=True)))
    .order_by(_r.run_id, _o.step, _o.model_id)
)
_MODEL_INPUTS_OF = (
    select(_r.run_id, _mi.model_id)
    .join(s.run_model_inputs, _mi.run_pk == _r.pk)
    .where(_r.run_id.in_(bindparam("run_ids", expanding=True)))
    .order_by(_r.run_id, _mi.model_id)
)


class SqlRunIORepository(RunIORepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _dataset_id(self, experiment_id: int, dataset: Dataset) -> int:
        d = s.datasets.c
        found = self.conn.execute(
            select(d.id).where(
                d.experiment_id == experiment_id, d.name == dataset.name, d.digest == dataset.digest
            )
        ).scalar()
        if found is not None:
            return int(found)
        result = self.conn.execute(
            insert(s.datasets).values(
                experiment_id=experiment_id,
                name=dataset.name,
                digest=dataset.digest,
                source_type=dataset.source_type,
                source=dataset.source,
                schema=dataset.schema,
                profile=dataset.profile,
            )
        )
        return new_id(result)

    def add_inputs(self, ref: RunRef, inputs: Sequence[DatasetInput]) -> None:
        i = s.run_inputs.c
        for item in inputs:
            dataset_id = self._dataset_id(int(ref.experiment_id), item.dataset)
            tags = json.dumps(item.tags, sort_keys=True)
            done = self.conn.execute(
                update(s.run_inputs).where(i.run_pk == ref.pk, i.dataset_id == dataset_id).values(tags=tags)
            )
            if not done.rowcount:
                self.conn.execute(
                    insert(s.run_inputs).values(run_pk=ref.pk, dataset_id=dataset_id, tags=tags)
                )

    def add_outputs(self, ref: RunRef, outputs: Sequence[ModelOutput]) -> None:
        o = s.run_outputs.c
        for item in outputs:
            self.conn.execute(delete(s.run_outputs).where(o.run_pk == ref.pk, o.model_id == item.model_id))
            self.conn.execute(
                insert(s.run_outputs).values(run_pk=ref.pk, model_id=item.model_id, step=item.step)
            )

    def add_model_inputs(self, ref: RunRef, model_ids: Sequence[str]) -> None:
        known = set(
            self.conn.execute(
                select(_mi.model_id).where(_mi.run_pk == ref.pk, _mi.model_id.in_(list(model_ids)))
            ).scalars()
        )
        fresh = [m for m in dict.fromkeys(model_ids) if m not in known]
        if fresh:
            self.conn.execute(insert(s.run_model_inputs), [{"run_pk": ref.pk, "model_id": m} for m in fresh])

    def of_runs(self, run_ids: Sequence[str]) -> dict[str, RunIO]:
        out = {run_id: RunIO() for run_id in run_ids}
        if not run_ids:
            return out
        ids = {"run_ids": list(run_ids)}
        for row in self.conn.execute(_INPUTS_OF, ids):
            dataset = Dataset(row.name, row.digest, row.source_type, row.source, row.schema, row.profile)
            out[row.run_id].inputs.append(DatasetInput(dataset, json.loads(row.tags)))
        for run_id, model_id, step in self.conn.execute(_OUTPUTS_OF, ids):
            out[run_id].outputs.append(ModelOutput(model_id, step))
        for run_id, model_id in self.conn.execute(_MODEL_INPUTS_OF, ids):
            out[run_id].model_inputs.append(model_id)
        return out
