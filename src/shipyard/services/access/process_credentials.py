"""What a process started for a user gets: its submitter's identity and its secrets.

A job's process acts as the user who submitted it, like a managed identity: it gets a
token of its own (``SHIPYARD_TOKEN`` and ``MLFLOW_TRACKING_TOKEN``) with that user's rights
in the job's workspace only, revoked when the job ends. ``${{secrets.NAME}}`` in its
variables become the values here, in memory; targets keep them out of every file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shipyard.domain.access import EVERYTHING
from shipyard.domain.context import Principal
from shipyard.domain.secret_refs import has_secret_refs
from shipyard.services.access.identity import IdentityService
from shipyard.services.access.secrets import SecretService

__all__ = ["DEFAULT_JOB_TOKEN_TTL_S", "ProcessCredentials", "ProcessEnv"]

DEFAULT_JOB_TOKEN_TTL_S = 7 * 86400
"""A job's token outlives a job without a timeout by at most a week (it is revoked at the
end anyway; the expiry bounds a token a crash left behind)."""

TOKEN_VARIABLES = ("SHIPYARD_TOKEN", "MLFLOW_TRACKING_TOKEN")


@dataclass(frozen=True, slots=True)
class ProcessEnv:
    env: dict[str, str]  # safe to keep on disk
    secret_env: dict[str, str]  # memory only


class ProcessCredentials:
    def __init__(self, identity: IdentityService, secrets: SecretService, *, tokens: bool) -> None:
        self.identity = identity
        self.secrets = secrets
        self.tokens = tokens  # False on a --no-auth server: nobody needs one

    def reveal(self, workspace: str, variables: Mapping[str, str]) -> ProcessEnv:
        """Split ``variables``: those that refer to secrets come back revealed, apart."""
        referring = {k: v for k, v in variables.items() if has_secret_refs(v)}
        plain = {k: v for k, v in variables.items() if k not in referring}
        return ProcessEnv(plain, self.secrets.reveal(workspace, referring) if referring else {})

    def for_job(
        self, workspace: str, job: str, submitter: str, variables: Mapping[str, str], ttl_s: float | None
    ) -> ProcessEnv:
        revealed = self.reveal(workspace, variables)
        if self.tokens:
            lifetime = int(ttl_s) + 3600 if ttl_s else DEFAULT_JOB_TOKEN_TTL_S
            token = self.identity.issue_job_token(submitter, workspace, job, lifetime)
            if token is not None:
                revealed.secret_env.update(dict.fromkeys(TOKEN_VARIABLES, token))
        return revealed

    def acting_as(self, submitter: str, workspace: str) -> Principal:
        """The submitter as the server acts for its job (registering its named outputs)."""
        if not self.tokens:  # --no-auth: the one local user
            return Principal(submitter, kind="local", grants=EVERYTHING)
        return self.identity.acting_as(submitter, workspace)

    def release(self, workspace: str, job: str) -> None:
        """The job ended: its token stops working."""
        self.identity.revoke_job_tokens(workspace, job)
