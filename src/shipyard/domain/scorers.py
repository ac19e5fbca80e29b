"""Scorers registered on an experiment (``scorer.register()``), each name with versions.

The server stores the serialized scorer as the client sent it and hands it back; it never
runs it (a scorer is user code or an LLM judge: both run where the client runs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from shipyard.domain.validation import check_name
from shipyard.errors import InvalidArgument

__all__ = [
    "MAX_SERIALIZED_SCORER_BYTES",
    "OnlineScoringConfig",
    "ScorerVersion",
    "check_sample_rate",
    "check_scorer",
    "judge_model",
]

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


@dataclass(frozen=True, slots=True)
class OnlineScoringConfig:
    """How the scorer would sample an experiment's traces (MLflow's ``OnlineScoringConfig``).

    Stored and answered so ``scorer.start()``/``update()`` and the UI keep their settings; this
    server never acts on it (it runs no scorer)."""

    id: str
    scorer_id: str
    experiment_id: str
    sample_rate: float
    filter_string: str | None


def check_sample_rate(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidArgument(f"sample_rate must be a number, got {type(value).__name__}")
    try:
        rate = float(value)
    except ValueError:
        raise InvalidArgument(f"sample_rate must be a number, got {value!r}") from None
    if not 0.0 <= rate <= 1.0:
        raise InvalidArgument(f"sample_rate must be between 0.0 and 1.0, got {value}")
    return rate


def judge_model(serialized_scorer: str) -> str | None:
    """The model a serialized judge calls (``"gateway:/chat"``, ``"openai:/gpt-4o"``), where
    MLflow's serialization names one; None for a code scorer or unreadable text."""
    try:
        data = json.loads(serialized_scorer)
    except ValueError:
        return None
    while isinstance(data, dict):
        for key in (
            "instructions_judge_pydantic_data",
            "builtin_scorer_pydantic_data",
            "third_party_scorer_data",
        ):
            found = data.get(key)
            if isinstance(found, dict):
                model = found.get("model")
                return model if isinstance(model, str) else None
        memory = data.get("memory_augmented_judge_data")
        data = memory.get("base_judge") if isinstance(memory, dict) else None
    return None


def check_scorer(name: object, serialized: object) -> tuple[str, str]:
    check_name("scorer", name)
    if not isinstance(serialized, str) or not serialized:
        raise InvalidArgument("serialized_scorer must be the non-empty text scorer.register() sends")
    if len(serialized.encode()) > MAX_SERIALIZED_SCORER_BYTES:
        raise InvalidArgument(f"serialized_scorer is at most {MAX_SERIALIZED_SCORER_BYTES} bytes")
    assert isinstance(name, str)
    return name, serialized
