"""Large span payloads in the artifact store, read back transparently.

A span's attributes, inputs, outputs and events stay in its database row up to
:data:`INLINE_LIMIT` bytes of JSON; a larger span (a long prompt, a retrieved document set)
moves them to ``<experiment folder>/traces/<trace id>/spans/<span id>.json`` so the spans
table stays narrow and a search never reads them. The file is written before the row that
names it is committed: a reader never meets a row without its file.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from shipyard.domain.paths import join_key
from shipyard.domain.traces import Span
from shipyard.errors import NotFound
from shipyard.services.ports import ArtifactStore
from shipyard.services.trace_ports import StoredSpan

__all__ = ["INLINE_LIMIT", "load_payloads", "payload_size", "place_payload", "trace_folder"]

INLINE_LIMIT = 64 * 1024


def trace_folder(artifact_location: str, trace_id: str) -> str:
    return join_key(artifact_location, "traces", trace_id)


def _payload(span: Span) -> bytes:
    return orjson.dumps(
        {"attributes": span.attributes, "inputs": span.inputs, "outputs": span.outputs, "events": span.events}
    )


def payload_size(span: Span) -> int:
    """Bytes of JSON the span's attributes, inputs, outputs and events take."""
    return len(_payload(span))


def place_payload(
    store: ArtifactStore, artifact_location: str, span: Span, limit: int = INLINE_LIMIT
) -> StoredSpan:
    """The span as it is to be stored: inline, or its payload written to the store first."""
    blob = _payload(span)
    if len(blob) <= limit:
        return StoredSpan(span, None)
    key = join_key(trace_folder(artifact_location, span.trace_id), "spans", f"{span.span_id}.json")
    with store.staging_file() as (staged, handle):
        handle.write(blob)
        handle.flush()
        handle.close()
        store.put(key, staged)
    return StoredSpan(replace(span, attributes={}, inputs=None, outputs=None, events=[]), key)


def load_payloads(store: ArtifactStore, stored: list[StoredSpan]) -> list[Span]:
    """The spans whole: payloads kept in the store read back into them."""
    out: list[Span] = []
    for item in stored:
        if item.payload_key is None:
            out.append(item.span)
            continue
        try:
            with store.get(item.payload_key) as handle:
                data: dict[str, Any] = orjson.loads(handle.read())
        except NotFound:
            # Deleted by hand from the store: the span is still worth showing without them.
            data = {"attributes": {"mlflow.payloadMissing": item.payload_key}}
        out.append(
            replace(
                item.span,
                attributes=data.get("attributes") or {},
                inputs=data.get("inputs"),
                outputs=data.get("outputs"),
                events=data.get("events") or [],
            )
        )
    return out
