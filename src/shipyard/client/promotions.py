"""Promotions and alias protections over HTTP: ``client.operations(PromotionOperations)``.

A promotion lives in the workspace its alias moves in: for a copy to another workspace that
is the target, so :meth:`PromotionOperations.wait`, ``get``, ``approve`` and ``reject`` take
the promotion's ``workspace`` (the request's answer names it).
"""

from __future__ import annotations

import builtins
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.api import promotions as api
from shipyard.client._convert import decode
from shipyard.client._paths import q
from shipyard.errors import InvalidArgument, RequestTimeout

if TYPE_CHECKING:
    from shipyard.client.client import Client

__all__ = ["PromotionOperations"]

_PROTECTIONS = "/api/v1/model-protections"
# The names the server gives a copy's lineage (services/promotions.py), kept alike here.
_PROMOTED_FROM = "shipyard.promoted_from"
_PROMOTED_FROM_RUN = "shipyard.promoted_from.run_id"
_PROMOTED_FROM_SERVER = "shipyard.promoted_from.server"
_COPIES_EXPERIMENT = "shipyard-promotions"


def _promotions(name: str) -> str:
    return f"/api/v1/models/{q(name)}/promotions"


def _promotion(data: dict[str, Any]) -> api.Promotion:
    decisions = [decode(api.Decision, d) for d in data.get("decisions") or []]
    return decode(api.Promotion, {**data, "decisions": decisions})


def _in(workspace: str | None) -> dict[str, str] | None:
    return {"Shipyard-Workspace": workspace} if workspace else None


class PromotionOperations:
    def __init__(self, client: Client) -> None:
        self._client = client
        self._http = client.http

    # -- promotions ----------------------------------------------------------------

    def request(
        self, name: str, version: int | str, alias: str, *, to_workspace: str | None = None
    ) -> api.Promotion:
        """Point ``alias`` of ``name`` at ``version`` (a number, ``latest`` or an alias): at once
        when the alias is unprotected, else a pending promotion others approve. ``to_workspace``
        first copies the version (files, tags, lineage) into that workspace's model."""
        body: dict[str, Any] = {"version": version, "alias": alias}
        if to_workspace:
            body["target_workspace"] = to_workspace
        return _promotion(self._http.request("POST", _promotions(name), json=body))

    def request_on(self, target: Client, name: str, version: int | str, alias: str) -> api.Promotion:
        """Copy a version of this client's server to ``target`` (another server, and the
        workspace that client is in) and request ``alias`` there: the files go through this
        machine (downloaded, hash-checked, uploaded into a run of the experiment
        ``shipyard-promotions`` on the target), with the description, tags, code version and
        lineage tags naming the source server, workspace, version and run."""
        source = self._client.get_model_version(name, version)
        if not source.run_id or not source.artifact_path:
            raise InvalidArgument(
                f"model {name!r} version {source.version} was not registered from a run's artifacts;"
                " only such versions can be copied to another server yet"
            )
        lineage = {
            _PROMOTED_FROM: f"{self._http.workspace or 'default'}/{name}:{source.version}",
            _PROMOTED_FROM_RUN: source.run_id,
            _PROMOTED_FROM_SERVER: self._client.url,
        }
        run_tags = {
            **lineage,
            **({"shipyard.source.git.commit": source.code_version} if source.code_version else {}),
        }
        with tempfile.TemporaryDirectory(prefix="shipyard-promote-") as tmp:
            local = self._download(source.run_id, source.artifact_path, Path(tmp) / "files")
            experiment = target.get_or_create_experiment(_COPIES_EXPERIMENT)
            run = target.create_run(
                experiment.id, name=f"{name}-v{source.version}-from-server", tags=run_tags
            )
            try:
                target.log_artifact(run.id, local, source.artifact_path)
                copied = target.register_model(
                    name, run.id, source.artifact_path, description=source.description,
                    tags={**source.tags, **lineage},
                )  # fmt: skip
            except BaseException:
                target.update_run(run.id, status="FAILED")
                raise
            target.update_run(run.id, status="FINISHED")
        return target.operations(PromotionOperations).request(name, copied.version, alias)

    def _download(self, run_id: str, path: str, dest: Path) -> Path:
        """The run's artifact ``path`` (a folder, or one file) as ``dest``."""
        try:
            files = list(self._client.walk_artifacts(run_id, path))
        except InvalidArgument:  # a file, not a folder
            return self._client.download_artifact(run_id, path, dest)
        for file in files:
            self._client.download_artifact(run_id, file, dest / file[len(path) :].lstrip("/"))
        return dest

    def get(self, name: str, promotion_id: int, *, workspace: str | None = None) -> api.Promotion:
        answer = self._http.request("GET", f"{_promotions(name)}/{promotion_id}", headers=_in(workspace))
        return _promotion(answer)

    def find(self, promotion_id: int, *, workspace: str | None = None) -> api.Promotion:
        """A promotion of any model of the workspace, by id."""
        answer = self._http.request("GET", f"/api/v1/promotions/{promotion_id}", headers=_in(workspace))
        return _promotion(answer)

    def list(
        self, name: str | None = None, *, state: str | None = None, limit: int = 100
    ) -> builtins.list[api.Promotion]:
        """Newest first: of model ``name``, or of every model of the workspace."""
        params: dict[str, Any] = {"limit": limit}
        if state:
            params["state"] = state
        path = _promotions(name) if name else "/api/v1/promotions"
        answer = self._http.request("GET", path, params=params)
        return [_promotion(p) for p in answer.get("promotions") or []]

    def approve(
        self, name: str, promotion_id: int, comment: str = "", *, workspace: str | None = None
    ) -> api.Promotion:
        return self._decide(name, promotion_id, "approve", comment, workspace)

    def reject(
        self, name: str, promotion_id: int, comment: str = "", *, workspace: str | None = None
    ) -> api.Promotion:
        return self._decide(name, promotion_id, "reject", comment, workspace)

    def _decide(
        self, name: str, promotion_id: int, decision: str, comment: str, workspace: str | None
    ) -> api.Promotion:
        path = f"{_promotions(name)}/{promotion_id}/{decision}"
        answer = self._http.request("POST", path, json={"comment": comment}, headers=_in(workspace))
        return _promotion(answer)

    def wait(
        self,
        promotion: api.Promotion,
        *,
        timeout: float = 1800.0,
        poll: float = 2.0,
        on_poll: Callable[[api.Promotion, float], None] | None = None,
    ) -> api.Promotion:
        """Poll until the promotion is applied or rejected; :class:`RequestTimeout` when it is
        still pending after ``timeout`` seconds. ``on_poll(promotion, seconds waited)``."""
        started = time.monotonic()
        current = promotion
        while current.state == "pending":
            waited = time.monotonic() - started
            if on_poll is not None:
                on_poll(current, waited)
            if waited >= timeout:
                raise RequestTimeout(
                    f"promotion {current.id} is still pending after {int(timeout)} s",
                    promotion=current.id,
                )
            time.sleep(min(poll, max(timeout - waited, 0.05)))
            current = self.get(current.name, current.id, workspace=current.workspace)
        return current

    # -- protections ---------------------------------------------------------------

    def protect(self, model: str = "*", alias: str = "*", approvals: int = 1) -> api.Protection:
        body = {"model": model, "alias": alias, "approvals": approvals}
        return decode(api.Protection, self._http.request("POST", _PROTECTIONS, json=body))

    def protections(self) -> builtins.list[api.Protection]:
        answer = self._http.request("GET", _PROTECTIONS)
        return [decode(api.Protection, p) for p in answer.get("protections") or []]

    def unprotect(self, model: str = "*", alias: str = "*") -> None:
        self._http.request("DELETE", _PROTECTIONS, params={"model": model, "alias": alias})
