"""Where a model version's files come from: only URIs that resolve inside Shipyard's stores.

MLflow's own advisories are the checklist: a version ``source`` pointing at server files
(``file:///etc``, ``/root/.ssh``, a relative path), URL fragments and queries that smuggle
another location past a prefix check, and ``..`` or percent-encoded traversal. We accept
exactly three forms and refuse anything else with a message that says what to send:

- ``runs:/<run id>/<path>``: a path in a run's artifacts (or a model the run logged);
- ``models:/m-<id>`` (a logged model), ``models:/<name>/<version>``, ``models:/<name>@<alias>``;
- ``mlflow-artifacts:/<key>``: a key in this server's artifact store, as the proxied
  artifact service names it (``<workspace>/<experiment>/<run>/artifacts/…`` or
  ``<workspace>/<experiment>/models/<model id>/artifacts/…``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from shipyard.domain.paths import clean_relative_path
from shipyard.errors import InvalidArgument

__all__ = [
    "MAX_SOURCE_LENGTH",
    "PROMPT_SOURCES",
    "ModelSource",
    "check_prompt_source",
    "is_prompt",
    "parse_model_source",
]

# MLflow 3's prompt registry keeps prompts as registered models and their versions as model
# versions tagged ``mlflow.prompt.is_prompt = true``, the template in a tag and no files. The
# create call still needs a source: these placeholders, the only ones MLflow's server takes.
PROMPT_TAG = "mlflow.prompt.is_prompt"
PROMPT_SOURCES = frozenset({"dummy-source", "prompt-template"})

MAX_SOURCE_LENGTH = 1024
_RUN_ID = re.compile(r"^[0-9a-zA-Z_-]{1,64}$")
_LOGGED_MODEL_ID = re.compile(r"^m-[0-9a-f]{1,62}$")
_HINT = "send runs:/<run id>/<path>, models:/<model id or name/version> or mlflow-artifacts:/<path>"


@dataclass(frozen=True, slots=True)
class ModelSource:
    kind: Literal["run", "logged_model", "version", "artifact"]
    run_id: str | None = None
    path: str = ""  # the artifact path under the run, or the artifact store key
    logged_model_id: str | None = None
    name: str | None = None
    version: str | None = None  # a number, or "@alias"


def _refuse(source: str, why: str) -> InvalidArgument:
    return InvalidArgument(f"model version source {source[:200]!r} {why}; {_HINT}", source=source[:200])


def _models_uri(source: str, rest: str) -> ModelSource:
    if _LOGGED_MODEL_ID.match(rest):
        return ModelSource("logged_model", logged_model_id=rest)
    if "@" in rest and "/" not in rest:
        name, _, alias = rest.partition("@")
        if name and alias:
            return ModelSource("version", name=name, version="@" + alias)
    name, _, version = rest.partition("/")
    if name and version.isascii() and version.isdigit() and len(version) <= 10:
        return ModelSource("version", name=name, version=version)
    raise _refuse(source, "is not a logged model id, <name>/<version> or <name>@<alias>")


def parse_model_source(source: str) -> ModelSource:
    """Parse ``source`` or raise :class:`InvalidArgument` saying why it is refused."""
    if not isinstance(source, str) or not source:
        raise InvalidArgument(f"a model version needs a source; {_HINT}")
    if len(source) > MAX_SOURCE_LENGTH:
        raise _refuse(source, f"is longer than {MAX_SOURCE_LENGTH} characters")
    if any(ord(ch) < 32 for ch in source) or "#" in source or "?" in source:
        raise _refuse(source, "holds a control character, a '#' fragment or a '?' query")
    scheme, colon, rest = source.partition(":")
    if not colon or scheme.lower() not in ("runs", "models", "mlflow-artifacts"):
        raise _refuse(
            source, "is not a location inside this server (local paths and other schemes are refused)"
        )
    if not rest.startswith("/") or rest.startswith("//"):
        raise _refuse(source, "names a host or is not of the form scheme:/path")
    rest = rest[1:]
    if scheme.lower() == "models":
        return _models_uri(source, rest)
    try:
        if scheme.lower() == "mlflow-artifacts":
            return ModelSource("artifact", path=clean_relative_path(rest))
        run_id, _, path = rest.partition("/")
        if not _RUN_ID.match(run_id):
            raise _refuse(source, "does not start with a run id")
        return ModelSource("run", run_id=run_id, path=clean_relative_path(path, allow_empty=True))
    except InvalidArgument as exc:
        if exc.message.startswith("model version source"):
            raise
        raise _refuse(source, f"has an unsafe path ({exc.message})") from exc


def is_prompt(tags: dict[str, str]) -> bool:
    """A prompt (or prompt version), as MLflow tells one: its tag says ``true``, any case."""
    return tags.get(PROMPT_TAG, "false").lower() == "true"


def check_prompt_source(source: str) -> None:
    """A prompt version's source must be one of MLflow's placeholders (as its server checks)."""
    if source not in PROMPT_SOURCES:
        raise InvalidArgument(
            f"Invalid prompt source: '{source[:200]}'. Prompt sources must use an MLflow placeholder.",
            source=source[:200],
        )
