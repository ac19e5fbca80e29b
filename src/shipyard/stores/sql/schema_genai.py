"""Tables of MLflow 3's GenAI entities: evaluation datasets and their records, scorers with
versions, issues, and the AI gateway's configuration.

Ids are MLflow's strings (``d-<hex>`` datasets, ``dr-<hex>`` records…). JSON values the
client sends (inputs, expectations, a serialized scorer) are stored as text, as they came.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shipyard.stores.sql.schema import metadata

__all__ = [
    "eval_dataset_experiments",
    "eval_dataset_records",
    "eval_dataset_tags",
    "eval_datasets",
    "gateway_budget_policies",
    "gateway_endpoint_bindings",
    "gateway_endpoint_guardrails",
    "gateway_endpoint_models",
    "gateway_endpoints",
    "gateway_guardrails",
    "gateway_model_definitions",
    "gateway_secrets",
    "genai_issues",
    "scorer_online_configs",
    "scorer_versions",
    "scorers",
]

eval_datasets = Table(
    "eval_datasets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("digest", String(16), nullable=False),
    Column("schema", Text, nullable=True),
    Column("profile", Text, nullable=True),
    Column("created_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=True),
    Column("last_updated_by", String(256), nullable=True),
    Index("ix_eval_datasets_workspace_name", "workspace_id", "name"),
)

eval_dataset_tags = Table(
    "eval_dataset_tags",
    metadata,
    Column("dataset_id", String(64), ForeignKey("eval_datasets.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

eval_dataset_experiments = Table(
    "eval_dataset_experiments",
    metadata,
    Column("dataset_id", String(64), ForeignKey("eval_datasets.id"), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), primary_key=True),
    Index("ix_eval_dataset_experiments_experiment", "experiment_id"),
)

eval_dataset_records = Table(
    "eval_dataset_records",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("dataset_id", String(64), ForeignKey("eval_datasets.id"), nullable=False),
    Column("input_hash", String(64), nullable=False),
    Column("inputs", Text, nullable=False),
    Column("outputs", Text, nullable=True),  # JSON; NULL when the record has none
    Column("expectations", Text, nullable=True),
    Column("tags", Text, nullable=True),
    Column("source", Text, nullable=True),
    Column("source_id", String(256), nullable=True),
    Column("source_type", String(16), nullable=True),
    Column("created_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=True),
    Column("last_updated_by", String(256), nullable=True),
    # A record's identity is its inputs: the upsert finds the record to merge by this.
    UniqueConstraint("dataset_id", "input_hash", name="uq_eval_dataset_records_inputs"),
    Index("ix_eval_dataset_records_page", "dataset_id", "created_time", "id"),
)

scorers = Table(
    "scorers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(256), nullable=False),
    UniqueConstraint("experiment_id", "name", name="uq_scorers_experiment_name"),
)

scorer_versions = Table(
    "scorer_versions",
    metadata,
    Column("scorer_id", String(64), ForeignKey("scorers.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("serialized_scorer", Text, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
)

genai_issues = Table(
    "genai_issues",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=True),
    Column("root_causes", Text, nullable=False),  # a JSON list of strings
    Column("categories", Text, nullable=False),  # a JSON list of strings
    Column("source_run_id", String(64), nullable=True),
    Column("created_by", String(256), nullable=True),
    Column("created_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Index("ix_genai_issues_experiment", "experiment_id", "created_time"),
)


def _gateway_audit() -> list[Column[int] | Column[str]]:
    return [
        Column("created_at", BigInteger, nullable=False),
        Column("created_by", String(256), nullable=True),
        Column("last_updated_at", BigInteger, nullable=False),
        Column("last_updated_by", String(256), nullable=True),
    ]


gateway_secrets = Table(
    "gateway_secrets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("provider", String(64), nullable=True),
    Column("masked_values", Text, nullable=False),  # JSON: key -> "sk-...abcd"
    Column("auth_config", Text, nullable=False),  # JSON: key -> value (no secrets)
    # The workspace secret (secrets table, encrypted) that holds the values.
    Column("stored_as", String(160), nullable=False),
    *_gateway_audit(),
    UniqueConstraint("workspace_id", "name", name="uq_gateway_secrets_workspace_name"),
)

gateway_model_definitions = Table(
    "gateway_model_definitions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("secret_id", String(64), ForeignKey("gateway_secrets.id"), nullable=True),
    Column("provider", String(64), nullable=False),
    Column("model_name", String(256), nullable=False),
    *_gateway_audit(),
    UniqueConstraint("workspace_id", "name", name="uq_gateway_model_definitions_workspace_name"),
)

gateway_endpoints = Table(
    "gateway_endpoints",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("routing_strategy", String(64), nullable=True),
    Column("fallback_config", Text, nullable=True),  # JSON
    Column("experiment_id", String(32), nullable=True),
    Column("usage_tracking", Integer, nullable=False),  # 0/1
    Column("tags", Text, nullable=False),  # JSON: key -> value
    *_gateway_audit(),
    UniqueConstraint("workspace_id", "name", name="uq_gateway_endpoints_workspace_name"),
)

gateway_endpoint_models = Table(
    "gateway_endpoint_models",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("endpoint_id", String(64), ForeignKey("gateway_endpoints.id"), nullable=False),
    Column("model_definition_id", String(64), ForeignKey("gateway_model_definitions.id"), nullable=False),
    Column("linkage_type", String(16), nullable=False),
    Column("weight", Float, nullable=False),
    Column("fallback_order", Integer, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=True),
    UniqueConstraint(
        "endpoint_id", "model_definition_id", "linkage_type", name="uq_gateway_endpoint_models_link"
    ),
)

# A scorer's online configuration (at most one per scorer): stored, never acted on.
scorer_online_configs = Table(
    "scorer_online_configs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("scorer_id", String(64), ForeignKey("scorers.id"), nullable=False, unique=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("sample_rate", Float, nullable=False),
    Column("filter_string", Text, nullable=True),
)

# The MLflow resources (scorers) that use an endpoint; they go with the endpoint.
gateway_endpoint_bindings = Table(
    "gateway_endpoint_bindings",
    metadata,
    Column("endpoint_id", String(64), ForeignKey("gateway_endpoints.id"), primary_key=True),
    Column("resource_type", String(50), primary_key=True),
    Column("resource_id", String(255), primary_key=True),
    Column("display_name", String(255), nullable=True),
    *_gateway_audit(),
)

gateway_budget_policies = Table(
    "gateway_budget_policies",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("budget_unit", String(32), nullable=False),
    Column("budget_amount", Float, nullable=False),
    Column("duration_unit", String(32), nullable=False),
    Column("duration_value", Integer, nullable=False),
    Column("target_scope", String(32), nullable=False),
    Column("target_value", String(256), nullable=True),  # an endpoint id or a user name
    Column("budget_action", String(32), nullable=False),
    *_gateway_audit(),
)

gateway_guardrails = Table(
    "gateway_guardrails",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("scorer_id", String(64), nullable=False),
    Column("scorer_version", Integer, nullable=False),
    Column("stage", String(32), nullable=False),
    Column("action", String(32), nullable=False),
    # Emptied when that endpoint is deleted (MLflow: ON DELETE SET NULL).
    Column("action_endpoint_id", String(64), ForeignKey("gateway_endpoints.id"), nullable=True),
    *_gateway_audit(),
    ForeignKeyConstraint(
        ["scorer_id", "scorer_version"],
        ["scorer_versions.scorer_id", "scorer_versions.version"],
        name="fk_gateway_guardrails_scorer_version",
    ),
    Index("ix_gateway_guardrails_scorer", "scorer_id", "scorer_version"),
)

# A guardrail's place on an endpoint; goes with either.
gateway_endpoint_guardrails = Table(
    "gateway_endpoint_guardrails",
    metadata,
    Column("endpoint_id", String(64), ForeignKey("gateway_endpoints.id"), primary_key=True),
    Column("guardrail_id", String(64), ForeignKey("gateway_guardrails.id"), primary_key=True),
    Column("execution_order", Integer, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=True),
    Index("ix_gateway_endpoint_guardrails_guardrail", "guardrail_id"),
)
