"""Scorers with their versions, and issues: both belong to an experiment."""

from __future__ import annotations

import builtins
import json
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from shipyard.domain.issues import Issue
from shipyard.domain.scorers import OnlineScoringConfig, ScorerVersion
from shipyard.services.gateway_policy_ports import ScorerOnlineConfigRepository
from shipyard.services.genai_ports import IssueRepository, ScorerRepository
from shipyard.stores.sql import schema as s
from shipyard.stores.sql import schema_genai as t

__all__ = ["SqlIssueRepository", "SqlScorerOnlineConfigRepository", "SqlScorerRepository"]

_s = t.scorers.c
_v = t.scorer_versions.c
_i = t.genai_issues.c
_o = t.scorer_online_configs.c


class SqlScorerRepository(ScorerRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def scorer_id(self, experiment_id: str, name: str) -> str | None:
        found: str | None = self.conn.execute(
            select(_s.id).where(_s.experiment_id == int(experiment_id), _s.name == name)
        ).scalar()
        return found

    def create(self, scorer_id: str, experiment_id: str, name: str) -> None:
        self.conn.execute(insert(t.scorers).values(id=scorer_id, experiment_id=int(experiment_id), name=name))

    def add_version(self, version: ScorerVersion) -> None:
        self.conn.execute(
            insert(t.scorer_versions).values(
                scorer_id=version.scorer_id,
                version=version.version,
                serialized_scorer=version.serialized_scorer,
                creation_time=version.creation_time,
                created_by=version.created_by,
            )
        )

    def versions(self, experiment_id: str, name: str | None = None) -> builtins.list[ScorerVersion]:
        query = (
            select(t.scorer_versions, _s.name, _s.experiment_id)
            .join(t.scorers, _s.id == _v.scorer_id)
            .where(_s.experiment_id == int(experiment_id))
        )
        if name is not None:
            query = query.where(_s.name == name)
        return [
            ScorerVersion(
                scorer_id=r.scorer_id,
                experiment_id=str(r.experiment_id),
                name=r.name,
                version=r.version,
                serialized_scorer=r.serialized_scorer,
                creation_time=r.creation_time,
                created_by=r.created_by,
            )
            for r in self.conn.execute(query.order_by(_s.name, _v.version))
        ]

    def delete(self, scorer_id: str, version: int | None) -> int:
        query = delete(t.scorer_versions).where(_v.scorer_id == scorer_id)
        if version is not None:
            query = query.where(_v.version == version)
        gone = self.conn.execute(query).rowcount
        left = self.conn.execute(select(_v.version).where(_v.scorer_id == scorer_id).limit(1)).first()
        if left is None:
            # What named the scorer goes with it (MLflow: its online configuration cascades,
            # its endpoint bindings are deleted).
            bindings = t.gateway_endpoint_bindings.c
            self.conn.execute(
                delete(t.gateway_endpoint_bindings).where(
                    bindings.resource_type == "scorer", bindings.resource_id == scorer_id
                )
            )
            self.conn.execute(delete(t.scorer_online_configs).where(_o.scorer_id == scorer_id))
            self.conn.execute(delete(t.scorers).where(_s.id == scorer_id))
        return gone


class SqlScorerOnlineConfigRepository(ScorerOnlineConfigRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def replace(self, config: OnlineScoringConfig) -> None:
        self.conn.execute(delete(t.scorer_online_configs).where(_o.scorer_id == config.scorer_id))
        self.conn.execute(
            insert(t.scorer_online_configs).values(
                id=config.id,
                scorer_id=config.scorer_id,
                experiment_id=int(config.experiment_id),
                sample_rate=config.sample_rate,
                filter_string=config.filter_string,
            )
        )

    def configs(self, workspace: str, scorer_ids: builtins.list[str]) -> builtins.list[OnlineScoringConfig]:
        if not scorer_ids:
            return []
        query = (
            select(t.scorer_online_configs)
            .join(s.experiments, s.experiments.c.id == _o.experiment_id)
            .join(s.workspaces, s.workspaces.c.id == s.experiments.c.workspace_id)
            .where(s.workspaces.c.name == workspace, _o.scorer_id.in_(scorer_ids))
            .order_by(_o.scorer_id)
        )
        return [
            OnlineScoringConfig(
                id=r.id,
                scorer_id=r.scorer_id,
                experiment_id=str(r.experiment_id),
                sample_rate=r.sample_rate,
                filter_string=r.filter_string,
            )
            for r in self.conn.execute(query)
        ]


def _issue(r: Row[Any]) -> Issue:
    return Issue(
        id=r.id,
        experiment_id=str(r.experiment_id),
        name=r.name,
        description=r.description,
        status=r.status,
        severity=r.severity,
        root_causes=tuple(json.loads(r.root_causes)),
        categories=tuple(json.loads(r.categories)),
        source_run_id=r.source_run_id,
        created_by=r.created_by,
        created_time=r.created_time,
        last_updated_time=r.last_updated_time,
    )


class SqlIssueRepository(IssueRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, issue: Issue) -> None:
        self.conn.execute(
            insert(t.genai_issues).values(
                id=issue.id,
                experiment_id=int(issue.experiment_id),
                name=issue.name,
                description=issue.description,
                status=issue.status,
                severity=issue.severity,
                root_causes=json.dumps(list(issue.root_causes)),
                categories=json.dumps(list(issue.categories)),
                source_run_id=issue.source_run_id,
                created_by=issue.created_by,
                created_time=issue.created_time,
                last_updated_time=issue.last_updated_time,
            )
        )

    def _in_workspace(self, workspace: str) -> Any:
        return (
            select(t.genai_issues)
            .join(s.experiments, s.experiments.c.id == _i.experiment_id)
            .join(s.workspaces, s.workspaces.c.id == s.experiments.c.workspace_id)
            .where(s.workspaces.c.name == workspace)
        )

    def get(self, workspace: str, issue_id: str) -> Issue | None:
        row = self.conn.execute(self._in_workspace(workspace).where(_i.id == issue_id)).first()
        return None if row is None else _issue(row)

    def update(self, issue: Issue) -> None:
        self.conn.execute(
            update(t.genai_issues)
            .where(_i.id == issue.id)
            .values(
                name=issue.name,
                description=issue.description,
                status=issue.status,
                severity=issue.severity,
                last_updated_time=issue.last_updated_time,
            )
        )

    def search(
        self, workspace: str, experiment_id: str | None, offset: int, limit: int
    ) -> builtins.list[Issue]:
        query = self._in_workspace(workspace)
        if experiment_id is not None:
            query = query.where(_i.experiment_id == int(experiment_id))
        rows = self.conn.execute(query.order_by(_i.created_time.desc(), _i.id).offset(offset).limit(limit))
        return [_issue(r) for r in rows]
