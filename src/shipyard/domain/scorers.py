"""Scorers registered on an experiment (``scorer.register()``), each name with versions.

The server stores the serialized scorer as the client sent it and hands it back; it never
runs it (a scorer is user code or an LLM judge: both run where the client runs).
"""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.domain.validation import check_name
from shipyard.errors import InvalidArgument

__all__ = ["MAX_SERIALIZED_SCORER_BYTES", "ScorerVersion", "check_scorer"]

MAX_SERIALIZED_SCORER_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ScorerVersion:
    scorer_id: str
    experiment_id: str
    name: str
    version: int
    serialized_scorer: str
    creation_time: int
    created_by: str


def check_scorer(name: object, serialized: object) -> tuple[str, str]:
    check_name("scorer", name)
    if not isinstance(serialized, str) or not serialized:
        raise InvalidArgument("serialized_scorer must be the non-empty text scorer.register() sends")
    if len(serialized.encode()) > MAX_SERIALIZED_SCORER_BYTES:
        raise InvalidArgument(f"serialized_scorer is at most {MAX_SERIALIZED_SCORER_BYTES} bytes")
    assert isinstance(name, str)
    return name, serialized
