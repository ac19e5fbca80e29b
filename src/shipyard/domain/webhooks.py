"""MLflow 3's model-registry webhooks: what a webhook is, which events it may follow, what a
delivery carries and how it is signed.

An event is an ``(entity, action)`` pair in MLflow's lower-case spelling
(``("model_version", "created")``); the API spells both in upper case
(``{"entity": "MODEL_VERSION", "action": "CREATED"}``). A delivery is a JSON envelope
``{"entity", "action", "timestamp", "data", "workspace"}`` whose ``data`` has MLflow's payload
shape for the event (``mlflow/webhooks/types.py``), signed as MLflow signs it:
``X-MLflow-Signature: v1,<base64 HMAC-SHA256 of "<delivery id>.<unix seconds>.<body>">``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from shipyard.errors import InvalidArgument

__all__ = [
    "DELIVERY_ID_HEADER",
    "EVENTS",
    "SIGNATURE_HEADER",
    "STATUSES",
    "TIMESTAMP_HEADER",
    "Webhook",
    "check_events",
    "check_status",
    "check_url",
    "check_webhook_name",
    "envelope",
    "example_payload",
    "is_public_ip",
    "payloads_for",
    "sign",
]

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
_SIGNATURE_VERSION = "v1"

STATUSES = ("ACTIVE", "DISABLED")

# MLflow's allowed (entity, action) pairs. Shipyard has no prompt registry and no gateway
# budgets, so the prompt and budget events are accepted (a client may subscribe to them, as
# on MLflow) but never happen here.
EVENTS: Mapping[str, frozenset[str]] = {
    "registered_model": frozenset({"created"}),
    "model_version": frozenset({"created"}),
    "model_version_tag": frozenset({"set", "deleted"}),
    "model_version_alias": frozenset({"created", "deleted"}),
    "prompt": frozenset({"created"}),
    "prompt_version": frozenset({"created"}),
    "prompt_tag": frozenset({"set", "deleted"}),
    "prompt_version_tag": frozenset({"set", "deleted"}),
    "prompt_alias": frozenset({"created", "deleted"}),
    "budget_policy": frozenset({"exceeded"}),
}
_ACTIONS = ("created", "updated", "deleted", "set", "exceeded")
_MAX_EVENTS = 50
_MAX_URL = 2048

# MLflow's rule: 1-63 letters, digits, '.', '_', '-', starting and ending with a letter or digit.
_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")

Event = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Webhook:
    id: str
    workspace: str
    name: str
    description: str
    url: str
    events: tuple[Event, ...]
    status: str
    has_secret: bool
    created_by: str
    creation_timestamp: int
    last_updated_timestamp: int

    @property
    def active(self) -> bool:
        return self.status == "ACTIVE"


def check_webhook_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidArgument(
            f"Webhook name {name!r} is invalid. It must start and end with a letter or digit, be"
            " less than 63 characters long, and contain only letters, digits, dots (.),"
            " underscores (_), and hyphens (-)."
        )
    return name


def check_url(url: object) -> str:
    """An http or https URL with a host name, without credentials (those go in ``secret``)."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidArgument(f"Webhook URL cannot be empty or just whitespace: {url!r}")
    if len(url) > _MAX_URL or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise InvalidArgument(f"Invalid webhook URL: at most {_MAX_URL} visible characters, no spaces")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it checks it
    except ValueError as exc:
        raise InvalidArgument(f"Invalid webhook URL {url[:200]!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidArgument(
            f"Invalid webhook URL scheme: {parts.scheme!r}. Allowed schemes are: http, https."
        )
    if not parts.hostname:
        raise InvalidArgument(f"Webhook URL must include a hostname: {url[:200]!r}")
    if parts.username or parts.password:
        raise InvalidArgument("Webhook URL must not hold a user name or password; use the webhook's secret")
    return url


def check_status(status: object) -> str:
    if status not in STATUSES:
        raise InvalidArgument(f"Invalid webhook status {status!r}; one of {', '.join(STATUSES)}")
    return str(status)


def _check_event(entity: object, action: object) -> Event:
    entity_name = str(entity).lower() if isinstance(entity, str) else ""
    action_name = str(action).lower() if isinstance(action, str) else ""
    if entity_name not in EVENTS:
        raise InvalidArgument(
            f"Invalid webhook event entity {entity!r}; one of {', '.join(e.upper() for e in EVENTS)}"
        )
    if action_name not in _ACTIONS:
        raise InvalidArgument(
            f"Invalid webhook event action {action!r}; one of {', '.join(a.upper() for a in _ACTIONS)}"
        )
    if action_name not in EVENTS[entity_name]:
        raise InvalidArgument(
            f"Invalid action '{action_name}' for entity '{entity_name}'. "
            f"Valid actions are: {sorted(EVENTS[entity_name])}"
        )
    return entity_name, action_name


def check_events(events: Iterable[tuple[object, object]]) -> tuple[Event, ...]:
    """The events, checked and without repeats, in the order given; at least one."""
    checked: list[Event] = []
    for entity, action in events:
        event = _check_event(entity, action)
        if event not in checked:
            checked.append(event)
    if not checked:
        raise InvalidArgument("Webhook events must be a non-empty list of {entity, action} events")
    if len(checked) > _MAX_EVENTS:
        raise InvalidArgument(f"a webhook follows at most {_MAX_EVENTS} events")
    return tuple(checked)


def is_public_ip(address: str) -> bool:
    """Whether ``address`` is a global one, looking through IPv6 forms that wrap an IPv4 one
    (mapped, 6to4, NAT64), so that a wrapped private or link-local address is not taken as public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        wrapped = ip.ipv4_mapped or ip.sixtofour
        if wrapped is None and ip in ipaddress.IPv6Network("64:ff9b::/96"):
            wrapped = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if wrapped is not None:
            return wrapped.is_global
    return ip.is_global


def sign(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """``X-MLflow-Signature``'s value: what a receiver recomputes with the shared secret."""
    content = f"{delivery_id}.{timestamp}.{body}".encode()
    digest = hmac.new(secret.encode("utf-8"), content, hashlib.sha256).digest()
    return f"{_SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def envelope(event: Event, data: Mapping[str, Any], workspace: str, iso_time: str) -> dict[str, Any]:
    """The body MLflow POSTs: the event, when it was sent, and the event's payload."""
    return {
        "entity": event[0],
        "action": event[1],
        "timestamp": iso_time,
        "data": dict(data),
        "workspace": workspace,
    }


_EXAMPLES: Mapping[Event, Mapping[str, Any]] = {
    ("registered_model", "created"): {
        "name": "example_model",
        "tags": {"example_key": "example_value"},
        "description": "An example registered model",
    },
    ("model_version", "created"): {
        "name": "example_model",
        "version": "1",
        "source": "models:/123",
        "run_id": "abcd1234abcd5678",
        "tags": {"example_key": "example_value"},
        "description": "An example model version",
    },
    ("model_version_tag", "set"): {
        "name": "example_model",
        "version": "1",
        "key": "example_key",
        "value": "example_value",
    },
    ("model_version_tag", "deleted"): {"name": "example_model", "version": "1", "key": "example_key"},
    ("model_version_alias", "created"): {"name": "example_model", "alias": "example_alias", "version": "1"},
    ("model_version_alias", "deleted"): {"name": "example_model", "alias": "example_alias"},
    ("prompt", "created"): {
        "name": "example_prompt",
        "tags": {"example_key": "example_value"},
        "description": "An example prompt",
    },
    ("prompt_version", "created"): {
        "name": "example_prompt",
        "version": "1",
        "template": "Hello {{name}}!",
        "tags": {"example_key": "example_value"},
        "description": "An example prompt version",
    },
    ("prompt_tag", "set"): {"name": "example_prompt", "key": "example_key", "value": "example_value"},
    ("prompt_tag", "deleted"): {"name": "example_prompt", "key": "example_key"},
    ("prompt_version_tag", "set"): {
        "name": "example_prompt",
        "version": "1",
        "key": "example_key",
        "value": "example_value",
    },
    ("prompt_version_tag", "deleted"): {"name": "example_prompt", "version": "1", "key": "example_key"},
    ("prompt_alias", "created"): {"name": "example_prompt", "alias": "example_alias", "version": "1"},
    ("prompt_alias", "deleted"): {"name": "example_prompt", "alias": "example_alias"},
    ("budget_policy", "exceeded"): {
        "budget_policy_id": "bp-abc123",
        "budget_unit": "USD",
        "budget_amount": 100.0,
        "current_spend": 105.50,
        "duration_unit": "MONTHS",
        "duration_value": 1,
        "target_scope": "ENDPOINT",
        "workspace": "default",
        "target_value": "ep-abc123",
        "window_start": 1704067200000,
    },
}


def example_payload(event: Event) -> dict[str, Any]:
    """MLflow's example payload for ``event``: what the test endpoint sends."""
    return dict(_EXAMPLES[event])


# Tags MLflow's prompt registry keeps for itself: not in a prompt event's ``tags``.
_PROMPT_TEXT_TAG = "mlflow.prompt.text"
_PROMPT_INTERNAL_TAGS = {"mlflow.prompt.is_prompt", "_mlflow_prompt_type", _PROMPT_TEXT_TAG}
# Registry actions whose entry does not say whether the model is a prompt: the model's tags do.
ACTIONS_OF_EITHER_KIND = {"version_tags_set", "version_tag_deleted", "alias_set", "alias_deleted"}


def payloads_for(
    action: str, name: str, version: int | None, detail: Mapping[str, Any], *, prompt: bool = False
) -> Sequence[tuple[Event, dict[str, Any]]]:
    """The webhook events one registry history entry (``ModelEvent``: its action, model name,
    version and detail) raises, with their payloads; none for changes MLflow has no event for
    (renames, stages, descriptions, deletes of models and versions, model tags).

    A prompt's changes (MLflow's prompt registry: a registered model tagged as a prompt) raise
    MLflow's ``prompt*`` events instead: ``prompt`` says the model is one where the entry does
    not (tags and aliases); a creation says so in its own tags."""
    tags: Mapping[str, str] = detail.get("tags") or {}
    if prompt or str(tags.get("mlflow.prompt.is_prompt", "false")).lower() == "true":
        return _prompt_payloads(action, name, version, detail)
    number = str(version) if version is not None else ""
    if action == "model_created":
        return [
            (
                ("registered_model", "created"),
                {
                    "name": name,
                    "tags": dict(detail.get("tags") or {}),
                    "description": detail.get("description") or "",
                },
            )
        ]
    if action == "version_created":
        data = {
            "name": name,
            "version": number,
            "source": detail.get("source") or "",
            "run_id": detail.get("run_id") or None,
            "tags": dict(detail.get("tags") or {}),
            "description": detail.get("description") or None,
        }
        return [(("model_version", "created"), data)]
    if action == "version_tags_set":
        return [
            (("model_version_tag", "set"), {"name": name, "version": number, "key": k, "value": v})
            for k, v in tags.items()
        ]
    if action == "version_tag_deleted":
        return [
            (("model_version_tag", "deleted"), {"name": name, "version": number, "key": detail.get("key")})
        ]
    if action == "alias_set":
        return [
            (
                ("model_version_alias", "created"),
                {"name": name, "alias": detail.get("alias"), "version": number},
            )
        ]
    if action == "alias_deleted":
        return [(("model_version_alias", "deleted"), {"name": name, "alias": detail.get("alias")})]
    return []


def _prompt_payloads(
    action: str, name: str, version: int | None, detail: Mapping[str, Any]
) -> Sequence[tuple[Event, dict[str, Any]]]:
    number = str(version) if version is not None else ""
    tags: Mapping[str, str] = detail.get("tags") or {}
    visible = {k: v for k, v in tags.items() if k not in _PROMPT_INTERNAL_TAGS}
    if action == "model_created":
        return [
            (
                ("prompt", "created"),
                {"name": name, "tags": visible, "description": detail.get("description") or ""},
            )
        ]
    if action == "version_created":
        data = {
            "name": name,
            "version": number,
            "template": tags.get(_PROMPT_TEXT_TAG),
            "tags": visible,
            "description": detail.get("description") or None,
        }
        return [(("prompt_version", "created"), data)]
    if action == "version_tags_set":
        return [
            (("prompt_version_tag", "set"), {"name": name, "version": number, "key": k, "value": v})
            for k, v in tags.items()
        ]
    if action == "version_tag_deleted":
        return [
            (("prompt_version_tag", "deleted"), {"name": name, "version": number, "key": detail.get("key")})
        ]
    if action == "alias_set":
        return [
            (("prompt_alias", "created"), {"name": name, "alias": detail.get("alias"), "version": number})
        ]
    if action == "alias_deleted":
        return [(("prompt_alias", "deleted"), {"name": name, "alias": detail.get("alias")})]
    return []
