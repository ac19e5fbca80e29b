"""Promotions: move a model's alias (behind approvals where protected), copying the version
to another workspace first when asked.

An approval that completes a promotion moves the alias in the same transaction, so the
alias, the promotion's state and the model's history never disagree. The model's history
records ``promotion_requested``, ``promotion_approved``, ``promotion_rejected`` and
``promotion_applied`` (with ``alias_set`` beside the last), which the model card reads.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from shipyard.domain.context import RequestContext
from shipyard.domain.paths import join_key
from shipyard.domain.promotions import (
    ANY,
    MAX_APPROVALS,
    Approval,
    Promotion,
    Protection,
    check_state,
    required_approvals,
)
from shipyard.domain.registry import ModelEvent, ModelVersion
from shipyard.domain.validation import check_name
from shipyard.errors import Conflict, InvalidArgument, NotFound, PermissionDenied, SelfApproval
from shipyard.services._clock import now_ms
from shipyard.services.ports import ArtifactStore, Database, UnitOfWork
from shipyard.services.promotion_ports import PROMOTIONS
from shipyard.services.registry import RegistryService, check_alias, record
from shipyard.services.tracking import TrackingService

__all__ = ["PROMOTED_FROM_RUN_TAG", "PROMOTED_FROM_TAG", "PROMOTIONS_EXPERIMENT", "PromotionService"]

PROMOTED_FROM_TAG = "shipyard.promoted_from"
"""On a copied version (and its run): ``WORKSPACE/NAME:VERSION`` it was copied from."""
PROMOTED_FROM_RUN_TAG = "shipyard.promoted_from.run_id"
"""On a copied version (and its run): the source version's run."""
PROMOTIONS_EXPERIMENT = "shipyard-promotions"
"""The experiment of a target workspace that holds the runs copied versions' files live in."""
_MAX_COMMENT = 2000
_MAX_LIST = 1000
_WORKSPACE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")  # as the guard checks the header


def _check_target(alias: str) -> str:
    return alias if alias == ANY else check_alias(alias)


def _check_comment(comment: str) -> str:
    if len(comment) > _MAX_COMMENT:
        raise InvalidArgument(f"a comment holds at most {_MAX_COMMENT} characters; got {len(comment)}")
    return comment


def _event(
    uow: UnitOfWork, where: str, name: str, action: str, version: int | None, actor: str, **detail: Any
) -> None:
    """Append to the history of model ``name`` of workspace ``where``."""
    now = now_ms()
    workspace_id = uow.workspaces.ensure(where, actor, now)
    event = ModelEvent(0, name, version, action, detail, actor, now)
    uow.models.add_event(event, workspace_id)
    record(where, event)  # an alias a promotion moves reaches the registry's webhooks


class PromotionService:
    def __init__(
        self, db: Database, registry: RegistryService, tracking: TrackingService, store: ArtifactStore
    ) -> None:
        self.db = db
        self.registry = registry
        self.tracking = tracking
        self.store = store

    # -- protections ---------------------------------------------------------------

    def protections(self, ctx: RequestContext) -> list[Protection]:
        with self.db.read() as uow:
            return uow[PROMOTIONS].protections(ctx.workspace)

    def protect(
        self, ctx: RequestContext, model: str = ANY, alias: str = ANY, approvals: int = 1
    ) -> Protection:
        """Require ``approvals`` approvals to move ``alias`` of ``model`` (``*``: every one)."""
        if model != ANY:
            check_name("model", model)
        _check_target(alias)
        if isinstance(approvals, bool) or not 1 <= approvals <= MAX_APPROVALS:
            raise InvalidArgument(f"approvals must be between 1 and {MAX_APPROVALS}; got {approvals}")
        now = now_ms()
        made = Protection(ctx.workspace, model, alias, approvals, now, ctx.principal.name)
        with self.db.write() as uow:
            workspace_id = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now)
            uow[PROMOTIONS].protect(workspace_id, made)
            return next(
                p for p in uow[PROMOTIONS].protections(ctx.workspace) if (p.model, p.alias) == (model, alias)
            )

    def unprotect(self, ctx: RequestContext, model: str = ANY, alias: str = ANY) -> None:
        with self.db.write() as uow:
            if not uow[PROMOTIONS].unprotect(ctx.workspace, model, alias):
                raise NotFound(
                    f"workspace {ctx.workspace!r} has no protection of model {model!r}, alias {alias!r};"
                    " see `shipyard model protections`",
                    model=model,
                    alias=alias,
                )

    # -- promotions ----------------------------------------------------------------

    def request(
        self,
        ctx: RequestContext,
        name: str,
        version: int | str,
        alias: str,
        target_workspace: str | None = None,
    ) -> Promotion:
        """Point ``alias`` at ``version`` (a number, ``latest`` or an alias) — in
        ``target_workspace`` after copying the version there, when given. Applied at once
        when nothing protects the alias there, else pending until approved."""
        check_alias(alias)
        if target_workspace is None or target_workspace == ctx.workspace:
            number = self.registry.get_version(ctx, name, version).version
            return self._request(ctx, name, number, alias, source=None)
        if not _WORKSPACE.match(target_workspace):
            raise InvalidArgument(
                "target workspace must be 1-63 lowercase letters, digits, '-' or '_';"
                f" got {target_workspace[:80]!r}"
            )
        if not ctx.principal.may("models:write", target_workspace):
            raise PermissionDenied(
                f"copying a model to workspace {target_workspace!r} needs models:write there;"
                f" {ctx.principal.name!r} does not hold it",
                workspace=target_workspace,
            )
        found = self.registry.get_version(ctx, name, version)
        target = RequestContext(ctx.principal, target_workspace)
        copied = self._copy(ctx, found, target)
        made = self._request(target, name, copied.version, alias, source=copied.tags[PROMOTED_FROM_TAG])
        with self.registry.write() as uow:  # the source's history says where its copy went (model cards)
            _event(
                uow, ctx.workspace, name, "promotion_copied", found.version, ctx.principal.name,
                promotion=made.id, alias=alias, workspace=target_workspace, target_version=copied.version,
            )  # fmt: skip
        return made

    def _request(
        self, ctx: RequestContext, name: str, version: int, alias: str, source: str | None
    ) -> Promotion:
        now = now_ms()
        actor = ctx.principal.name
        with self.registry.write() as uow:
            needed = required_approvals(uow[PROMOTIONS].protections(ctx.workspace), name, alias)
            draft = Promotion(
                0, ctx.workspace, name, version, alias, "pending", needed, actor, now, source=source
            )
            workspace_id = uow.workspaces.ensure(ctx.workspace, actor, now)
            promotion_id = uow[PROMOTIONS].create(workspace_id, draft)
            _event(
                uow, ctx.workspace, name, "promotion_requested", version, actor,
                promotion=promotion_id, alias=alias, workspace=ctx.workspace, requested_by=actor,
                required_approvals=needed, source=source,
            )  # fmt: skip
            if not needed:
                self._apply(uow, draft, promotion_id, actor)
            found = uow[PROMOTIONS].get(ctx.workspace, promotion_id)
        assert found is not None
        return found

    def _apply(self, uow: UnitOfWork, promotion: Promotion, promotion_id: int, actor: str) -> None:
        """Move the alias and record it, in the caller's transaction."""
        model_id = uow.models.model_id(promotion.workspace, promotion.name)
        if model_id is None or uow.models.get_version(model_id, promotion.version) is None:
            raise Conflict(
                f"model {promotion.name!r} has no version {promotion.version} in workspace"
                f" {promotion.workspace!r} any more; reject promotion {promotion_id}"
            )
        previous = uow.models.set_alias(model_id, promotion.alias, promotion.version)
        if not uow[PROMOTIONS].finish(promotion_id, "applied", now_ms(), previous):
            raise Conflict(f"promotion {promotion_id} was decided meanwhile; show it to see how")
        common = {"promotion": promotion_id, "alias": promotion.alias, "workspace": promotion.workspace}
        _event(
            uow, promotion.workspace, promotion.name, "alias_set", promotion.version, actor,
            alias=promotion.alias, previous_version=previous, promotion=promotion_id,
        )  # fmt: skip
        _event(
            uow, promotion.workspace, promotion.name, "promotion_applied", promotion.version, actor,
            **common, requested_by=promotion.requested_by, previous_version=previous,
            approvers=[*promotion.approvers, actor] if promotion.required_approvals else [],
        )  # fmt: skip

    def get(self, ctx: RequestContext, name: str, promotion_id: int) -> Promotion:
        with self.db.read() as uow:
            return self._get(uow, ctx, name, promotion_id)

    @staticmethod
    def _get(uow: UnitOfWork, ctx: RequestContext, name: str | None, promotion_id: int) -> Promotion:
        found = uow[PROMOTIONS].get(ctx.workspace, promotion_id) if 0 < promotion_id < 2**62 else None
        if found is None or (name is not None and found.name != name):
            of = f" of model {name!r}" if name is not None else ""
            raise NotFound(
                f"no promotion {promotion_id}{of} in workspace {ctx.workspace!r}; a promotion lives in"
                " the workspace its alias moves in (send that workspace)",
                promotion=promotion_id,
            )
        return found

    def find(self, ctx: RequestContext, promotion_id: int) -> Promotion:
        """A promotion of any model of the workspace, by id."""
        with self.db.read() as uow:
            return self._get(uow, ctx, None, promotion_id)

    def list(
        self, ctx: RequestContext, name: str | None = None, state: str | None = None, limit: int = 100
    ) -> list[Promotion]:
        """Newest first."""
        if state is not None:
            check_state(state)
        if not 1 <= limit <= _MAX_LIST:
            raise InvalidArgument(f"limit must be between 1 and {_MAX_LIST}; got {limit}")
        with self.db.read() as uow:
            if name is not None and uow.models.model_id(ctx.workspace, name) is None:
                raise NotFound(
                    f"no registered model named {name!r} in workspace {ctx.workspace!r}", name=name
                )
            return uow[PROMOTIONS].list(ctx.workspace, name, state, limit)

    def approve(self, ctx: RequestContext, name: str, promotion_id: int, comment: str = "") -> Promotion:
        """Approve (the route checked ``models:approve`` in the promotion's workspace); the
        approval that reaches the required count applies the promotion."""
        return self._decide(ctx, name, promotion_id, "approved", _check_comment(comment))

    def reject(self, ctx: RequestContext, name: str, promotion_id: int, comment: str = "") -> Promotion:
        return self._decide(ctx, name, promotion_id, "rejected", _check_comment(comment))

    def _decide(
        self, ctx: RequestContext, name: str, promotion_id: int, decision: str, comment: str
    ) -> Promotion:
        actor = ctx.principal.name
        now = now_ms()
        with self.registry.write() as uow:
            found = self._get(uow, ctx, name, promotion_id)
            self._check_decidable(found, actor)
            uow[PROMOTIONS].decide(
                promotion_id,
                Approval(actor, "approved" if decision == "approved" else "rejected", comment, now),
            )
            _event(
                uow, found.workspace, name, f"promotion_{decision}", found.version, actor,
                promotion=promotion_id, alias=found.alias, workspace=found.workspace,
                requested_by=found.requested_by, approver=actor, comment=comment,
            )  # fmt: skip
            if decision == "rejected":
                if not uow[PROMOTIONS].finish(promotion_id, "rejected", now, None):
                    raise Conflict(f"promotion {promotion_id} was decided meanwhile; show it to see how")
            elif len(found.approvers) + 1 >= found.required_approvals:
                self._apply(uow, found, promotion_id, actor)
            done = uow[PROMOTIONS].get(ctx.workspace, promotion_id)
        assert done is not None
        return done

    @staticmethod
    def _check_decidable(found: Promotion, actor: str) -> None:
        if found.state != "pending":
            raise Conflict(
                f"promotion {found.id} is already {found.state};"
                " request a new one with `shipyard model promote`",
                promotion=found.id,
                state=found.state,
            )
        if actor == found.requested_by:
            raise SelfApproval(
                f"{actor!r} requested promotion {found.id} and cannot decide it: a second person"
                " holding models:approve in workspace"
                f" {found.workspace!r} must approve or reject it",
                promotion=found.id,
            )
        if any(d.principal == actor for d in found.decisions):
            raise Conflict(f"{actor!r} already decided promotion {found.id}", promotion=found.id)

    # -- copies to another workspace -----------------------------------------------

    def _source_prefix(self, ctx: RequestContext, found: ModelVersion) -> tuple[str, str]:
        """The artifact-store key the version's files are under, and the path they take in
        the copy's run."""
        with self.db.read() as uow:
            if found.logged_model_id:
                logged = uow.logged_models.get(ctx.workspace, found.logged_model_id)
                if logged is not None:
                    return logged.artifact_location, "model"
            if found.run_id and found.artifact_path:
                ref = TrackingService._ref(uow, ctx, found.run_id, allow_deleted=True)
                return join_key(ref.artifact_uri, found.artifact_path), found.artifact_path
        raise InvalidArgument(
            f"model {found.name!r} version {found.version} has no files in this server's artifact"
            " store (it was not registered from a run's artifacts or a logged model): it cannot be copied"
        )

    def _copy(self, ctx: RequestContext, found: ModelVersion, target: RequestContext) -> ModelVersion:
        """A new version of the model of the same name in ``target``'s workspace: the files
        copied into a run there, the tags, code version and a link back to the source."""
        prefix, dest = self._source_prefix(ctx, found)
        objects = [o for o in self.store.list(prefix) if o.key == prefix or o.key.startswith(prefix + "/")]
        if not objects:
            raise InvalidArgument(f"model {found.name!r} version {found.version} has no files to copy")
        lineage = {PROMOTED_FROM_TAG: f"{ctx.workspace}/{found.name}:{found.version}"}
        if found.run_id:
            lineage[PROMOTED_FROM_RUN_TAG] = found.run_id
        run_tags = dict(lineage)
        if found.code_version:
            run_tags["shipyard.source.git.commit"] = found.code_version
        try:
            experiment = self.tracking.get_experiment_by_name(target, PROMOTIONS_EXPERIMENT)
        except NotFound:
            experiment = self.tracking.create_experiment(target, PROMOTIONS_EXPERIMENT)
        run = self.tracking.create_run(
            target, experiment.id, name=f"{found.name}-v{found.version}-from-{ctx.workspace}", tags=run_tags
        )
        with self.db.read() as uow:
            ref = TrackingService._ref(uow, target, run.id)
        for item in objects:
            rest = item.key[len(prefix) :].lstrip("/")
            path = f"{dest}/{rest}" if rest else dest
            size, sha = self._copy_object(item.key, join_key(ref.artifact_uri, path))
            with self.db.write() as uow:
                uow.artifacts.record(ref, path, size, sha, target.principal.name, now_ms())
        self.tracking.update_run(target, run.id, status="FINISHED")
        return self.registry.register(
            target, found.name, run.id, dest, description=found.description, tags={**found.tags, **lineage}
        )

    def _copy_object(self, source: str, dest: str) -> tuple[int, str]:
        digest = hashlib.sha256()
        size = 0
        with self.store.staging_file() as (staged, handle), self.store.get(source) as reader:
            while chunk := reader.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
                handle.write(chunk)
            handle.flush()
            handle.close()
            self.store.put(dest, staged)
        return size, digest.hexdigest()
