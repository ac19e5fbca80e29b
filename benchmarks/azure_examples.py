"""How many of Azure ML's public example files Shipyard reads, per kind.

    .venv/bin/python benchmarks/azure_examples.py /tmp/azureml-examples          # the repository
    .venv/bin/python benchmarks/azure_examples.py /tmp/azureml-examples/cli --failures
    .venv/bin/python benchmarks/azure_examples.py PATH --json > shares.json

Takes a local copy of github.com/Azure/azureml-examples (never vendored into this project:
clone it anywhere) and reads every YAML file of its ``cli/`` folder. A file is a *spec file*
when its ``$schema`` names an Azure ML CLI v2 schema, or, without one, when its fields say
which kind it is (``type: command``, ``type: finetuning``, ``managed_network``…); conda files,
MLflow ``python_env.yaml`` and tool configurations are not spec files and are not counted.

Each spec file of a kind Shipyard reads goes through the loader its ``create -f`` command
uses on the client, before anything is sent (``load_job``, ``load_deployment``, the data,
environment, compute and model loaders): it *loads*, or is *refused* — "cloud-only" when
the message names the cloud-only feature it needs (Spark, fine-tuning, Azure's model
registries, workspaces, private networking…), "other" for everything else (the share to
drive to zero; among them, files holding placeholders such as ``<ENDPOINT_NAME>`` or
``{{MODEL_VERSION}}`` for the example's script to fill in are counted apart). A curated
environment a file names must be one Shipyard has a built-in spec for. Kinds Shipyard does
not read are counted apart: later issues (pipelines, sweeps, components, schedules) and
cloud-only ones (workspaces, connections, datastores…); the cloud-only job kinds (Spark,
fine-tuning) are given to ``load_job`` too, which must refuse them naming the feature.
No server is needed: references to registered assets (``azureml:name:version``) are checked
by the server at submission, not here.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shipyard.errors import ShipyardError

#: A kind Shipyard reads → what its ``create -f`` command is.
READ = {
    "command job": "shipyard job create -f",
    "data": "shipyard data create -f",
    "environment": "shipyard environment create -f",
    "model": "shipyard model create -f",
    "compute": "shipyard compute create -f",
    "online endpoint": "shipyard online-endpoint create -f",
    "online deployment": "shipyard online-deployment create -f",
    "batch endpoint": "shipyard batch-endpoint create -f",
    "batch deployment": "shipyard batch-deployment create -f",
}

#: Kinds Shipyard does not read, and why.
NOT_READ = {
    "pipeline job": "later issue (pipelines)",
    "sweep job": "later issue (sweeps)",
    "automl job": "later issue (automl)",
    "component": "later issue (components)",
    "pipeline batch deployment": "later issue (pipeline components)",
    "schedule": "later issue (schedules, monitors)",
    "spark job": "cloud-only (Spark)",
    "fine-tuning job": "cloud-only (fine-tuning)",
    "distillation job": "cloud-only (fine-tuning)",
    "serverless endpoint": "cloud-only (model-as-a-service)",
    "model package": "cloud-only (model packages)",
    "data import": "cloud-only (data import from connections)",
    "datastore": "cloud-only (datastores)",
    "connection": "cloud-only (workspace connections)",
    "workspace": "cloud-only (workspaces, private networking)",
    "registry": "cloud-only (Azure registries)",
    "prompt flow": "cloud-only (prompt flow)",
}

_SCHEMA = {
    "commandjob": "command job",
    "sweepjob": "sweep job",
    "pipelinejob": "pipeline job",
    "automljob": "automl job",
    "sparkjob": "spark job",
    "commandcomponent": "component",
    "pipelinecomponent": "component",
    "sparkcomponent": "component",
    "data": "data",
    "dataimport": "data import",
    "environment": "environment",
    "model": "model",
    "modelversionpackage": "model package",
    "amlcompute": "compute",
    "computeinstance": "compute",
    "vmcompute": "compute",
    "kubernetescompute": "compute",
    "managedonlineendpoint": "online endpoint",
    "kubernetesonlineendpoint": "online endpoint",
    "managedonlinedeployment": "online deployment",
    "kubernetesonlinedeployment": "online deployment",
    "batchendpoint": "batch endpoint",
    "batchdeployment": "batch deployment",
    "modelbatchdeployment": "batch deployment",
    "pipelinecomponentbatchdeployment": "pipeline batch deployment",
    "schedule": "schedule",
    "workspace": "workspace",
    "registry": "registry",
    "connection": "connection",
    "azureblob": "datastore",
    "azurefile": "datastore",
    "azuredatalakegen1": "datastore",
    "azuredatalakegen2": "datastore",
    "flow": "prompt flow",
    "run": "prompt flow",
}

_SCHEMA_LINE = re.compile(r"^\$schema:\s*(\S+)", re.MULTILINE)
_SCHEMA_NAME = re.compile(r"/([A-Za-z0-9]+)(?:\.schema)?\.json\s*$")
_CONNECTION_TYPES = {"git", "python_feed", "container_registry", "azure_open_ai", "custom_keys"}


@dataclass(frozen=True)
class Outcome:
    path: Path
    kind: str
    status: str  # "loads", "cloud-only", "other", "not read"
    message: str = ""


def kind_of(text: str) -> str | None:
    """The kind of a YAML file, or None when it is not a spec file."""
    m = _SCHEMA_LINE.search(text)
    if m is not None:
        name = _SCHEMA_NAME.search(m.group(1).strip("\"'"))
        if name is not None and name.group(1).lower() in _SCHEMA:
            return _SCHEMA[name.group(1).lower()]
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict):
        return None
    return _kind_from_fields(data)


def _kind_from_fields(data: dict[str, Any]) -> str | None:
    kind = str(data.get("type", "")).lower()
    by_type = {
        "command": "command job",
        "pipeline": "pipeline job",
        "sweep": "sweep job",
        "spark": "spark job",
        "finetuning": "fine-tuning job",
        "distillation": "distillation job",
        "synapsespark": "compute",
        "amlcompute": "compute",
        "computeinstance": "compute",
    }
    if kind in by_type:
        return by_type[kind]
    if kind in _CONNECTION_TYPES and "target" in data:
        return "connection"
    if "command" in data and "jobs" not in data:
        return "command job"
    if "replication_locations" in data:
        return "registry"
    if "managed_network" in data:
        return "workspace"
    if set(data) == {"name", "model_id"}:
        return "serverless endpoint"
    return None


def loaders() -> dict[str, Callable[[Path], object]]:
    """The client-side loader of each kind Shipyard reads (what ``create -f`` runs first)."""
    from shipyard.specs import ComputeSpec, DataSpec, EnvironmentSpec, load_job, load_spec
    from shipyard.specs.batch_endpoint import BatchEndpointSpec, load_batch_deployment
    from shipyard.specs.deployment import load_deployment
    from shipyard.specs.endpoint import OnlineEndpointSpec

    def environment(path: Path) -> object:
        from shipyard.specs import resolve_environment

        return resolve_environment(load_spec(path, EnvironmentSpec), path.resolve().parent)

    found: dict[str, Callable[[Path], object]] = {
        "command job": load_job,
        "data": _data_loader(DataSpec, load_spec),
        "environment": environment,
        "compute": lambda path: load_spec(path, ComputeSpec),
        "online endpoint": lambda path: load_spec(path, OnlineEndpointSpec),
        "online deployment": load_deployment,
        "batch endpoint": lambda path: load_spec(path, BatchEndpointSpec),
        "batch deployment": load_batch_deployment,
    }
    model = _model_loader()
    if model is not None:
        found["model"] = model
    return found


def _data_loader(spec_model: Any, load_spec: Any) -> Callable[[Path], object]:
    import shipyard.specs as specs

    if hasattr(specs, "load_data"):
        return specs.load_data

    def load(path: Path) -> object:
        # What `shipyard data create -f` did before load_data: the file, then its local path.
        spec = load_spec(path, spec_model)
        if "://" not in spec.path and not (path.parent / spec.path).exists():
            raise ShipyardError(f"{path}: path '{spec.path}' does not exist")
        return spec

    return load


def _model_loader() -> Callable[[Path], object] | None:
    try:
        from shipyard.specs import model as model_specs
    except ImportError:
        return None
    for name in ("load_model", "load_model_file", "load_model_spec"):
        if hasattr(model_specs, name):
            return getattr(model_specs, name)
    return None


#: Kinds Shipyard does not read that a user would still give to `job create -f`: it must
#: refuse them naming the cloud-only feature.
_TRIED_AS_JOBS = ("spark job", "fine-tuning job", "distillation job")


def _refusal(read: dict[str, Callable[[Path], object]], kind: str, path: Path) -> str:
    """For a cloud-only job kind, what `job create -f` says ("named" when it names the feature)."""
    if kind not in _TRIED_AS_JOBS:
        return ""
    try:
        read["command job"](path)
    except ShipyardError as exc:
        return "named" if "cloud-only" in exc.message else exc.message
    return "loaded?!"


def _check_curated(loaded: object) -> None:
    """A curated environment a file names must be one Shipyard has a built-in spec for (the
    server says the same at submission; registered environments cannot be checked here)."""
    from shipyard.specs.refs import AssetRef

    try:
        from shipyard.specs.curated import curated_environment
    except ImportError:  # a version from before curated environments: none resolves
        curated_environment = None

    env = getattr(loaded, "environment", None)
    if not isinstance(env, AssetRef):
        return
    curated = env.registry == "azureml" or env.name.lower().startswith("azureml-")
    if curated and (curated_environment is None or curated_environment(env.name) is None):
        raise ShipyardError(f"'{env.name}' is not a curated environment Shipyard has a built-in spec for")


def measure(root: Path) -> list[Outcome]:
    read = loaders()
    outcomes: list[Outcome] = []
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        kind = kind_of(text)
        if kind is None:
            continue
        if kind not in READ:
            outcomes.append(Outcome(path, kind, "not read", _refusal(read, kind, path)))
            continue
        if kind not in read:
            outcomes.append(Outcome(path, kind, "other", f"`{READ[kind]}` does not exist in this version"))
            continue
        try:
            _check_curated(read[kind](path))
        except ShipyardError as exc:
            status = "cloud-only" if "cloud-only" in exc.message else "other"
            outcomes.append(Outcome(path, kind, status, exc.message))
        except Exception as exc:  # a crash in a loader is a bug worth seeing, not a stop
            outcomes.append(Outcome(path, kind, "other", f"{type(exc).__name__}: {exc}"))
        else:
            outcomes.append(Outcome(path, kind, "loads"))
    return outcomes


def report(outcomes: list[Outcome], root: Path, failures: bool) -> None:
    by_kind: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for o in outcomes:
        by_kind[o.kind][o.status] += 1
    print(f"Azure ML examples under {root}: {len(outcomes)} spec files")
    print()
    placeholders: collections.Counter[str] = collections.Counter(
        o.kind for o in outcomes if o.status == "other" and "placeholder" in o.message
    )
    print(
        f"{'kind Shipyard reads':24s} {'files':>5s} {'loads':>5s} {'cloud-only':>10s} {'other':>5s}"
        f" {'(placeholders)':>14s}  share"
    )
    read_total = collections.Counter[str]()
    for kind in READ:
        counts = by_kind.get(kind, collections.Counter())
        total = sum(counts.values())
        read_total.update(counts)
        if total:
            print(
                f"{kind:24s} {total:5d} {counts['loads']:5d} {counts['cloud-only']:10d}"
                f" {counts['other']:5d} {placeholders[kind]:14d}  {counts['loads'] / total:6.1%}"
            )
    total = sum(read_total.values())
    print(
        f"{'all of these':24s} {total:5d} {read_total['loads']:5d} {read_total['cloud-only']:10d}"
        f" {read_total['other']:5d} {sum(placeholders.values()):14d}"
        f"  {read_total['loads'] / max(total, 1):6.1%}"
    )
    print("(placeholders: 'other' files holding <NAME> or {{NAME}} values the example's script fills in)")
    print()
    print("kinds Shipyard does not read:")
    for kind, why in NOT_READ.items():
        n = by_kind.get(kind, collections.Counter())["not read"]
        if not n:
            continue
        said = ""
        if kind in _TRIED_AS_JOBS:
            named = sum(1 for o in outcomes if o.kind == kind and o.message == "named")
            said = f"; `job create -f` refuses {named} of {n} naming it"
        print(f"  {kind:26s} {n:4d}  {why}{said}")
    loads = sum(1 for o in outcomes if o.status == "loads")
    print()
    print(f"loads: {loads} of {len(outcomes)} spec files ({loads / max(len(outcomes), 1):.1%})")
    if failures:
        print()
        for o in outcomes:
            if o.status in ("cloud-only", "other"):
                first = o.message.splitlines()[0] if o.message else ""
                print(f"[{o.status}] {o.kind}: {o.path.relative_to(root)}\n    {first[:300]}")


def main() -> None:
    parser = argparse.ArgumentParser(description="The share of Azure ML's example files Shipyard reads.")
    parser.add_argument("path", type=Path, help="a local copy of azureml-examples (or its cli/ folder)")
    parser.add_argument("--failures", action="store_true", help="list every refused file with its message")
    parser.add_argument("--json", action="store_true", help="one JSON object per file on stdout")
    args = parser.parse_args()
    root = args.path / "cli" if (args.path / "cli").is_dir() else args.path
    if not root.is_dir():
        sys.exit(f"{args.path} is not a folder; clone github.com/Azure/azureml-examples and give its path")
    outcomes = measure(root)
    if args.json:
        for o in outcomes:
            row = {"path": str(o.path.relative_to(root)), "kind": o.kind, "status": o.status}
            print(json.dumps(row | {"message": o.message}))
        return
    report(outcomes, root, args.failures)


if __name__ == "__main__":
    main()
