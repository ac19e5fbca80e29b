"""When a pipeline step may reuse an earlier run, and why it did not.

A step's *fingerprint* is what decides its outputs: its command (with the bindings still in
it), its code snapshot, its environment's hash, the *content* hash of each data input, and
its parameters (literal inputs, environment variables). Equal fingerprints (the same reuse
key) of a deterministic step mean the earlier outputs are this step's too.

Inputs are keyed on content, never on where they came from: an upstream step that ran again
and wrote the same bytes leaves every step after it reusable (ZenML's lesson); a change of
code changes the key, so a step whose code changed always runs (the mistake of Metaflow's
``resume``, which copies earlier steps without looking).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.services.jobs import InputValue, JobSubmission

__all__ = ["Fingerprint", "changes", "content_hash_of_records", "fingerprint"]

#: An input's content hash, from its kind and value (a run artifact's files, a data asset's
#: recorded hash…); the caller caches what is costly.
ContentHash = Callable[[str, InputValue], str]


@dataclass(frozen=True)
class Fingerprint:
    command: str
    code: str | None
    environment: str
    inputs: dict[str, str]
    parameters: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "code": self.code,
            "environment": self.environment,
            "inputs": dict(sorted(self.inputs.items())),
            "parameters": dict(sorted(self.parameters.items())),
        }

    @property
    def key(self) -> str:
        """The reuse key: a hash of the whole fingerprint."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()


def fingerprint(sub: JobSubmission, environment_hash: str, content: ContentHash) -> Fingerprint:
    """The fingerprint of a step about to start, its inputs all resolved."""
    inputs: dict[str, str] = {}
    parameters: dict[str, str] = {}
    for name, value in sub.inputs.items():
        if value.kind == "literal":
            parameters[name] = value.value
        else:
            inputs[name] = content(name, value)
    for name, text in sub.environment_variables.items():
        parameters[f"env.{name}"] = text
    return Fingerprint(sub.command, sub.code_digest, environment_hash, inputs, parameters)


def changes(before: Mapping[str, Any], now: Fingerprint) -> list[str]:
    """What changed since an earlier run of the step: ``command``, ``code``, ``environment``,
    ``inputs.<name>``, ``parameters.<name>`` — in that order."""
    current = now.to_json()
    out = [part for part in ("command", "code", "environment") if before.get(part) != current[part]]
    for group in ("inputs", "parameters"):
        old = before.get(group) or {}
        new = current[group]
        out.extend(
            f"{group}.{name}" for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)
        )
    return out


def content_hash_of_records(records: list[tuple[str, str]]) -> str:
    """The content hash of a folder of artifacts: (path relative to it, file sha256) pairs."""
    digest = hashlib.sha256()
    for path, sha in sorted(records):
        digest.update(f"{path}\0{sha}\n".encode())
    return digest.hexdigest()
