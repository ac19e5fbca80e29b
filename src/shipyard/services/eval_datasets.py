"""Evaluation datasets: create, find, tag, link to experiments, upsert and page records.

A dataset belongs to the caller's workspace and may be linked to experiments of that
workspace; who may read or change experiments there may read or change its datasets (the
route table says so). Records are upserted by their inputs, as MLflow does
(``domain/eval_datasets.py``), in one transaction: a refused batch writes nothing.

Search filters and orders in memory over the workspace's datasets: a workspace holds tens of
evaluation datasets, not millions, and MLflow's grammar (LIKE on tags, created_by…) is then
a few lines of pure code instead of a second SQL compiler.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from shipyard.domain.context import RequestContext
from shipyard.domain.eval_datasets import (
    MAX_RECORDS_PER_UPSERT,
    DatasetRecord,
    EvalDataset,
    check_dataset_name,
    dataset_digest,
    extend_schema,
    input_hash,
    matches,
    merge_record,
    parse_dataset_filter,
    parse_dataset_order_by,
    parse_record,
    source_identity,
)
from shipyard.domain.pagination import decode_token, encode_token, fingerprint
from shipyard.domain.validation import MAX_TAG_VALUE_LENGTH, check_key
from shipyard.errors import InvalidArgument, InvalidPageToken, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.genai_ports import EVAL_DATASETS
from shipyard.services.ports import Database, UnitOfWork

__all__ = ["MAX_PAGE", "USER_TAG", "EvalDatasetService"]

MAX_PAGE = 50_000
USER_TAG = "mlflow.user"  # MLflow takes a record's or dataset's author from this tag


def _not_found(dataset_id: str) -> NotFound:
    return NotFound(f"Evaluation dataset with id '{dataset_id}' not found")


def _page_size(max_results: int | None, default: int) -> int:
    size = max_results if max_results else default
    if not 1 <= size <= MAX_PAGE:
        raise InvalidArgument(f"max_results must be between 1 and {MAX_PAGE}; got {size}")
    return size


def _tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (tags or {}).items():
        if value is None:
            continue  # MLflow skips a tag set to None
        check_key("tag", key)
        text = value if isinstance(value, str) else str(value)
        if len(text) > MAX_TAG_VALUE_LENGTH:
            raise InvalidArgument(f"tag {key!r}: the value is longer than {MAX_TAG_VALUE_LENGTH} characters")
        out[key] = text
    return out


class EvalDatasetService:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- the dataset ----------------------------------------------------------------------

    @staticmethod
    def _experiments(uow: UnitOfWork, ctx: RequestContext, experiment_ids: Sequence[str]) -> list[str]:
        found: list[str] = []
        for experiment_id in experiment_ids:
            experiment = uow.experiments.get(ctx.workspace, str(experiment_id))
            if experiment is None:
                raise NotFound(
                    f"no experiment with id {experiment_id!r} in workspace {ctx.workspace!r}",
                    experiment_id=str(experiment_id),
                )
            found.append(experiment.id)
        return found

    @staticmethod
    def _dataset(uow: UnitOfWork, ctx: RequestContext, dataset_id: str) -> EvalDataset:
        found = uow[EVAL_DATASETS].get(ctx.workspace, dataset_id)
        if found is None:
            raise _not_found(dataset_id)
        return found

    def create(
        self,
        ctx: RequestContext,
        name: str,
        tags: Mapping[str, Any] | None = None,
        experiment_ids: Sequence[str] = (),
    ) -> EvalDataset:
        check_dataset_name(name)
        checked = _tags(tags)
        now = now_ms()
        user = checked.get(USER_TAG, ctx.principal.name)
        with self.db.write() as uow:
            linked = self._experiments(uow, ctx, experiment_ids)
            workspace_id = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now)
            dataset = EvalDataset(
                id=f"d-{uuid.uuid4().hex}",
                workspace=ctx.workspace,
                name=name,
                digest=dataset_digest(name, now),
                tags=checked,
                schema=None,
                profile=None,
                created_time=now,
                last_update_time=now,
                created_by=user,
                last_updated_by=user,
                experiment_ids=tuple(dict.fromkeys(linked)),
            )
            uow[EVAL_DATASETS].create(workspace_id, dataset)
        return dataset

    def get(self, ctx: RequestContext, dataset_id: str) -> EvalDataset:
        with self.db.read() as uow:
            return self._dataset(uow, ctx, dataset_id)

    def delete(self, ctx: RequestContext, dataset_id: str) -> None:
        """As MLflow: deleting a dataset that is not there is no error."""
        with self.db.write() as uow:
            if uow[EVAL_DATASETS].get(ctx.workspace, dataset_id) is not None:
                uow[EVAL_DATASETS].delete(dataset_id)

    def search(
        self,
        ctx: RequestContext,
        *,
        experiment_ids: Sequence[str] = (),
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] = (),
        page_token: str | None = None,
    ) -> tuple[list[EvalDataset], str | None]:
        size = _page_size(max_results, 1000)
        clauses = parse_dataset_filter(filter_string)
        orders = parse_dataset_order_by(order_by or None)
        query = fingerprint("eval-datasets", ctx.workspace, sorted(experiment_ids), filter_string, orders)
        offset = decode_token(page_token, query) or 0
        if not isinstance(offset, int) or offset < 0:
            raise InvalidPageToken("page_token is not a token this server issued")
        with self.db.read() as uow:
            wanted: list[str] | None = None
            if experiment_ids:
                # An id that names no experiment of the workspace ("abc", 10**30) links no dataset.
                found_experiments = (uow.experiments.get(ctx.workspace, str(i)) for i in experiment_ids)
                wanted = [e.id for e in found_experiments if e is not None]
            found = uow[EVAL_DATASETS].list(ctx.workspace, wanted)
        hits = [d for d in found if matches(d, clauses)]
        # Stable sorts, the last key first: MLflow's tie-breaker (the id, descending) last of all.
        hits.sort(key=lambda d: d.id, reverse=True)
        for key, ascending in reversed(orders):
            attribute = "id" if key == "dataset_id" else key
            hits.sort(
                key=lambda d: (getattr(d, attribute) is None, getattr(d, attribute) or ""),
                reverse=not ascending,
            )
        page = hits[offset : offset + size]
        token = encode_token(query, offset + size) if len(hits) > offset + size else None
        return page, token

    def set_tags(self, ctx: RequestContext, dataset_id: str, tags: Mapping[str, Any]) -> None:
        checked = _tags(tags)
        with self.db.write() as uow:
            self._dataset(uow, ctx, dataset_id)
            uow[EVAL_DATASETS].set_tags(dataset_id, checked)

    def delete_tag(self, ctx: RequestContext, dataset_id: str, key: str) -> None:
        """As MLflow: a missing dataset or tag is no error."""
        with self.db.write() as uow:
            if uow[EVAL_DATASETS].get(ctx.workspace, dataset_id) is not None:
                uow[EVAL_DATASETS].delete_tag(dataset_id, key)

    def experiment_ids(self, ctx: RequestContext, dataset_id: str) -> list[str]:
        return list(self.get(ctx, dataset_id).experiment_ids)

    def link(
        self, ctx: RequestContext, dataset_id: str, experiment_ids: Sequence[str], *, add: bool
    ) -> EvalDataset:
        with self.db.write() as uow:
            self._dataset(uow, ctx, dataset_id)
            linked = self._experiments(uow, ctx, experiment_ids)
            if add:
                uow[EVAL_DATASETS].link(dataset_id, linked)
            else:
                uow[EVAL_DATASETS].unlink(dataset_id, linked)
            return self._dataset(uow, ctx, dataset_id)

    # -- records --------------------------------------------------------------------------

    def upsert_records(self, ctx: RequestContext, dataset_id: str, raw: object) -> tuple[int, int]:
        """(inserted, updated). Records sharing inputs within one call merge in order."""
        if not isinstance(raw, list):
            raise InvalidArgument("records must be a JSON list of objects, each with 'inputs'")
        if len(raw) > MAX_RECORDS_PER_UPSERT:
            raise InvalidArgument(
                f"at most {MAX_RECORDS_PER_UPSERT} records per call; got {len(raw)}: send them in parts"
            )
        records = [parse_record(i, r) for i, r in enumerate(raw)]
        now = now_ms()
        with self.db.write() as uow:
            dataset = self._dataset(uow, ctx, dataset_id)
            repo = uow[EVAL_DATASETS]
            hashes = [input_hash(r.inputs) for r in records]
            stored = repo.records_by_hash(dataset_id, hashes)
            new: dict[str, DatasetRecord] = {}
            changed: dict[str, DatasetRecord] = {}
            updated_by: str | None = None
            for record, digest in zip(records, hashes, strict=True):
                user = (record.tags or {}).get(USER_TAG)
                updated_by = user or updated_by
                if digest in new:
                    new[digest] = merge_record(new[digest], record, user, now)
                elif digest in changed or digest in stored:
                    changed[digest] = merge_record(changed.get(digest) or stored[digest], record, user, now)
                else:
                    source_id, source_type = source_identity(record.source)
                    new[digest] = DatasetRecord(
                        id=f"dr-{uuid.uuid4().hex}",
                        dataset_id=dataset_id,
                        input_hash=digest,
                        inputs=record.inputs,
                        # As MLflow: a record inserted without outputs holds empty ones.
                        outputs=record.outputs if record.has_outputs else {},
                        expectations=record.expectations,
                        tags=record.tags,
                        source=record.source,
                        source_id=source_id,
                        source_type=source_type,
                        created_time=now,
                        last_update_time=now,
                        created_by=user,
                        last_updated_by=user,
                    )
            repo.insert_records(list(new.values()))
            repo.update_records(list(changed.values()))
            total = repo.count_records(dataset_id)
            repo.touch(
                dataset_id,
                digest=dataset_digest(dataset.name, now),
                last_update_time=now,
                last_updated_by=updated_by,
                schema=extend_schema(dataset.schema, records),
                profile=f'{{"num_records": {total}}}' if total else None,
            )
        return len(new), len(changed)

    def records(
        self,
        ctx: RequestContext,
        dataset_id: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> tuple[list[DatasetRecord], str | None]:
        size = _page_size(max_results, 1000)
        query = fingerprint("eval-dataset-records", ctx.workspace, dataset_id)
        position = decode_token(page_token, query)
        after: tuple[int, str] | None = None
        if position is not None:
            if not (isinstance(position, list) and len(position) == 2):
                raise InvalidPageToken("page_token is not a token this server issued")
            after = (int(position[0]), str(position[1]))
        with self.db.read() as uow:
            self._dataset(uow, ctx, dataset_id)
            found = uow[EVAL_DATASETS].page_records(dataset_id, after, size + 1)
        page = found[:size]
        token = None
        if len(found) > size:
            token = encode_token(query, [page[-1].created_time, page[-1].id])
        return page, token

    def delete_records(self, ctx: RequestContext, dataset_id: str, record_ids: Sequence[str]) -> int:
        now = now_ms()
        with self.db.write() as uow:
            dataset = self._dataset(uow, ctx, dataset_id)
            repo = uow[EVAL_DATASETS]
            gone = repo.delete_records(dataset_id, record_ids)
            if gone:
                total = repo.count_records(dataset_id)
                repo.touch(
                    dataset_id,
                    digest=dataset_digest(dataset.name, now),
                    last_update_time=now,
                    last_updated_by=None,
                    profile=f'{{"num_records": {total}}}' if total else "null",
                )
        return gone
