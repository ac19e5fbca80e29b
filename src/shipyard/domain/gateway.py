"""The AI gateway's configuration (MLflow 3): provider secrets, model definitions, endpoints.

Shipyard stores the configuration MLflow's client and UI write; it never calls an outside
provider (no network beyond package registries on the machines it targets). A secret's
values are kept in the workspace's secrets store, encrypted; only masked values leave.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shipyard.domain.validation import check_name
from shipyard.errors import InvalidArgument

__all__ = [
    "LINKAGE_TYPES",
    "NO_PROVIDER_CALLS",
    "SUPPORTED_PROVIDERS",
    "EndpointModel",
    "GatewayEndpoint",
    "GatewaySecret",
    "ModelDefinition",
    "check_gateway_name",
    "check_secret_values",
    "mask_value",
    "provider_config",
    "shipyard_secret_name",
]

NO_PROVIDER_CALLS = (
    "this Shipyard server does not call outside model providers: it stores the AI gateway's"
    " configuration (secrets, model definitions, endpoints) but serves no gateway traffic."
    " Call the provider from your own code, or run MLflow's AI gateway where it can reach it"
)

# The providers MLflow's gateway configures (mlflow/gateway/providers). Listed so MLflow's UI
# can offer them when a secret or a model definition is made; none is ever called from here.
SUPPORTED_PROVIDERS = (
    "ai21labs",
    "anthropic",
    "bedrock",
    "cohere",
    "databricks",
    "deepseek",
    "gemini",
    "groq",
    "huggingface",
    "mistral",
    "mosaicml",
    "ollama",
    "openai",
    "openrouter",
    "palm",
    "togetherai",
    "vertex_ai",
    "xai",
)

LINKAGE_TYPES = ("PRIMARY", "FALLBACK")


@dataclass(frozen=True, slots=True)
class GatewaySecret:
    id: str
    name: str
    provider: str | None
    masked_values: dict[str, str]
    auth_config: dict[str, str]
    stored_as: str  # the name of the workspace secret that holds the values
    created_at: int
    created_by: str | None
    last_updated_at: int
    last_updated_by: str | None


@dataclass(frozen=True, slots=True)
class ModelDefinition:
    id: str
    name: str
    secret_id: str | None
    secret_name: str | None
    provider: str
    model_name: str
    created_at: int
    created_by: str | None
    last_updated_at: int
    last_updated_by: str | None


@dataclass(frozen=True, slots=True)
class EndpointModel:
    """One model of an endpoint: its definition, how it is used (primary or fallback), weight."""

    mapping_id: str
    model_definition_id: str
    linkage_type: str
    weight: float
    fallback_order: int | None
    created_at: int
    created_by: str | None


@dataclass(frozen=True, slots=True)
class GatewayEndpoint:
    id: str
    name: str
    models: tuple[EndpointModel, ...]
    routing_strategy: str | None
    fallback_config: dict[str, object] | None
    experiment_id: str | None
    usage_tracking: bool
    tags: dict[str, str]
    created_at: int
    created_by: str | None
    last_updated_at: int
    last_updated_by: str | None


def mask_value(value: str) -> str:
    """MLflow's mask: the first three and last four characters, or ``***`` when short."""
    return "***" if len(value) < 8 else f"{value[:3]}...{value[-4:]}"


def check_secret_values(values: Mapping[str, object]) -> dict[str, str]:
    if not values:
        raise InvalidArgument("secret_value must hold at least one key, e.g. {'api_key': '...'}")
    out: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(value, str) or not value:
            raise InvalidArgument(f"secret_value[{key!r}] must be a non-empty string")
        out[str(key)] = value
    return out


def check_gateway_name(kind: str, name: object) -> str:
    return check_name(kind, name)


def shipyard_secret_name(secret_id: str) -> str:
    """The workspace secret that holds a gateway secret's values (a valid secret name)."""
    return f"MLFLOW_GATEWAY_{secret_id.replace('-', '_')}"


def provider_config(provider: str) -> dict[str, object]:
    """How MLflow's UI asks for a provider's credentials: one auth mode, an API key (secret)
    and an optional API base (not secret). MLflow offers more modes for a few providers
    (Bedrock's access keys or role, Vertex's service account…); their fields can still be
    sent as a secret's values and ``auth_config``, which are stored as given."""
    name = provider.lower()
    if name not in SUPPORTED_PROVIDERS:
        raise InvalidArgument(
            f"Provider '{provider}' is not supported; one of {', '.join(SUPPORTED_PROVIDERS)}"
        )
    title = name.title()
    return {
        "auth_modes": [
            {
                "mode": "api_key",
                "display_name": "API Key",
                "description": f"Use {title} API Key",
                "secret_fields": [
                    {"name": "api_key", "type": "string", "description": f"{title} API Key", "required": True}
                ],
                "config_fields": [
                    {
                        "name": "api_base",
                        "type": "string",
                        "description": f"{title} API Base URL",
                        "required": False,
                    }
                ],
            }
        ],
        "default_mode": "api_key",
    }
