"""Job environments: Python virtual environments built with uv from a pip/conda spec,
cached by the hash of the spec."""

from shipyard.environments._cache import CachedEnvironment
from shipyard.environments.uv_builder import UvEnvironmentBuilder

__all__ = ["CachedEnvironment", "UvEnvironmentBuilder"]
