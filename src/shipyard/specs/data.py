"""``data.yml`` (Azure ML CLI v2 data-asset shape): a named, versioned file, folder or MLTable."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, field_validator

from shipyard.specs._base import SpecModel, scalar_map, visible
from shipyard.specs.cloud import DATASTORES, cloud_only

__all__ = ["DataSpec"]


class DataSpec(SpecModel):
    """``shipyard data create -f data.yml``; ``path`` is local (relative to the file) or a URL."""

    spec_kind: ClassVar[str] = "data asset"

    name: Annotated[str, visible("data asset")]
    version: str | None = None
    type: Literal["uri_file", "uri_folder", "mltable"] = "uri_folder"
    path: str
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    _scalars = field_validator("tags", mode="before")(scalar_map)

    @field_validator("path")
    @classmethod
    def _not_a_datastore(cls, value: str) -> str:
        if value.startswith("azureml://") and "/datastores/" in value:
            raise ValueError(
                cloud_only(
                    f"'{value}'",
                    DATASTORES,
                    "give the same files as a local path or an fsspec URL (https://…, s3://…, abfs://…)",
                )
            )
        if not value.strip():
            raise ValueError("path is empty")
        return value
