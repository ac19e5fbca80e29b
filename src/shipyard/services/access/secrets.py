"""Secrets: set, list and delete by name per workspace; values only ever leave encrypted, or
decrypted into the one process (or in-server use) that a file refers to them from.

No API answer carries a value. Files refer to a secret as ``${{secrets.NAME}}``: a job's or
a deployment's ``environment_variables``, a batch deployment's ``output.sql_url``. Whoever
submits such a file needs ``secrets:use`` in the workspace, since the value reaches code
they control.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping

from shipyard.domain.context import RequestContext
from shipyard.domain.identity import SecretInfo, check_secret_name
from shipyard.domain.secret_refs import secret_names, substitute_secrets
from shipyard.errors import InvalidArgument, NotFound, PermissionDenied
from shipyard.services._clock import now_ms
from shipyard.services.access.ports import SecretCipher
from shipyard.services.ports import Database

__all__ = ["MAX_SECRET_BYTES", "SecretService"]

MAX_SECRET_BYTES = 64 * 1024


class SecretService:
    def __init__(self, db: Database, cipher: SecretCipher) -> None:
        self.db = db
        self.cipher = cipher

    def set(self, ctx: RequestContext, name: str, value: str) -> tuple[SecretInfo, bool]:
        """Store (or replace) a secret; True when it is new."""
        check_secret_name(name)
        if not isinstance(value, str) or not value:
            raise InvalidArgument("a secret's value must be a non-empty string")
        if len(value.encode("utf-8", "surrogatepass")) > MAX_SECRET_BYTES:
            raise InvalidArgument(f"a secret's value is at most {MAX_SECRET_BYTES} bytes")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgument(
                "a secret's value must be valid Unicode text (no lone surrogates)"
            ) from None
        ciphertext = self.cipher.encrypt(value)
        now = now_ms()
        with self.db.write() as uow:
            workspace_id = uow.workspaces.ensure(ctx.workspace, ctx.principal.name, now)
            created = uow.secrets.put(workspace_id, ctx.workspace, name, ciphertext, ctx.principal.name, now)
            info = next(s for s in uow.secrets.list(ctx.workspace) if s.name == name)
        return info, created

    def list(self, ctx: RequestContext) -> builtins.list[SecretInfo]:
        with self.db.read() as uow:
            return uow.secrets.list(ctx.workspace)

    def delete(self, ctx: RequestContext, name: str) -> None:
        with self.db.write() as uow:
            if not uow.secrets.delete(ctx.workspace, name):
                raise NotFound(f"no secret named {name!r} in workspace {ctx.workspace!r}", name=name)

    # -- references from files ---------------------------------------------------------

    def check_refs(self, ctx: RequestContext, values: Iterable[str], where: str) -> builtins.set[str]:
        """At submission: the caller may use secrets here, and every one referred to exists."""
        names = secret_names(values)
        if not names:
            return names
        if not ctx.may("secrets:use"):
            raise PermissionDenied(
                f"{where} refers to secrets ({', '.join(sorted(names))}); that needs secrets:use"
                f" in workspace {ctx.workspace!r}"
            )
        with self.db.read() as uow:
            missing = sorted(n for n in names if uow.secrets.get(ctx.workspace, n) is None)
        if missing:
            raise InvalidArgument(
                f"{where} refers to secrets that workspace {ctx.workspace!r} does not have:"
                f" {', '.join(missing)}; set them with `shipyard secret set NAME --value-file FILE`",
                secrets=missing,
            )
        return names

    def reveal(self, workspace: str, values: Mapping[str, str]) -> dict[str, str]:
        """``values`` with every ``${{secrets.NAME}}`` replaced from ``workspace``'s secrets,
        for the process being started now. Only the server's runners call this."""
        names = secret_names(values.values())
        if not names:
            return dict(values)
        plain: dict[str, str] = {}
        with self.db.read() as uow:
            for name in names:
                ciphertext = uow.secrets.get(workspace, name)
                if ciphertext is None:
                    raise NotFound(
                        f"secret {name!r} no longer exists in workspace {workspace!r};"
                        " set it again with `shipyard secret set`",
                        name=name,
                    )
                plain[name] = self.cipher.decrypt(ciphertext)
        return {key: substitute_secrets(value, plain) for key, value in values.items()}
