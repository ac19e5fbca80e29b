"""Ground truth for earlier predictions: ``POST /endpoints/<name>/feedback``.

The application that scored a request learns the true outcome later (the loan defaulted,
the customer churned) and sends it with the request's ``x-request-id``::

    {"feedback": [{"request_id": "…", "row": 0, "ground_truth": 1}, …]}

(``row``, the row of a many-row request, defaults to 0; a single object without the list
is accepted too). Each item is kept through the :class:`DataCollector` as the ``feedback``
collection and joined with the collected predictions when a monitor runs
(:mod:`shipyard.services.monitoring.performance`). Ids the server never saw are accepted —
nobody can tell yet whether the prediction was collected — and counted at the join.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from shipyard.errors import InvalidArgument
from shipyard.services.data_collection import CollectedRow, DataCollector

__all__ = ["MAX_FEEDBACK_BYTES", "MAX_FEEDBACK_ITEMS", "FeedbackItem", "parse_feedback", "record_feedback"]

MAX_FEEDBACK_BYTES = 4 * 1024 * 1024
MAX_FEEDBACK_ITEMS = 10_000
MAX_REQUEST_ID = 200

_EXAMPLE = '{"feedback": [{"request_id": "<x-request-id>", "row": 0, "ground_truth": 1}]}'


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    request_id: str
    row: int
    ground_truth: str  # JSON


def parse_feedback(body: bytes, max_items: int = MAX_FEEDBACK_ITEMS) -> list[FeedbackItem]:
    """The items of a feedback body; InvalidArgument naming what to fix."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgument(f"the feedback body is not valid JSON ({exc}); send {_EXAMPLE}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"the feedback body must be a JSON object: {_EXAMPLE}")
    items = doc.get("feedback", doc)
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not items:
        raise InvalidArgument(f'"feedback" must be a non-empty list of items: {_EXAMPLE}')
    if len(items) > max_items:
        raise InvalidArgument(
            f"{len(items)} feedback items in one request; send at most {max_items} at a time"
        )
    return [_item(i, item) for i, item in enumerate(items)]


def _item(i: int, item: Any) -> FeedbackItem:
    if not isinstance(item, dict):
        raise InvalidArgument(f"feedback item {i} must be an object with request_id and ground_truth")
    request_id = item.get("request_id")
    if not isinstance(request_id, str) or not request_id or len(request_id) > MAX_REQUEST_ID:
        raise InvalidArgument(
            f'feedback item {i} needs "request_id": the x-request-id header of the scoring answer'
            f" (a non-empty string of at most {MAX_REQUEST_ID} characters)"
        )
    row = item.get("row", 0)
    if isinstance(row, bool) or not isinstance(row, int) or row < 0:
        raise InvalidArgument(f'feedback item {i}: "row" must be the row\'s index in the request (0, 1, …)')
    if "ground_truth" not in item or item["ground_truth"] is None:
        raise InvalidArgument(f'feedback item {i} needs "ground_truth": the true label or value')
    unknown = sorted(set(item) - {"request_id", "row", "ground_truth"})
    if unknown:
        raise InvalidArgument(
            f"feedback item {i} has unknown field(s) {unknown}: use request_id, row, ground_truth"
        )
    return FeedbackItem(request_id, row, orjson.dumps(item["ground_truth"]).decode())


def record_feedback(
    collector: DataCollector,
    workspace: str,
    endpoint: str,
    items: list[FeedbackItem],
    now_ms: int,
    served_by: Callable[[str], str | None] = lambda _request_id: None,
) -> int:
    """Queue ``items`` as the endpoint's ``feedback`` collection; the number queued."""
    for item in items:
        collector.collect(
            CollectedRow(
                workspace,
                endpoint,
                served_by(item.request_id) or "",
                "feedback",
                item.request_id,
                now_ms,
                item.ground_truth,
                item.row,
            )
        )
    return len(items)
