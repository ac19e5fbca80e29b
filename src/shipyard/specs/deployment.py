"""``blue.yml``: Azure ML's managed online deployment, as Shipyard reads it, and
:func:`load_deployment`, which checks the files it points at before anything is uploaded.

``model`` is ``azureml:<name>:<version>``, ``azureml:<name>@<alias>`` (a registered version),
a local folder, or Azure's inline mapping (``path`` to upload, or ``name`` + ``version``).
An MLflow model needs no ``code_configuration`` (a no-code deployment); any other model
brings a scoring script with ``init()`` and ``run(raw_data)``. Fields Azure accepts that mean
nothing on one host (``instance_type``, ``app_insights_enabled``…) are kept and reported by
:meth:`OnlineDeploymentSpec.notes`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import Field, field_validator, model_validator

from shipyard.errors import InvalidSpec
from shipyard.specs._base import SpecModel, StrictModel, scalar_map, visible
from shipyard.specs._yaml import LoadedText
from shipyard.specs.endpoint import NAME_PATTERN
from shipyard.specs.environment import InlineEnvironment, PythonEnvironment, resolve_environment
from shipyard.specs.refs import AssetRef, LocalPathRef, asset_ref_value, parse_asset_ref

__all__ = [
    "DEPLOYMENT_IGNORED_FIELDS",
    "CodeConfiguration",
    "DataCollection",
    "DataCollector",
    "DeploymentFiles",
    "InlineModel",
    "LoadedDeployment",
    "OnlineDeploymentSpec",
    "ProbeSettings",
    "RequestSettings",
    "load_deployment",
    "load_deployment_file",
    "read_deployment_files",
]

#: Accepted, kept on the spec, not acted on — and what the user is told.
DEPLOYMENT_IGNORED_FIELDS: dict[str, str] = {
    "instance_type": "workers are processes on the server's host; the VM size is not used",
    "app_insights_enabled": "metrics are at /metrics (Prometheus), not Application Insights",
    "egress_public_network_access": "workers have the network access of the server's host",
    "scale_settings": "instance_count workers run; there is no autoscaling",
    "model_mount_path": "the model's folder is given to the workers in AZUREML_MODEL_DIR",
    "properties": "kept with the deployment as metadata",
    "resources": "a Kubernetes pod's CPU and memory requests and limits are not enforced",
}

_TRUE = frozenset({"true", "yes", "1"})
_FALSE = frozenset({"false", "no", "0"})


class InlineModel(StrictModel):
    """``model: {path, name, version, type}``: local files to upload, or a registered version."""

    path: str | None = None
    name: str | None = None
    version: str | None = None
    type: Literal["mlflow_model", "custom_model", "triton_model"] | None = None
    description: str | None = None
    tags: dict[str, str] | None = None
    properties: dict[str, Any] | None = None

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _path_or_version(self) -> InlineModel:
        if self.type == "triton_model":
            raise ValueError("triton models are not served; register an mlflow_model or a custom_model")
        if self.path is None and (self.name is None or self.version is None):
            raise ValueError("an inline model needs 'path' (local files) or both 'name' and 'version'")
        return self


class CodeConfiguration(StrictModel):
    code: str
    scoring_script: str

    @field_validator("code")
    @classmethod
    def _local(cls, value: str) -> str:
        if "://" in value or value.startswith("azureml:"):
            raise ValueError(f"'{value}': code must be a local folder (relative to the deployment file)")
        return value

    @field_validator("scoring_script")
    @classmethod
    def _relative(cls, value: str) -> str:
        parts = Path(value).parts
        if not value.strip() or Path(value).is_absolute() or ".." in parts:
            raise ValueError(f"'{value}' must be a path inside the code folder, such as score.py")
        if not value.endswith(".py"):
            raise ValueError(f"'{value}' must be a Python file (.py) with init() and run(raw_data)")
        return value


class RequestSettings(StrictModel):
    """Azure's request settings, and Shipyard's ``max_batch_size``: how many of the requests
    in flight at one worker (at most ``max_concurrent_requests_per_instance``) one model call
    may score together — no-code scikit-learn models only; 1 scores each on its own."""

    request_timeout_ms: int = Field(default=5000, ge=1, le=180_000)
    max_concurrent_requests_per_instance: int = Field(default=1, ge=1, le=1000)
    max_queue_wait_ms: int = Field(default=500, ge=0, le=180_000)
    max_batch_size: int = Field(default=32, ge=1, le=1000)


class ProbeSettings(StrictModel):
    """Seconds and counts, Azure's defaults."""

    initial_delay: int = Field(default=10, ge=0, le=3600)
    period: int = Field(default=10, ge=1, le=3600)
    timeout: int = Field(default=2, ge=1, le=3600)
    success_threshold: int = Field(default=1, ge=1, le=100)
    failure_threshold: int = Field(default=30, ge=1, le=1000)


class DataCollection(StrictModel):
    enabled: bool = False
    data: dict[str, Any] | None = None
    client_side: dict[str, Any] | None = None

    @field_validator("enabled", mode="before")
    @classmethod
    def _azure_strings(cls, value: Any) -> Any:
        # Azure's examples write enabled: 'True' (a string).
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        return value


class DataCollector(StrictModel):
    sampling_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    rolling_rate: Literal["minute", "hour", "day"] | None = None
    collections: dict[str, DataCollection] = Field(default_factory=dict)

    @field_validator("collections")
    @classmethod
    def _known(cls, value: dict[str, DataCollection]) -> dict[str, DataCollection]:
        unknown = sorted(set(value) - {"model_inputs", "model_outputs", "request", "response"})
        if unknown:
            # InvalidSpec passes through pydantic: the loader then points at the key's own line.
            raise InvalidSpec(
                f"collection '{unknown[0]}' is unknown; Shipyard collects model_inputs and model_outputs",
                field=f"data_collector.collections.{unknown[0]}",
            )
        return value


class OnlineDeploymentSpec(SpecModel):
    """``shipyard online-deployment create -f blue.yml``."""

    spec_kind: ClassVar[str] = "deployment"

    name: Annotated[str, visible("deployment")] = Field(pattern=NAME_PATTERN)
    endpoint_name: Annotated[str, visible("endpoint")] = Field(pattern=NAME_PATTERN)
    type: Literal["managed", "kubernetes"] | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    model: str | InlineModel | None = None
    code_configuration: CodeConfiguration | None = None
    environment: str | InlineEnvironment | None = None
    instance_type: str | None = None
    instance_count: int = Field(default=1, ge=1, le=64)
    request_settings: RequestSettings = Field(default_factory=RequestSettings)
    liveness_probe: ProbeSettings = Field(default_factory=ProbeSettings)
    readiness_probe: ProbeSettings = Field(default_factory=ProbeSettings)
    environment_variables: dict[str, str] = Field(default_factory=dict)
    data_collector: DataCollector | None = None
    app_insights_enabled: bool | None = None
    egress_public_network_access: str | None = None
    scale_settings: dict[str, Any] | None = None
    model_mount_path: str | None = None
    properties: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None  # a Kubernetes deployment's requests and limits

    _scalars = field_validator("tags", "environment_variables", mode="before")(scalar_map)

    @field_validator("model", mode="before")
    @classmethod
    def _model_ref(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("is empty; name a registered model (azureml:<name>:<version>) or a folder")
            if value.startswith("azureml:"):
                try:
                    parse_asset_ref(value)
                except InvalidSpec as exc:
                    raise ValueError(exc.message) from None
        return value

    _environment_ref = field_validator("environment", mode="before")(asset_ref_value)

    @field_validator("environment_variables")
    @classmethod
    def _variable_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not key or "=" in key or key.startswith(("SHIPYARD_INTERNAL", "AZUREML_MODEL_DIR")):
                raise ValueError(f"environment variable name {key!r} is not allowed")
        return value

    @model_validator(mode="after")
    def _something_to_serve(self) -> OnlineDeploymentSpec:
        if self.model is None and self.code_configuration is None:
            raise ValueError("a deployment needs a 'model', a 'code_configuration', or both")
        return self

    def notes(self) -> list[str]:
        """One line per accepted-but-ignored field present in this file."""
        out = [f"{k}: {why}" for k, why in DEPLOYMENT_IGNORED_FIELDS.items() if getattr(self, k) is not None]
        if self.type == "kubernetes":
            out.append("type: kubernetes deployments run as local worker processes here")
        if isinstance(self.environment, InlineEnvironment) and self.environment.image:
            out.append(
                f"environment.image '{self.environment.image}' is not pulled: no container engine;"
                " the workers run in a Python environment built from the spec"
            )
        collector = self.data_collector
        if collector is not None and (collector.rolling_rate not in (None, "hour")):
            out.append("data_collector.rolling_rate: collected data is rolled hourly")
        return out


_Spec = TypeVar("_Spec", bound=SpecModel)


@dataclass(frozen=True)
class LoadedDeployment(Generic[_Spec]):
    """A validated deployment file (online or batch) whose local folders are absolute and exist.

    ``model`` is the registered version to look up, a local folder to upload, or None;
    ``environment`` the named asset, the Python environment read from an inline spec, or None
    (the server's interpreter). ``raw`` is the mapping to send on, overrides applied.
    """

    spec: _Spec
    source: Path
    model: AssetRef | LocalPathRef | None
    code: Path | None
    environment: AssetRef | PythonEnvironment | None
    notes: tuple[str, ...]
    raw: Mapping[str, Any] = field(default_factory=dict)


def load_deployment_file(
    path: Path, model: type[_Spec], overrides: Sequence[str] = (), *, model_files_too: bool
) -> LoadedDeployment[_Spec]:
    """Read ``path`` as ``model`` (with ``--set`` overrides) and check the model, code and
    environment files it points at. ``model_files_too``: a local model may be a single file."""
    source = path.resolve()
    text = LoadedText.read(path, model, overrides)
    spec = text.validate(model)
    try:
        files = read_deployment_files(spec, source.parent, model_files_too=model_files_too)
    except InvalidSpec as exc:
        raise text.locate(exc) from None
    return LoadedDeployment(spec, source, files.model, files.code, files.environment, files.notes, text.data)


def load_deployment(path: Path, overrides: Sequence[str] = ()) -> LoadedDeployment[OnlineDeploymentSpec]:
    """Read an online deployment file (with ``--set`` overrides) and check the files it points at."""
    return load_deployment_file(path, OnlineDeploymentSpec, overrides, model_files_too=True)


@dataclass(frozen=True)
class DeploymentFiles:
    """What a deployment file (online or batch) points at on the client's disk, checked."""

    model: AssetRef | LocalPathRef | None
    code: Path | None
    environment: AssetRef | PythonEnvironment | None
    notes: tuple[str, ...]


def read_deployment_files(spec: Any, base: Path, *, model_files_too: bool) -> DeploymentFiles:
    """The model, the code folder (with its scoring script) and the environment of ``spec``
    — anything with ``model``, ``code_configuration``, ``environment`` and ``notes()`` —
    relative to ``base``. ``model_files_too``: a local model may be a single file."""
    model = _model(spec.model, base, model_files_too)
    code = None
    if spec.code_configuration is not None:
        code = _folder(spec.code_configuration.code, base, "code_configuration.code")
        if not (code / spec.code_configuration.scoring_script).is_file():
            raise InvalidSpec(
                f"scoring_script '{spec.code_configuration.scoring_script}' is not a file in {code}",
                field="code_configuration.scoring_script",
            )
    environment: AssetRef | PythonEnvironment | None = None
    notes = list(spec.notes())
    if isinstance(spec.environment, str):
        environment = parse_asset_ref(spec.environment, field="environment")
    elif isinstance(spec.environment, InlineEnvironment):
        try:
            environment = resolve_environment(spec.environment, base)
        except InvalidSpec as exc:
            where = f"environment.{exc.details.get('field') or ''}".rstrip(".")
            raise InvalidSpec(f"environment: {exc.message}", **{**exc.details, "field": where}) from None
        notes.extend(n for n in environment.notes if not n.startswith("image "))
    return DeploymentFiles(model, code, environment, tuple(notes))


def _model(model: str | InlineModel | None, base: Path, files_too: bool) -> AssetRef | LocalPathRef | None:
    if model is None:
        return None
    if isinstance(model, InlineModel):
        if model.path is None:
            assert model.name is not None
            assert model.version is not None
            return AssetRef(name=model.name, version=model.version)
        return LocalPathRef(_folder(model.path, base, "model.path", files_too=files_too))
    if model.startswith("azureml:"):
        return parse_asset_ref(model, field="model")
    return LocalPathRef(_folder(model, base, "model", files_too=files_too))


def _folder(relative: str, base: Path, where: str, *, files_too: bool = False) -> Path:
    folder = (base / Path(relative).expanduser()).resolve()
    if not folder.exists():
        raise InvalidSpec(f"'{relative}' does not exist ({folder})", field=where)
    if not folder.is_dir() and not files_too:
        raise InvalidSpec(f"'{relative}' is not a folder ({folder})", field=where)
    return folder
