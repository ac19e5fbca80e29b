"""Evaluation datasets, their tags, experiment links and records."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, func, insert, or_, select, update

from shipyard.domain.eval_datasets import DatasetRecord, EvalDataset
from shipyard.services.genai_ports import EvalDatasetRepository
from shipyard.stores.sql import schema_genai as t
from shipyard.stores.sql._workspace import in_workspace

__all__ = ["SqlEvalDatasetRepository"]

_d = t.eval_datasets.c
_r = t.eval_dataset_records.c
_x = t.eval_dataset_experiments.c
_g = t.eval_dataset_tags.c

# Hash lookups and deletes go in chunks: SQLite binds at most 32,766 parameters per statement.
_CHUNK = 500


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _record(r: Row[Any]) -> DatasetRecord:
    return DatasetRecord(
        id=r.id,
        dataset_id=r.dataset_id,
        input_hash=r.input_hash,
        inputs=json.loads(r.inputs),
        outputs=_loads(r.outputs),
        expectations=_loads(r.expectations),
        tags=_loads(r.tags),
        source=_loads(r.source),
        source_id=r.source_id,
        source_type=r.source_type,
        created_time=r.created_time,
        last_update_time=r.last_update_time,
        created_by=r.created_by,
        last_updated_by=r.last_updated_by,
    )


def _record_row(record: DatasetRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "dataset_id": record.dataset_id,
        "input_hash": record.input_hash,
        "inputs": json.dumps(record.inputs),
        "outputs": _json(record.outputs),
        "expectations": _json(record.expectations),
        "tags": _json(record.tags),
        "source": _json(record.source),
        "source_id": record.source_id,
        "source_type": record.source_type,
        "created_time": record.created_time,
        "last_update_time": record.last_update_time,
        "created_by": record.created_by,
        "last_updated_by": record.last_updated_by,
    }


class SqlEvalDatasetRepository(EvalDatasetRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _build(self, rows: Sequence[Row[Any]]) -> builtins.list[EvalDataset]:
        ids = [r.id for r in rows]
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        links: dict[str, list[str]] = {i: [] for i in ids}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for tag in self.conn.execute(select(t.eval_dataset_tags).where(_g.dataset_id.in_(chunk))):
                tags[tag.dataset_id][tag.key] = tag.value
            linked = select(_x.dataset_id, _x.experiment_id).where(_x.dataset_id.in_(chunk))
            for link in self.conn.execute(linked.order_by(_x.experiment_id)):
                links[link.dataset_id].append(str(link.experiment_id))
        return [
            EvalDataset(
                id=r.id,
                workspace=r.workspace,
                name=r.name,
                digest=r.digest,
                tags=tags[r.id],
                schema=r.schema,
                profile=r.profile,
                created_time=r.created_time,
                last_update_time=r.last_update_time,
                created_by=r.created_by,
                last_updated_by=r.last_updated_by,
                experiment_ids=tuple(links[r.id]),
            )
            for r in rows
        ]

    def create(self, workspace_id: int, dataset: EvalDataset) -> None:
        self.conn.execute(
            insert(t.eval_datasets).values(
                id=dataset.id,
                workspace_id=workspace_id,
                name=dataset.name,
                digest=dataset.digest,
                schema=dataset.schema,
                profile=dataset.profile,
                created_time=dataset.created_time,
                last_update_time=dataset.last_update_time,
                created_by=dataset.created_by,
                last_updated_by=dataset.last_updated_by,
            )
        )
        self.set_tags(dataset.id, dataset.tags)
        self.link(dataset.id, dataset.experiment_ids)

    def get(self, workspace: str, dataset_id: str) -> EvalDataset | None:
        rows = self.conn.execute(
            in_workspace(t.eval_datasets, workspace, named=True).where(_d.id == dataset_id)
        ).all()
        found = self._build(rows)
        return found[0] if found else None

    def list(self, workspace: str, experiment_ids: Sequence[str] | None) -> builtins.list[EvalDataset]:
        query = in_workspace(t.eval_datasets, workspace, named=True)
        if experiment_ids is not None:
            keys = [int(e) for e in experiment_ids]
            query = query.where(_d.id.in_(select(_x.dataset_id).where(_x.experiment_id.in_(keys))))
        return self._build(self.conn.execute(query).all())

    def delete(self, dataset_id: str) -> None:
        for table in (t.eval_dataset_records, t.eval_dataset_tags, t.eval_dataset_experiments):
            self.conn.execute(delete(table).where(table.c.dataset_id == dataset_id))
        self.conn.execute(delete(t.eval_datasets).where(_d.id == dataset_id))

    def touch(
        self,
        dataset_id: str,
        *,
        digest: str,
        last_update_time: int,
        last_updated_by: str | None,
        schema: str | None = None,
        profile: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"digest": digest, "last_update_time": last_update_time}
        if last_updated_by is not None:
            values["last_updated_by"] = last_updated_by
        if schema is not None:
            values["schema"] = schema
        if profile is not None:
            values["profile"] = profile
        self.conn.execute(update(t.eval_datasets).where(_d.id == dataset_id).values(**values))

    def set_tags(self, dataset_id: str, tags: Mapping[str, str]) -> None:
        if not tags:
            return
        existing = set(self.conn.execute(select(_g.key).where(_g.dataset_id == dataset_id)).scalars())
        for key, value in tags.items():
            if key in existing:
                self.conn.execute(
                    update(t.eval_dataset_tags)
                    .where(_g.dataset_id == dataset_id, _g.key == key)
                    .values(value=value)
                )
            else:
                self.conn.execute(
                    insert(t.eval_dataset_tags).values(dataset_id=dataset_id, key=key, value=value)
                )

    def delete_tag(self, dataset_id: str, key: str) -> None:
        self.conn.execute(delete(t.eval_dataset_tags).where(_g.dataset_id == dataset_id, _g.key == key))

    def link(self, dataset_id: str, experiment_ids: Sequence[str]) -> None:
        have = set(self.conn.execute(select(_x.experiment_id).where(_x.dataset_id == dataset_id)).scalars())
        for key in dict.fromkeys(int(e) for e in experiment_ids):
            if key not in have:
                self.conn.execute(
                    insert(t.eval_dataset_experiments).values(dataset_id=dataset_id, experiment_id=key)
                )

    def unlink(self, dataset_id: str, experiment_ids: Sequence[str]) -> None:
        keys = [int(e) for e in experiment_ids]
        self.conn.execute(
            delete(t.eval_dataset_experiments).where(_x.dataset_id == dataset_id, _x.experiment_id.in_(keys))
        )

    def records_by_hash(self, dataset_id: str, hashes: Sequence[str]) -> dict[str, DatasetRecord]:
        found: dict[str, DatasetRecord] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), _CHUNK):
            rows = self.conn.execute(
                select(t.eval_dataset_records).where(
                    _r.dataset_id == dataset_id, _r.input_hash.in_(unique[start : start + _CHUNK])
                )
            )
            found.update((r.input_hash, _record(r)) for r in rows)
        return found

    def insert_records(self, records: Sequence[DatasetRecord]) -> None:
        if records:
            self.conn.execute(insert(t.eval_dataset_records), [_record_row(r) for r in records])

    def update_records(self, records: Sequence[DatasetRecord]) -> None:
        for record in records:
            self.conn.execute(
                update(t.eval_dataset_records)
                .where(_r.id == record.id)
                .values(
                    outputs=_json(record.outputs),
                    expectations=_json(record.expectations),
                    tags=_json(record.tags),
                    last_update_time=record.last_update_time,
                    last_updated_by=record.last_updated_by,
                )
            )

    def count_records(self, dataset_id: str) -> int:
        return int(
            self.conn.execute(
                select(func.count()).select_from(t.eval_dataset_records).where(_r.dataset_id == dataset_id)
            ).scalar()
            or 0
        )

    def page_records(
        self, dataset_id: str, after: tuple[int, str] | None, limit: int
    ) -> builtins.list[DatasetRecord]:
        query = select(t.eval_dataset_records).where(_r.dataset_id == dataset_id)
        if after is not None:
            time, record_id = after
            query = query.where(or_(_r.created_time > time, and_(_r.created_time == time, _r.id > record_id)))
        rows = self.conn.execute(query.order_by(_r.created_time, _r.id).limit(limit))
        return [_record(r) for r in rows]

    def delete_records(self, dataset_id: str, record_ids: Sequence[str]) -> int:
        gone = 0
        ids = list(dict.fromkeys(record_ids))
        for start in range(0, len(ids), _CHUNK):
            result = self.conn.execute(
                delete(t.eval_dataset_records).where(
                    _r.dataset_id == dataset_id, _r.id.in_(ids[start : start + _CHUNK])
                )
            )
            gone += result.rowcount
        return gone
