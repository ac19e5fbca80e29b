"""Tables of users, tokens, custom roles and assignments, secrets and the audit log."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shipyard.stores.sql.schema import metadata

__all__ = ["audit_head", "audit_log", "role_assignments", "roles", "secrets", "tokens", "users"]

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("email", String(320), nullable=True),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("name", String(300), nullable=False),
    # sha256 of the token; the token itself is never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("workspace", String(64), nullable=True),
    Column("job", String(256), nullable=True),
    Column("expires_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    UniqueConstraint("user_id", "name", name="uq_tokens_user_name"),
    Index("ix_tokens_workspace_job", "workspace", "job"),
)

roles = Table(
    "roles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("permissions", Text, nullable=False),  # a JSON list
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

role_assignments = Table(
    "role_assignments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("role", String(64), nullable=False),  # built-in or custom: no foreign key
    Column("workspace", String(64), nullable=False),  # "*": every workspace
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    UniqueConstraint("user_id", "role", "workspace", name="uq_role_assignments_user_role_workspace"),
)

secrets = Table(
    "secrets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("workspace_id", Integer, ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("ciphertext", Text, nullable=False),  # Fernet: AES-128-CBC + HMAC-SHA256, base64
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(256), nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("updated_by", String(256), nullable=False),
    UniqueConstraint("workspace_id", "name", name="uq_secrets_workspace_name"),
)

audit_log = Table(
    "audit_log",
    metadata,
    # Numbered by the appender (head + 1), not by the database: a gap is a deleted entry.
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts", BigInteger, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(128), nullable=False),
    Column("target", Text, nullable=False),
    Column("workspace", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_ts", "ts"),
    Index("ix_audit_log_actor_seq", "actor", "seq"),
)

# One row (id 1): the last entry's number and hash. Appenders lock it to take turns, and
# verify compares it with the chain's end, so removing the newest entries shows too.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
