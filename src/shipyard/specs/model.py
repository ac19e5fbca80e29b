"""``model.yml`` (Azure ML CLI v2 model shape): a registered model version from local files,
a run's artifacts or a job's output — ``shipyard model create -f model.yml``::

    $schema: https://azuremlschemas.azureedge.net/latest/model.schema.json
    name: iris-mlflow
    version: 1
    path: model                 # a local folder or file, relative to this file, uploaded;
                                # or runs:/<run id>/<path>; or azureml://jobs/<job>/outputs/…
    type: mlflow_model          # custom_model (the default) or mlflow_model
    description: Iris classifier
    tags: {team: vision}

Fields of Azure's schema that have no meaning here are either accepted with a note
(:data:`MODEL_NOTED_FIELDS`) or refused with the reason (:data:`MODEL_REFUSED_FIELDS`), each
at its line; nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from shipyard.errors import InvalidSpec
from shipyard.specs._base import SpecModel, scalar_map, visible
from shipyard.specs._yaml import LoadedText, validate_spec
from shipyard.specs.refs import AssetRef, JobOutputRef, LocalPathRef, Ref, RunRef, UrlRef, parse_ref

__all__ = [
    "MLMODEL_FILE",
    "MODEL_NOTED_FIELDS",
    "MODEL_REFUSED_FIELDS",
    "LoadedModel",
    "ModelSpec",
    "load_model_file",
    "model_from_fields",
]

#: The file that makes a folder an MLflow model (served without code).
MLMODEL_FILE = "MLmodel"

#: Accepted, not acted on — and what the user is told.
MODEL_NOTED_FIELDS: dict[str, str] = {
    "properties": "Shipyard keeps tags, not properties: move them under tags to keep them",
    "stage": "Shipyard names versions with aliases, not stages: `shipyard model alias set` after this",
    "flavors": "an MLflow model's flavors are read from its MLmodel file",
    "job_name": "a version's lineage comes from the run behind its path (runs:/… or azureml://jobs/…)",
    "intellectual_property": "Shipyard does not restrict who may read a model's files beyond its roles",
}

#: Refused at their line: ignoring them would register something else than the file says.
MODEL_REFUSED_FIELDS: dict[str, str] = {
    "datastore": "Shipyard has no datastores: make path a local folder (uploaded) or runs:/<run id>/<path>",
    "model_uri": "this is the preview schema's name: write path instead",
    "local_path": "this is the preview schema's name: write path instead",
    "model_format": "this is the preview schema's name: write type: mlflow_model or custom_model instead",
}


class ModelSpec(SpecModel):
    spec_kind: ClassVar[str] = "model"

    name: Annotated[str, visible("model")]
    version: str | None = None
    path: str
    type: Literal["custom_model", "mlflow_model", "triton_model"] = "custom_model"
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, Any] | None = None
    stage: str | None = None
    flavors: dict[str, Any] | None = None
    job_name: str | None = None
    intellectual_property: dict[str, Any] | None = None

    _scalars = field_validator("tags", mode="before")(scalar_map)

    @model_validator(mode="before")
    @classmethod
    def _refused(cls, data: Any) -> Any:
        # Raised as InvalidSpec (not ValueError) so that the message keeps the field's own line.
        for name, why in MODEL_REFUSED_FIELDS.items():
            if isinstance(data, dict) and name in data:
                raise InvalidSpec(f"field '{name}' is not supported: {why}", field=name)
        return data

    @field_validator("name")
    @classmethod
    def _one_segment(cls, value: str) -> str:
        if "/" in value:  # the name is one segment of every /api/v1/models/{name}/… URL
            raise ValueError(f"{value!r} cannot contain '/'; use '-' or '.' instead")
        return value

    @field_validator("type")
    @classmethod
    def _served(cls, value: str) -> str:
        if value == "triton_model":
            raise ValueError(
                "triton models need Azure's Triton inference server, which Shipyard does not run;"
                " register an mlflow_model or a custom_model"
            )
        return value

    @field_validator("path")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("path is empty: give a local folder or file, or runs:/<run id>/<path>")
        return value.strip()


ModelPathRef = LocalPathRef | RunRef | JobOutputRef


@dataclass(frozen=True)
class LoadedModel:
    """A model file as read: its fields, where its files are, and what the user is told."""

    spec: ModelSpec
    source: ModelPathRef
    notes: list[str] = field(default_factory=list)


def load_model_file(path: Path, overrides: Sequence[str] = ()) -> LoadedModel:
    """Read and check ``model.yml``; a local ``path`` is relative to the file. Problems are
    :class:`InvalidSpec` errors with the file and the line."""
    loaded = LoadedText.read(path, ModelSpec, overrides)
    spec = loaded.validate(ModelSpec)
    try:
        source = _source(spec, path.parent)
    except InvalidSpec as exc:
        raise loaded.locate(exc) from None
    return LoadedModel(spec, source, _notes(spec))


def model_from_fields(fields: dict[str, Any], base_dir: Path, where: str = "the command line") -> LoadedModel:
    """The same checks for fields given as options (``--name``, ``--path``…) instead of a file;
    a local path is relative to ``base_dir``."""
    spec = validate_spec(fields, ModelSpec, where)
    try:
        source = _source(spec, base_dir)
    except InvalidSpec as exc:
        raise InvalidSpec(f"{where}: {exc.message}", **exc.details) from None
    return LoadedModel(spec, source, _notes(spec))


def _source(spec: ModelSpec, base_dir: Path) -> ModelPathRef:
    text = spec.path
    ref: Ref = parse_ref(text, base_dir, field="path")
    if isinstance(ref, UrlRef):
        raise InvalidSpec(
            f"'{text}': a model is registered from files Shipyard holds; download it and give the"
            " local folder (it is uploaded), or register it from a run (runs:/<run id>/<path>)",
            field="path",
        )
    if isinstance(ref, AssetRef):
        raise InvalidSpec(
            f"'{text}' names a registered asset; a model file registers new files: give a local"
            " folder, runs:/<run id>/<path> or azureml://jobs/<job>/outputs/<output>",
            field="path",
        )
    if isinstance(ref, LocalPathRef):
        if not ref.path.exists():
            raise InvalidSpec(f"'{text}': no such file or folder ({ref.path})", field="path")
        # Said before anything is uploaded; a run's files are checked when registering.
        if spec.type == "mlflow_model" and not (ref.path / MLMODEL_FILE).is_file():
            raise InvalidSpec(
                f"type mlflow_model: {ref.path} has no {MLMODEL_FILE} file; an MLflow model is the"
                " folder mlflow saves (mlflow.sklearn.save_model, log_model) — or set type: custom_model",
                field="type",
            )
    return ref


def _notes(spec: ModelSpec) -> list[str]:
    return [
        f"{name}: not used; {why}"
        for name, why in MODEL_NOTED_FIELDS.items()
        if getattr(spec, name) is not None
    ]
