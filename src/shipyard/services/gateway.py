"""The AI gateway's configuration API (MLflow 3): secrets, model definitions, endpoints.

Configuration only. A gateway secret's values become a workspace secret (issue 6: encrypted
at rest with the server's key, listed by ``shipyard secret list``, never answered) written in
the same transaction as the gateway's record of it; answers carry masked values only.
Nothing here calls a provider: the server has no route to one (see ``NO_PROVIDER_CALLS``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace

from shipyard.domain.context import RequestContext
from shipyard.domain.gateway import (
    LINKAGE_TYPES,
    EndpointModel,
    GatewayEndpoint,
    GatewaySecret,
    ModelDefinition,
    check_gateway_name,
    check_secret_values,
    mask_value,
    shipyard_secret_name,
)
from shipyard.domain.validation import check_key, check_value
from shipyard.errors import AlreadyExists, InvalidArgument, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.access.ports import SecretCipher
from shipyard.services.access.secrets import MAX_SECRET_BYTES
from shipyard.services.genai_ports import GATEWAY
from shipyard.services.ports import Database, UnitOfWork

__all__ = ["MAX_ENDPOINT_TAG_VALUE", "EndpointModelIn", "GatewayService"]

MAX_ENDPOINT_TAG_VALUE = 5000  # MLflow's column


def _missing(kind: str, **where: str | None) -> NotFound:
    # MLflow's text: "GatewaySecret not found (secret_id='s-…')".
    found = ", ".join(f"{k}='{v}'" for k, v in where.items() if v is not None)
    return NotFound(f"{kind} not found ({found})")


def _one_of(first: str, first_value: str | None, second: str, second_value: str | None) -> None:
    if bool(first_value) == bool(second_value):
        raise InvalidArgument(f"give exactly one of {first} and {second}")


class EndpointModelIn:
    """A model of an endpoint as the request names it."""

    __slots__ = ("fallback_order", "linkage_type", "model_definition_id", "weight")

    def __init__(
        self,
        model_definition_id: str,
        linkage_type: str | None,
        weight: float | None,
        fallback_order: int | None,
    ) -> None:
        self.model_definition_id = model_definition_id
        self.linkage_type = (linkage_type or "PRIMARY").upper()
        if self.linkage_type == "LINKAGE_TYPE_UNSPECIFIED":
            self.linkage_type = "PRIMARY"
        if self.linkage_type not in LINKAGE_TYPES:
            raise InvalidArgument(f"linkage_type must be PRIMARY or FALLBACK; got {linkage_type!r}")
        self.weight = 1.0 if weight is None else float(weight)
        if not self.weight >= 0:
            raise InvalidArgument(f"a model's weight must not be negative; got {weight}")
        self.fallback_order = fallback_order


class GatewayService:
    def __init__(self, db: Database, cipher: SecretCipher) -> None:
        self.db = db
        self.cipher = cipher

    # -- secrets -------------------------------------------------------------------------

    def _store_values(
        self,
        uow: UnitOfWork,
        ctx: RequestContext,
        workspace_id: int,
        name: str,
        values: Mapping[str, str],
        now: int,
    ) -> None:
        plain = json.dumps(values)
        if len(plain.encode()) > MAX_SECRET_BYTES:
            raise InvalidArgument(f"a gateway secret's values are at most {MAX_SECRET_BYTES} bytes")
        uow.secrets.put(
            workspace_id, ctx.workspace, name, self.cipher.encrypt(plain), ctx.principal.name, now
        )

    def create_secret(
        self,
        ctx: RequestContext,
        name: str,
        values: Mapping[str, object],
        provider: str | None,
        auth_config: Mapping[str, str],
    ) -> GatewaySecret:
        check_gateway_name("gateway secret", name)
        checked = check_secret_values(values)
        now = now_ms()
        secret_id = f"s-{uuid.uuid4().hex}"
        secret = GatewaySecret(
            id=secret_id,
            name=name,
            provider=provider or None,
            masked_values={k: mask_value(v) for k, v in checked.items()},
            auth_config=dict(auth_config),
            stored_as=shipyard_secret_name(secret_id),
            created_at=now,
            created_by=ctx.principal.name,
            last_updated_at=now,
            last_updated_by=ctx.principal.name,
        )
        with self.db.write() as uow:
            if uow[GATEWAY].secret(ctx.workspace, name=name) is not None:
                raise AlreadyExists(f"Secret with name '{name}' already exists")
            workspace_id = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now)
            self._store_values(uow, ctx, workspace_id, secret.stored_as, checked, now)
            uow[GATEWAY].add_secret(workspace_id, secret)
        return secret

    def _secret(
        self, uow: UnitOfWork, ctx: RequestContext, secret_id: str | None, name: str | None = None
    ) -> GatewaySecret:
        found = uow[GATEWAY].secret(ctx.workspace, secret_id=secret_id, name=name)
        if found is None:
            raise _missing("GatewaySecret", secret_id=secret_id, secret_name=name)
        return found

    def get_secret(self, ctx: RequestContext, secret_id: str | None, name: str | None) -> GatewaySecret:
        _one_of("secret_id", secret_id, "secret_name", name)
        with self.db.read() as uow:
            return self._secret(uow, ctx, secret_id or None, name or None)

    def update_secret(
        self,
        ctx: RequestContext,
        secret_id: str,
        values: Mapping[str, object] | None,
        auth_config: Mapping[str, str] | None,
    ) -> GatewaySecret:
        now = now_ms()
        with self.db.write() as uow:
            found = self._secret(uow, ctx, secret_id)
            changed = replace(found, last_updated_at=now, last_updated_by=ctx.principal.name)
            if values:
                checked = check_secret_values(values)
                workspace_id = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now)
                self._store_values(uow, ctx, workspace_id, found.stored_as, checked, now)
                changed = replace(changed, masked_values={k: mask_value(v) for k, v in checked.items()})
            if auth_config:
                changed = replace(changed, auth_config=dict(auth_config))
            uow[GATEWAY].update_secret(changed)
        return changed

    def delete_secret(self, ctx: RequestContext, secret_id: str) -> None:
        with self.db.write() as uow:
            found = self._secret(uow, ctx, secret_id)
            uow.secrets.delete(ctx.workspace, found.stored_as)
            uow[GATEWAY].delete_secret(found.id)

    def list_secrets(self, ctx: RequestContext, provider: str | None) -> list[GatewaySecret]:
        with self.db.read() as uow:
            return uow[GATEWAY].secrets(ctx.workspace, provider or None)

    # -- model definitions ---------------------------------------------------------------

    def _model(self, uow: UnitOfWork, ctx: RequestContext, model_id: str) -> ModelDefinition:
        found = uow[GATEWAY].model(ctx.workspace, model_id)
        if found is None:
            raise _missing("GatewayModelDefinition", model_definition_id=model_id)
        return found

    def create_model(
        self, ctx: RequestContext, name: str, secret_id: str | None, provider: str, model_name: str
    ) -> ModelDefinition:
        check_gateway_name("model definition", name)
        if not provider or not model_name:
            raise InvalidArgument("a model definition needs a provider and a model_name")
        now = now_ms()
        with self.db.write() as uow:
            secret_name = self._secret(uow, ctx, secret_id).name if secret_id else None
            if any(m.name == name for m in uow[GATEWAY].models(ctx.workspace, None, None)):
                raise AlreadyExists(f"Model definition with name '{name}' already exists")
            made = ModelDefinition(
                id=f"d-{uuid.uuid4().hex}",
                name=name,
                secret_id=secret_id or None,
                secret_name=secret_name,
                provider=provider,
                model_name=model_name,
                created_at=now,
                created_by=ctx.principal.name,
                last_updated_at=now,
                last_updated_by=ctx.principal.name,
            )
            uow[GATEWAY].add_model(uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now), made)
        return made

    def get_model(self, ctx: RequestContext, model_id: str) -> ModelDefinition:
        with self.db.read() as uow:
            return self._model(uow, ctx, model_id)

    def list_models(
        self, ctx: RequestContext, provider: str | None, secret_id: str | None
    ) -> list[ModelDefinition]:
        with self.db.read() as uow:
            return uow[GATEWAY].models(ctx.workspace, provider or None, secret_id or None)

    def update_model(
        self,
        ctx: RequestContext,
        model_id: str,
        *,
        name: str | None,
        secret_id: str | None,
        provider: str | None,
        model_name: str | None,
    ) -> ModelDefinition:
        with self.db.write() as uow:
            found = self._model(uow, ctx, model_id)
            changed = replace(
                found,
                name=check_gateway_name("model definition", name) if name else found.name,
                provider=provider or found.provider,
                model_name=model_name or found.model_name,
                last_updated_at=now_ms(),
                last_updated_by=ctx.principal.name,
            )
            if secret_id:
                changed = replace(
                    changed, secret_id=secret_id, secret_name=self._secret(uow, ctx, secret_id).name
                )
            uow[GATEWAY].update_model(changed)
        return changed

    def delete_model(self, ctx: RequestContext, model_id: str) -> None:
        with self.db.write() as uow:
            self._model(uow, ctx, model_id)
            using = uow[GATEWAY].endpoints_using(model_id)
            if using:
                raise InvalidArgument(
                    "Cannot delete model definition that is currently in use by endpoints."
                    f" Detach it first from: {', '.join(using)}"
                )
            uow[GATEWAY].delete_model(model_id)

    # -- endpoints -----------------------------------------------------------------------

    def _endpoint(
        self, uow: UnitOfWork, ctx: RequestContext, endpoint_id: str | None, name: str | None = None
    ) -> GatewayEndpoint:
        found = uow[GATEWAY].endpoint(ctx.workspace, endpoint_id=endpoint_id, name=name)
        if found is None:
            raise _missing("GatewayEndpoint", endpoint_id=endpoint_id, name=name)
        return found

    def _models_of(
        self, uow: UnitOfWork, ctx: RequestContext, configs: Sequence[EndpointModelIn], now: int
    ) -> tuple[EndpointModel, ...]:
        out: list[EndpointModel] = []
        seen: set[tuple[str, str]] = set()
        for config in configs:
            self._model(uow, ctx, config.model_definition_id)
            if (config.model_definition_id, config.linkage_type) in seen:
                raise InvalidArgument(
                    f"model definition {config.model_definition_id} is named twice as {config.linkage_type}"
                )
            seen.add((config.model_definition_id, config.linkage_type))
            out.append(
                EndpointModel(
                    mapping_id=f"m-{uuid.uuid4().hex}",
                    model_definition_id=config.model_definition_id,
                    linkage_type=config.linkage_type,
                    weight=config.weight,
                    fallback_order=config.fallback_order,
                    created_at=now,
                    created_by=ctx.principal.name,
                )
            )
        return tuple(out)

    def create_endpoint(
        self,
        ctx: RequestContext,
        name: str,
        configs: Sequence[EndpointModelIn],
        *,
        routing_strategy: str | None = None,
        fallback_config: dict[str, object] | None = None,
        experiment_id: str | None = None,
        usage_tracking: bool = False,
    ) -> GatewayEndpoint:
        check_gateway_name("gateway endpoint", name)
        now = now_ms()
        with self.db.write() as uow:
            if uow[GATEWAY].endpoint(ctx.workspace, name=name) is not None:
                raise AlreadyExists(f"Endpoint with name '{name}' already exists")
            if experiment_id and uow.experiments.get(ctx.workspace, experiment_id) is None:
                raise NotFound(f"no experiment with id {experiment_id!r}", experiment_id=experiment_id)
            made = GatewayEndpoint(
                id=f"e-{uuid.uuid4().hex}",
                name=name,
                models=self._models_of(uow, ctx, configs, now),
                routing_strategy=routing_strategy,
                fallback_config=fallback_config,
                experiment_id=experiment_id or None,
                usage_tracking=usage_tracking,
                tags={},
                created_at=now,
                created_by=ctx.principal.name,
                last_updated_at=now,
                last_updated_by=ctx.principal.name,
            )
            uow[GATEWAY].add_endpoint(uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now), made)
        return made

    def get_endpoint(self, ctx: RequestContext, endpoint_id: str | None, name: str | None) -> GatewayEndpoint:
        _one_of("endpoint_id", endpoint_id, "name", name)
        with self.db.read() as uow:
            return self._endpoint(uow, ctx, endpoint_id or None, name or None)

    def list_endpoints(
        self, ctx: RequestContext, provider: str | None, secret_id: str | None
    ) -> list[GatewayEndpoint]:
        with self.db.read() as uow:
            found = uow[GATEWAY].endpoints(ctx.workspace)
            if not provider and not secret_id:
                return found
            wanted = {m.id for m in uow[GATEWAY].models(ctx.workspace, provider or None, secret_id or None)}
        return [e for e in found if any(m.model_definition_id in wanted for m in e.models)]

    def update_endpoint(
        self,
        ctx: RequestContext,
        endpoint_id: str,
        *,
        name: str | None = None,
        configs: Sequence[EndpointModelIn] | None = None,
        routing_strategy: str | None = None,
        fallback_config: dict[str, object] | None = None,
        experiment_id: str | None = None,
        usage_tracking: bool | None = None,
    ) -> GatewayEndpoint:
        now = now_ms()
        with self.db.write() as uow:
            found = self._endpoint(uow, ctx, endpoint_id)
            changed = replace(
                found,
                name=check_gateway_name("gateway endpoint", name) if name else found.name,
                routing_strategy=routing_strategy or found.routing_strategy,
                fallback_config=fallback_config if fallback_config is not None else found.fallback_config,
                experiment_id=experiment_id or found.experiment_id,
                usage_tracking=found.usage_tracking if usage_tracking is None else usage_tracking,
                last_updated_at=now,
                last_updated_by=ctx.principal.name,
            )
            if configs:
                changed = replace(changed, models=self._models_of(uow, ctx, configs, now))
            uow[GATEWAY].update_endpoint(changed)
        return changed

    def delete_endpoint(self, ctx: RequestContext, endpoint_id: str) -> None:
        with self.db.write() as uow:
            self._endpoint(uow, ctx, endpoint_id)
            uow[GATEWAY].delete_endpoint(endpoint_id)

    def set_tag(self, ctx: RequestContext, endpoint_id: str, key: str, value: str) -> None:
        check_key("gateway endpoint tag", key)
        check_value("gateway endpoint tag", key, value, MAX_ENDPOINT_TAG_VALUE)
        with self.db.write() as uow:
            found = self._endpoint(uow, ctx, endpoint_id)
            uow[GATEWAY].update_endpoint(replace(found, tags={**found.tags, key: value}))

    def delete_tag(self, ctx: RequestContext, endpoint_id: str, key: str) -> None:
        """As MLflow: deleting a key the endpoint does not have is no error."""
        with self.db.write() as uow:
            found = self._endpoint(uow, ctx, endpoint_id)
            if key in found.tags:
                tags = {k: v for k, v in found.tags.items() if k != key}
                uow[GATEWAY].update_endpoint(replace(found, tags=tags))

    def attach(self, ctx: RequestContext, endpoint_id: str, config: EndpointModelIn) -> EndpointModel:
        now = now_ms()
        with self.db.write() as uow:
            found = self._endpoint(uow, ctx, endpoint_id)
            if any(
                (m.model_definition_id, m.linkage_type) == (config.model_definition_id, config.linkage_type)
                for m in found.models
            ):
                raise AlreadyExists(
                    f"model definition {config.model_definition_id} is already attached"
                    f" as {config.linkage_type}"
                )
            (made,) = self._models_of(uow, ctx, [config], now)
            uow[GATEWAY].attach(endpoint_id, made)
        return made

    def detach(self, ctx: RequestContext, endpoint_id: str, model_id: str) -> None:
        with self.db.write() as uow:
            self._endpoint(uow, ctx, endpoint_id)
            if uow[GATEWAY].detach(endpoint_id, model_id) == 0:
                raise NotFound(f"model definition {model_id} is not attached to endpoint {endpoint_id}")
