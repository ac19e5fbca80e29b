"""Permissions and roles: what a principal may do, and where.

A permission is ``resource:action`` (``jobs:create``, ``models:read``). A role is a named set
of permissions; ``resource:*`` and ``*`` are wildcards. A principal holds roles globally
(workspace ``*``) or in one workspace, and may do what any of its roles grants there.

The built-in roles follow Azure Machine Learning's (Owner, Contributor, Reader, AzureML Data
Scientist, AzureML Compute Operator) and the seed's RACI table; ``docs/security.md`` shows
them as a table generated from :data:`BUILTIN_ROLES`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from shipyard.errors import InvalidArgument

__all__ = [
    "ACTIONS",
    "ALL_PERMISSIONS",
    "ALL_WORKSPACES",
    "BUILTIN_ROLES",
    "EVERYTHING",
    "NOTHING",
    "PERMISSIONS",
    "RESOURCES",
    "Grants",
    "Role",
    "check_permission",
    "check_role_name",
    "grants_permission",
    "is_mutation",
]

ALL_WORKSPACES = "*"
"""The workspace of a global role assignment."""

# resource → {action: what it allows}. The one catalogue: roles, the route table and the
# docs are all checked against it.
PERMISSIONS: Mapping[str, Mapping[str, str]] = {
    "experiments": {
        "read": "see experiments, runs, metrics, artifacts, logged models",
        "write": "create and change experiments and runs; log metrics, params, tags, artifacts, models",
        "delete": "delete experiments, runs, tags and logged models",
    },
    "models": {
        "read": "see registered models, versions, aliases and their history",
        "write": "register models and versions; set aliases, tags, stages",
        "delete": "delete models, versions, aliases and tags",
        "approve": "approve promotions to protected aliases and workspaces (never one's own)",
    },
    "data": {"read": "see data assets", "write": "create data assets and versions", "delete": "archive"},
    "environments": {"read": "see environments", "write": "create environments", "delete": "archive"},
    "computes": {
        "read": "see compute targets",
        "write": "create and change compute targets",
        "delete": "delete compute targets",
    },
    "snapshots": {
        "read": "download code snapshots",
        "write": "upload code snapshots (what jobs, data and deployments refer to)",
    },
    "jobs": {
        "read": "see jobs, their logs and outputs",
        "create": "submit jobs (they run code on a compute target as the submitter)",
        "cancel": "cancel jobs",
    },
    "components": {
        "read": "see components (the command steps pipelines name)",
        "create": "register component versions",
    },
    "schedules": {
        "read": "see job schedules and their firings",
        "write": (
            "create, enable and disable schedules (their jobs run as their creator, who needs jobs:create)"
        ),
        "delete": "delete schedules",
    },
    "endpoints": {
        "read": "see online endpoints and deployments (never their keys)",
        "write": "create and change online endpoints, deployments and traffic",
        "delete": "delete online endpoints and deployments",
        "keys": "read and regenerate online endpoint keys",
        "score": "score an endpoint whose auth_mode is aml_token",
    },
    "batch-endpoints": {
        "read": "see batch endpoints, deployments and their jobs",
        "write": "create and change batch endpoints and deployments",
        "delete": "delete batch endpoints and deployments",
        "invoke": "start batch scoring jobs",
    },
    "secrets": {
        "read": "see secret names (never their values)",
        "write": "set and delete secrets",
        "use": "refer to secrets from job and deployment files (the value reaches that process)",
    },
    "users": {"read": "see users and their tokens", "write": "create and disable users, issue their tokens"},
    "roles": {"read": "see roles and assignments", "write": "create roles, assign and revoke them"},
    "audit": {"read": "read and verify the audit log"},
    "server": {"metrics": "scrape /metrics (Prometheus)"},
}

RESOURCES: tuple[str, ...] = tuple(PERMISSIONS)
ACTIONS: frozenset[str] = frozenset(a for actions in PERMISSIONS.values() for a in actions)
ALL_PERMISSIONS: frozenset[str] = frozenset(f"{r}:{a}" for r, actions in PERMISSIONS.items() for a in actions)
_ALL = ALL_PERMISSIONS
_READ_ONLY_ACTIONS = frozenset({"read", "metrics", "score"})


def is_mutation(permission: str) -> bool:
    """Whether a request needing ``permission`` changes something (and so is audited)."""
    return permission.partition(":")[2] not in _READ_ONLY_ACTIONS


def check_permission(value: object) -> str:
    """``resource:action`` from the catalogue, ``resource:*`` or ``*``."""
    if not isinstance(value, str):
        raise InvalidArgument(f"a permission is a string like 'jobs:create'; got {value!r}")
    if value == "*":
        return value
    resource, sep, action = value.partition(":")
    if not sep or resource not in PERMISSIONS:
        raise InvalidArgument(
            f"unknown permission {value!r}: write resource:action with a resource among "
            f"{', '.join(RESOURCES)}"
        )
    if action != "*" and action not in PERMISSIONS[resource]:
        raise InvalidArgument(
            f"unknown permission {value!r}: {resource} has the actions "
            f"{', '.join(PERMISSIONS[resource])} (or '*')"
        )
    return value


def grants_permission(held: Iterable[str], wanted: str) -> bool:
    """Whether permissions ``held`` (wildcards allowed) include ``wanted``."""
    resource = wanted.partition(":")[0]
    accepted = (wanted, "*", f"{resource}:*")
    return any(p in accepted for p in held)


_ROLE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def check_role_name(name: object) -> str:
    if not isinstance(name, str) or not _ROLE_NAME.match(name):
        raise InvalidArgument(
            f"a role name is 1-63 lowercase letters, digits or '-', starting with a letter; got {name!r}"
        )
    return name


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    description: str
    permissions: frozenset[str]
    builtin: bool = False

    def expanded(self) -> frozenset[str]:
        """Every catalogue permission this role grants (wildcards spelled out)."""
        return frozenset(p for p in _ALL if grants_permission(self.permissions, p))


def _every(action: str, *, but: Iterable[str] = ()) -> frozenset[str]:
    skip = set(but)
    return frozenset(
        f"{r}:{action}" for r, actions in PERMISSIONS.items() if action in actions and r not in skip
    )


def _full(*resources: str) -> frozenset[str]:
    return frozenset(f"{r}:*" for r in resources)


_READ_ALL_BUT_SECRETS = _every("read", but=("secrets",))

BUILTIN_ROLES: Mapping[str, Role] = {
    role.name: role
    for role in (
        Role("owner", "everything, including users, roles and secrets", frozenset({"*"}), builtin=True),
        Role(
            "contributor",
            "everything but users, roles and setting secrets (may use them in files)",
            frozenset(_ALL - {p for p in _ALL if p.startswith(("users:", "roles:"))} - {"secrets:write"}),
            builtin=True,
        ),
        Role(
            "reader",
            "read everything but secrets and endpoint keys",
            _READ_ALL_BUT_SECRETS | {"server:metrics"},
            builtin=True,
        ),
        Role(
            "data-scientist",
            "experiments, runs, models, data, environments and jobs on existing compute;"
            " no compute, no endpoint keys, no users",
            _full(
                "experiments",
                "data",
                "environments",
                "snapshots",
                "jobs",
                "schedules",
                "components",
            )
            # Models but not models:approve: who trains a model does not approve it for prod.
            | {"models:read", "models:write", "models:delete"}
            | {"computes:read", "endpoints:read", "batch-endpoints:read", "secrets:use"},
            builtin=True,
        ),
        Role(
            "data-engineer",
            "data assets, environments and jobs (with their runs); read models",
            _full("data", "environments", "snapshots", "jobs", "schedules", "components")
            | {"experiments:read", "experiments:write", "models:read", "computes:read", "secrets:use"},
            builtin=True,
        ),
        Role(
            "ml-engineer",
            "compute, online and batch endpoints, deployments, traffic and keys; approve model"
            " promotions; read the rest",
            _full("computes", "endpoints", "batch-endpoints", "snapshots")
            | (_READ_ALL_BUT_SECRETS - {"users:read", "roles:read", "audit:read"})
            | {"secrets:use", "server:metrics", "models:approve"},
            builtin=True,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Grants:
    """What a principal may do: permissions per workspace (``*`` for every workspace).

    ``only_workspace`` narrows a principal to one workspace whatever its roles say (a job's
    token acts as its submitter, in the job's workspace only).
    """

    by_workspace: Mapping[str, frozenset[str]]
    only_workspace: str | None = None

    def allows(self, permission: str, workspace: str) -> bool:
        if self.only_workspace is not None and workspace != self.only_workspace:
            return False
        for where in (ALL_WORKSPACES, workspace):
            held = self.by_workspace.get(where)
            if held and grants_permission(held, permission):
                return True
        return False

    def sees(self, workspace: str) -> bool:
        """Whether any role reaches ``workspace`` (a principal sees only those)."""
        if self.only_workspace is not None and workspace != self.only_workspace:
            return False
        return bool(self.by_workspace.get(ALL_WORKSPACES) or self.by_workspace.get(workspace))

    @staticmethod
    def of(roles: Iterable[tuple[str, Role]], only_workspace: str | None = None) -> Grants:
        """From (workspace, role) pairs."""
        merged: dict[str, set[str]] = {}
        for workspace, role in roles:
            merged.setdefault(workspace, set()).update(role.permissions)
        return Grants({w: frozenset(p) for w, p in merged.items()}, only_workspace)


EVERYTHING = Grants({ALL_WORKSPACES: frozenset({"*"})})
"""Grants of the owner, of the local user under ``--no-auth``, and of the server itself."""

NOTHING = Grants({})
"""Grants of a principal nobody gave a role."""
