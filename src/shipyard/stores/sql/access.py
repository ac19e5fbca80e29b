"""Users, tokens, custom roles and assignments, secrets and the audit log on SQL."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Row, delete, func, insert, or_, select, update

from shipyard.domain.access import Role
from shipyard.domain.identity import AuditEntry, RoleAssignment, SecretInfo, Token, User
from shipyard.errors import AlreadyExists, NotFound
from shipyard.services.access.ports import (
    AuditRepository,
    RoleRepository,
    SecretRepository,
    TokenRepository,
    UserRepository,
)
from shipyard.stores.sql import schema as s
from shipyard.stores.sql import schema_access as t

__all__ = [
    "SqlAuditRepository",
    "SqlRoleRepository",
    "SqlSecretRepository",
    "SqlTokenRepository",
    "SqlUserRepository",
]

_u = t.users.c
_t = t.tokens.c
_r = t.roles.c
_a = t.role_assignments.c
_s = t.secrets.c
_l = t.audit_log.c
_h = t.audit_head.c
_w = s.workspaces.c


def _user_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(_u.id).where(_u.name == name)).scalar()
    if found is None:
        raise NotFound(f"no user named {name!r}", name=name)
    return int(found)


class SqlUserRepository(UserRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, user: User) -> None:
        if self.conn.execute(select(_u.id).where(_u.name == user.name)).first() is not None:
            raise AlreadyExists(f"a user named {user.name!r} already exists", name=user.name)
        self.conn.execute(
            insert(t.users).values(
                name=user.name,
                email=user.email,
                disabled=user.disabled,
                created_at=user.created_at,
                created_by=user.created_by,
            )
        )

    @staticmethod
    def _row(r: Row[Any]) -> User:
        return User(r.name, r.email, bool(r.disabled), r.created_at, r.created_by)

    def get(self, name: str) -> User | None:
        row = self.conn.execute(select(t.users).where(_u.name == name)).first()
        return None if row is None else self._row(row)

    def list(self) -> builtins.list[User]:
        return [self._row(r) for r in self.conn.execute(select(t.users).order_by(_u.name))]

    def set_disabled(self, name: str, disabled: bool) -> bool:
        return (
            self.conn.execute(update(t.users).where(_u.name == name).values(disabled=disabled)).rowcount > 0
        )

    def count(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(t.users)).scalar() or 0)


class SqlTokenRepository(TokenRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, token: Token, token_hash: str) -> None:
        user_id = _user_id(self.conn, token.user)
        taken = self.conn.execute(select(_t.id).where(_t.user_id == user_id, _t.name == token.name)).first()
        if taken is not None:
            raise AlreadyExists(
                f"user {token.user!r} already has a token named {token.name!r}; revoke it first"
                " or choose another name",
                name=token.name,
            )
        self.conn.execute(
            insert(t.tokens).values(
                user_id=user_id,
                name=token.name,
                token_hash=token_hash,
                kind=token.kind,
                workspace=token.workspace,
                job=token.job,
                expires_at=token.expires_at,
                created_at=token.created_at,
                created_by=token.created_by,
            )
        )

    def _select(self) -> Any:
        return select(t.tokens, _u.name.label("user")).join(t.users, t.users.c.id == _t.user_id)

    @staticmethod
    def _row(r: Row[Any]) -> Token:
        return Token(
            name=r.name,
            user=r.user,
            kind=r.kind,
            created_at=r.created_at,
            created_by=r.created_by,
            expires_at=r.expires_at,
            workspace=r.workspace,
            job=r.job,
        )

    def by_hash(self, token_hash: str) -> Token | None:
        row = self.conn.execute(self._select().where(_t.token_hash == token_hash)).first()
        return None if row is None else self._row(row)

    def list(self, user: str | None) -> builtins.list[Token]:
        query = self._select().order_by(_u.name, _t.name)
        if user is not None:
            query = query.where(_u.name == user)
        return [self._row(r) for r in self.conn.execute(query)]

    def delete(self, user: str, name: str) -> bool:
        user_id = _user_id(self.conn, user)
        return self.conn.execute(delete(t.tokens).where(_t.user_id == user_id, _t.name == name)).rowcount > 0

    def delete_for_job(self, workspace: str, job: str) -> int:
        return int(
            self.conn.execute(
                delete(t.tokens).where(_t.kind == "job", _t.workspace == workspace, _t.job == job)
            ).rowcount
        )

    def delete_expired(self, now: int) -> int:
        return int(
            self.conn.execute(
                delete(t.tokens).where(_t.expires_at.is_not(None), _t.expires_at <= now)
            ).rowcount
        )


class SqlRoleRepository(RoleRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, role: Role, actor: str, now: int) -> None:
        if self.conn.execute(select(_r.id).where(_r.name == role.name)).first() is not None:
            raise AlreadyExists(f"a role named {role.name!r} already exists", name=role.name)
        self.conn.execute(
            insert(t.roles).values(
                name=role.name,
                description=role.description,
                permissions=orjson.dumps(sorted(role.permissions)).decode(),
                created_at=now,
                created_by=actor,
                updated_at=now,
            )
        )

    def replace(self, role: Role, actor: str, now: int) -> bool:
        changed = self.conn.execute(
            update(t.roles)
            .where(_r.name == role.name)
            .values(
                description=role.description,
                permissions=orjson.dumps(sorted(role.permissions)).decode(),
                updated_at=now,
            )
        )
        return changed.rowcount > 0

    @staticmethod
    def _row(r: Row[Any]) -> Role:
        return Role(r.name, r.description, frozenset(orjson.loads(r.permissions)))

    def get(self, name: str) -> Role | None:
        row = self.conn.execute(select(t.roles).where(_r.name == name)).first()
        return None if row is None else self._row(row)

    def list(self) -> builtins.list[Role]:
        return [self._row(r) for r in self.conn.execute(select(t.roles).order_by(_r.name))]

    def assign(self, assignment: RoleAssignment) -> bool:
        user_id = _user_id(self.conn, assignment.user)
        taken = self.conn.execute(
            select(_a.id).where(
                _a.user_id == user_id, _a.role == assignment.role, _a.workspace == assignment.workspace
            )
        ).first()
        if taken is not None:
            return False
        self.conn.execute(
            insert(t.role_assignments).values(
                user_id=user_id,
                role=assignment.role,
                workspace=assignment.workspace,
                created_at=assignment.created_at,
                created_by=assignment.created_by,
            )
        )
        return True

    def unassign(self, user: str, role: str, workspace: str) -> bool:
        user_id = _user_id(self.conn, user)
        gone = self.conn.execute(
            delete(t.role_assignments).where(
                _a.user_id == user_id, _a.role == role, _a.workspace == workspace
            )
        )
        return gone.rowcount > 0

    def assignments(self, user: str | None = None) -> builtins.list[RoleAssignment]:
        query = (
            select(t.role_assignments, _u.name.label("user"))
            .join(t.users, t.users.c.id == _a.user_id)
            .order_by(_u.name, _a.workspace, _a.role)
        )
        if user is not None:
            query = query.where(_u.name == user)
        return [
            RoleAssignment(r.user, r.role, r.workspace, r.created_at, r.created_by)
            for r in self.conn.execute(query)
        ]


class SqlSecretRepository(SecretRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _id(self, workspace: str, name: str) -> int | None:
        return self.conn.execute(
            select(_s.id)
            .join(s.workspaces, _w.id == _s.workspace_id)
            .where(_w.name == workspace, _s.name == name)
        ).scalar()

    def put(
        self, workspace_id: int, workspace: str, name: str, ciphertext: str, actor: str, now: int
    ) -> bool:
        found = self._id(workspace, name)
        if found is not None:
            self.conn.execute(
                update(t.secrets)
                .where(_s.id == found)
                .values(ciphertext=ciphertext, updated_at=now, updated_by=actor)
            )
            return False
        self.conn.execute(
            insert(t.secrets).values(
                workspace_id=workspace_id,
                name=name,
                ciphertext=ciphertext,
                created_at=now,
                created_by=actor,
                updated_at=now,
                updated_by=actor,
            )
        )
        return True

    def get(self, workspace: str, name: str) -> str | None:
        return self.conn.execute(
            select(_s.ciphertext)
            .join(s.workspaces, _w.id == _s.workspace_id)
            .where(_w.name == workspace, _s.name == name)
        ).scalar()

    def list(self, workspace: str) -> builtins.list[SecretInfo]:
        rows = self.conn.execute(
            select(_s.name, _s.created_at, _s.created_by, _s.updated_at, _s.updated_by)
            .join(s.workspaces, _w.id == _s.workspace_id)
            .where(_w.name == workspace)
            .order_by(_s.name)
        )
        return [
            SecretInfo(r.name, workspace, r.created_at, r.created_by, r.updated_at, r.updated_by)
            for r in rows
        ]

    def delete(self, workspace: str, name: str) -> bool:
        found = self._id(workspace, name)
        if found is None:
            return False
        self.conn.execute(delete(t.secrets).where(_s.id == found))
        return True


_GENESIS = "0" * 64


class SqlAuditRepository(AuditRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def head(self) -> tuple[int, str]:
        query = select(_h.seq, _h.hash).where(_h.id == 1)
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update()  # SQLite's write transaction already excludes others
        row = self.conn.execute(query).first()
        if row is None:
            if self.conn.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                self.conn.execute(
                    pg_insert(t.audit_head)
                    .values(id=1, seq=0, hash=_GENESIS)
                    .on_conflict_do_nothing(index_elements=["id"])
                )
                row = self.conn.execute(query).first()
                assert row is not None
                return int(row.seq), str(row.hash)
            self.conn.execute(insert(t.audit_head).values(id=1, seq=0, hash=_GENESIS))
            return 0, _GENESIS
        return int(row.seq), str(row.hash)

    def stored_head(self) -> tuple[int, str]:
        row = self.conn.execute(select(_h.seq, _h.hash).where(_h.id == 1)).first()
        return (0, _GENESIS) if row is None else (int(row.seq), str(row.hash))

    def append(self, entries: Sequence[AuditEntry]) -> None:
        if not entries:
            return
        self.conn.execute(
            insert(t.audit_log),
            [
                {
                    "seq": e.seq,
                    "ts": e.ts,
                    "actor": e.actor,
                    "action": e.action,
                    "target": e.target,
                    "workspace": e.workspace,
                    "status": e.status,
                    "outcome": e.outcome,
                    "detail": orjson.dumps(e.detail, option=orjson.OPT_SORT_KEYS).decode(),
                    "prev_hash": e.prev_hash,
                    "hash": e.hash,
                }
                for e in entries
            ],
        )
        last = entries[-1]
        self.conn.execute(update(t.audit_head).where(_h.id == 1).values(seq=last.seq, hash=last.hash))

    @staticmethod
    def _row(r: Row[Any]) -> AuditEntry:
        return AuditEntry(
            seq=r.seq,
            ts=r.ts,
            actor=r.actor,
            action=r.action,
            target=r.target,
            workspace=r.workspace,
            status=r.status,
            outcome=r.outcome,
            detail=orjson.loads(r.detail),
            prev_hash=r.prev_hash,
            hash=r.hash,
        )

    def search(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: int | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> builtins.list[AuditEntry]:
        query = select(t.audit_log).order_by(_l.seq.desc()).limit(limit)
        if actor is not None:
            query = query.where(_l.actor == actor)
        if action is not None:
            # "jobs" (or "jobs:*") finds every jobs:… action; "jobs:create" just that one.
            exact = action.rstrip("*").rstrip(":")
            query = query.where(or_(_l.action == exact, _l.action.startswith(exact + ":", autoescape=True)))
        if since is not None:
            query = query.where(_l.ts >= since)
        if before_seq is not None:
            query = query.where(_l.seq < before_seq)
        return [self._row(r) for r in self.conn.execute(query)]

    def scan(self, after_seq: int, limit: int) -> builtins.list[AuditEntry]:
        query = select(t.audit_log).where(_l.seq > after_seq).order_by(_l.seq).limit(limit)
        return [self._row(r) for r in self.conn.execute(query)]
