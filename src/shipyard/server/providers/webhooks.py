"""The model registry's webhooks: told of every committed registry change, whichever API made it."""

from __future__ import annotations

from shipyard.server.wiring import Wiring
from shipyard.services.registry import RegistryService
from shipyard.services.webhooks import DeliveryPolicy, WebhookService

__all__ = ["webhooks"]


def webhooks(wiring: Wiring) -> WebhookService:
    policy = DeliveryPolicy(allow_private_ips=wiring.settings.webhook_allow_private_ips)
    service = WebhookService(wiring.database, wiring.access.secrets.cipher, policy)
    wiring.typed("registry", RegistryService).subscribe(service.publish)
    wiring.on_start(lambda: None, service.close)
    return service
