"""Traces with their tags, metadata, spans, assessments and links to runs."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import orjson
from sqlalchemy import (
    BindParameter,
    Connection,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shipyard.domain.trace_filters import TraceClause, TraceOrder
from shipyard.domain.traces import (
    TRACE_NAME_TAG,
    Assessment,
    Span,
    TraceInfo,
)
from shipyard.services.trace_ports import StoredSpan, TraceExperiment, TraceRef, TraceRepository
from shipyard.stores.sql import schema as s
from shipyard.stores.sql import schema_traces as t
from shipyard.stores.sql._ids import new_id
from shipyard.stores.sql._trace_search import TRACE_COLUMNS, allow_regexp, bad_regex, condition

__all__ = ["SqlTraceRepository"]


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _load(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


# The statements of span ingest, start_trace and batch reads, built once at import (as
# stores/sql/runs.py does): building a Core statement costs more than running it from the
# compiled cache, and a trace takes about twenty of them.
_tr = t.traces.c
_IDS: BindParameter[Any] = bindparam("trace_ids", expanding=True)
_PKS: BindParameter[Any] = bindparam("pks", expanding=True)
# ``experiment_id + 0``: lookups by trace id must use the trace-id index. With a bare column
# SQLite's planner joins from the workspace through experiments into
# ix_traces_experiment_time and scans every trace of the experiment for the ids asked for
# (2.4 ms a lookup at 10,000 traces, against 0.3 ms: a search of 100 traces makes 21 of them).
_IN_WORKSPACE = and_(
    s.experiments.c.id == _tr.experiment_id + 0,
    s.workspaces.c.id == s.experiments.c.workspace_id,
    s.workspaces.c.name == bindparam("workspace"),
)
_MAX_ID = 2**31 - 1  # what the experiments' INTEGER id holds
_EXPERIMENT = (
    select(s.experiments.c.id, s.experiments.c.artifact_location, s.experiments.c.lifecycle_stage)
    .join(s.workspaces, s.workspaces.c.id == s.experiments.c.workspace_id)
    .where(s.experiments.c.id == bindparam("experiment_id_"), s.workspaces.c.name == bindparam("workspace"))
)
_REFS = select(_tr.pk, _tr.trace_id, _tr.experiment_id, s.experiments.c.artifact_location, _tr.state).where(
    _IN_WORKSPACE, _tr.trace_id.in_(_IDS)
)
_INFOS = select(t.traces, s.experiments.c.artifact_location).where(_IN_WORKSPACE, _tr.trace_id.in_(_IDS))
_PAIRS_OF = {
    table.name: select(table).where(table.c.trace_pk.in_(_PKS)) for table in (t.trace_tags, t.trace_metadata)
}
_VALUES_OF = {
    table.name: select(table.c.key, table.c.value).where(
        table.c.trace_pk == bindparam("trace_pk_"), table.c.key.in_(bindparam("keys", expanding=True))
    )
    for table in (t.trace_tags, t.trace_metadata)
}
_INSERT_PAIRS = {table.name: insert(table) for table in (t.trace_tags, t.trace_metadata)}
_ASSESSMENTS_OF = (
    select(t.trace_assessments, _tr.trace_id)
    .join(t.traces, _tr.pk == t.trace_assessments.c.trace_pk)
    .where(t.trace_assessments.c.trace_pk.in_(_PKS))
    .order_by(t.trace_assessments.c.id)
)
# Span batches and start_trace race to create a trace: on PostgreSQL the loser waits for the
# winner's commit and takes its row instead of failing the whole batch (SQLite serialises
# writers; the same statement spares it a lookup first).
_ENSURE_PG = pg_insert(t.traces).on_conflict_do_nothing(index_elements=["trace_id"]).returning(_tr.pk)
_ENSURE_SQLITE = sqlite_insert(t.traces).on_conflict_do_nothing(index_elements=["trace_id"])
_PK_OF = select(_tr.pk).where(_tr.trace_id == bindparam("trace_id_"))
_UPDATE_TRACE = update(t.traces).where(_tr.pk == bindparam("pk_"))
_INSERT_SPANS = insert(t.trace_spans)
_DELETE_SPANS = delete(t.trace_spans).where(
    t.trace_spans.c.trace_pk == bindparam("pk_"),
    t.trace_spans.c.span_id.in_(bindparam("span_ids", expanding=True)),
)
_SPANS_OF = (
    select(t.trace_spans, _tr.trace_id)
    .join(t.traces, _tr.pk == t.trace_spans.c.trace_pk)
    .where(t.trace_spans.c.trace_pk.in_(_PKS))
    .order_by(t.trace_spans.c.trace_pk, t.trace_spans.c.start_time_ns, t.trace_spans.c.id)
)


class SqlTraceRepository(TraceRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- trace info --------------------------------------------------------------------

    def experiment(self, workspace: str, experiment_id: str) -> TraceExperiment | None:
        # Anything that is not an id the INTEGER column holds names no experiment (binding
        # it would fail in the driver: a 500 instead of "not found").
        if not (experiment_id.isascii() and experiment_id.isdigit()) or int(experiment_id) > _MAX_ID:
            return None
        row = self.conn.execute(
            _EXPERIMENT, {"experiment_id_": int(experiment_id), "workspace": workspace}
        ).first()
        return (
            None if row is None else TraceExperiment(str(row.id), row.artifact_location, row.lifecycle_stage)
        )

    def ref(self, workspace: str, trace_id: str) -> TraceRef | None:
        found = self.refs(workspace, [trace_id])
        return found[0] if found else None

    def refs(self, workspace: str, trace_ids: Sequence[str]) -> list[TraceRef]:
        if not trace_ids:
            return []
        rows = self.conn.execute(_REFS, {"workspace": workspace, "trace_ids": list(trace_ids)})
        return [TraceRef(r.pk, r.trace_id, str(r.experiment_id), r.artifact_location, r.state) for r in rows]

    @staticmethod
    def _columns(info: TraceInfo) -> dict[str, Any]:
        return {
            "experiment_id": int(info.experiment_id),
            "client_request_id": info.client_request_id,
            "request_time": info.request_time,
            "execution_duration": info.execution_duration,
            "state": info.state,
            "request_preview": info.request_preview,
            "response_preview": info.response_preview,
        }

    def ensure(self, info: TraceInfo) -> tuple[int, bool]:
        values = {"trace_id": info.trace_id, "created_by": info.created_by, **self._columns(info)}
        made: int | None
        if self.conn.dialect.name == "postgresql":
            made = self.conn.execute(_ENSURE_PG, values).scalar()
        else:
            result = self.conn.execute(_ENSURE_SQLITE, values)
            made = new_id(result) if result.rowcount == 1 else None
        if made is None:
            existing = self.conn.execute(_PK_OF, {"trace_id_": info.trace_id}).scalar()
            assert existing is not None  # inserted by the writer we waited for
            return existing, False
        # A new row has no tags or metadata yet: plain inserts.
        for table, values_of in ((t.trace_tags, info.tags), (t.trace_metadata, info.metadata)):
            if values_of:
                self.conn.execute(
                    _INSERT_PAIRS[table.name],
                    [{"trace_pk": made, "key": k, "value": v} for k, v in values_of.items()],
                )
        return made, True

    def update(self, pk: int, info: TraceInfo) -> None:
        self.conn.execute(_UPDATE_TRACE, {"pk_": pk, **self._columns(info)})

    def get(self, workspace: str, trace_ids: Sequence[str]) -> list[TraceInfo]:
        return [info for _pk, info in self._infos(workspace, trace_ids)]

    def get_with_spans(
        self, workspace: str, trace_ids: Sequence[str]
    ) -> list[tuple[TraceInfo, list[StoredSpan]]]:
        found = self._infos(workspace, trace_ids)
        spans = self.spans([pk for pk, _info in found])
        return [(info, spans[pk]) for pk, info in found]

    def _infos(self, workspace: str, trace_ids: Sequence[str]) -> list[tuple[int, TraceInfo]]:
        """Infos with their row keys, in the order of ``trace_ids``: one read gives both."""
        if not trace_ids:
            return []
        rows = list(self.conn.execute(_INFOS, {"workspace": workspace, "trace_ids": list(trace_ids)}))
        pks = [r.pk for r in rows]
        tags: dict[int, dict[str, str]] = {pk: {} for pk in pks}
        meta: dict[int, dict[str, str]] = {pk: {} for pk in pks}
        assessments: dict[int, list[Assessment]] = {pk: [] for pk in pks}
        if pks:
            for row in self.conn.execute(_PAIRS_OF[t.trace_tags.name], {"pks": pks}):
                tags[row.trace_pk][row.key] = row.value
            for row in self.conn.execute(_PAIRS_OF[t.trace_metadata.name], {"pks": pks}):
                meta[row.trace_pk][row.key] = row.value
            for row in self.conn.execute(_ASSESSMENTS_OF, {"pks": pks}):
                assessments[row.trace_pk].append(_assessment(row))
        found = {
            r.trace_id: (
                r.pk,
                TraceInfo(
                    trace_id=r.trace_id,
                    experiment_id=str(r.experiment_id),
                    request_time=r.request_time,
                    state=r.state,
                    execution_duration=r.execution_duration,
                    client_request_id=r.client_request_id,
                    request_preview=r.request_preview,
                    response_preview=r.response_preview,
                    tags=tags[r.pk],
                    metadata=meta[r.pk],
                    assessments=assessments[r.pk],
                    created_by=r.created_by,
                    artifact_location=r.artifact_location,
                ),
            )
            for r in rows
        }
        return [found[i] for i in dict.fromkeys(trace_ids) if i in found]

    def search(
        self,
        experiment_ids: Sequence[str],
        clauses: Sequence[TraceClause],
        order: Sequence[TraceOrder],
        offset: int,
        limit: int,
    ) -> list[str]:
        tr = t.traces.c
        dialect = self.conn.dialect.name
        query = select(tr.trace_id).where(tr.experiment_id.in_([int(e) for e in experiment_ids]))
        for clause in clauses:
            query = query.where(condition(clause, dialect))
        terms: list[Any] = []
        for term in order or [TraceOrder("timestamp_ms", ascending=False)]:
            column: Any
            if term.kind != "attribute" or term.key == "name":
                table = t.trace_metadata if term.kind == "metadata" else t.trace_tags
                key = TRACE_NAME_TAG if term.kind == "attribute" else term.key
                column = (
                    select(table.c.value)
                    .where(table.c.trace_pk == tr.pk, table.c.key == key)
                    .scalar_subquery()
                )
                terms.append(column.is_(None))  # traces without the value last, as MLflow
            elif term.key == "experiment_id":
                column = tr.experiment_id
            else:
                column = TRACE_COLUMNS[term.key]
            terms.append(column.asc() if term.ascending else column.desc())
        terms.append(tr.trace_id.asc())  # a total order: pages never shift
        allow_regexp(self.conn, clauses)
        with bad_regex():
            return list(self.conn.execute(query.order_by(*terms).offset(offset).limit(limit)).scalars())

    def count(self, experiment_ids: Sequence[str], clauses: Sequence[TraceClause]) -> int:
        query = (
            select(func.count())
            .select_from(t.traces)
            .where(
                t.traces.c.experiment_id.in_([int(e) for e in experiment_ids]),
                *(condition(c, self.conn.dialect.name) for c in clauses),
            )
        )
        allow_regexp(self.conn, clauses)
        with bad_regex():
            return int(self.conn.execute(query).scalar() or 0)

    def delete(self, pks: Sequence[int]) -> list[str]:
        if not pks:
            return []
        keys = list(
            self.conn.execute(
                select(t.trace_spans.c.payload_path).where(
                    t.trace_spans.c.trace_pk.in_(list(pks)), t.trace_spans.c.payload_path.is_not(None)
                )
            ).scalars()
        )
        for table in (t.trace_spans, t.trace_assessments, t.trace_tags, t.trace_metadata, t.trace_run_links):
            self.conn.execute(delete(table).where(table.c.trace_pk.in_(list(pks))))
        self.conn.execute(delete(t.traces).where(t.traces.c.pk.in_(list(pks))))
        return keys

    def oldest(self, experiment_id: str, max_timestamp_ms: int | None, limit: int | None) -> list[int]:
        tr = t.traces.c
        query = select(tr.pk).where(tr.experiment_id == int(experiment_id))
        if max_timestamp_ms is not None:
            query = query.where(tr.request_time <= max_timestamp_ms)
        query = query.order_by(tr.request_time, tr.pk)
        if limit is not None:
            query = query.limit(limit)
        return list(self.conn.execute(query).scalars())

    # -- tags, metadata, links ---------------------------------------------------------

    def _upsert(self, table: Any, pk: int, values: dict[str, str], overwrite: bool) -> None:
        if not values:
            return
        c = table.c
        rows = [{"trace_pk": pk, "key": k, "value": v} for k, v in values.items()]
        if self.conn.dialect.name == "postgresql":
            # start_trace and a span batch may set the same key at once: no unique violation.
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement = pg_insert(table)
            keys = ["trace_pk", "key"]
            self.conn.execute(
                statement.on_conflict_do_update(index_elements=keys, set_={"value": statement.excluded.value})
                if overwrite
                else statement.on_conflict_do_nothing(index_elements=keys),
                rows,
            )
            return
        existing: dict[str, str] = {
            row.key: row.value
            for row in self.conn.execute(_VALUES_OF[table.name], {"trace_pk_": pk, "keys": list(values)})
        }
        fresh = [row for row in rows if row["key"] not in existing]
        if fresh:
            self.conn.execute(_INSERT_PAIRS[table.name], fresh)
        if overwrite:
            for key, old in existing.items():
                if old != values[key]:  # an unchanged value needs no statement
                    self.conn.execute(
                        update(table).where(c.trace_pk == pk, c.key == key).values(value=values[key])
                    )

    def set_tags(self, pk: int, tags: dict[str, str]) -> None:
        self._upsert(t.trace_tags, pk, tags, overwrite=True)

    def delete_tag(self, pk: int, key: str) -> bool:
        c = t.trace_tags.c
        return bool(self.conn.execute(delete(t.trace_tags).where(c.trace_pk == pk, c.key == key)).rowcount)

    def add_metadata(self, pk: int, metadata: dict[str, str], *, overwrite: bool) -> None:
        self._upsert(t.trace_metadata, pk, metadata, overwrite)

    def link_run(self, pks: Sequence[int], run_id: str) -> None:
        c = t.trace_run_links.c
        linked = set(
            self.conn.execute(
                select(c.trace_pk).where(c.run_id == run_id, c.trace_pk.in_(list(pks)))
            ).scalars()
        )
        fresh = [{"trace_pk": pk, "run_id": run_id} for pk in dict.fromkeys(pks) if pk not in linked]
        if fresh:
            self.conn.execute(insert(t.trace_run_links), fresh)

    # -- spans -------------------------------------------------------------------------

    def put_spans(
        self, batches: Sequence[tuple[int, Sequence[StoredSpan]]], *, fresh: Collection[int] = ()
    ) -> None:
        for pk, spans in batches:
            if pk not in fresh:  # a span sent again replaces itself
                ids = [stored.span.span_id for stored in spans]
                self.conn.execute(_DELETE_SPANS, {"pk_": pk, "span_ids": ids})
        rows = [self._span_row(pk, stored) for pk, spans in batches for stored in spans]
        if rows:
            self.conn.execute(_INSERT_SPANS, rows)

    @staticmethod
    def _span_row(pk: int, stored: StoredSpan) -> dict[str, Any]:
        span = stored.span
        inline = stored.payload_key is None
        attributes = _json(span.attributes) if inline else None
        inputs = _json(span.inputs) if inline else None
        outputs = _json(span.outputs) if inline else None
        events = _json(span.events) if inline and span.events else None
        return {
            "trace_pk": pk,
            "span_id": span.span_id,
            "parent_span_id": span.parent_span_id,
            "name": span.name,
            "span_type": (span.span_type or "")[:256] or None,
            "status_code": span.status_code,
            "status_message": span.status_message,
            "start_time_ns": span.start_time_ns,
            "end_time_ns": span.end_time_ns,
            "trace_state": span.trace_state,
            "attributes": attributes,
            "inputs": inputs,
            "outputs": outputs,
            "events": events,
            "payload_path": stored.payload_key,
            "payload_size": sum(len(x or "") for x in (attributes, inputs, outputs, events)),
        }

    def spans(self, pks: Sequence[int]) -> dict[int, list[StoredSpan]]:
        out: dict[int, list[StoredSpan]] = {pk: [] for pk in pks}
        if not pks:
            return out
        for row in self.conn.execute(_SPANS_OF, {"pks": list(pks)}):
            span = Span(
                trace_id=row.trace_id,
                span_id=row.span_id,
                parent_span_id=row.parent_span_id,
                name=row.name,
                start_time_ns=row.start_time_ns,
                end_time_ns=row.end_time_ns,
                status_code=row.status_code,
                status_message=row.status_message,
                trace_state=row.trace_state,
                attributes=_load(row.attributes) or {},
                inputs=_load(row.inputs),
                outputs=_load(row.outputs),
                events=_load(row.events) or [],
            )
            out[row.trace_pk].append(StoredSpan(span, row.payload_path))
        return out

    def has_spans(self, pk: int) -> bool:
        found = self.conn.execute(select(t.trace_spans.c.id).where(t.trace_spans.c.trace_pk == pk).limit(1))
        return found.first() is not None

    # -- assessments -------------------------------------------------------------------

    @staticmethod
    def _assessment_row(assessment: Assessment) -> dict[str, Any]:
        return {
            "name": assessment.name,
            "kind": assessment.kind,
            "value": _json(assessment.value),
            "error": _json(assessment.error),
            "rationale": assessment.rationale,
            "source_type": assessment.source_type,
            "source_id": assessment.source_id,
            "span_id": assessment.span_id,
            "run_id": assessment.run_id,
            "meta": _json(assessment.metadata) if assessment.metadata else None,
            "overrides": assessment.overrides,
            "valid": assessment.valid,
            "created_at": assessment.created_at,
            "updated_at": assessment.updated_at,
        }

    def add_assessment(self, pk: int, assessment: Assessment) -> None:
        self.conn.execute(
            insert(t.trace_assessments).values(
                assessment_id=assessment.assessment_id, trace_pk=pk, **self._assessment_row(assessment)
            )
        )

    def assessment(self, pk: int, assessment_id: str) -> Assessment | None:
        a = t.trace_assessments.c
        row = self.conn.execute(
            select(t.trace_assessments, t.traces.c.trace_id)
            .join(t.traces, t.traces.c.pk == a.trace_pk)
            .where(a.trace_pk == pk, a.assessment_id == assessment_id)
        ).first()
        return None if row is None else _assessment(row)

    def replace_assessment(self, assessment: Assessment) -> None:
        a = t.trace_assessments.c
        self.conn.execute(
            update(t.trace_assessments)
            .where(a.assessment_id == assessment.assessment_id)
            .values(**self._assessment_row(assessment))
        )

    def delete_assessment(self, assessment_id: str) -> None:
        self.conn.execute(
            delete(t.trace_assessments).where(t.trace_assessments.c.assessment_id == assessment_id)
        )

    def set_valid(self, assessment_id: str, valid: bool) -> None:
        a = t.trace_assessments.c
        self.conn.execute(
            update(t.trace_assessments).where(a.assessment_id == assessment_id).values(valid=valid)
        )


def _assessment(row: Any) -> Assessment:
    return Assessment(
        assessment_id=row.assessment_id,
        trace_id=row.trace_id,
        name=row.name,
        kind=row.kind,
        value=_load(row.value) or {},
        source_type=row.source_type,
        source_id=row.source_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        span_id=row.span_id,
        rationale=row.rationale,
        error=_load(row.error),
        metadata=_load(row.meta) or {},
        overrides=row.overrides,
        valid=bool(row.valid),
        run_id=row.run_id,
    )
