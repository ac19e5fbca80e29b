"""The model registry's webhooks (MLflow 3's ``create_webhook`` … ``test_webhook``) and their
deliveries.

A webhook belongs to a workspace and follows registry events of that workspace. The registry
service tells :meth:`WebhookService.publish` of each committed change (``subscribe``, wired in
``server/providers/webhooks.py``), whichever API made it — MLflow's or ``/api/v1``. Deliveries
run on a small thread pool: the registry call never waits for a receiver and never fails
because of one. Each delivery is POSTed through the monitors' webhook sender
(``monitoring/webhook.py``: connection errors, timeouts and 5xx answers retried with a short
back-off, redirects not followed); a delivery that still fails is logged and dropped, as
MLflow drops it.

A webhook URL is user input the server will call, so (as MLflow does by default) its host
must resolve to public addresses only — checked when the webhook is saved and again before
each delivery — unless the ``webhook_allow_private_ips`` setting allows private ones (a
receiver inside the team's network, or a test's). Credentials in the URL are refused: the
receiver checks ``X-MLflow-Signature`` made with the webhook's ``secret``, which is stored
encrypted and never returned.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from shipyard.domain.context import RequestContext
from shipyard.domain.pagination import decode_token, encode_token, fingerprint
from shipyard.domain.registry import ModelEvent
from shipyard.domain.validation import check_description
from shipyard.domain.webhooks import (
    ACTIONS_OF_EITHER_KIND,
    DELIVERY_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Webhook,
    check_events,
    check_status,
    check_url,
    check_webhook_name,
    envelope,
    example_payload,
    is_public_ip,
    payloads_for,
    sign,
)
from shipyard.errors import InvalidArgument, InvalidPageToken, NotFound, ShipyardError
from shipyard.services._clock import now_ms
from shipyard.services.access.ports import SecretCipher
from shipyard.services.monitoring.webhook import WebhookResult, post
from shipyard.services.ports import Database, UnitOfWork
from shipyard.services.webhook_ports import WEBHOOKS

__all__ = ["DeliveryPolicy", "WebhookService", "WebhookTestResult"]

log = logging.getLogger("shipyard.webhooks")

_MAX_PAGE = 1000
_MAX_SECRET = 1024
Event = tuple[str, str]
Sender = Callable[..., WebhookResult]
Resolver = Callable[[str], Sequence[str]]


def _resolve(host: str) -> list[str]:
    return [str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)]


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How deliveries go out: MLflow's defaults are 30 s and 3 retries with 1-4 s back-offs;
    ours keep a slow receiver from holding a worker for minutes."""

    allow_private_ips: bool = False
    timeout_s: float = 10.0
    attempts: int = 4  # the first try and three retries, as MLflow's
    workers: int = 4


@dataclass(frozen=True, slots=True)
class WebhookTestResult:
    """MLflow's ``WebhookTestResult``."""

    success: bool
    response_status: int | None = None
    response_body: str | None = None
    error_message: str | None = None


def _check_secret(secret: object) -> str:
    if not isinstance(secret, str) or len(secret) > _MAX_SECRET:
        raise InvalidArgument(f"a webhook secret is a string of at most {_MAX_SECRET} characters")
    return secret


class WebhookService:
    def __init__(
        self,
        db: Database,
        cipher: SecretCipher,
        policy: DeliveryPolicy | None = None,
        *,
        send: Sender = post,
        resolve: Resolver = _resolve,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.policy = policy or DeliveryPolicy()
        self._send = send
        self._resolve = resolve
        self._pool = ThreadPoolExecutor(
            max_workers=self.policy.workers, thread_name_prefix="webhook-delivery"
        )
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    # -- the API -------------------------------------------------------------------

    def create(
        self,
        ctx: RequestContext,
        name: str,
        url: str,
        events: Sequence[tuple[object, object]],
        *,
        description: str | None = None,
        secret: str | None = None,
        status: str | None = None,
    ) -> Webhook:
        check_webhook_name(name)
        self._check_target(url)
        checked = check_events(events)
        check_description(description)
        stored = self.cipher.encrypt(_check_secret(secret)) if secret else None
        now = now_ms()
        webhook = Webhook(
            id=str(uuid.uuid4()),
            workspace=ctx.workspace,
            name=name,
            description=description or "",
            url=url,
            events=checked,
            status=check_status(status or "ACTIVE"),
            has_secret=stored is not None,
            created_by=ctx.principal.name,
            creation_timestamp=now,
            last_updated_timestamp=now,
        )
        with self.db.write() as uow:
            workspace_id = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now)
            uow[WEBHOOKS].create(workspace_id, webhook, stored)
        return webhook

    def get(self, ctx: RequestContext, webhook_id: str) -> Webhook:
        with self.db.read() as uow:
            return self._get(uow, ctx, webhook_id)

    @staticmethod
    def _get(uow: UnitOfWork, ctx: RequestContext, webhook_id: str) -> Webhook:
        found = uow[WEBHOOKS].get(ctx.workspace, str(webhook_id)[:64])
        if found is None:
            raise NotFound(
                f"Webhook with ID {str(webhook_id)[:64]} not found.", webhook_id=str(webhook_id)[:64]
            )
        return found

    def list(
        self, ctx: RequestContext, max_results: int | None = None, page_token: str | None = None
    ) -> tuple[list[Webhook], str | None]:
        limit = max_results or 100
        if not 1 <= limit <= _MAX_PAGE:
            raise InvalidArgument(f"max_results must be between 1 and {_MAX_PAGE}.")
        query = fingerprint("webhooks", ctx.workspace)
        offset = decode_token(page_token, query) or 0
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < 2**63:
            raise InvalidPageToken("page_token is not a token this server issued")
        with self.db.read() as uow:
            found = uow[WEBHOOKS].list(ctx.workspace, offset, limit + 1)
        token = encode_token(query, offset + limit) if len(found) > limit else None
        return found[:limit], token

    def update(
        self,
        ctx: RequestContext,
        webhook_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        url: str | None = None,
        events: Sequence[tuple[object, object]] | None = None,
        secret: str | None = None,
        status: str | None = None,
    ) -> Webhook:
        """Change what is given (None: kept). An empty ``secret`` removes the secret."""
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = check_webhook_name(name)
        if url is not None:
            changes["url"] = self._check_target(url)
        if events is not None:
            changes["events"] = check_events(events)
        if description is not None:
            changes["description"] = check_description(description)
        if status is not None:
            changes["status"] = check_status(status)
        stored = self.cipher.encrypt(_check_secret(secret)) if secret else None
        if secret is not None:
            changes["has_secret"] = stored is not None
        with self.db.write() as uow:
            current = self._get(uow, ctx, webhook_id)
            changed = replace(current, **changes, last_updated_timestamp=now_ms())
            uow[WEBHOOKS].update(changed, stored, change_secret=secret is not None)
        return changed

    def delete(self, ctx: RequestContext, webhook_id: str) -> None:
        with self.db.write() as uow:
            if not uow[WEBHOOKS].delete(ctx.workspace, str(webhook_id)[:64]):
                raise NotFound(
                    f"Webhook with ID {str(webhook_id)[:64]} not found.", webhook_id=str(webhook_id)[:64]
                )

    def test(
        self, ctx: RequestContext, webhook_id: str, event: tuple[object, object] | None = None
    ) -> WebhookTestResult:
        """Send MLflow's example payload of ``event`` (default: the webhook's first event) now,
        once, and say how the receiver answered. The receiver's failure is the answer, not an error."""
        with self.db.read() as uow:
            webhook = self._get(uow, ctx, webhook_id)
            stored = uow[WEBHOOKS].secret(webhook.id)
        chosen = check_events([event])[0] if event is not None else webhook.events[0]
        try:
            self._check_target(webhook.url)
            secret = self.cipher.decrypt(stored) if stored else None
        except ShipyardError as exc:
            return WebhookTestResult(False, error_message=f"Failed to test webhook: {exc.message}")
        result = self._post(webhook, secret, chosen, example_payload(chosen), attempts=1)
        if result.status is None:
            return WebhookTestResult(False, error_message=f"Failed to test webhook: {result.error}")
        return WebhookTestResult(result.status < 400, result.status, result.answer)

    # -- deliveries ----------------------------------------------------------------

    def publish(self, workspace: str, events: Sequence[ModelEvent]) -> None:
        """The registry's listener: queue the deliveries of ``events`` and return at once."""
        # Cheap here (no read): drop what raises no event of either kind; the background
        # delivery reads which models are prompts and raises the right events.
        wanted = [e for e in events if payloads_for(e.action, e.name, e.version, e.detail)]
        if wanted:
            self._submit(self._deliver, workspace, wanted)

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued delivery is done; False when ``timeout_s`` passed first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        """Stop taking deliveries; those already sending finish, queued ones are dropped."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _submit(self, job: Callable[..., None], *args: Any) -> None:
        try:
            future = self._pool.submit(job, *args)
        except RuntimeError:  # the server is stopping
            log.warning("webhook deliveries dropped: the server is stopping")
            return
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _deliver(self, workspace: str, events: Sequence[ModelEvent]) -> None:
        try:
            with self.db.read() as uow:
                prompts = {
                    name
                    for name in {e.name for e in events if e.action in ACTIONS_OF_EITHER_KIND}
                    if _is_prompt(uow, workspace, name)
                }
                raised = [
                    (event, data)
                    for e in events
                    for event, data in payloads_for(
                        e.action, e.name, e.version, e.detail, prompt=e.name in prompts
                    )
                ]
                hooks = uow[WEBHOOKS].subscribed(workspace, sorted({event for event, _ in raised}))
                secrets = {h.id: uow[WEBHOOKS].secret(h.id) for h in hooks}
        except Exception:
            log.exception(
                "webhook deliveries of workspace %r dropped: their webhooks could not be read", workspace
            )
            return
        for event, data in raised:
            for hook in hooks:
                if event in hook.events:
                    self._submit(self._deliver_one, hook, secrets[hook.id], event, data)

    def _deliver_one(self, hook: Webhook, stored: str | None, event: Event, data: Mapping[str, Any]) -> None:
        try:
            self._check_target(hook.url)
            secret = self.cipher.decrypt(stored) if stored else None
            result = self._post(hook, secret, event, data, attempts=self.policy.attempts)
        except ShipyardError as exc:
            log.error("webhook %s (%s) not sent %s.%s: %s", hook.name, hook.id, *event, exc.message)
            return
        except Exception:
            log.exception("webhook %s (%s) failed on %s.%s", hook.name, hook.id, *event)
            return
        if not result.ok:
            log.error(
                "webhook %s (%s) failed on %s.%s after %d attempt(s): %s",
                hook.name, hook.id, *event, result.attempts, result.error,
            )  # fmt: skip

    def _post(
        self, hook: Webhook, secret: str | None, event: Event, data: Mapping[str, Any], *, attempts: int
    ) -> WebhookResult:
        """One delivery as MLflow makes it: the envelope, its id, its time, its signature."""
        iso_time = datetime.now(UTC).isoformat()
        body = json.dumps(envelope(event, data, hook.workspace, iso_time))
        delivery_id, timestamp = str(uuid.uuid4()), str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "shipyard-webhooks",
            DELIVERY_ID_HEADER: delivery_id,
            TIMESTAMP_HEADER: timestamp,
        }
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, delivery_id, timestamp, body)
        return self._send(
            hook.url, body.encode(), headers, timeout_s=self.policy.timeout_s, attempts=attempts
        )

    def _check_target(self, url: str) -> str:
        """``url`` checked, and its host resolving to public addresses only unless allowed."""
        check_url(url)
        if self.policy.allow_private_ips:
            return url
        host = urlsplit(url).hostname or ""
        try:
            addresses = self._resolve(host)
        except (OSError, UnicodeError) as exc:
            raise InvalidArgument(f"Cannot resolve Webhook URL hostname {host!r}: {exc}") from None
        for address in addresses:
            if not is_public_ip(address):
                raise InvalidArgument(
                    f"Webhook URL must not resolve to a non-public IP address. {host!r} resolves to"
                    f" {address}. A server that delivers to its own network sets"
                    " SHIPYARD_WEBHOOK_ALLOW_PRIVATE_IPS=true."
                )
        return url


def _is_prompt(uow: UnitOfWork, workspace: str, name: str) -> bool:
    """Whether model ``name`` is a prompt (MLflow's prompt registry); False once it is gone."""
    model_id = uow.models.model_id(workspace, name)
    if model_id is None:
        return False
    tags = uow.models.get_model(model_id).tags
    return str(tags.get("mlflow.prompt.is_prompt", "false")).lower() == "true"
