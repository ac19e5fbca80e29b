"""``compute.yml``: a compute target (``local`` processes on the server's host, or a ``ray`` cluster)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from shipyard.specs._base import SpecModel, scalar_map, visible

__all__ = ["ComputeSpec"]


class ComputeSpec(SpecModel):
    """``shipyard compute create -f compute.yml`` (or the same fields as options)."""

    spec_kind: ClassVar[str] = "compute"

    name: Annotated[str, visible("compute")] = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
    type: Literal["local", "ray"] = "local"
    max_concurrent: int = Field(default=1, ge=1, le=1024)
    address: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    _scalars = field_validator("tags", mode="before")(scalar_map)

    @model_validator(mode="after")
    def _address_for_ray(self) -> ComputeSpec:
        if self.type == "ray" and not self.address:
            raise ValueError("a ray compute needs 'address', e.g. http://127.0.0.1:8265")
        if self.type == "local" and self.address:
            raise ValueError("'address' is only for type ray; a local compute runs on the server's host")
        return self
