"""Traces: written by span ingest and by ``start_trace``, read, searched, tagged, linked, deleted.

The MLflow client sends spans over OTLP in batches as they end, then the trace's info once
the traced call returns; with its background export the two race, so whichever arrives first
creates the trace. Info derived from spans (the root span's times, status and I/O) holds
only until ``start_trace`` brings the client's own, which then wins. Every trace this
server answers for keeps its spans here: ``start_trace`` marks it so
(``mlflow.trace.spansLocation = TRACKING_STORE``), and the client then reads spans from
``traces/get`` and never uploads a ``traces.json``.

Permissions are those of experiments (``server/access.py``); a trace of another workspace
is as unknown as one that does not exist.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from shipyard.domain.context import RequestContext
from shipyard.domain.otlp import ResourceSpans
from shipyard.domain.pagination import decode_token, encode_token, fingerprint
from shipyard.domain.trace_correlation import Correlation, correlation
from shipyard.domain.trace_filters import parse_trace_filter, parse_trace_order_by
from shipyard.domain.traces import (
    LINKED_PROMPTS_TAG,
    MAX_TIME_MS,
    SPANS_LOCATION_TAG,
    TRACE_NAME_TAG,
    TRACE_STATES,
    Span,
    TraceInfo,
    check_assessment,
    check_trace_id,
    link_prompts,
)
from shipyard.domain.validation import MAX_TAG_VALUE_LENGTH, check_key, check_value
from shipyard.errors import AlreadyExists, InvalidArgument, InvalidPageToken, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.ports import ArtifactStore, Database, UnitOfWork
from shipyard.services.trace_payloads import INLINE_LIMIT, load_payloads, payload_size, place_payload
from shipyard.services.trace_ports import TRACES, StoredSpan, TraceExperiment, TraceRef
from shipyard.services.tracking import TrackingService

__all__ = ["MAX_SEARCH_PAGE", "TraceService", "trace_not_found"]

MAX_SEARCH_PAGE = 500  # MLflow's limit on search_traces' max_results
MAX_BATCH = 1000
MAX_LINKS = 100  # MLflow's limit per link-to-run request
MAX_PREVIEW = 64 * 1024
_PREVIEW = 1000  # characters of a derived request/response preview
TRACKING_STORE = "TRACKING_STORE"


def trace_not_found(trace_id: str) -> NotFound:
    return NotFound(f"Trace with ID '{str(trace_id)[:128]}' not found.", trace_id=str(trace_id)[:128])


def _check_pairs(kind: str, values: dict[str, str]) -> dict[str, str]:
    if len(values) > 1000:
        raise InvalidArgument(f"at most 1,000 trace {kind}s per request")
    return {check_key(kind, k): check_value(kind, k, v, MAX_TAG_VALUE_LENGTH) for k, v in values.items()}


def _check_info(info: TraceInfo) -> None:
    check_trace_id(info.trace_id)
    if info.state not in TRACE_STATES:
        raise InvalidArgument(
            f"trace state must be one of {', '.join(TRACE_STATES)}; got {info.state[:40]!r}"
        )
    if not 0 <= info.request_time < MAX_TIME_MS or not 0 <= (info.execution_duration or 0) < MAX_TIME_MS:
        raise InvalidArgument(
            "request_time and execution_duration must be between the epoch and the year 10000"
        )
    for what, text in (
        ("request_preview", info.request_preview),
        ("response_preview", info.response_preview),
    ):
        if text is not None and len(text) > MAX_PREVIEW:
            raise InvalidArgument(f"{what} is {len(text)} characters; at most {MAX_PREVIEW} are kept")
    if info.client_request_id is not None and len(info.client_request_id) > 256:
        raise InvalidArgument("client_request_id is longer than 256 characters")
    info.tags = _check_pairs("tag", info.tags)
    info.metadata = _check_pairs("metadata key", info.metadata)


def _check_owned(ref: TraceRef | None, trace_id: str) -> TraceRef:
    """A trace id another workspace holds is not this one's to write to."""
    if ref is None:
        raise AlreadyExists(f"the trace id {trace_id!r} is already in use", trace_id=trace_id)
    return ref


def _required(experiment_id: str | None) -> str:
    if not experiment_id:
        raise InvalidArgument(
            "say which experiment new traces belong to: send the x-mlflow-experiment-id header"
        )
    return experiment_id


def _preview(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text[:_PREVIEW]


@dataclass(frozen=True, slots=True)
class _Derived:
    """What the root span says of its trace, until ``start_trace`` says otherwise."""

    request_time: int
    state: str
    execution_duration: int | None
    request_preview: str | None
    response_preview: str | None
    name: str | None


def _derive(spans: Sequence[Span]) -> _Derived:
    root = next((s for s in spans if s.parent_span_id is None), None)
    start = min(s.start_time_ns for s in spans) // 1_000_000
    if root is None:
        return _Derived(start, "IN_PROGRESS", None, None, None, None)
    finished = root.end_time_ns is not None
    return _Derived(
        request_time=root.start_time_ns // 1_000_000,
        state=("ERROR" if root.status_code == "ERROR" else "OK") if finished else "IN_PROGRESS",
        execution_duration=max(0, root.end_time_ns - root.start_time_ns) // 1_000_000
        if root.end_time_ns
        else None,
        request_preview=_preview(root.inputs),
        response_preview=_preview(root.outputs),
        name=root.name,
    )


class TraceService:
    def __init__(self, db: Database, store: ArtifactStore, inline_limit: int = INLINE_LIMIT) -> None:
        self.db = db
        self.store = store
        self.inline_limit = inline_limit

    # -- lookups -----------------------------------------------------------------------

    @staticmethod
    def ref(uow: UnitOfWork, ctx: RequestContext, trace_id: str) -> TraceRef:
        found = (
            uow[TRACES].ref(ctx.workspace, trace_id)
            if isinstance(trace_id, str) and len(trace_id) <= 128
            else None
        )
        if found is None:
            raise trace_not_found(trace_id)
        return found

    @staticmethod
    def _experiment(uow: UnitOfWork, ctx: RequestContext, experiment_id: str) -> TraceExperiment:
        # One row, no tags: every start_trace and every new trace's first span batch asks.
        experiment = uow[TRACES].experiment(ctx.workspace, str(experiment_id))
        if experiment is None:
            TrackingService._experiment(uow, ctx, experiment_id)  # raises its NotFound
            raise AssertionError("unreachable: the experiment was not found a moment ago")
        if experiment.lifecycle_stage != "active":
            raise InvalidArgument(
                f"experiment {experiment_id} is deleted; restore it before logging traces to it"
            )
        return experiment

    # -- writing -----------------------------------------------------------------------

    def start_trace(self, ctx: RequestContext, info: TraceInfo) -> TraceInfo:
        """Record the trace's info (MLflow's ``StartTraceV3``, sent when the call is done)."""
        _check_info(info)
        info.created_by = ctx.principal.name
        info.tags[SPANS_LOCATION_TAG] = TRACKING_STORE
        with self.db.write() as uow:
            experiment = self._experiment(uow, ctx, info.experiment_id)
            info.experiment_id = experiment.id
            repo = uow[TRACES]
            # Span batches usually made the trace already (they go out as spans end, the
            # info when the call returns): one lookup settles it, no insert tried first.
            ref = repo.ref(ctx.workspace, info.trace_id)
            if ref is None:
                pk, created = repo.ensure(info)
                if not created:  # made meanwhile, or the id is another workspace's
                    ref = _check_owned(repo.ref(ctx.workspace, info.trace_id), info.trace_id)
            if ref is not None:
                pk = ref.pk
                repo.update(pk, info)
                repo.set_tags(pk, info.tags)
                repo.add_metadata(pk, info.metadata, overwrite=True)
            for assessment in info.assessments:
                # Logged while the trace was open: the client had no server to give ids.
                assessment.trace_id = info.trace_id
                assessment.assessment_id = assessment.assessment_id or f"a-{uuid.uuid4().hex}"
                assessment.created_at = assessment.created_at or now_ms()
                assessment.updated_at = assessment.updated_at or assessment.created_at
                if repo.assessment(pk, assessment.assessment_id) is None:
                    repo.add_assessment(pk, check_assessment(assessment))
            # Read back in the same transaction: what was stored, merged with what spans said.
            return repo.get(ctx.workspace, [info.trace_id])[0]

    # -- MLflow 2.x's trace messages (StartTrace, EndTrace): a trace opened, then closed --

    def start_trace_v2(
        self,
        ctx: RequestContext,
        experiment_id: str,
        timestamp_ms: int,
        metadata: dict[str, str],
        tags: dict[str, str],
    ) -> TraceInfo:
        """Open a trace (MLflow 2.x's ``StartTrace``): a new id, IN_PROGRESS until
        :meth:`end_trace_v2`. Its spans are the client's to upload as ``traces.json`` to the
        trace's artifact folder (2.x clients do): no ``spansLocation`` tag says otherwise."""
        info = TraceInfo(
            trace_id=uuid.uuid4().hex,  # MLflow's v2 request ids
            experiment_id=experiment_id,
            request_time=timestamp_ms,
            state="IN_PROGRESS",
            tags=dict(tags),
            metadata=dict(metadata),
            created_by=ctx.principal.name,
        )
        _check_info(info)
        with self.db.write() as uow:
            info.experiment_id = self._experiment(uow, ctx, experiment_id).id
            repo = uow[TRACES]
            repo.ensure(info)
            return repo.get(ctx.workspace, [info.trace_id])[0]

    def end_trace_v2(
        self,
        ctx: RequestContext,
        trace_id: str,
        timestamp_ms: int,
        state: str,
        metadata: dict[str, str],
        tags: dict[str, str],
    ) -> TraceInfo:
        """Close a trace (MLflow 2.x's ``EndTrace``): its end time gives the duration; the
        state, tags and metadata sent are merged over what it has."""
        metadata, tags = _check_pairs("metadata key", metadata), _check_pairs("tag", tags)
        if state not in TRACE_STATES:
            raise InvalidArgument(
                f"trace status must be one of {', '.join(TRACE_STATES)}; got {state[:40]!r}"
            )
        with self.db.write() as uow:
            pk = self.ref(uow, ctx, trace_id).pk
            repo = uow[TRACES]
            info = repo.get(ctx.workspace, [trace_id])[0]
            if not info.request_time <= timestamp_ms < MAX_TIME_MS:
                raise InvalidArgument(
                    f"timestamp_ms {timestamp_ms} is before the trace started ({info.request_time})"
                    " or past the year 9999"
                )
            info.execution_duration, info.state = timestamp_ms - info.request_time, state
            repo.update(pk, info)
            repo.set_tags(pk, tags)
            repo.add_metadata(pk, metadata, overwrite=True)
            return repo.get(ctx.workspace, [trace_id])[0]

    def link_prompts(self, ctx: RequestContext, trace_id: str, versions: Sequence[tuple[str, str]]) -> None:
        """Record prompt versions (name, version) the trace used, in its ``mlflow.linkedPrompts``
        tag (MLflow's server keeps them in an association table; its client writes the same
        tag), so ``prompt = 'name/version'`` finds the trace."""
        if len(versions) > MAX_LINKS:
            raise InvalidArgument(
                f"link at most {MAX_LINKS} prompt versions per request; got {len(versions)}"
            )
        with self.db.write() as uow:
            pk = self.ref(uow, ctx, trace_id).pk
            current = uow[TRACES].get(ctx.workspace, [trace_id])[0].tags.get(LINKED_PROMPTS_TAG)
            updated = link_prompts(current, versions)
            if updated is not None:
                uow[TRACES].set_tags(pk, _check_pairs("tag", {LINKED_PROMPTS_TAG: updated}))

    def log_spans(
        self, ctx: RequestContext, experiment_id: str | None, blocks: Sequence[ResourceSpans]
    ) -> int:
        """Store OTLP spans (``POST /v1/traces``); returns how many were stored.

        One write transaction per request; a read first only when a span's payload must go to
        the artifact store, whose key names the trace's experiment folder."""
        by_trace: dict[str, list[Span]] = {}
        for block in blocks:
            for span in block.spans:
                by_trace.setdefault(span.trace_id, []).append(span)
        if not by_trace:
            return 0
        large = {
            t for t, spans in by_trace.items() if any(payload_size(s) > self.inline_limit for s in spans)
        }
        locations: dict[str, str] = {}
        if large:
            with self.db.read() as uow:
                folders = {
                    r.trace_id: r.artifact_location for r in uow[TRACES].refs(ctx.workspace, sorted(large))
                }
                fallback = ""  # every large trace is known: no experiment needed
                if len(folders) < len(large):
                    fallback = self._experiment(uow, ctx, _required(experiment_id)).artifact_location
                locations = {t: folders.get(t) or fallback for t in large}
        placed = {
            t: [
                place_payload(self.store, locations[t], s, self.inline_limit)
                if t in large
                else StoredSpan(s, None)
                for s in spans
            ]
            for t, spans in by_trace.items()
        }
        with self.db.write() as uow:
            repo = uow[TRACES]
            known = {r.trace_id: r for r in repo.refs(ctx.workspace, sorted(placed))}
            experiments: dict[str, TraceExperiment] = {}
            batches: list[tuple[int, Sequence[StoredSpan]]] = []
            fresh: set[int] = set()
            # In trace-id order: two batches touching the same traces lock them in one order.
            for trace_id in sorted(placed):
                pk, created = self._trace_of_spans(
                    uow,
                    ctx,
                    experiment_id,
                    experiments,
                    known.get(trace_id),
                    trace_id,
                    _derive(by_trace[trace_id]),
                )
                batches.append((pk, placed[trace_id]))
                if created:
                    fresh.add(pk)
            repo.put_spans(batches, fresh=fresh)
        return sum(len(s) for s in placed.values())

    def _trace_of_spans(
        self,
        uow: UnitOfWork,
        ctx: RequestContext,
        experiment_id: str | None,
        experiments: dict[str, TraceExperiment],
        ref: TraceRef | None,
        trace_id: str,
        derived: _Derived,
    ) -> tuple[int, bool]:
        """The pk of the trace the spans belong to, created from what they say of it when new
        (then True); a trace still in progress takes the word of its ended root span."""
        repo = uow[TRACES]
        if ref is None:
            wanted = _required(experiment_id)
            if wanted not in experiments:
                experiments[wanted] = self._experiment(uow, ctx, wanted)
            owner = experiments[wanted].id
        else:
            owner = ref.experiment_id
        info = TraceInfo(
            trace_id=trace_id,
            experiment_id=owner,
            request_time=derived.request_time,
            state=derived.state,
            execution_duration=derived.execution_duration,
            request_preview=derived.request_preview,
            response_preview=derived.response_preview,
            created_by=ctx.principal.name,
        )
        tags = {SPANS_LOCATION_TAG: TRACKING_STORE}
        if derived.name is not None:
            tags[TRACE_NAME_TAG] = derived.name[:MAX_TAG_VALUE_LENGTH]
        if ref is None:
            info.tags = tags
            pk, created = repo.ensure(info)
            if created:
                return pk, True
            # Made meanwhile by another writer (of this workspace, or the id is refused).
            ref = _check_owned(repo.ref(ctx.workspace, trace_id), trace_id)
        if ref.state == "IN_PROGRESS" and derived.state != "IN_PROGRESS":
            # The root span ended, and start_trace has not spoken yet: the root's word holds.
            repo.update(ref.pk, info)
            repo.set_tags(ref.pk, tags)
        return ref.pk, False

    # -- reading -----------------------------------------------------------------------

    def get_info(self, ctx: RequestContext, trace_id: str) -> TraceInfo:
        with self.db.read() as uow:
            found = uow[TRACES].get(ctx.workspace, [trace_id]) if len(trace_id) <= 128 else []
        if not found:
            raise trace_not_found(trace_id)
        return found[0]

    def get_infos(self, ctx: RequestContext, trace_ids: Sequence[str]) -> list[TraceInfo]:
        """The traces among ``trace_ids`` this workspace holds (others left out, as MLflow does)."""
        if len(trace_ids) > MAX_BATCH:
            raise InvalidArgument(f"ask for at most {MAX_BATCH} traces at once; got {len(trace_ids)}")
        with self.db.read() as uow:
            return uow[TRACES].get(ctx.workspace, [i for i in trace_ids if len(i) <= 128])

    def get_traces(self, ctx: RequestContext, trace_ids: Sequence[str]) -> list[tuple[TraceInfo, list[Span]]]:
        """Infos with their spans (payloads read back from the store)."""
        if len(trace_ids) > MAX_BATCH:
            raise InvalidArgument(f"ask for at most {MAX_BATCH} traces at once; got {len(trace_ids)}")
        wanted = [i for i in trace_ids if len(i) <= 128]
        with self.db.read() as uow:
            found = uow[TRACES].get_with_spans(ctx.workspace, wanted)
        return [(info, load_payloads(self.store, spans)) for info, spans in found]

    def get_trace(self, ctx: RequestContext, trace_id: str) -> tuple[TraceInfo, list[Span]]:
        found = self.get_traces(ctx, [trace_id])
        if not found:
            raise trace_not_found(trace_id)
        return found[0]

    def search(
        self,
        ctx: RequestContext,
        experiment_ids: Sequence[str],
        *,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[TraceInfo], str | None]:
        if not experiment_ids:
            raise InvalidArgument("give at least one experiment id (locations) to search traces in")
        if not 1 <= max_results <= MAX_SEARCH_PAGE:
            raise InvalidArgument(f"max_results must be between 1 and {MAX_SEARCH_PAGE}; got {max_results}")
        clauses = parse_trace_filter(filter_string)
        order = parse_trace_order_by(list(order_by))
        query = fingerprint("traces", ctx.workspace, sorted(experiment_ids), filter_string, list(order_by))
        offset = decode_token(page_token, query) or 0
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < 2**63:
            raise InvalidPageToken("page_token is not a token this server issued")
        with self.db.read() as uow:
            ids = [TrackingService._experiment(uow, ctx, e).id for e in experiment_ids]
            repo = uow[TRACES]
            found = repo.search(ids, clauses, order, offset, max_results + 1)
            infos = repo.get(ctx.workspace, found[:max_results])
        token = encode_token(query, offset + max_results) if len(found) > max_results else None
        return infos, token

    def correlation(
        self,
        ctx: RequestContext,
        experiment_ids: Sequence[str],
        first: str,
        second: str,
        base: str | None = None,
    ) -> Correlation:
        """NPMI of two filters over the experiments' traces (those matching ``base``)."""
        if not experiment_ids:
            raise InvalidArgument("give at least one experiment id to correlate traces in")
        base_clauses = parse_trace_filter(base)
        one, two = parse_trace_filter(first), parse_trace_filter(second)
        with self.db.read() as uow:
            ids = [TrackingService._experiment(uow, ctx, e).id for e in experiment_ids]
            repo = uow[TRACES]
            total = repo.count(ids, base_clauses)
            n1 = repo.count(ids, [*base_clauses, *one])
            n2 = repo.count(ids, [*base_clauses, *two])
            joint = repo.count(ids, [*base_clauses, *one, *two])
        return correlation(joint, n1, n2, total)

    # -- changing ----------------------------------------------------------------------

    def set_tag(self, ctx: RequestContext, trace_id: str, key: str, value: str) -> None:
        tags = _check_pairs("tag", {key: value})
        with self.db.write() as uow:
            uow[TRACES].set_tags(self.ref(uow, ctx, trace_id).pk, tags)

    def delete_tag(self, ctx: RequestContext, trace_id: str, key: str) -> None:
        with self.db.write() as uow:
            if not uow[TRACES].delete_tag(self.ref(uow, ctx, trace_id).pk, key):
                raise NotFound(
                    f"No trace tag with key '{key[:250]}' for trace with ID '{trace_id}'", key=key[:250]
                )

    def link_to_run(self, ctx: RequestContext, trace_ids: Sequence[str], run_id: str) -> None:
        if len(trace_ids) > MAX_LINKS:
            raise InvalidArgument(
                f"Cannot link more than {MAX_LINKS} traces to a run in a single request."
                f" Provided {len(trace_ids)} traces."
            )
        with self.db.write() as uow:
            TrackingService._ref(uow, ctx, run_id, allow_deleted=True)
            repo = uow[TRACES]
            # As MLflow: ids of traces this workspace does not hold are passed over.
            pks = [r.pk for r in repo.refs(ctx.workspace, [i for i in trace_ids if len(i) <= 128])]
            repo.link_run(pks, run_id)

    def delete(
        self,
        ctx: RequestContext,
        experiment_id: str,
        *,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: Sequence[str] = (),
    ) -> int:
        """Delete the given traces, or the oldest up to a time (and a count); their payload
        files in the store go after the rows."""
        if bool(trace_ids) == (max_timestamp_millis is not None):
            raise InvalidArgument(
                "Exactly one of `max_timestamp_millis` and `request_ids` must be specified."
            )
        if max_traces is not None and max_traces <= 0:
            raise InvalidArgument(f"`max_traces` must be a positive integer; got {max_traces}")
        if trace_ids and len(trace_ids) > MAX_BATCH:
            raise InvalidArgument(f"delete at most {MAX_BATCH} traces per request; got {len(trace_ids)}")
        with self.db.write() as uow:
            experiment = TrackingService._experiment(uow, ctx, experiment_id)
            repo = uow[TRACES]
            if trace_ids:
                refs = repo.refs(ctx.workspace, [i for i in trace_ids if len(i) <= 128])
                pks = [r.pk for r in refs if r.experiment_id == experiment.id]
            else:
                pks = repo.oldest(experiment.id, max_timestamp_millis, max_traces)
            keys = repo.delete(pks)
        for key in keys:
            with contextlib.suppress(NotFound):
                self.store.delete(key)
        return len(pks)
