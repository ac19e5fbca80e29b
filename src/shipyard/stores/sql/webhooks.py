"""Registry webhooks with the events they follow, per workspace."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, delete, insert, or_, select, update

from shipyard.domain.webhooks import Webhook
from shipyard.services.webhook_ports import WebhookRepository
from shipyard.stores.sql import schema as s
from shipyard.stores.sql import schema_webhooks as t

__all__ = ["SqlWebhookRepository"]

_w = t.webhooks.c
_e = t.webhook_events.c
_ws = s.workspaces.c
_COLUMNS = (
    _w.id,
    _ws.name.label("workspace"),
    _w.name,
    _w.description,
    _w.url,
    (_w.secret.is_not(None)).label("has_secret"),
    _w.status,
    _w.created_by,
    _w.creation_timestamp,
    _w.last_updated_timestamp,
)


class SqlWebhookRepository(WebhookRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _select(self, workspace: str) -> Any:
        return select(*_COLUMNS).join(s.workspaces, _ws.id == _w.workspace_id).where(_ws.name == workspace)

    def _hydrate(self, rows: Sequence[Row[Any]]) -> builtins.list[Webhook]:
        if not rows:
            return []
        events: dict[str, builtins.list[tuple[str, str]]] = {r.id: [] for r in rows}
        query = select(_e.webhook_id, _e.entity, _e.action).where(_e.webhook_id.in_(list(events)))
        for e in self.conn.execute(query.order_by(_e.webhook_id, _e.entity, _e.action)):
            events[e.webhook_id].append((e.entity, e.action))
        return [
            Webhook(
                id=r.id,
                workspace=r.workspace,
                name=r.name,
                description=r.description,
                url=r.url,
                events=tuple(events[r.id]),
                status=r.status,
                has_secret=bool(r.has_secret),
                created_by=r.created_by,
                creation_timestamp=r.creation_timestamp,
                last_updated_timestamp=r.last_updated_timestamp,
            )
            for r in rows
        ]

    def _set_events(self, webhook: Webhook) -> None:
        self.conn.execute(delete(t.webhook_events).where(_e.webhook_id == webhook.id))
        self.conn.execute(
            insert(t.webhook_events),
            [{"webhook_id": webhook.id, "entity": en, "action": ac} for en, ac in webhook.events],
        )

    def create(self, workspace_id: int, webhook: Webhook, secret: str | None) -> None:
        self.conn.execute(
            insert(t.webhooks).values(
                id=webhook.id,
                workspace_id=workspace_id,
                name=webhook.name,
                description=webhook.description,
                url=webhook.url,
                secret=secret,
                status=webhook.status,
                created_by=webhook.created_by,
                creation_timestamp=webhook.creation_timestamp,
                last_updated_timestamp=webhook.last_updated_timestamp,
            )
        )
        self._set_events(webhook)

    def get(self, workspace: str, webhook_id: str) -> Webhook | None:
        rows = self.conn.execute(self._select(workspace).where(_w.id == webhook_id)).all()
        found = self._hydrate(rows)
        return found[0] if found else None

    def secret(self, webhook_id: str) -> str | None:
        found: str | None = self.conn.execute(select(_w.secret).where(_w.id == webhook_id)).scalar()
        return found

    def list(self, workspace: str, offset: int, limit: int) -> builtins.list[Webhook]:
        query = self._select(workspace).order_by(_w.creation_timestamp.desc(), _w.id)
        return self._hydrate(self.conn.execute(query.offset(offset).limit(limit)).all())

    def subscribed(self, workspace: str, events: Sequence[tuple[str, str]]) -> builtins.list[Webhook]:
        if not events:
            return []
        follows = select(_e.webhook_id).where(
            or_(*(and_(_e.entity == entity, _e.action == action) for entity, action in events))
        )
        query = self._select(workspace).where(_w.status == "ACTIVE", _w.id.in_(follows))
        return self._hydrate(self.conn.execute(query.order_by(_w.creation_timestamp, _w.id)).all())

    def update(self, webhook: Webhook, secret: str | None, *, change_secret: bool) -> None:
        values: dict[str, Any] = {
            "name": webhook.name,
            "description": webhook.description,
            "url": webhook.url,
            "status": webhook.status,
            "last_updated_timestamp": webhook.last_updated_timestamp,
        }
        if change_secret:
            values["secret"] = secret
        self.conn.execute(update(t.webhooks).where(_w.id == webhook.id).values(**values))
        self._set_events(webhook)

    def delete(self, workspace: str, webhook_id: str) -> bool:
        if self.get(workspace, webhook_id) is None:
            return False
        self.conn.execute(delete(t.webhook_events).where(_e.webhook_id == webhook_id))
        self.conn.execute(delete(t.webhooks).where(_w.id == webhook_id))
        return True
