"""Tables of the metadata store (SQLAlchemy Core). Migrations in ``migrations/`` build them.

Times are integer milliseconds since the epoch, as MLflow's are. Runs have a compact integer
surrogate key (``pk``) used by the hot tables (params, tags, metrics) so rows stay small;
the public run id is the 32-character hex string.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _audit() -> list[Column[int] | Column[str]]:
    return [
        Column("created_at", BigInteger, nullable=False),
        Column("created_by", String(256), nullable=False),
        Column("updated_at", BigInteger, nullable=False),
        Column("updated_by", String(256), nullable=False),
    ]


workspaces = Table(
    "workspaces",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(256), nullable=False, unique=True),
    *_audit(),
)

experiments = Table(
    "experiments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("artifact_location", String(1024), nullable=False),
    Column("lifecycle_stage", String(16), nullable=False),
    *_audit(),
    UniqueConstraint("workspace_id", "name", name="uq_experiments_workspace_name"),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", Integer, ForeignKey("experiments.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("run_id", String(32), nullable=False, unique=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("parent_run_id", String(32), nullable=True),
    Column("lifecycle_stage", String(16), nullable=False),
    Column("artifact_uri", String(1024), nullable=False),
    *_audit(),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    Index("ix_runs_parent", "parent_run_id"),
)

params = Table(
    "params",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.pk"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_params_key_value", "key", "value"),
)

run_tags = Table(
    "run_tags",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.pk"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

# One row per (run, key): the latest point and running aggregates. Search filters and
# orders on these columns, so it never touches the (large) points table.
metric_series = Table(
    "metric_series",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_pk", Integer, ForeignKey("runs.pk"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("last_value", Float, nullable=True),
    Column("last_step", BigInteger, nullable=False),
    Column("last_ts", BigInteger, nullable=False),
    Column("min_value", Float, nullable=True),
    Column("max_value", Float, nullable=True),
    Column("n_points", BigInteger, nullable=False),
    UniqueConstraint("run_pk", "key", name="uq_metric_series_run_key"),
    Index("ix_metric_series_key_value", "key", "last_value"),
)

# The hot table. No foreign key on series_id: SQLite would check it per row on bulk
# ingest, and series rows are only ever created by the same transaction that inserts here.
# A NULL value is a NaN (SQLite cannot store NaN; PostgreSQL could, but one rule is simpler).
metric_points = Table(
    "metric_points",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("series_id", Integer, nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("value", Float, nullable=True),
    Index("ix_metric_points_series_step", "series_id", "step", "id"),
)

# Each large series' lowest and highest point per block of steps (``step >> shift``, at a
# few shifts), kept up to date by ingest once a series passes ROLLUP_FROM points. A chart
# of a 1,000,000-point metric reads ~1,000 of these rows instead of the million points,
# and keeps every spike at its own step.
metric_rollups = Table(
    "metric_rollups",
    metadata,
    Column("series_id", Integer, primary_key=True),
    Column("shift", Integer, primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    Column("min_step", BigInteger, nullable=False),
    Column("min_ts", BigInteger, nullable=False),
    Column("min_value", Float, nullable=False),
    Column("max_step", BigInteger, nullable=False),
    Column("max_ts", BigInteger, nullable=False),
    Column("max_value", Float, nullable=False),
)

# Idempotency keys of accepted metric batches: a retried batch is acknowledged, not re-applied.
ingest_receipts = Table(
    "ingest_receipts",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("run_pk", Integer, ForeignKey("runs.pk"), nullable=False),
    Column("points", Integer, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

artifacts = Table(
    "artifacts",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.pk"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
)

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=False),
    *_audit(),
    UniqueConstraint("workspace_id", "name", name="uq_registered_models_workspace_name"),
)

model_tags = Table(
    "model_tags",
    metadata,
    Column("model_id", Integer, ForeignKey("registered_models.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_id", Integer, ForeignKey("registered_models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("source", String(1024), nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("experiment_id", String(32), nullable=True),
    Column("artifact_path", String(1024), nullable=True),
    Column("code_version", String(256), nullable=True),
    Column("description", Text, nullable=False),
    Column("status", String(32), nullable=False),
    *_audit(),
    # MLflow's API (migration 0003): the legacy stage, and the logged model it was made from.
    Column("stage", String(20), nullable=False, server_default="None"),
    Column("logged_model_id", String(64), nullable=True),
    UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
    Index("ix_model_versions_run", "run_id"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("version_id", Integer, ForeignKey("model_versions.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", Integer, ForeignKey("registered_models.id"), primary_key=True),
    Column("alias", String(256), primary_key=True),
    Column("version", Integer, nullable=False),
)

# Keyed by name, not by foreign key: the history of a model outlives the model.
model_events = Table(
    "model_events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("model_name", String(256), nullable=False),
    Column("version", Integer, nullable=True),
    Column("action", String(64), nullable=False),
    Column("detail", Text, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("at", BigInteger, nullable=False),
    Index("ix_model_events_model", "workspace_id", "model_name", "id"),
)

# -- MLflow 3 entities (migration 0002) --------------------------------------------------

# A dataset is logged once per experiment (name + digest) and linked to runs as an input.
datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("source_type", String(36), nullable=False),
    Column("source", Text, nullable=False),
    Column("schema", Text, nullable=True),
    Column("profile", Text, nullable=True),
    UniqueConstraint("experiment_id", "name", "digest", name="uq_datasets_experiment_name_digest"),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.pk"), primary_key=True),
    Column("dataset_id", Integer, ForeignKey("datasets.id"), primary_key=True),
    Column("tags", Text, nullable=False),  # JSON object of the input's tags (e.g. mlflow.data.context)
)

# Logged models (MLflow 3): a model with its own id ("m-<hex>"), artifacts and metadata,
# optionally produced by a run.
logged_models = Table(
    "logged_models",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("model_id", String(64), nullable=False, unique=True),
    Column("experiment_id", Integer, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("artifact_location", String(1024), nullable=False),
    Column("status", String(32), nullable=False),
    Column("status_message", Text, nullable=True),
    Column("model_type", String(500), nullable=True),
    Column("source_run_id", String(32), nullable=True),
    Column("lifecycle_stage", String(16), nullable=False),
    *_audit(),
    Index("ix_logged_models_experiment", "experiment_id", "created_at"),
    Index("ix_logged_models_source_run", "source_run_id"),
)

logged_model_tags = Table(
    "logged_model_tags",
    metadata,
    Column("model_pk", Integer, ForeignKey("logged_models.pk"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

logged_model_params = Table(
    "logged_model_params",
    metadata,
    Column("model_pk", Integer, ForeignKey("logged_models.pk"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
)

# Metrics logged against a model (MLflow 3 log-batch may name a model_id and a dataset).
logged_model_metrics = Table(
    "logged_model_metrics",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("model_pk", Integer, ForeignKey("logged_models.pk"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Float, nullable=True),
    Column("step", BigInteger, nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("run_id", String(32), nullable=True),
    Column("dataset_name", String(500), nullable=True),
    Column("dataset_digest", String(64), nullable=True),
    Index("ix_logged_model_metrics_model_key", "model_pk", "key"),
)

# A run's outputs: the logged models it produced, at which step.
run_outputs = Table(
    "run_outputs",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.pk"), primary_key=True),
    Column("model_id", String(64), primary_key=True),
    Column("step", BigInteger, nullable=False),
)

# A run's model inputs (MLflow 3's LoggedModelInput, migration 0018): the logged models it
# read, e.g. an evaluation run. By id, as MLflow keeps them: the model may live elsewhere.
run_model_inputs = Table(
    "run_model_inputs",
    metadata,
    Column("run_pk", Integer, ForeignKey("runs.pk"), primary_key=True),
    Column("model_id", String(64), primary_key=True),
)
