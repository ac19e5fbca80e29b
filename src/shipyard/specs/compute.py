"""``compute.yml``: a compute target — Shipyard's own kinds, or Azure ML's compute file shapes.

Shipyard's kinds are ``local`` (processes on the server's host) and ``ray`` (a Ray cluster).
Azure's ``amlcompute`` (a cluster) and ``computeinstance`` (one VM) files are read as they
are and become one of those (:meth:`ComputeSpec.target`): a ``ray`` target when an
``address`` is given (in the file, or ``--address``), else a ``local`` one that runs as many
jobs at once as the cluster has nodes (``max_instances``). Their VM sizes, scaling, SSH,
identity and network settings describe cloud machines and are ignored, each with a note.
Azure's other kinds (attached VMs, Kubernetes, Synapse Spark) need the cloud and are refused
with the feature they need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from shipyard.errors import InvalidSpec
from shipyard.specs._base import SpecModel, scalar_map, visible

__all__ = ["AZURE_COMPUTE_KINDS", "CLOUD_ONLY_COMPUTE", "ComputeSpec", "ComputeTarget"]

AZURE_COMPUTE_KINDS = ("amlcompute", "computeinstance")

#: Azure compute kinds that only exist in the cloud, and the feature each one is.
CLOUD_ONLY_COMPUTE: dict[str, str] = {
    "virtualmachine": "attached virtual machines (reached over SSH)",
    "kubernetes": "Kubernetes compute (AKS or Azure Arc clusters)",
    "synapsespark": "Spark (attached Synapse Spark pools)",
    "hdinsight": "Spark (HDInsight clusters)",
    "databricks": "Databricks",
    "datafactory": "Data Factory",
}

#: Azure fields that describe the cloud machines, ignored with this note.
_IGNORED: dict[str, str] = {
    "size": "VM size",
    "tier": "dedicated/low-priority tier",
    "location": "Azure region",
    "min_instances": "nodes kept running",
    "idle_time_before_scale_down": "scale-down delay",
    "idle_time_before_shutdown": "idle shutdown",
    "idle_time_before_shutdown_minutes": "idle shutdown",
    "ssh_public_access_enabled": "SSH access",
    "ssh_settings": "SSH settings",
    "network_settings": "virtual network",
    "enable_node_public_ip": "public IPs",
    "identity": "managed identity (jobs run as their submitter)",
    "schedules": "start/stop schedules",
    "setup_scripts": "setup scripts",
    "create_on_behalf_of": "assigned user",
    "custom_applications": "custom applications",
    "enable_sso": "single sign-on",
    "enable_root_access": "root access",
    "release_quota_on_stop": "quota",
    "os_image_url": "OS image",
}


@dataclass(frozen=True)
class ComputeTarget:
    """What a compute file registers: a Shipyard kind, its concurrency and address, and notes."""

    name: str
    kind: Literal["local", "ray"]
    max_concurrent: int
    address: str | None
    description: str | None
    notes: tuple[str, ...]


class ComputeSpec(SpecModel):
    """``shipyard compute create -f compute.yml`` (or the same fields as options)."""

    spec_kind: ClassVar[str] = "compute"

    name: Annotated[str, visible("compute")] = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
    type: Literal["local", "ray", "amlcompute", "computeinstance"] = "local"
    max_concurrent: int | None = Field(default=None, ge=1, le=1024)
    address: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    # Azure's amlcompute / computeinstance fields (see _IGNORED): read, then ignored with a note.
    max_instances: int | None = Field(default=None, ge=1, le=1024)
    min_instances: int | None = Field(default=None, ge=0)
    size: str | None = None
    tier: str | None = None
    location: str | None = None
    idle_time_before_scale_down: int | None = None
    idle_time_before_shutdown: str | None = None
    idle_time_before_shutdown_minutes: int | None = None
    ssh_public_access_enabled: bool | None = None
    ssh_settings: dict[str, Any] | None = None
    network_settings: dict[str, Any] | None = None
    enable_node_public_ip: bool | None = None
    identity: dict[str, Any] | None = None
    schedules: dict[str, Any] | None = None
    setup_scripts: dict[str, Any] | None = None
    create_on_behalf_of: dict[str, Any] | None = None
    custom_applications: list[Any] | None = None
    enable_sso: bool | None = None
    enable_root_access: bool | None = None
    release_quota_on_stop: bool | None = None
    os_image_url: str | None = None

    _scalars = field_validator("tags", mode="before")(scalar_map)

    @model_validator(mode="before")
    @classmethod
    def _cloud_only_kinds(cls, data: Any) -> Any:
        kind = str(data.get("type", "")).lower() if isinstance(data, dict) else ""
        if kind in CLOUD_ONLY_COMPUTE:
            raise InvalidSpec(
                f"type '{kind}' needs {CLOUD_ONLY_COMPUTE[kind]}, a cloud-only feature of Azure ML;"
                " Shipyard's compute targets are 'local' (this host) and 'ray' (a Ray cluster):"
                " write 'type: amlcompute' or 'type: local' (add 'address:' for Ray)",
                field="type",
            )
        return data

    @model_validator(mode="after")
    def _fields_fit_type(self) -> ComputeSpec:
        azure = self.type in AZURE_COMPUTE_KINDS
        if self.type == "ray" and not self.address:
            raise ValueError("a ray compute needs 'address', e.g. http://127.0.0.1:8265")
        if self.type == "local" and self.address:
            raise ValueError("'address' is only for type ray; a local compute runs on the server's host")
        if not azure:
            given = [name for name in (*_IGNORED, "max_instances") if getattr(self, name) is not None]
            if given:
                raise ValueError(
                    f"{', '.join(given)}: Azure ML compute fields, read only with"
                    " 'type: amlcompute' or 'type: computeinstance'"
                )
        if self.address is not None and not self.address.startswith(("http://", "https://")):
            raise ValueError(f"address '{self.address}' must be the Ray dashboard's http(s):// URL")
        if self.type == "computeinstance" and self.max_instances is not None:
            raise ValueError("max_instances is for type amlcompute; a compute instance is one machine")
        return self

    def target(self) -> ComputeTarget:
        """The Shipyard target this file registers, with a note per ignored Azure field."""
        notes: list[str] = []
        if self.type in ("local", "ray"):
            kind: Literal["local", "ray"] = self.type
            concurrent = self.max_concurrent or 1
        else:
            kind = "ray" if self.address else "local"
            nodes = self.max_instances or 1  # Azure's default: one node
            concurrent = self.max_concurrent or nodes
            where = (
                f"a Ray target at {self.address}"
                if kind == "ray"
                else "a local target on the server's host (give --address for a Ray cluster)"
            )
            if self.type == "amlcompute":
                notes.append(
                    f"type amlcompute: {where}, running up to {_jobs(concurrent)} at once"
                    f" (max_instances: {nodes})"
                )
            else:
                notes.append(f"type computeinstance: {where}, running {_jobs(concurrent)} at once")
            ignored = sorted({_IGNORED[f] for f in _IGNORED if getattr(self, f) is not None})
            if ignored:
                notes.append(f"ignored (they describe cloud machines): {', '.join(ignored)}")
        return ComputeTarget(
            name=self.name,
            kind=kind,
            max_concurrent=concurrent,
            address=self.address,
            description=self.description,
            notes=tuple(notes),
        )


def _jobs(n: int) -> str:
    return "1 job" if n == 1 else f"{n} jobs"
