"""MLflow 3's GenAI entities: evaluation datasets with records, scorers with versions,
issues, and the AI gateway's configuration. Served on the MLflow API only (routers in
``server/mlflow/``: datasets, scorers, issues, gateway); their rules are here."""

from shipyard.resources import Resource, RouteRule

__all__ = ["RESOURCE"]

_V3 = "/api/3.0/mlflow"
_DS = f"{_V3}/datasets/{{dataset_id}}"
_GW = f"{_V3}/gateway"

# Datasets, scorers and issues are an experiment's evaluation data: the experiments
# permissions hold for them. Gateway secrets are secrets (secrets:read never sees a value);
# gateway endpoints and model definitions are serving configuration (endpoints:*).
_RULES = {
    ("POST", f"{_V3}/datasets/create"): RouteRule("experiments:write"),
    ("GET", f"{_V3}/datasets/search"): RouteRule("experiments:read"),
    ("POST", f"{_V3}/datasets/search"): RouteRule("experiments:read"),
    ("GET", _DS): RouteRule("experiments:read"),
    ("DELETE", _DS): RouteRule("experiments:delete"),
    ("PATCH", f"{_DS}/tags"): RouteRule("experiments:write"),
    ("DELETE", f"{_DS}/tags/{{key}}"): RouteRule("experiments:delete"),
    ("POST", f"{_DS}/records"): RouteRule("experiments:write"),
    ("GET", f"{_DS}/records"): RouteRule("experiments:read"),
    ("DELETE", f"{_DS}/records"): RouteRule("experiments:delete"),
    ("GET", f"{_DS}/experiment-ids"): RouteRule("experiments:read"),
    ("POST", f"{_DS}/add-experiments"): RouteRule("experiments:write"),
    ("POST", f"{_DS}/remove-experiments"): RouteRule("experiments:write"),
    ("POST", f"{_V3}/scorers/register"): RouteRule("experiments:write"),
    ("GET", f"{_V3}/scorers/list"): RouteRule("experiments:read"),
    ("GET", f"{_V3}/scorers/versions"): RouteRule("experiments:read"),
    ("GET", f"{_V3}/scorers/get"): RouteRule("experiments:read"),
    ("DELETE", f"{_V3}/scorers/delete"): RouteRule("experiments:delete"),
    ("GET", f"{_V3}/scorers/online-configs"): RouteRule("experiments:read"),
    ("PUT", f"{_V3}/scorers/online-config"): RouteRule("experiments:write"),
    ("POST", f"{_V3}/issues"): RouteRule("experiments:write"),
    ("POST", f"{_V3}/issues/search"): RouteRule("experiments:read"),
    ("GET", f"{_V3}/issues/{{issue_id}}"): RouteRule("experiments:read"),
    ("PATCH", f"{_V3}/issues/{{issue_id}}"): RouteRule("experiments:write"),
    ("POST", f"{_GW}/secrets/create"): RouteRule("secrets:write"),
    ("GET", f"{_GW}/secrets/get"): RouteRule("secrets:read"),
    ("POST", f"{_GW}/secrets/update"): RouteRule("secrets:write"),
    ("DELETE", f"{_GW}/secrets/delete"): RouteRule("secrets:write"),
    ("GET", f"{_GW}/secrets/list"): RouteRule("secrets:read"),
    ("POST", f"{_GW}/model-definitions/create"): RouteRule("endpoints:write"),
    ("GET", f"{_GW}/model-definitions/get"): RouteRule("endpoints:read"),
    ("GET", f"{_GW}/model-definitions/list"): RouteRule("endpoints:read"),
    ("POST", f"{_GW}/model-definitions/update"): RouteRule("endpoints:write"),
    ("DELETE", f"{_GW}/model-definitions/delete"): RouteRule("endpoints:delete"),
    ("POST", f"{_GW}/endpoints/create"): RouteRule("endpoints:write"),
    ("GET", f"{_GW}/endpoints/get"): RouteRule("endpoints:read"),
    ("GET", f"{_GW}/endpoints/list"): RouteRule("endpoints:read"),
    ("POST", f"{_GW}/endpoints/update"): RouteRule("endpoints:write"),
    ("DELETE", f"{_GW}/endpoints/delete"): RouteRule("endpoints:delete"),
    ("POST", f"{_GW}/endpoints/models/attach"): RouteRule("endpoints:write"),
    ("POST", f"{_GW}/endpoints/models/detach"): RouteRule("endpoints:write"),
    ("GET", f"{_GW}/supported-providers"): RouteRule("signed-in"),
    ("GET", f"{_GW}/supported-models"): RouteRule("signed-in"),
    ("GET", f"{_GW}/provider-config"): RouteRule("signed-in"),
    ("GET", f"{_GW}/secrets/config"): RouteRule("signed-in"),
    # Tags, bindings, budget policies and guardrails govern endpoints: endpoints:* too.
    ("POST", f"{_GW}/endpoints/set-tag"): RouteRule("endpoints:write"),
    ("DELETE", f"{_GW}/endpoints/delete-tag"): RouteRule("endpoints:write"),
    ("POST", f"{_GW}/endpoints/bindings/create"): RouteRule("endpoints:write"),
    ("DELETE", f"{_GW}/endpoints/bindings/delete"): RouteRule("endpoints:write"),
    ("GET", f"{_GW}/endpoints/bindings/list"): RouteRule("endpoints:read"),
    ("POST", f"{_GW}/budgets/create"): RouteRule("endpoints:write"),
    ("GET", f"{_GW}/budgets/get"): RouteRule("endpoints:read"),
    ("GET", f"{_GW}/budgets/list"): RouteRule("endpoints:read"),
    ("POST", f"{_GW}/budgets/update"): RouteRule("endpoints:write"),
    ("DELETE", f"{_GW}/budgets/delete"): RouteRule("endpoints:delete"),
    ("GET", f"{_GW}/budgets/windows"): RouteRule("endpoints:read"),
    ("POST", f"{_GW}/guardrails/create"): RouteRule("endpoints:write"),
    ("GET", f"{_GW}/guardrails/get"): RouteRule("endpoints:read"),
    ("GET", f"{_GW}/guardrails/list"): RouteRule("endpoints:read"),
    ("DELETE", f"{_GW}/guardrails/delete"): RouteRule("endpoints:delete"),
    ("POST", f"{_GW}/guardrails/add-to-endpoint"): RouteRule("endpoints:write"),
    ("DELETE", f"{_GW}/guardrails/remove-from-endpoint"): RouteRule("endpoints:write"),
    ("GET", f"{_GW}/guardrails/list-for-endpoint"): RouteRule("endpoints:read"),
    ("PATCH", f"{_GW}/guardrails/update-config"): RouteRule("endpoints:write"),
    # What would call an outside provider is refused at once (NOT_IMPLEMENTED), to any principal.
    ("POST", f"{_V3}/scorer/invoke"): RouteRule("signed-in"),
    ("POST", f"{_V3}/issues/invoke"): RouteRule("signed-in"),
    ("POST", f"{_V3}/genai/evaluate/invoke"): RouteRule("signed-in"),
    ("GET", "/gateway/{rest}"): RouteRule("signed-in"),
    ("POST", "/gateway/{rest}"): RouteRule("signed-in"),
}

RESOURCE = Resource(
    name="genai",
    position=43,
    repositories={
        "eval_datasets": "shipyard.stores.sql.eval_datasets:SqlEvalDatasetRepository",
        "scorers": "shipyard.stores.sql.scorers:SqlScorerRepository",
        "genai_issues": "shipyard.stores.sql.scorers:SqlIssueRepository",
        "gateway": "shipyard.stores.sql.gateway:SqlGatewayRepository",
        "gateway_policies": "shipyard.stores.sql.gateway_policies:SqlGatewayPolicyRepository",
        "scorer_online_configs": "shipyard.stores.sql.scorers:SqlScorerOnlineConfigRepository",
    },
    tables=("shipyard.stores.sql.schema_genai",),
    services={
        "eval_datasets": "shipyard.server.providers.genai:eval_datasets",
        "scorers": "shipyard.server.providers.genai:scorers",
        "genai_issues": "shipyard.server.providers.genai:issues",
        "gateway": "shipyard.server.providers.genai:gateway",
        "gateway_policies": "shipyard.server.providers.genai_policies:gateway_policies",
    },
    rules=_RULES,
)
