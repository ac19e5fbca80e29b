"""Components, as ``/api/v1/components`` answers them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from shipyard.api._config import ANSWER_CONFIG

__all__ = ["Component", "ComponentPage"]


@dataclass(frozen=True, slots=True)
class Component:
    """A registered command component version: ``azureml:<name>:<version>`` in a pipeline step."""

    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    name: str
    version: str
    description: str
    tags: dict[str, str]
    is_deterministic: bool
    """Whether a pipeline step running it may be reused from an earlier identical run."""
    inputs: dict[str, Any]
    """Declared inputs (type, default, optional, min, max, enum), as in the file."""
    outputs: dict[str, Any]
    command: str
    code_digest: str | None
    """The snapshot of its code folder, if it has one."""
    environment: Any
    """An environment reference (azureml:…), or the inline environment as registered."""
    spec: dict[str, Any]
    """The component file's mapping."""
    created_at: int
    created_by: str


@dataclass(frozen=True, slots=True)
class ComponentPage:
    __pydantic_config__: ClassVar[dict[str, Any]] = ANSWER_CONFIG

    components: list[Component]
