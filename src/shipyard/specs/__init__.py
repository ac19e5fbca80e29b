"""The user's project files: job, environment, data and compute YAML (Azure ML CLI v2 shapes)
and the code snapshot of a job. Read by the CLI before anything is sent, and again by the
server, with the same models."""

from shipyard.specs._yaml import load_spec, parse_spec, validate_spec
from shipyard.specs._yaml_reader import MAX_SPEC_BYTES, load_mapping
from shipyard.specs.bindings import Binding, check_bindings, find_bindings, literal_text, render_command
from shipyard.specs.compute import ComputeSpec
from shipyard.specs.data import DataSpec
from shipyard.specs.environment import (
    EnvironmentSpec,
    InlineEnvironment,
    PythonEnvironment,
    resolve_environment,
)
from shipyard.specs.git import GitInfo, git_info, project_root
from shipyard.specs.job import CommandJobSpec, JobOutput, TypedInput
from shipyard.specs.loaded import LoadedJob, ResolvedInput, load_job
from shipyard.specs.refs import (
    AssetRef,
    JobOutputRef,
    LocalPathRef,
    Ref,
    RunRef,
    UrlRef,
    parse_asset_ref,
    parse_ref,
)
from shipyard.specs.snapshot import DEFAULT_SIZE_LIMIT, Snapshot, SnapshotFile, scan_code

__all__ = [
    "DEFAULT_SIZE_LIMIT",
    "MAX_SPEC_BYTES",
    "AssetRef",
    "Binding",
    "CommandJobSpec",
    "ComputeSpec",
    "DataSpec",
    "EnvironmentSpec",
    "GitInfo",
    "InlineEnvironment",
    "JobOutput",
    "JobOutputRef",
    "LoadedJob",
    "LocalPathRef",
    "PythonEnvironment",
    "Ref",
    "ResolvedInput",
    "RunRef",
    "Snapshot",
    "SnapshotFile",
    "TypedInput",
    "UrlRef",
    "check_bindings",
    "find_bindings",
    "git_info",
    "literal_text",
    "load_job",
    "load_mapping",
    "load_spec",
    "parse_asset_ref",
    "parse_ref",
    "parse_spec",
    "project_root",
    "render_command",
    "resolve_environment",
    "scan_code",
    "validate_spec",
]
