"""From a job file (validated again on the server) to a :class:`JobSubmission`.

The client has already read the files a job file points at: the code folder and local
inputs arrive as snapshot digests, an inline environment as its Python version and pip
requirements. Everything else — asset, run and URL references, bindings — is checked here,
so an API caller that skips the CLI gets the same errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidSpec
from shipyard.services.jobs import EnvironmentChoice, InputKind, InputValue, JobSubmission
from shipyard.specs import validate_spec
from shipyard.specs.bindings import check_bindings
from shipyard.specs.environment import InlineEnvironment
from shipyard.specs.job import DATA_INPUT_TYPES, CommandJobSpec, TypedInput
from shipyard.specs.refs import (
    AssetRef,
    JobOutputRef,
    LocalPathRef,
    RunRef,
    UrlRef,
    parse_asset_ref,
    parse_ref,
)

__all__ = ["InlineEnvironmentValues", "environment_choice", "submission_from_spec", "validate_job_spec"]

_MODEL_TYPES = frozenset({"mlflow_model", "custom_model"})

# Local paths cannot be read by the server; parse_ref needs a folder to make them absolute.
_NO_FOLDER = Path("/nonexistent-client-folder")


@dataclass(frozen=True, slots=True)
class InlineEnvironmentValues:
    """An inline environment as the client read it from its conda/requirements file."""

    python: str | None
    requirements: tuple[str, ...]
    image: str | None


def validate_job_spec(data: Mapping[str, Any], source: str) -> CommandJobSpec:
    return validate_spec(data, CommandJobSpec, source)


def submission_from_spec(
    spec: CommandJobSpec,
    *,
    source: str,
    code_snapshot: str | None,
    input_snapshots: Mapping[str, str],
    environment: InlineEnvironmentValues | None,
    git: Mapping[str, str],
    raw: Mapping[str, Any],
    uploads_pending: bool = False,
) -> JobSubmission:
    """``uploads_pending``: the client asks before uploading (``POST /api/v1/jobs/check``),
    so the code and local inputs have no snapshot yet and are taken as given."""
    if spec.code is not None and not code_snapshot and not uploads_pending:
        raise InvalidSpec(
            f"{source}: the job has code '{spec.code}' but no code snapshot was uploaded;"
            " submit it with `shipyard job create -f` (which uploads it)",
            field="code",
        )
    inputs = {
        name: _input(name, value, input_snapshots, source, uploads_pending)
        for name, value in spec.inputs.items()
    }
    given = {name for name, item in inputs.items() if item is not None}
    check_bindings(spec.command, spec.inputs.keys(), spec.outputs.keys(), given)
    outputs = {name: (out.type if out is not None else "uri_folder") for name, out in spec.outputs.items()}
    return JobSubmission(
        command=spec.command,
        inputs={k: v for k, v in inputs.items() if v is not None},
        outputs=outputs,
        code_digest=code_snapshot,
        environment=environment_choice(
            spec.environment, environment, source, "job", "shipyard job create -f"
        ),
        compute=spec.compute_target,
        environment_variables=dict(spec.environment_variables),
        timeout_s=float(spec.limits.timeout) if spec.limits and spec.limits.timeout else None,
        retries=spec.retries or 0,
        name=spec.name,
        display_name=spec.display_name,
        experiment_name=spec.experiment_name or "Default",
        description=spec.description or "",
        tags=dict(spec.tags),
        git=dict(git),
        spec=dict(raw),
    )


def _input(
    name: str, value: Any, snapshots: Mapping[str, str], source: str, uploads_pending: bool = False
) -> InputValue | None:
    if not isinstance(value, TypedInput):
        return InputValue("literal", _literal(value), "string")
    if value.type not in DATA_INPUT_TYPES:
        return None if value.default is None else InputValue("literal", _literal(value.default), value.type)
    if name in snapshots:
        return InputValue("snapshot", snapshots[name], value.type)
    if value.path is None:
        return None  # optional, not given
    field = f"inputs.{name}.path"
    ref = parse_ref(value.path, _NO_FOLDER, field=field)
    if isinstance(ref, AssetRef):
        spelled = f"{ref.name}:{ref.version}" if ref.version else f"{ref.name}@{ref.label}"
        kind: InputKind = "model" if value.type in _MODEL_TYPES else "data"
        return InputValue(kind, spelled, value.type)
    if isinstance(ref, RunRef):
        return InputValue("run", f"{ref.run_id}/{ref.path}".rstrip("/"), value.type)
    if isinstance(ref, UrlRef):
        return InputValue("url", ref.url, value.type)
    if isinstance(ref, JobOutputRef):
        raise InvalidSpec(
            f"{source}: input '{name}': outputs of other jobs are read as runs:/<run_id>/outputs/{ref.output}"
            " (`shipyard job show` prints the run id)",
            field=field,
        )
    assert isinstance(ref, LocalPathRef)
    if uploads_pending:
        return InputValue("snapshot", "", value.type)  # uploaded once the check passes
    raise InvalidSpec(
        f"{source}: input '{name}' is the local path '{value.path}', which the server cannot read;"
        " submit the job with `shipyard job create -f` (which uploads it)",
        field=field,
    )


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def environment_choice(
    environment: str | InlineEnvironment | None,
    inline: InlineEnvironmentValues | None,
    source: str,
    what: str,
    command: str,
) -> EnvironmentChoice:
    """A spec's ``environment``: a registered one by reference, an inline one as the client
    read it (``what`` and ``command`` name the thing and how to submit it in the message when
    the client did not), or none (the server's interpreter)."""
    if isinstance(environment, str):
        ref = parse_asset_ref(environment, field="environment")
        return EnvironmentChoice(name=ref.name, version=ref.version, label=ref.label, registry=ref.registry)
    if isinstance(environment, InlineEnvironment):
        if inline is None:
            raise InvalidSpec(
                f"{source}: the {what} has an inline environment but its files were not read;"
                f" submit it with `{command}`",
                field="environment",
            )
        return EnvironmentChoice(python=inline.python, requirements=inline.requirements, image=inline.image)
    return EnvironmentChoice()
