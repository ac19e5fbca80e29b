"""The model registry: models, versions from run artifacts, aliases, history."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from shipyard.domain.context import RequestContext
from shipyard.domain.logged_models import LoggedModel
from shipyard.domain.model_search import parse_model_filter, parse_model_order_by
from shipyard.domain.model_sources import ModelSource, check_prompt_source, is_prompt, parse_model_source
from shipyard.domain.pagination import decode_token, encode_token, fingerprint
from shipyard.domain.paths import clean_relative_path
from shipyard.domain.promotions import required_approvals
from shipyard.domain.registry import STAGES, ModelEvent, ModelVersion, RegisteredModel
from shipyard.domain.tracking import Run
from shipyard.domain.validation import (
    MAX_NAME_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    check_description,
    check_key,
    check_name,
    check_value,
)
from shipyard.errors import AlreadyExists, ApprovalRequired, InvalidArgument, InvalidPageToken, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.ports import Database, UnitOfWork
from shipyard.services.promotion_ports import PROMOTIONS
from shipyard.services.tracking import MAX_PAGE, TrackingService, check_run_link

__all__ = ["CODE_VERSION_TAGS", "MODEL_VERSIONS_TAG", "RegistryListener", "RegistryService", "check_alias"]

log = logging.getLogger("shipyard.registry")

RegistryListener = Callable[[str, Sequence[ModelEvent]], None]
"""``f(workspace, events)``: told of the history entries a committed change recorded."""

# The history entries of the write in progress on this thread (None outside one): what
# :meth:`RegistryService._write` hands to the listeners once the transaction has committed.
_OUTBOX: ContextVar[list[tuple[str, ModelEvent]] | None] = ContextVar("registry_outbox", default=None)

# Where a run records the commit of its code: ours first, then MLflow's.
CODE_VERSION_TAGS = ("shipyard.source.git.commit", "mlflow.source.git.commit")
_RESERVED_ALIASES = {"latest"}
# Where MLflow keeps a logged model's registrations: a JSON list of {"name", "version"}, set
# by its server when a version is created from the model (the client reads it from there).
MODEL_VERSIONS_TAG = "mlflow.modelVersions"


def record(workspace: str, event: ModelEvent) -> None:
    """Queue a history entry just added in a :meth:`RegistryService.write` for its listeners
    (outside one, nobody listens: the entry is only history)."""
    outbox = _OUTBOX.get()
    if outbox is not None:
        outbox.append((workspace, event))


def _check_model_name(name: str) -> str:
    check_name("model", name)
    if "/" in name:  # the name is one segment of every /api/v1/models/{name}/… URL
        raise InvalidArgument(f"model name {name!r} cannot contain '/'; use '-' or '.' instead")
    return name


def _code_version(run_tags: dict[str, str]) -> str | None:
    tag = next((t for t in CODE_VERSION_TAGS if t in run_tags), None)
    if tag is None:
        return None
    if len(run_tags[tag]) > MAX_NAME_LENGTH:  # tags hold up to 8,000 characters; a version 256
        raise InvalidArgument(
            f"the run's tag {tag!r} is {len(run_tags[tag])} characters long; a code version"
            f" holds at most {MAX_NAME_LENGTH}: set it to the commit id"
        )
    return run_tags[tag]


def _check_alias(alias: str) -> str:
    check_key("alias", alias)
    if alias.lower() in _RESERVED_ALIASES or (alias.lower().startswith("v") and alias[1:].isdigit()):
        raise InvalidArgument(f"alias {alias!r} is reserved; 'latest' and 'v<number>' name versions already")
    return alias


check_alias = _check_alias
"""The alias rules, for the other services that move aliases (promotions)."""


def _refuse_protected(uow: UnitOfWork, ctx: RequestContext, name: str, alias: str) -> None:
    needed = required_approvals(uow[PROMOTIONS].protections(ctx.workspace), name, alias)
    if needed:
        raise ApprovalRequired(
            f"alias {alias!r} of model {name!r} is protected in workspace {ctx.workspace!r}"
            f" ({needed} approval{'s' if needed > 1 else ''} needed): request it with"
            f" `shipyard model promote {name}:VERSION --alias {alias}` and have a second person approve",
            name=name,
            alias=alias,
        )


def _check_offset(offset: int) -> None:
    if not 0 <= offset < 2**63:
        raise InvalidArgument(f"offset must be between 0 and 2**63 - 1; got {offset}")


def _check_tags(tags: dict[str, str]) -> dict[str, str]:
    return {check_key("tag", k): check_value("tag", k, v, MAX_TAG_VALUE_LENGTH) for k, v in tags.items()}


def _stage(stage: str) -> str:
    """MLflow's stage names, matched case-insensitively as its server does."""
    found = next((s for s in STAGES if s.lower() == str(stage).lower()), None)
    if found is None:
        raise InvalidArgument(f"stage must be one of {', '.join(STAGES)}; got {str(stage)[:40]!r}")
    return found


def _page_offset(page_token: str | None, query: str) -> int:
    offset = decode_token(page_token, query) or 0
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < 2**63:
        raise InvalidPageToken("page_token is not a token this server issued")
    return offset


class RegistryService:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._listeners: list[RegistryListener] = []

    def subscribe(self, listener: RegistryListener) -> None:
        """Tell ``listener`` of every committed change (the registry's webhooks do): called in
        the caller's thread after the commit, so it must hand work off and return at once. Its
        failure is logged; the change stands and its caller is answered as if nothing happened."""
        self._listeners.append(listener)

    @contextmanager
    def write(self) -> Iterator[UnitOfWork]:
        """``db.write()``; once it commits, the history entries it recorded go to the listeners.
        Every write that records registry history uses it (promotions too: they move aliases)."""
        outbox: list[tuple[str, ModelEvent]] = []
        token = _OUTBOX.set(outbox)
        try:
            with self.db.write() as uow:
                yield uow
        finally:
            _OUTBOX.reset(token)
        self._publish(outbox)

    def _publish(self, events: list[tuple[str, ModelEvent]]) -> None:
        by_workspace: dict[str, list[ModelEvent]] = {}
        for workspace, event in events:
            by_workspace.setdefault(workspace, []).append(event)
        for listener in self._listeners:
            for workspace, found in by_workspace.items():
                try:
                    listener(workspace, found)
                except Exception:
                    log.exception("a registry listener failed on %d event(s)", len(found))

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    def _model_id(uow: UnitOfWork, ctx: RequestContext, name: str) -> int:
        model_id = uow.models.model_id(ctx.workspace, name)
        if model_id is None:
            raise NotFound(f"no registered model named {name!r} in workspace {ctx.workspace!r}", name=name)
        return model_id

    @staticmethod
    def _event(
        uow: UnitOfWork,
        ctx: RequestContext,
        name: str,
        action: str,
        version: int | None = None,
        **detail: Any,
    ) -> None:
        workspace_id = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now_ms())
        event = ModelEvent(0, name, version, action, detail, ctx.principal.name, now_ms())
        uow.models.add_event(event, workspace_id)
        record(ctx.workspace, event)

    # -- models --------------------------------------------------------------------

    def create_model(
        self, ctx: RequestContext, name: str, description: str = "", tags: dict[str, str] | None = None
    ) -> RegisteredModel:
        _check_model_name(name)
        tags = _check_tags(tags or {})
        check_description(description)
        with self.write() as uow:
            if uow.models.model_id(ctx.workspace, name) is not None:
                raise AlreadyExists(f"a registered model named {name!r} already exists", name=name)
            workspace_id = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now_ms())
            uow.models.create_model(workspace_id, name, description, tags, ctx.principal.name, now_ms())
            self._event(uow, ctx, name, "model_created", description=description, tags=tags)
            return uow.models.get_model(self._model_id(uow, ctx, name))

    def get_model(self, ctx: RequestContext, name: str) -> RegisteredModel:
        with self.db.read() as uow:
            return uow.models.get_model(self._model_id(uow, ctx, name))

    def list_models(
        self, ctx: RequestContext, name_like: str | None = None, max_results: int = 100, offset: int = 0
    ) -> list[RegisteredModel]:
        if not 1 <= max_results <= MAX_PAGE:
            raise InvalidArgument(f"max_results must be between 1 and {MAX_PAGE}")
        _check_offset(offset)
        with self.db.read() as uow:
            return uow.models.list_models(ctx.workspace, name_like, offset, max_results)

    def update_model(
        self,
        ctx: RequestContext,
        name: str,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> RegisteredModel:
        tags = _check_tags(tags or {})
        check_description(description)
        with self.write() as uow:
            model_id = self._model_id(uow, ctx, name)
            uow.models.update_model(
                model_id, ctx.principal.name, now_ms(), description=description, tags=tags
            )
            if description is not None:
                self._event(uow, ctx, name, "description_set", description=description)
            if tags:
                self._event(uow, ctx, name, "tags_set", tags=tags)
            return uow.models.get_model(model_id)

    def delete_model_tag(self, ctx: RequestContext, name: str, key: str) -> None:
        with self.write() as uow:
            if not uow.models.delete_model_tag(self._model_id(uow, ctx, name), key):
                raise NotFound(f"model {name!r} has no tag {key!r}", key=key)
            self._event(uow, ctx, name, "tag_deleted", key=key)

    # -- versions ------------------------------------------------------------------

    def register(
        self,
        ctx: RequestContext,
        name: str,
        run_id: str,
        artifact_path: str,
        *,
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        """A new version of ``name`` (created if absent) from a run's artifact file or folder."""
        _check_model_name(name)
        path = clean_relative_path(artifact_path)
        tags = _check_tags(tags or {})
        check_description(description)
        now = now_ms()
        with self.write() as uow:
            ref = TrackingService._ref(uow, ctx, run_id)
            if not uow.artifacts.under(ref, path):
                raise NotFound(
                    f"run {run_id} has no artifact at {path!r}; upload it before registering", path=path
                )
            run = uow.runs.get(run_id)
            assert run is not None
            code_version = _code_version(run.tags)
            model_id = uow.models.model_id(ctx.workspace, name)
            if model_id is None:
                workspace_id = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now)
                uow.models.create_model(workspace_id, name, "", {}, ctx.principal.name, now)
                self._event(uow, ctx, name, "model_created")
                model_id = self._model_id(uow, ctx, name)
            return self._insert_version(
                uow,
                ctx,
                model_id,
                name,
                source=f"runs:/{run_id}/{path}",
                run_id=run_id,
                experiment_id=run.experiment_id,
                artifact_path=path,
                code_version=code_version,
                description=description,
                tags=tags,
                now=now,
            )

    def get_version(self, ctx: RequestContext, name: str, version: int | str) -> ModelVersion:
        """``version`` is a number, ``latest``, or an alias."""
        with self.db.read() as uow:
            model_id = self._model_id(uow, ctx, name)
            number = self._resolve(uow, model_id, name, version)
            found = uow.models.get_version(model_id, number)
        if found is None:
            raise NotFound(f"model {name!r} has no version {version}", name=name, version=str(version))
        return found

    @staticmethod
    def _resolve(uow: UnitOfWork, model_id: int, name: str, version: int | str) -> int:
        if isinstance(version, int) or (str(version).isascii() and str(version).isdigit()):
            return int(version)
        model = uow.models.get_model(model_id)
        if version == "latest":
            if model.latest_version is None:
                raise NotFound(f"model {name!r} has no versions yet", name=name, latest=True)
            return model.latest_version
        if version in model.aliases:
            return model.aliases[str(version)]
        raise NotFound(f"model {name!r} has no alias {version!r}", name=name, alias=str(version))

    def list_versions(self, ctx: RequestContext, name: str) -> list[ModelVersion]:
        with self.db.read() as uow:
            return uow.models.list_versions(self._model_id(uow, ctx, name))

    def update_version(
        self,
        ctx: RequestContext,
        name: str,
        version: int,
        *,
        description: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        tags = _check_tags(tags or {})
        check_description(description)
        with self.write() as uow:
            model_id = self._model_id(uow, ctx, name)
            if uow.models.get_version(model_id, version) is None:
                raise NotFound(f"model {name!r} has no version {version}", name=name, version=str(version))
            uow.models.update_version(
                model_id, version, ctx.principal.name, now_ms(), description=description, tags=tags
            )
            if description is not None:
                self._event(uow, ctx, name, "version_description_set", version, description=description)
            if tags:
                self._event(uow, ctx, name, "version_tags_set", version, tags=tags)
            found = uow.models.get_version(model_id, version)
        assert found is not None
        return found

    def delete_version_tag(self, ctx: RequestContext, name: str, version: int, key: str) -> None:
        with self.write() as uow:
            model_id = self._model_id(uow, ctx, name)
            if not uow.models.delete_version_tag(model_id, version, key):
                raise NotFound(f"model {name!r} version {version} has no tag {key!r}", key=key)
            self._event(uow, ctx, name, "version_tag_deleted", version, key=key)

    # -- aliases and history -------------------------------------------------------

    def set_alias(self, ctx: RequestContext, name: str, alias: str, version: int) -> RegisteredModel:
        _check_alias(alias)
        with self.write() as uow:
            model_id = self._model_id(uow, ctx, name)
            if uow.models.get_version(model_id, version) is None:
                raise NotFound(f"model {name!r} has no version {version}", name=name, version=str(version))
            _refuse_protected(uow, ctx, name, alias)
            previous = uow.models.set_alias(model_id, alias, version)
            self._event(uow, ctx, name, "alias_set", version, alias=alias, previous_version=previous)
            return uow.models.get_model(model_id)

    def delete_alias(self, ctx: RequestContext, name: str, alias: str) -> None:
        with self.write() as uow:
            model_id = self._model_id(uow, ctx, name)
            _refuse_protected(uow, ctx, name, alias)
            previous = uow.models.delete_alias(model_id, alias)
            if previous is None:
                raise NotFound(f"model {name!r} has no alias {alias!r}", alias=alias)
            self._event(uow, ctx, name, "alias_deleted", previous, alias=alias)

    def history(
        self, ctx: RequestContext, name: str, max_results: int = 1000, offset: int = 0
    ) -> list[ModelEvent]:
        if not 1 <= max_results <= 10_000:
            raise InvalidArgument("max_results must be between 1 and 10,000")
        _check_offset(offset)
        with self.db.read() as uow:
            events = uow.models.events(ctx.workspace, name, offset, max_results)
            if not events and uow.models.model_id(ctx.workspace, name) is None:
                raise NotFound(f"no registered model named {name!r}", name=name)
            return events

    # -- MLflow's registry API: sources, renames, deletes, stages, search --------------

    def create_version(
        self,
        ctx: RequestContext,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        logged_model_id: str | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
    ) -> ModelVersion:
        """A new version of an existing model from a ``source`` URI inside Shipyard's stores,
        or a prompt version (MLflow's prompt registry: no files, a placeholder source)."""
        tags = _check_tags(tags or {})
        check_description(description)
        prompt = is_prompt(tags)
        if prompt:
            check_prompt_source(source)
        parsed = None if prompt else parse_model_source(source)
        now = now_ms()
        with self.write() as uow:
            model_id = self._model_id(uow, ctx, name)
            if parsed is None:  # a prompt's version: its template is in its tags
                return self._insert_version(
                    uow, ctx, model_id, name, source=source, run_id=None, experiment_id=None,
                    artifact_path=None, code_version=None, description=description, tags=tags, now=now,
                )  # fmt: skip
            origin = self._origin(uow, ctx, parsed)
            run_id = run_id or origin.run_id
            logged_model_id = logged_model_id or origin.logged_model_id
            logged = None
            if logged_model_id:
                logged = uow.logged_models.get(ctx.workspace, logged_model_id)
                if logged is None:
                    raise NotFound(
                        f"no logged model with id {logged_model_id[:64]!r}", model_id=logged_model_id[:64]
                    )
                run_id = run_id or logged.source_run_id
            experiment_id, code_version = None, None
            run = self._linked_run(uow, ctx, run_id) if run_id else None
            if run is not None:
                experiment_id, code_version = run.experiment_id, _code_version(run.tags)
                # A retraining a monitor started: the version says which monitor run caused it.
                tags = {**_monitor_tags(run.tags), **tags}
            created = self._insert_version(
                uow,
                ctx,
                model_id,
                name,
                source=source,
                run_id=run_id,
                experiment_id=experiment_id,
                artifact_path=origin.path if origin.kind in ("run", "version") and origin.run_id else None,
                code_version=code_version,
                description=description,
                tags=tags,
                now=now,
                logged_model_id=logged_model_id,
            )
            if logged is not None:
                self._record_registration(uow, logged, name, created.version)
            return created

    @staticmethod
    def _linked_run(uow: UnitOfWork, ctx: RequestContext, run_id: str) -> Run | None:
        """The version's run when this workspace holds it. MLflow stores a run id it does not
        know (the run may live on another server), and so do we: lineage shows it unresolved.
        A run of another workspace is treated as unknown, so the answer tells nothing of it."""
        check_run_link("run_id", run_id)
        ref = uow.runs.ref(run_id)
        return uow.runs.get(run_id) if ref is not None and ref.workspace == ctx.workspace else None

    @staticmethod
    def _record_registration(uow: UnitOfWork, logged: LoggedModel, name: str, version: int) -> None:
        """Append the version to the logged model's ``mlflow.modelVersions`` tag, as MLflow does."""
        try:
            known = json.loads(logged.tags.get(MODEL_VERSIONS_TAG, "[]"))
        except ValueError:
            known = []
        if not isinstance(known, list):
            known = []
        entry = {"name": name, "version": version}
        if entry not in known:
            known.append(entry)
            uow.logged_models.set_tags(logged.model_id, {MODEL_VERSIONS_TAG: json.dumps(known)})

    def _insert_version(
        self,
        uow: UnitOfWork,
        ctx: RequestContext,
        model_id: int,
        name: str,
        *,
        source: str,
        run_id: str | None,
        experiment_id: str | None,
        artifact_path: str | None,
        code_version: str | None,
        description: str,
        tags: dict[str, str],
        now: int,
        logged_model_id: str | None = None,
    ) -> ModelVersion:
        """Insert the model's next version, record it in the history, return it as stored."""
        draft = ModelVersion(
            name=name,
            version=0,
            source=source,
            run_id=run_id,
            experiment_id=experiment_id,
            artifact_path=artifact_path,
            code_version=code_version,
            description=description,
            status="READY",
            tags=tags,
            aliases=[],
            created_at=now,
            created_by=ctx.principal.name,
            updated_at=now,
            updated_by=ctx.principal.name,
            logged_model_id=logged_model_id,
        )
        number = uow.models.create_version(model_id, draft, ctx.principal.name, now)
        self._event(
            uow, ctx, name, "version_created", number,
            source=source, run_id=run_id, description=description, tags=tags,
        )  # fmt: skip
        found = uow.models.get_version(model_id, number)
        assert found is not None
        return found

    def _origin(self, uow: UnitOfWork, ctx: RequestContext, source: ModelSource) -> ModelSource:
        """Check that ``source`` names something in this workspace; say which run or model."""
        if source.kind == "run":  # runs:/<id>/… names a run that may live elsewhere, as run_id does
            return source
        if source.kind == "logged_model":
            return source
        if source.kind == "version":
            assert source.name is not None
            assert source.version is not None
            model_id = self._model_id(uow, ctx, source.name)
            number = self._resolve(uow, model_id, source.name, source.version.removeprefix("@"))
            found = uow.models.get_version(model_id, number)
            if found is None:
                raise NotFound(f"model {source.name!r} has no version {source.version}")
            return ModelSource(
                "version",
                run_id=found.run_id,
                path=found.artifact_path or "",
                logged_model_id=found.logged_model_id,
            )
        return self._artifact_origin(uow, ctx, source.path)

    @staticmethod
    def _artifact_origin(uow: UnitOfWork, ctx: RequestContext, key: str) -> ModelSource:
        parts = key.split("/")
        if len(parts) >= 5 and parts[0] == ctx.workspace and parts[2] == "models":
            model = uow.logged_models.get(ctx.workspace, parts[3])
            if model is not None and (key + "/").startswith(model.artifact_location + "/"):
                return ModelSource("logged_model", logged_model_id=model.model_id)
        elif len(parts) >= 4 and parts[0] == ctx.workspace:
            ref = uow.runs.ref(parts[2]) if len(parts[2]) <= 64 else None
            if (
                ref is not None
                and ref.workspace == ctx.workspace
                and (key + "/").startswith(ref.artifact_uri + "/")
            ):
                path = key[len(ref.artifact_uri) + 1 :]
                return ModelSource("run", run_id=ref.run_id, path=path)
        raise InvalidArgument(
            f"mlflow-artifacts:/{key[:200]} is not inside a run's or a logged model's artifacts"
            f" in workspace {ctx.workspace!r}",
            source=key[:200],
        )

    def download_uri(self, ctx: RequestContext, name: str, version: int) -> str:
        """Where the ``mlflow`` client downloads the version's files from."""
        found = self.get_version(ctx, name, version)
        if found.logged_model_id:
            with self.db.read() as uow:
                model = uow.logged_models.get(ctx.workspace, found.logged_model_id)
            if model is not None:
                return f"mlflow-artifacts:/{model.artifact_location}"
        if found.source.startswith(("runs:/", "mlflow-artifacts:/")) or not found.run_id:
            return found.source
        return f"runs:/{found.run_id}/{found.artifact_path or ''}".rstrip("/")

    def rename_model(self, ctx: RequestContext, name: str, new_name: str) -> RegisteredModel:
        _check_model_name(new_name)
        with self.write() as uow:
            model_id = self._model_id(uow, ctx, name)
            if new_name != name and uow.models.model_id(ctx.workspace, new_name) is not None:
                raise AlreadyExists(f"a registered model named {new_name!r} already exists", name=new_name)
            uow.models.rename_model(model_id, new_name, ctx.principal.name, now_ms())
            self._event(uow, ctx, name, "model_renamed", new_name=new_name)
            self._event(uow, ctx, new_name, "model_renamed", previous_name=name)
            return uow.models.get_model(model_id)

    def delete_model(self, ctx: RequestContext, name: str) -> None:
        with self.write() as uow:
            uow.models.delete_model(self._model_id(uow, ctx, name))
            self._event(uow, ctx, name, "model_deleted")

    def delete_version(self, ctx: RequestContext, name: str, version: int) -> None:
        with self.write() as uow:
            model_id = self._model_id(uow, ctx, name)
            if uow.models.get_version(model_id, version) is None:
                raise NotFound(f"model {name!r} has no version {version}", name=name, version=str(version))
            uow.models.delete_version(model_id, version)
            self._event(uow, ctx, name, "version_deleted", version)

    def transition_stage(
        self, ctx: RequestContext, name: str, version: int, stage: str, *, archive_existing: bool = False
    ) -> ModelVersion:
        stage = _stage(stage)
        now = now_ms()
        with self.write() as uow:
            model_id = self._model_id(uow, ctx, name)
            found = uow.models.get_version(model_id, version)
            if found is None:
                raise NotFound(f"model {name!r} has no version {version}", name=name, version=str(version))
            uow.models.set_stage(model_id, version, stage, ctx.principal.name, now)
            self._event(uow, ctx, name, "stage_set", version, stage=stage, previous_stage=found.stage)
            if archive_existing and stage in ("Staging", "Production"):
                for other in uow.models.list_versions(model_id):
                    if other.version != version and other.stage == stage:
                        uow.models.set_stage(model_id, other.version, "Archived", ctx.principal.name, now)
                        self._event(
                            uow, ctx, name, "stage_set", other.version, stage="Archived", previous_stage=stage
                        )
            result = uow.models.get_version(model_id, version)
        assert result is not None
        return result

    def latest_versions(
        self, ctx: RequestContext, name: str, stages: Sequence[str] = ()
    ) -> list[ModelVersion]:
        """The newest version in each of ``stages`` (each stage that has one when empty)."""
        wanted = [_stage(s) for s in stages] or list(STAGES)
        latest: dict[str, ModelVersion] = {}
        for found in self.list_versions(ctx, name):
            if found.stage in wanted:
                latest[found.stage] = found  # listed by ascending number: the last one wins
        return sorted(latest.values(), key=lambda v: v.version)

    def latest_versions_of(self, ctx: RequestContext, names: Sequence[str]) -> dict[str, list[ModelVersion]]:
        """:meth:`latest_versions` (every stage) of many models at once, e.g. a search page."""
        with self.db.read() as uow:
            return uow.models.latest_versions(ctx.workspace, names)

    def search_models(
        self,
        ctx: RequestContext,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 100,
        page_token: str | None = None,
    ) -> tuple[list[RegisteredModel], str | None]:
        if not 1 <= max_results <= MAX_PAGE:
            raise InvalidArgument(f"max_results must be between 1 and {MAX_PAGE}; got {max_results}")
        clauses = parse_model_filter(filter_string)
        order = parse_model_order_by(list(order_by))
        query = fingerprint("registered-models", ctx.workspace, filter_string, list(order_by))
        offset = _page_offset(page_token, query)
        with self.db.read() as uow:
            found = uow.models.search_models(ctx.workspace, clauses, order, offset, max_results + 1)
        token = encode_token(query, offset + max_results) if len(found) > max_results else None
        return found[:max_results], token

    def search_versions(
        self,
        ctx: RequestContext,
        filter_string: str | None = None,
        order_by: Sequence[str] = (),
        max_results: int = 10_000,
        page_token: str | None = None,
    ) -> tuple[list[ModelVersion], str | None]:
        if not 1 <= max_results <= 200_000:
            raise InvalidArgument(f"max_results must be between 1 and 200,000; got {max_results}")
        clauses = parse_model_filter(filter_string, versions=True)
        order = parse_model_order_by(list(order_by), versions=True)
        query = fingerprint("model-versions", ctx.workspace, filter_string, list(order_by))
        offset = _page_offset(page_token, query)
        with self.db.read() as uow:
            found = uow.models.search_versions(ctx.workspace, clauses, order, offset, max_results + 1)
        token = encode_token(query, offset + max_results) if len(found) > max_results else None
        return found[:max_results], token


def _monitor_tags(run_tags: Mapping[str, str]) -> dict[str, str]:
    """The ``shipyard.monitor*`` tags of a run a monitor's breach submitted (its job's tags)."""
    return {k: v for k, v in run_tags.items() if k == "shipyard.monitor" or k.startswith("shipyard.monitor.")}
