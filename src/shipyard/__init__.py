"""Shipyard: a self-hosted MLOps platform.

The SDK::

    import shipyard

    shipyard.connect("http://127.0.0.1:5151", token=...)  # or SHIPYARD_URL, SHIPYARD_TOKEN
    with shipyard.start_run(experiment="iris", name="baseline") as run:
        run.log_params({"C": 1.0})
        for step in range(100):
            run.log_metric("loss", 1 / (step + 1), step=step)
        run.log_artifact("model/")
    shipyard.register_model("iris", run_id=run.id, artifact_path="model")

Attributes load lazily so ``import shipyard`` (and ``shipyard --help``) stays fast.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from shipyard._version import __version__

if TYPE_CHECKING:
    from shipyard.client.client import Client
    from shipyard.client.run import ActiveRun
    from shipyard.domain.registry import ModelVersion

__all__ = ["ActiveRun", "Client", "__version__", "connect", "register_model", "start_run"]

_default: Client | None = None


def connect(url: str | None = None, *, workspace: str | None = None, token: str | None = None) -> Client:
    """Connect to a server and make it the default for :func:`start_run` and friends.

    ``token`` signs in; default ``SHIPYARD_TOKEN``, else the one ``shipyard login`` stored
    for ``url``."""
    from shipyard.client.client import Client

    global _default  # noqa: PLW0603 — the SDK's one piece of convenience state
    if _default is not None:
        _default.close()
    _default = Client(url, workspace=workspace, token=token)
    return _default


def _client() -> Client:
    return _default if _default is not None else connect()


def start_run(
    experiment: str | None = None,
    *,
    name: str | None = None,
    tags: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    parent_run_id: str | None = None,
    log_system_metrics: bool = False,
    system_metrics_interval: float = 10.0,
) -> ActiveRun:
    """Start a run in ``experiment`` (created if needed; default ``Default``).

    Inside a Shipyard job (``SHIPYARD_RUN_ID`` is set) the first call continues the job's own
    run instead, wherever the job put it, as ``mlflow.start_run`` does with ``MLFLOW_RUN_ID``;
    later calls start new runs.
    """
    from shipyard.client.run import ActiveRun

    client = _client()
    str_tags = {k: str(v) for k, v in (tags or {}).items()}
    str_params = {k: str(v) for k, v in (params or {}).items()}
    job_run = os.environ.pop("SHIPYARD_RUN_ID", None) if parent_run_id is None else None
    if job_run:
        run = client.get_run(job_run)
        active = ActiveRun(
            client,
            run,
            log_system_metrics=log_system_metrics,
            system_metrics_interval=system_metrics_interval,
        )
        if str_tags:
            active.set_tags(str_tags)
        if str_params:
            active.log_params(str_params)
        return active
    found = client.get_or_create_experiment(experiment or "Default")
    run = client.create_run(
        found.id, name=name, tags=str_tags, params=str_params, parent_run_id=parent_run_id
    )
    return ActiveRun(
        client, run, log_system_metrics=log_system_metrics, system_metrics_interval=system_metrics_interval
    )


def register_model(
    name: str,
    *,
    run_id: str | None = None,
    artifact_path: str | None = None,
    model_uri: str | None = None,
    description: str = "",
    tags: dict[str, str] | None = None,
) -> ModelVersion:
    """Register a run's artifact as a new version of model ``name``.

    Give ``run_id`` and ``artifact_path``, or ``model_uri="runs:/<run_id>/<path>"``.
    """
    from shipyard.errors import InvalidArgument

    if model_uri is not None:
        if not model_uri.startswith("runs:/") or "/" not in model_uri[len("runs:/") :]:
            raise InvalidArgument("model_uri must look like runs:/<run_id>/<artifact path>")
        run_id, artifact_path = model_uri[len("runs:/") :].split("/", 1)
    if not run_id or not artifact_path:
        raise InvalidArgument("give run_id and artifact_path, or model_uri")
    return _client().register_model(name, run_id, artifact_path, description=description, tags=tags)


def __getattr__(name: str) -> Any:
    if name == "Client":
        from shipyard.client.client import Client

        return Client
    if name == "ActiveRun":
        from shipyard.client.run import ActiveRun

        return ActiveRun
    raise AttributeError(f"module 'shipyard' has no attribute {name!r}")
