"""Components: register a command component version, read it back, resolve ``azureml:`` refs.

A component's file is validated again here (an API caller that skips the CLI gets the same
errors); its code folder arrives as a snapshot the client uploaded, its inline environment as
the client read it — the same as a command job's.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from shipyard.domain.components import Component
from shipyard.domain.context import RequestContext
from shipyard.domain.validation import check_name
from shipyard.errors import InvalidSpec, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.component_ports import COMPONENTS
from shipyard.services.job_specs import InlineEnvironmentValues
from shipyard.services.ports import Database
from shipyard.services.snapshots import SnapshotService
from shipyard.specs import validate_spec
from shipyard.specs.component import CommandComponentSpec
from shipyard.specs.environment import InlineEnvironment
from shipyard.specs.refs import AssetRef

__all__ = ["LATEST", "ComponentService"]

LATEST = "latest"


class ComponentService:
    def __init__(self, db: Database, snapshots: SnapshotService | None = None) -> None:
        self.db = db
        self.snapshots = snapshots

    def create(
        self,
        ctx: RequestContext,
        spec: Mapping[str, Any],
        *,
        source: str = "component.yml",
        code_snapshot: str | None = None,
        environment: InlineEnvironmentValues | None = None,
    ) -> Component:
        """A new version; without ``version`` in the file, one more than the highest."""
        parsed = validate_spec(spec, CommandComponentSpec, source)
        if parsed.name is None:
            raise InvalidSpec(f"{source}: a registered component needs a 'name'", field="name")
        check_name("component", parsed.name)
        if parsed.code is not None and not code_snapshot:
            raise InvalidSpec(
                f"{source}: the component has code '{parsed.code}' but no code snapshot was uploaded;"
                " register it with `shipyard component create -f` (which uploads it)",
                field="code",
            )
        if isinstance(parsed.environment, InlineEnvironment) and environment is None:
            raise InvalidSpec(
                f"{source}: the component has an inline environment but its files were not read;"
                " register it with `shipyard component create -f`",
                field="environment",
            )
        if code_snapshot and self.snapshots is not None:
            self.snapshots.manifest(code_snapshot)  # NotFound for a digest never uploaded
        now = now_ms()
        with self.db.write() as uow:
            repo = uow[COMPONENTS]
            version = parsed.version or repo.next_version(ctx.workspace, parsed.name)
            if version == LATEST:
                raise InvalidSpec(f"{source}: '{LATEST}' is a label, not a version", field="version")
            component = Component(
                name=parsed.name,
                version=version,
                workspace=ctx.workspace,
                spec=dict(spec),
                code_digest=code_snapshot or None,
                environment=None if environment is None else _environment_json(environment),
                description=parsed.description or "",
                tags=dict(parsed.tags),
                is_deterministic=parsed.is_deterministic,
                created_at=now,
                created_by=ctx.principal.name,
            )
            repo.create(uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now), component)
        return self.get(ctx, parsed.name, version)

    def get(self, ctx: RequestContext, name: str, version: str = LATEST) -> Component:
        with self.db.read() as uow:
            repo = uow[COMPONENTS]
            found = (
                repo.latest(ctx.workspace, name)
                if version == LATEST
                else repo.get(ctx.workspace, name, version)
            )
        if found is None:
            which = "any version" if version == LATEST else f"a version {version!r}"
            raise NotFound(
                f"no component {name!r} with {which} in workspace {ctx.workspace!r}"
                " (`shipyard component list` shows them; `shipyard component create -f` registers one)",
                name=name,
            )
        return found

    def resolve(self, ctx: RequestContext, ref: AssetRef) -> Component:
        """``azureml:name:version`` or ``azureml:name@latest`` (and Azure's registry spelling)."""
        if ref.label is not None and ref.label != LATEST:
            raise NotFound(f"component {ref.name!r}: only the label '{LATEST}' is known", name=ref.name)
        return self.get(ctx, ref.name, ref.version or LATEST)

    def list(self, ctx: RequestContext) -> builtins.list[Component]:
        with self.db.read() as uow:
            return uow[COMPONENTS].list_latest(ctx.workspace)

    def versions(self, ctx: RequestContext, name: str) -> builtins.list[Component]:
        with self.db.read() as uow:
            found = uow[COMPONENTS].versions(ctx.workspace, name)
        if not found:
            raise NotFound(f"no component {name!r} in workspace {ctx.workspace!r}", name=name)
        return found


def _environment_json(values: InlineEnvironmentValues) -> dict[str, Any]:
    data = asdict(values)
    data["requirements"] = list(values.requirements)
    return data


def environment_values(component: Component) -> InlineEnvironmentValues | None:
    """The inline environment a component was registered with, as a job's submission takes it."""
    env = component.environment
    if env is None:
        return None
    return InlineEnvironmentValues(
        python=env.get("python"), requirements=tuple(env.get("requirements") or ()), image=env.get("image")
    )
