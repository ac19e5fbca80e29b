"""The AI gateway's configuration: secrets' metadata, model definitions, endpoints.

A secret's values are not here: they are a workspace secret (``secrets`` table, encrypted),
named in ``stored_as``, written by the service in the same transaction.
"""

from __future__ import annotations

import builtins
import json
from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from shipyard.domain.gateway import EndpointModel, GatewayEndpoint, GatewaySecret, ModelDefinition
from shipyard.services.genai_ports import GatewayRepository
from shipyard.stores.sql import schema_genai as t
from shipyard.stores.sql._workspace import in_workspace

__all__ = ["SqlGatewayRepository"]

_s = t.gateway_secrets.c
_m = t.gateway_model_definitions.c
_e = t.gateway_endpoints.c
_l = t.gateway_endpoint_models.c


def _secret(r: Row[Any]) -> GatewaySecret:
    return GatewaySecret(
        id=r.id,
        name=r.name,
        provider=r.provider,
        masked_values=json.loads(r.masked_values),
        auth_config=json.loads(r.auth_config),
        stored_as=r.stored_as,
        created_at=r.created_at,
        created_by=r.created_by,
        last_updated_at=r.last_updated_at,
        last_updated_by=r.last_updated_by,
    )


def _model(r: Row[Any]) -> ModelDefinition:
    return ModelDefinition(
        id=r.id,
        name=r.name,
        secret_id=r.secret_id,
        secret_name=r.secret_name,
        provider=r.provider,
        model_name=r.model_name,
        created_at=r.created_at,
        created_by=r.created_by,
        last_updated_at=r.last_updated_at,
        last_updated_by=r.last_updated_by,
    )


def _link_row(endpoint_id: str, model: EndpointModel) -> dict[str, Any]:
    return {
        "id": model.mapping_id,
        "endpoint_id": endpoint_id,
        "model_definition_id": model.model_definition_id,
        "linkage_type": model.linkage_type,
        "weight": model.weight,
        "fallback_order": model.fallback_order,
        "created_at": model.created_at,
        "created_by": model.created_by,
    }


def _audit_values(
    created_at: int, created_by: str | None, updated_at: int, updated_by: str | None
) -> dict[str, Any]:
    return {
        "created_at": created_at,
        "created_by": created_by,
        "last_updated_at": updated_at,
        "last_updated_by": updated_by,
    }


class SqlGatewayRepository(GatewayRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- secrets -----------------------------------------------------------------------

    def add_secret(self, workspace_id: int, secret: GatewaySecret) -> None:
        self.conn.execute(
            insert(t.gateway_secrets).values(
                id=secret.id,
                workspace_id=workspace_id,
                name=secret.name,
                provider=secret.provider,
                masked_values=json.dumps(secret.masked_values),
                auth_config=json.dumps(secret.auth_config),
                stored_as=secret.stored_as,
                **_audit_values(
                    secret.created_at, secret.created_by, secret.last_updated_at, secret.last_updated_by
                ),
            )
        )

    def update_secret(self, secret: GatewaySecret) -> None:
        self.conn.execute(
            update(t.gateway_secrets)
            .where(_s.id == secret.id)
            .values(
                masked_values=json.dumps(secret.masked_values),
                auth_config=json.dumps(secret.auth_config),
                last_updated_at=secret.last_updated_at,
                last_updated_by=secret.last_updated_by,
            )
        )

    def secret(
        self, workspace: str, *, secret_id: str | None = None, name: str | None = None
    ) -> GatewaySecret | None:
        query = in_workspace(t.gateway_secrets, workspace)
        query = query.where(_s.id == secret_id) if secret_id is not None else query.where(_s.name == name)
        row = self.conn.execute(query).first()
        return None if row is None else _secret(row)

    def secrets(self, workspace: str, provider: str | None) -> builtins.list[GatewaySecret]:
        query = in_workspace(t.gateway_secrets, workspace)
        if provider:
            query = query.where(_s.provider == provider)
        return [_secret(r) for r in self.conn.execute(query.order_by(_s.name))]

    def delete_secret(self, secret_id: str) -> None:
        self.conn.execute(
            update(t.gateway_model_definitions).where(_m.secret_id == secret_id).values(secret_id=None)
        )
        self.conn.execute(delete(t.gateway_secrets).where(_s.id == secret_id))

    # -- model definitions -------------------------------------------------------------

    def add_model(self, workspace_id: int, model: ModelDefinition) -> None:
        self.conn.execute(
            insert(t.gateway_model_definitions).values(
                id=model.id,
                workspace_id=workspace_id,
                name=model.name,
                secret_id=model.secret_id,
                provider=model.provider,
                model_name=model.model_name,
                **_audit_values(
                    model.created_at, model.created_by, model.last_updated_at, model.last_updated_by
                ),
            )
        )

    def update_model(self, model: ModelDefinition) -> None:
        self.conn.execute(
            update(t.gateway_model_definitions)
            .where(_m.id == model.id)
            .values(
                name=model.name,
                secret_id=model.secret_id,
                provider=model.provider,
                model_name=model.model_name,
                last_updated_at=model.last_updated_at,
                last_updated_by=model.last_updated_by,
            )
        )

    def _models(self, workspace: str) -> Any:
        return in_workspace(t.gateway_model_definitions, workspace).add_columns(
            select(_s.name).where(_s.id == _m.secret_id).scalar_subquery().label("secret_name")
        )

    def model(self, workspace: str, model_id: str) -> ModelDefinition | None:
        row = self.conn.execute(self._models(workspace).where(_m.id == model_id)).first()
        return None if row is None else _model(row)

    def models(
        self, workspace: str, provider: str | None, secret_id: str | None
    ) -> builtins.list[ModelDefinition]:
        query = self._models(workspace)
        if provider:
            query = query.where(_m.provider == provider)
        if secret_id:
            query = query.where(_m.secret_id == secret_id)
        return [_model(r) for r in self.conn.execute(query.order_by(_m.name))]

    def endpoints_using(self, model_id: str) -> builtins.list[str]:
        query = (
            select(_e.name)
            .join(t.gateway_endpoint_models, _l.endpoint_id == _e.id)
            .where(_l.model_definition_id == model_id)
            .distinct()
            .order_by(_e.name)
        )
        return list(self.conn.execute(query).scalars())

    def delete_model(self, model_id: str) -> None:
        self.conn.execute(delete(t.gateway_model_definitions).where(_m.id == model_id))

    # -- endpoints ---------------------------------------------------------------------

    def add_endpoint(self, workspace_id: int, endpoint: GatewayEndpoint) -> None:
        self.conn.execute(
            insert(t.gateway_endpoints).values(
                id=endpoint.id,
                workspace_id=workspace_id,
                name=endpoint.name,
                **self._settings(endpoint),
                **_audit_values(
                    endpoint.created_at,
                    endpoint.created_by,
                    endpoint.last_updated_at,
                    endpoint.last_updated_by,
                ),
            )
        )
        for model in endpoint.models:
            self.attach(endpoint.id, model)

    @staticmethod
    def _settings(endpoint: GatewayEndpoint) -> dict[str, Any]:
        return {
            "routing_strategy": endpoint.routing_strategy,
            "fallback_config": None
            if endpoint.fallback_config is None
            else json.dumps(endpoint.fallback_config),
            "experiment_id": endpoint.experiment_id,
            "usage_tracking": int(endpoint.usage_tracking),
            "tags": json.dumps(endpoint.tags),
        }

    def update_endpoint(self, endpoint: GatewayEndpoint) -> None:
        self.conn.execute(
            update(t.gateway_endpoints)
            .where(_e.id == endpoint.id)
            .values(
                name=endpoint.name,
                last_updated_at=endpoint.last_updated_at,
                last_updated_by=endpoint.last_updated_by,
                **self._settings(endpoint),
            )
        )
        self.conn.execute(delete(t.gateway_endpoint_models).where(_l.endpoint_id == endpoint.id))
        for model in endpoint.models:
            self.attach(endpoint.id, model)

    def _build(self, rows: builtins.list[Row[Any]]) -> builtins.list[GatewayEndpoint]:
        ids = [r.id for r in rows]
        links: dict[str, list[EndpointModel]] = {i: [] for i in ids}
        if ids:
            query = select(t.gateway_endpoint_models).where(_l.endpoint_id.in_(ids))
            for link in self.conn.execute(query.order_by(_l.created_at, _l.id)):
                links[link.endpoint_id].append(
                    EndpointModel(
                        mapping_id=link.id,
                        model_definition_id=link.model_definition_id,
                        linkage_type=link.linkage_type,
                        weight=link.weight,
                        fallback_order=link.fallback_order,
                        created_at=link.created_at,
                        created_by=link.created_by,
                    )
                )
        return [
            GatewayEndpoint(
                id=r.id,
                name=r.name,
                models=tuple(links[r.id]),
                routing_strategy=r.routing_strategy,
                fallback_config=None if r.fallback_config is None else json.loads(r.fallback_config),
                experiment_id=r.experiment_id,
                usage_tracking=bool(r.usage_tracking),
                tags=json.loads(r.tags),
                created_at=r.created_at,
                created_by=r.created_by,
                last_updated_at=r.last_updated_at,
                last_updated_by=r.last_updated_by,
            )
            for r in rows
        ]

    def endpoint(
        self, workspace: str, *, endpoint_id: str | None = None, name: str | None = None
    ) -> GatewayEndpoint | None:
        query = in_workspace(t.gateway_endpoints, workspace)
        query = query.where(_e.id == endpoint_id) if endpoint_id is not None else query.where(_e.name == name)
        found = self._build(list(self.conn.execute(query)))
        return found[0] if found else None

    def endpoints(self, workspace: str) -> builtins.list[GatewayEndpoint]:
        query = in_workspace(t.gateway_endpoints, workspace).order_by(_e.name)
        return self._build(list(self.conn.execute(query)))

    def delete_endpoint(self, endpoint_id: str) -> None:
        # MLflow's cascades: bindings and guardrail places go with the endpoint, and a
        # guardrail that acted through it keeps no action endpoint.
        bindings, places = t.gateway_endpoint_bindings, t.gateway_endpoint_guardrails
        self.conn.execute(delete(bindings).where(bindings.c.endpoint_id == endpoint_id))
        self.conn.execute(delete(places).where(places.c.endpoint_id == endpoint_id))
        guardrails = t.gateway_guardrails
        self.conn.execute(
            update(guardrails)
            .where(guardrails.c.action_endpoint_id == endpoint_id)
            .values(action_endpoint_id=None)
        )
        self.conn.execute(delete(t.gateway_endpoint_models).where(_l.endpoint_id == endpoint_id))
        self.conn.execute(delete(t.gateway_endpoints).where(_e.id == endpoint_id))

    def attach(self, endpoint_id: str, model: EndpointModel) -> None:
        self.conn.execute(insert(t.gateway_endpoint_models).values(**_link_row(endpoint_id, model)))

    def detach(self, endpoint_id: str, model_id: str) -> int:
        gone = self.conn.execute(
            delete(t.gateway_endpoint_models).where(
                _l.endpoint_id == endpoint_id, _l.model_definition_id == model_id
            )
        )
        return int(gone.rowcount)
