"""Lineage as a queryable graph, built from what the stores already record.

The links, each read from one place:

- data → job (``input``): the job's ``inputs`` name ``NAME:VERSION`` (or ``NAME@latest``, read
  as the newest version created before the job);
- job → data (``output``): a version whose tag ``shipyard.job.name`` names the job (how a job's
  named outputs are registered);
- job → job (``step``): a composite job's children (pipeline steps, sweep trials);
- job → run (``ran``): the job's run (the run's tag ``shipyard.job.name`` the other way);
- run → model (``registered``): a version's ``run_id``;
- model → job (``input``): a job that reads the version as an input;
- model → deployment / batch-deployment (``deployed``): the deployment's resolved model;
- deployment → monitor (``monitors``): the monitor's ``monitoring_target``;
- monitor → job (``started``): the retraining jobs its runs submitted (their reports), and the
  job's run tag ``shipyard.monitor`` the other way.

A walk goes upstream along incoming links and downstream along outgoing ones from the node
asked for (``both`` is the union of the two, not the whole connected component). A link to
something this workspace does not hold — a version whose run is unknown here — is kept as a
node marked ``unresolved``, never an error.

Security — the rule: a node is shown only when the caller holds the read permission of its
kind in the workspace (:data:`~shipyard.domain.lineage.READ_PERMISSION`: ``data:read``,
``jobs:read``, ``experiments:read``, ``models:read``, ``endpoints:read``,
``batch-endpoints:read``; a monitor is ``jobs:read`` as in the monitors API). A node the
caller may not read is left out entirely — not its id, not the links through it — and the
walk does not go through it, so nothing is learnt from it, not even that it exists. Asking
for such a node is 403. Everything stays within the request's workspace.

Cost: one read transaction; a bounded number of indexed reads per node shown (at most
:data:`MAX_NODES`), and the workspace-wide lists (deployments, monitors, their runs, the jobs
that mention an asset) read once per walk, each in one query with a limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from shipyard.domain.batch_endpoints import BatchDeployment
from shipyard.domain.context import RequestContext
from shipyard.domain.data_assets import DataAsset
from shipyard.domain.endpoints import Deployment
from shipyard.domain.jobs import Job
from shipyard.domain.lineage import (
    DIRECTIONS,
    MAX_DEPTH,
    READ_PERMISSION,
    Edge,
    Graph,
    Node,
    NodeId,
    parse_node_id,
)
from shipyard.domain.model_search import ModelClause
from shipyard.domain.registry import ModelVersion
from shipyard.domain.schedules import Schedule
from shipyard.domain.tracking import Run
from shipyard.errors import InvalidArgument, NotFound, PermissionDenied
from shipyard.services.ports import Database, UnitOfWork
from shipyard.services.schedule_ports import SCHEDULES

__all__ = ["DEFAULT_DEPTH", "MAX_NODES", "LineageService"]

DEFAULT_DEPTH = 12
"""Enough for data → job → run → model → deployment → monitor → retraining job → its run →
its model → its deployment, with a pipeline's parent and step between."""
MAX_NODES = 500
_SCAN = 2000  # jobs looked through for those that read an asset, and a monitor's runs
_COMMIT_TAGS = ("shipyard.source.git.commit", "mlflow.source.git.commit")
_JOB_TAG = "shipyard.job.name"
_DEPLOYMENT_ID = re.compile(r"^azureml:([^:]+):([^:]+)$")

Link = tuple[NodeId, str]  # the other end, the relation


@dataclass(slots=True)
class _Walk:
    """One walk's reads, each done at most once."""

    uow: UnitOfWork
    ctx: RequestContext
    found: dict[str, object | None] = field(default_factory=dict)
    _deployments: list[Deployment] | None = None
    _batch: list[BatchDeployment] | None = None
    _monitors: list[Schedule] | None = None
    _monitor_runs: list[Job] | None = None
    _versions: dict[str, list[DataAsset]] = field(default_factory=dict)

    @property
    def ws(self) -> str:
        return self.ctx.workspace

    # -- reading one thing ---------------------------------------------------------------

    def get(self, nid: NodeId) -> object | None:
        key = str(nid)
        if key not in self.found:
            self.found[key] = self._load(nid)
        return self.found[key]

    def _load(self, nid: NodeId) -> object | None:
        kind, p = nid.kind, nid.parts
        uow = self.uow
        if kind == "data":
            return uow.data_assets.get(self.ws, p[0], p[1])
        if kind == "job":
            return uow.jobs.get(self.ws, p[0])
        if kind == "run":
            ref = uow.runs.ref(p[0])
            return uow.runs.get(p[0]) if ref is not None and ref.workspace == self.ws else None
        if kind == "model":
            model_id = uow.models.model_id(self.ws, p[0])
            if model_id is None or not p[1].isdigit():
                return None
            return uow.models.get_version(model_id, int(p[1]))
        if kind == "deployment":
            return uow.deployments.get(self.ws, p[0], p[1])
        if kind == "batch-deployment":
            return uow.batch_deployments.get(self.ws, p[0], p[1])
        schedule = uow[SCHEDULES].get(self.ws, p[0])
        return schedule if schedule is not None and schedule.job_type == "monitor" else None

    def run_of(self, job: Job) -> Run | None:
        found = self.get(NodeId.of("run", job.run_id)) if job.run_id else None
        return found if isinstance(found, Run) else None

    # -- workspace-wide lists, once per walk ---------------------------------------------

    def deployments(self) -> list[Deployment]:
        if self._deployments is None:
            self._deployments = self.uow.deployments.of_workspace(self.ws)
        return self._deployments

    def batch_deployments(self) -> list[BatchDeployment]:
        if self._batch is None:
            self._batch = self.uow.batch_deployments.of_workspace(self.ws)
        return self._batch

    def monitors(self) -> list[Schedule]:
        if self._monitors is None:
            self._monitors = [s for s in self.uow[SCHEDULES].list(self.ws) if s.job_type == "monitor"]
        return self._monitors

    def monitor_runs(self) -> list[Job]:
        if self._monitor_runs is None:
            self._monitor_runs = self.uow.jobs.list(self.ws, None, 0, _SCAN, type_="monitor")
        return self._monitor_runs

    # -- resolving references ------------------------------------------------------------

    def data_ref(self, value: str, before: int) -> NodeId | None:
        """``[azureml:]NAME:VERSION`` or ``NAME@latest`` (as it was at ``before``)."""
        text = value.removeprefix("azureml:")
        if "@" in text:
            name, _, label = text.partition("@")
            if label != "latest" or not name:
                return None
            if name not in self._versions:
                self._versions[name] = self.uow.data_assets.versions(self.ws, name)
            older = [a for a in self._versions[name] if a.created_at <= before]
            return NodeId.of("data", name, older[-1].version) if older else None
        name, sep, version = text.partition(":")
        return NodeId.of("data", name, version) if sep and name and version else None

    def model_ref(self, value: str) -> NodeId | None:
        """``[azureml:]NAME:VERSION`` or ``NAME@ALIAS`` (as the alias points now)."""
        text = value.removeprefix("azureml:").removeprefix("models:/")
        if "@" in text:
            name, _, alias = text.partition("@")
            model_id = self.uow.models.model_id(self.ws, name)
            if model_id is None:
                return None
            model = self.uow.models.get_model(model_id)
            number = model.latest_version if alias == "latest" else model.aliases.get(alias)
            return None if number is None else NodeId.of("model", name, number)
        name, sep, version = text.replace("/", ":").partition(":")
        return NodeId.of("model", name, version) if sep and version.isdigit() else None


def _inputs(job: Job, kind: str) -> Iterator[str]:
    for value in dict(job.spec.get("inputs") or {}).values():
        if isinstance(value, Mapping) and value.get("kind") == kind and isinstance(value.get("value"), str):
            yield str(value["value"])


def _commit(run: Run | None) -> str | None:
    if run is None:
        return None
    return next((run.tags[t] for t in _COMMIT_TAGS if run.tags.get(t)), None)


def _target(monitor: Schedule) -> tuple[str, str] | None:
    spec = monitor.job.get("spec") or {}
    create = (spec.get("monitor") or {}).get("create_monitor") or {}
    target = (create.get("monitoring_target") or {}).get("endpoint_deployment_id")
    match = _DEPLOYMENT_ID.match(str(target or "").strip())
    return (match.group(1), match.group(2)) if match else None


# -- the links of each kind ------------------------------------------------------------------


def _upstream(walk: _Walk, nid: NodeId, thing: object) -> list[Link]:
    if isinstance(thing, DataAsset):
        job = thing.tags.get(_JOB_TAG)
        return [(NodeId.of("job", job), "output")] if job else []
    if isinstance(thing, Job):
        links: list[Link] = [
            (ref, "input") for v in _inputs(thing, "data") if (ref := walk.data_ref(v, thing.created_at))
        ]
        links += [(ref, "input") for v in _inputs(thing, "model") if (ref := walk.model_ref(v))]
        if thing.parent:
            links.append((NodeId.of("job", thing.parent), "step"))
        run = walk.run_of(thing)
        if run is not None and run.tags.get("shipyard.monitor") and "shipyard.monitor.job" in run.tags:
            links.append((NodeId.of("monitor", run.tags["shipyard.monitor"]), "started"))
        return links
    if isinstance(thing, Run):
        job = thing.tags.get(_JOB_TAG)
        return [(NodeId.of("job", job), "ran")] if job else []
    if isinstance(thing, ModelVersion):
        return [(NodeId.of("run", thing.run_id), "registered")] if thing.run_id else []
    if nid.kind in ("deployment", "batch-deployment"):
        model = getattr(thing, "model", None) or {}
        if model.get("name") and model.get("version") is not None:
            return [(NodeId.of("model", model["name"], model["version"]), "deployed")]
        return []
    if isinstance(thing, Schedule):
        target = _target(thing)
        return [(NodeId.of("deployment", *target), "monitors")] if target else []
    return []


def _downstream(walk: _Walk, nid: NodeId, thing: object) -> list[Link]:
    if isinstance(thing, DataAsset):
        needles = [f"{thing.name}:{thing.version}", f"{thing.name}@"]
        return [
            (NodeId.of("job", job.name), "input")
            for job in walk.uow.jobs.mentioning(walk.ws, needles, _SCAN)
            if any(walk.data_ref(v, job.created_at) == nid for v in _inputs(job, "data"))
        ]
    if isinstance(thing, Job):
        return _job_downstream(walk, thing)
    if isinstance(thing, Run):
        clause = ModelClause("run_id", "", "=", thing.id)
        found = walk.uow.models.search_versions(walk.ws, [clause], [], 0, MAX_NODES)
        return [(NodeId.of("model", v.name, v.version), "registered") for v in found]
    if isinstance(thing, ModelVersion):
        return _model_downstream(walk, nid, thing)
    if isinstance(thing, Deployment):
        return [
            (NodeId.of("monitor", m.name), "monitors")
            for m in walk.monitors()
            if _target(m) == (thing.endpoint, thing.name)
        ]
    if isinstance(thing, Schedule):
        started = [
            str(action["job"])
            for run in walk.monitor_runs()
            if run.spec.get("monitor_name") == thing.name
            for action in run.report.get("actions") or []
            if isinstance(action, Mapping) and action.get("job")
        ]
        return [(NodeId.of("job", name), "started") for name in dict.fromkeys(started)]
    return []


def _job_downstream(walk: _Walk, job: Job) -> list[Link]:
    links: list[Link] = [(NodeId.of("run", job.run_id), "ran")] if job.run_id else []
    if not job.leaf:
        links += [
            (NodeId.of("job", child.name), "step") for child in walk.uow.jobs.children(walk.ws, job.name)
        ]
    for output in dict(job.spec.get("outputs") or {}).values():
        name = output.get("name") if isinstance(output, Mapping) else None
        if isinstance(name, str) and output.get("type") in ("uri_folder", "uri_file", "mltable"):
            links += [
                (NodeId.of("data", a.name, a.version), "output")
                for a in walk.uow.data_assets.versions(walk.ws, name)
                if a.tags.get(_JOB_TAG) == job.name
            ]
    return links


def _model_downstream(walk: _Walk, nid: NodeId, version: ModelVersion) -> list[Link]:
    def serves(model: Mapping[str, Any]) -> bool:
        return model.get("name") == version.name and str(model.get("version")) == str(version.version)

    links: list[Link] = [
        (NodeId.of("deployment", d.endpoint, d.name), "deployed")
        for d in walk.deployments()
        if serves(d.model)
    ]
    links += [
        (NodeId.of("batch-deployment", d.endpoint, d.name), "deployed")
        for d in walk.batch_deployments()
        if serves(d.model)
    ]
    needles = [f"{version.name}:{version.version}", f"{version.name}/{version.version}"]
    links += [
        (NodeId.of("job", job.name), "input")
        for job in walk.uow.jobs.mentioning(walk.ws, needles, _SCAN)
        if any(walk.model_ref(v) == nid for v in _inputs(job, "model"))
    ]
    return links


# -- what a node shows -----------------------------------------------------------------------


def _node(walk: _Walk, nid: NodeId, thing: object) -> Node:
    key = str(nid)
    if isinstance(thing, DataAsset):
        attrs: dict[str, Any] = {
            "type": thing.type, "path": thing.path, "content_hash": thing.content_hash or None,
            "created_at": thing.created_at, "created_by": thing.created_by,
        }  # fmt: skip
        return Node(key, "data", f"{thing.name}:{thing.version}", attrs)
    if isinstance(thing, Job):
        attrs = {
            "type": thing.type, "status": str(thing.status), "compute": thing.compute,
            "code_digest": thing.code_digest, "environment_hash": thing.environment_hash,
            "git_commit": _commit(walk.run_of(thing)), "parent": thing.parent, "step": thing.step,
            "run_id": thing.run_id or None, "created_at": thing.created_at, "created_by": thing.created_by,
        }  # fmt: skip
        return Node(key, "job", thing.display_name or thing.name, attrs)
    if isinstance(thing, Run):
        attrs = {
            "name": thing.name, "status": str(thing.status.value), "experiment_id": thing.experiment_id,
            "git_commit": _commit(thing), "start_time": thing.start_time, "end_time": thing.end_time,
        }  # fmt: skip
        return Node(key, "run", thing.name or thing.id, attrs)
    if isinstance(thing, ModelVersion):
        attrs = {
            "name": thing.name, "version": thing.version, "source": thing.source, "run_id": thing.run_id,
            "stage": thing.stage, "aliases": list(thing.aliases), "created_at": thing.created_at,
            "created_by": thing.created_by,
        }  # fmt: skip
        return Node(key, "model", f"{thing.name}:{thing.version}", attrs)
    if isinstance(thing, Schedule):
        target = _target(thing)
        attrs = {"enabled": thing.enabled, "target": "/".join(target) if target else None}
        return Node(key, "monitor", thing.name, attrs)
    # an online or batch deployment
    attrs = {"endpoint": nid.parts[0], "deployment": nid.parts[1], "model": dict(getattr(thing, "model", {}))}
    if isinstance(thing, Deployment):
        attrs["state"] = str(thing.state)
    return Node(key, nid.kind, f"{nid.parts[0]}/{nid.parts[1]}", attrs)


def _unresolved(nid: NodeId) -> Node:
    label = "/".join(nid.parts) if nid.kind in ("deployment", "batch-deployment") else ":".join(nid.parts)
    return Node(str(nid), nid.kind, label, {}, unresolved=True)


class LineageService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def graph(
        self, ctx: RequestContext, node: str, direction: str = "both", depth: int = DEFAULT_DEPTH
    ) -> Graph:
        """The lineage around ``node`` (an id such as ``model:credit:1``), ``depth`` links away
        at most, in ``direction`` (``both``, ``upstream``, ``downstream``)."""
        root = parse_node_id(node)
        if direction not in DIRECTIONS:
            raise InvalidArgument(
                f"direction is one of {', '.join(DIRECTIONS)}; got {direction!r}", field="direction"
            )
        if not 1 <= depth <= MAX_DEPTH:
            raise InvalidArgument(f"depth must be between 1 and {MAX_DEPTH}; got {depth}", field="depth")
        permission = READ_PERMISSION[root.kind]
        if not ctx.may(permission):
            raise PermissionDenied(
                f"{ctx.principal.name!r} may not read {root}: it needs {permission}"
                f" in workspace {ctx.workspace!r}"
            )
        with self.db.read() as uow:
            walk = _Walk(uow, ctx)
            thing = walk.get(root)
            if thing is None:
                raise NotFound(f"no {root} in workspace {ctx.workspace!r}", node=str(root))
            nodes: dict[str, Node] = {str(root): _node(walk, root, thing)}
            edges: dict[tuple[str, str, str], Edge] = {}
            truncated = False
            if direction in ("both", "upstream"):
                truncated |= _bfs(walk, root, depth, nodes, edges, upstream=True)
            if direction in ("both", "downstream"):
                truncated |= _bfs(walk, root, depth, nodes, edges, upstream=False)
        return Graph(str(root), list(nodes.values()), list(edges.values()), truncated)


def _bfs(
    walk: _Walk,
    root: NodeId,
    depth: int,
    nodes: dict[str, Node],
    edges: dict[tuple[str, str, str], Edge],
    *,
    upstream: bool,
) -> bool:
    """Walk one way from ``root``, adding to ``nodes`` and ``edges``; True when the node budget
    stopped it."""
    frontier = [root]
    seen = {str(root)}
    for _ in range(depth):
        following: list[NodeId] = []
        for nid in frontier:
            thing = walk.get(nid)
            if thing is None:  # unresolved: nothing known beyond it
                continue
            for other, relation in (_upstream if upstream else _downstream)(walk, nid, thing):
                if not walk.ctx.may(READ_PERMISSION[other.kind]):
                    continue  # hidden: not shown, not walked through
                key = str(other)
                if key not in nodes:
                    if len(nodes) >= MAX_NODES:
                        return True
                    found = walk.get(other)
                    nodes[key] = _unresolved(other) if found is None else _node(walk, other, found)
                source, target = (key, str(nid)) if upstream else (str(nid), key)
                edges.setdefault((source, target, relation), Edge(source, target, relation))
                if key not in seen:
                    seen.add(key)
                    following.append(other)
        if not following:
            return False
        frontier = following
    return False
