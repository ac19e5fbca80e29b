"""What a model card needs, read over the API: ``client.operations(ModelCardOperations).data(name, version)``.

The reads are one generator, :func:`card_reads`, that yields each request (:class:`Read`) and
receives its answer — so the SDK drives it with its blocking HTTP client and the studio's
card page with its in-process async one, and both build the same
:class:`~shipyard.domain.model_card.CardData`. A read the card can do without (the lineage, the
run, the history, the baseline) that fails becomes a note on the card, not an error.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.client import _convert
from shipyard.domain.lineage import Graph
from shipyard.domain.model_card import CardData, baseline_of
from shipyard.domain.registry import ModelEvent, ModelVersion
from shipyard.domain.tracking import Run
from shipyard.errors import ShipyardError

if TYPE_CHECKING:
    from shipyard.client.client import Client

__all__ = ["Failed", "ModelCardOperations", "Read", "card_reads"]

_HISTORY_MAX = 1000


@dataclass(frozen=True, slots=True)
class Read:
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    required: bool = False
    """A required read that fails ends the card (the version itself); others become notes."""


@dataclass(frozen=True, slots=True)
class Failed:
    """What a driver sends back for a read that failed: the API's message."""

    message: str


def _q(text: str) -> str:
    return quote(text, safe="")


def card_reads(name: str, version: int, server_url: str) -> Generator[Read, Any, CardData]:
    """The reads of the card of ``name`` version ``version``, then the card's data."""
    model_path = f"/api/v1/models/{_q(name)}"
    found = _convert.version((yield Read(f"{model_path}/versions/{version}", required=True)))
    notes: list[str] = []

    def failed(answer: Any, what: str) -> bool:
        if isinstance(answer, Failed):
            notes.append(f"{what}: {answer.message}")
            return True
        return False

    run: Run | None = None
    if found.run_id:
        answer = yield Read(f"/api/v1/runs/{_q(found.run_id)}")
        run = None if failed(answer, f"run {found.run_id}") else _convert.run(answer)
    answer = yield Read("/api/v1/lineage", {"node": f"model:{name}:{version}"})
    graph = None if failed(answer, "lineage") else Graph.from_json(answer)
    answer = yield Read(f"{model_path}/history", {"max_results": _HISTORY_MAX})
    events: list[ModelEvent] = (
        [] if failed(answer, "history") else [_convert.event(e) for e in answer["events"]]
    )
    model = yield Read(model_path)
    listed = yield Read(f"{model_path}/versions")
    aliases = {} if failed(model, "model") else dict(_convert.model(model).aliases)
    numbers = [] if failed(listed, "versions") else [int(v["version"]) for v in listed["versions"]]
    number, reason = baseline_of(found, aliases, events, numbers)
    baseline: ModelVersion | None = None
    baseline_run: Run | None = None
    if number is not None:
        answer = yield Read(f"{model_path}/versions/{number}")
        baseline = None if failed(answer, f"baseline version {number}") else _convert.version(answer)
    if baseline is not None and baseline.run_id:
        answer = yield Read(f"/api/v1/runs/{_q(baseline.run_id)}")
        baseline_run = None if failed(answer, f"baseline run {baseline.run_id}") else _convert.run(answer)
    if baseline is not None and baseline_run is None:
        reason += " (its run cannot be read: no comparison)"
    return CardData(
        version=found, server_url=server_url, run=run, graph=graph, events=events, baseline=baseline,
        baseline_run=baseline_run, baseline_reason=reason, notes=notes,
    )  # fmt: skip


class ModelCardOperations:
    def __init__(self, client: Client) -> None:
        self._client = client

    def data(self, name: str, version: int) -> CardData:
        """Everything the card of ``name`` version ``version`` shows, read as this client's
        principal (a section it may not read is a note on the card)."""
        reads = card_reads(name, version, self._client.url)
        answer: Any = None
        try:
            while True:
                read = reads.send(answer)
                try:
                    answer = self._client.http.request("GET", read.path, params=read.params or None)
                except ShipyardError as error:
                    if read.required:
                        raise
                    answer = Failed(error.message)
        except StopIteration as done:
            result: CardData = done.value
            return result
