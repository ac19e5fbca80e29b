"""Scorers registered on an experiment: each name keeps its versions.

The serialized scorer is stored as the client sent it and returned as is. The server never
deserializes or runs it — a scorer is user code or an LLM judge, and both run in the client
(``mlflow.genai.evaluate``). A scorer's online configuration (sample rate, trace filter) is
stored and answered, so ``scorer.start()``/``update()`` and MLflow's UI keep it — but the
server never samples traces nor runs the scorer on them.
"""

from __future__ import annotations

import uuid

from shipyard.domain.context import RequestContext
from shipyard.domain.scorers import (
    OnlineScoringConfig,
    ScorerVersion,
    check_sample_rate,
    check_scorer,
    judge_model,
)
from shipyard.domain.trace_filters import parse_trace_filter
from shipyard.errors import InvalidArgument, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.gateway_policy_ports import GATEWAY_POLICIES, SCORER_ONLINE_CONFIGS
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
            guarding = uow[GATEWAY_POLICIES].guardrails_using(scorer_id, version)
            if guarding:
                raise InvalidArgument(
                    f"Scorer '{name}' is used by gateway guardrails; delete them first: {', '.join(guarding)}"
                )
            if uow[SCORERS].delete(scorer_id, version) == 0:
                raise _not_found(name, experiment_id, version)

    def set_online_config(
        self,
        ctx: RequestContext,
        experiment_id: str,
        name: str,
        sample_rate: object,
        filter_string: object,
    ) -> OnlineScoringConfig:
        """The scorer's one online configuration becomes this (stored only: never run here)."""
        rate = check_sample_rate(sample_rate)
        if filter_string is not None and not isinstance(filter_string, str):
            raise InvalidArgument(
                f"Invalid value {filter_string!r} for parameter 'filter_string' supplied:"
                f" Value was of type '{type(filter_string).__name__}'. Expected type 'str' or None."
            )
        if filter_string:
            parse_trace_filter(filter_string)  # MLflow checks the trace filter's syntax too
        with self.db.write() as uow:
            key = self._active_experiment(uow, ctx, experiment_id)
            scorer_id = uow[SCORERS].scorer_id(key, name)
            if scorer_id is None:
                raise _not_found(name, experiment_id, None)
            latest = uow[SCORERS].versions(key, name)[-1]
            model = judge_model(latest.serialized_scorer) or ""
            if rate > 0 and not (
                model.startswith("gateway:/") and model.removeprefix("gateway:/").strip("/")
            ):
                # MLflow's rule (its online scoring calls the judge through its gateway).
                raise InvalidArgument(
                    f"Scorer '{name}' does not use a gateway model. Automatic evaluation is only"
                    " supported for scorers that use gateway models."
                )
            made = OnlineScoringConfig(
                id=uuid.uuid4().hex,
                scorer_id=scorer_id,
                experiment_id=key,
                sample_rate=rate,
                filter_string=filter_string,
            )
            uow[SCORER_ONLINE_CONFIGS].replace(made)
        return made

    def online_configs(self, ctx: RequestContext, scorer_ids: list[str]) -> list[OnlineScoringConfig]:
        with self.db.read() as uow:
            return uow[SCORER_ONLINE_CONFIGS].configs(ctx.workspace, scorer_ids)
