"""What Azure ML's files may ask for that only exists in Azure's cloud, and how it is said.

A file that needs one of these is refused with the feature named, never half-read: the
same words everywhere (``… needs Spark, a cloud-only feature of Azure ML; …``), so a user
(and ``benchmarks/azure_examples.py``) can tell "Shipyard cannot, by design" from "the file
has a mistake".
"""

from __future__ import annotations

__all__ = ["DATASTORES", "REGISTRY_MODELS", "cloud_only"]

DATASTORES = "datastores (storage registered in an Azure ML workspace)"
REGISTRY_MODELS = "models from Azure ML registries (azureml://registries/…/models/…)"


def cloud_only(subject: str, feature: str, instead: str) -> str:
    """``<subject> needs <feature>, a cloud-only feature of Azure ML; <instead>``."""
    return f"{subject} needs {feature}, a cloud-only feature of Azure ML; {instead}"
