"""Scorers registered on an experiment: each name keeps its versions.

The serialized scorer is stored as the client sent it and returned as is. The server never
deserializes or runs it — a scorer is user code or an LLM judge, and both run in the client
(``mlflow.genai.evaluate``). Online scoring (the server sampling traces and scoring them) is
therefore not offered: its configuration call answers that it is not implemented.
"""

from __future__ import annotations

import uuid

from shipyard.domain.context import RequestContext
from shipyard.domain.scorers import ScorerVersion, check_scorer
from shipyard.errors import InvalidArgument, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.genai_ports import SCORERS
from shipyard.services.ports import Database, UnitOfWork

__all__ = ["ScorerService"]


def _not_found(name: str, experiment_id: str, version: int | None) -> NotFound:
    # MLflow's texts (its SQL store), which clients match on.
    if version is not None:
        return NotFound(
            f"Scorer with name '{name}' and version {version} not found for experiment {experiment_id}."
        )
    return NotFound(f"Scorer with name '{name}' not found for experiment {experiment_id}.")


class ScorerService:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _active_experiment(uow: UnitOfWork, ctx: RequestContext, experiment_id: str) -> str:
        found = uow.experiments.get(ctx.workspace, str(experiment_id))
        if found is None:
            raise NotFound(
                f"no experiment with id {experiment_id!r} in workspace {ctx.workspace!r}",
                experiment_id=str(experiment_id),
            )
        if found.lifecycle_stage != "active":
            raise InvalidArgument(
                f"The experiment {experiment_id} must be in the 'active' state. Current state is"
                f" {found.lifecycle_stage}."
            )
        return found.id

    def register(
        self, ctx: RequestContext, experiment_id: str, name: object, serialized: object
    ) -> ScorerVersion:
        checked_name, checked = check_scorer(name, serialized)
        with self.db.write() as uow:
            key = self._active_experiment(uow, ctx, experiment_id)
            repo = uow[SCORERS]
            scorer_id = repo.scorer_id(key, checked_name)
            if scorer_id is None:
                scorer_id = str(uuid.uuid4())
                repo.create(scorer_id, key, checked_name)
                latest = 0
            else:
                latest = max((v.version for v in repo.versions(key, checked_name)), default=0)
            made = ScorerVersion(
                scorer_id=scorer_id,
                experiment_id=key,
                name=checked_name,
                version=latest + 1,
                serialized_scorer=checked,
                creation_time=now_ms(),
                created_by=ctx.principal.name,
            )
            repo.add_version(made)
        return made

    def latest(self, ctx: RequestContext, experiment_id: str) -> list[ScorerVersion]:
        """Each name's newest version, by name."""
        with self.db.read() as uow:
            key = self._active_experiment(uow, ctx, experiment_id)
            newest: dict[str, ScorerVersion] = {}
            for version in uow[SCORERS].versions(key):
                newest[version.name] = version  # versions come oldest first
        return list(newest.values())

    def versions(self, ctx: RequestContext, experiment_id: str, name: str) -> list[ScorerVersion]:
        with self.db.read() as uow:
            key = self._active_experiment(uow, ctx, experiment_id)
            found = uow[SCORERS].versions(key, name)
        if not found:
            raise _not_found(name, experiment_id, None)
        return found

    def get(self, ctx: RequestContext, experiment_id: str, name: str, version: int | None) -> ScorerVersion:
        found = self.versions(ctx, experiment_id, name)
        if version is None:
            return found[-1]
        for candidate in found:
            if candidate.version == version:
                return candidate
        raise _not_found(name, experiment_id, version)

    def delete(self, ctx: RequestContext, experiment_id: str, name: str, version: int | None) -> None:
        with self.db.write() as uow:
            key = self._active_experiment(uow, ctx, experiment_id)
            scorer_id = uow[SCORERS].scorer_id(key, name)
            if scorer_id is None:
                raise _not_found(name, experiment_id, None)
            if uow[SCORERS].delete(scorer_id, version) == 0:
                raise _not_found(name, experiment_id, version)
