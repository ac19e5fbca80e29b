"""A backup carries MLflow 3's GenAI records (issue 18): evaluation datasets with their records,
tags and experiment links, scorer versions and online configurations, issues, the gateway's
configuration with its bindings, budgets and guardrails — and the gateway secret's values,
which restore readable with the restored key."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from shipyard.server.backup_tool import create_backup, restore_backup
from shipyard.services.eval_datasets import EvalDatasetService
from shipyard.services.gateway import EndpointModelIn, GatewayService
from shipyard.services.gateway_policies import GatewayPolicyService
from shipyard.services.issues import IssueService
from shipyard.services.scorers import ScorerService
from shipyard.services.tracking import TrackingService
from shipyard.settings import Settings
from shipyard.stores.secret_cipher import FernetCipher
from shipyard.stores.sql.database import SqlDatabase
from tests.integration.backup_world import OWNER, SECRET_KEY, dump_all

quiet: Callable[[str], None] = lambda _line: None  # noqa: E731

_GENAI_TABLES = (
    "eval_datasets",
    "eval_dataset_tags",
    "eval_dataset_experiments",
    "eval_dataset_records",
    "scorers",
    "scorer_versions",
    "genai_issues",
    "gateway_secrets",
    "gateway_model_definitions",
    "gateway_endpoints",
    "gateway_endpoint_models",
    "gateway_endpoint_bindings",
    "gateway_budget_policies",
    "gateway_guardrails",
    "gateway_endpoint_guardrails",
    "scorer_online_configs",
)


def _populate(url: str) -> None:
    db = SqlDatabase(url)
    try:
        tracking = TrackingService(db)
        tracking.bootstrap()
        experiment = tracking.create_experiment(OWNER, "genai")
        datasets = EvalDatasetService(db)
        dataset = datasets.create(OWNER, "qa", {"team": "nlp"}, [experiment.id])
        datasets.upsert_records(
            OWNER, dataset.id, [{"inputs": {"q": "why?"}, "expectations": {"a": "because"}, "outputs": "42"}]
        )
        scorers = ScorerService(db)
        judge = {"name": "relevance", "instructions_judge_pydantic_data": {"model": "gateway:/chat"}}
        scorer = scorers.register(OWNER, experiment.id, "relevance", json.dumps(judge))
        scorers.set_online_config(OWNER, experiment.id, "relevance", 0.5, "tags.env = 'prod'")
        IssueService(db).create(OWNER, experiment.id, "drift", "answers got longer", severity="low")
        gateway = GatewayService(db, FernetCipher(SECRET_KEY))
        secret = gateway.create_secret(OWNER, "openai", {"api_key": "sk-backup-0123456789"}, "openai", {})
        model = gateway.create_model(OWNER, "gpt", secret.id, "openai", "gpt-4o-mini")
        endpoint = gateway.create_endpoint(OWNER, "chat", [EndpointModelIn(model.id, "PRIMARY", 1.0, None)])
        policies = GatewayPolicyService(db)
        policies.bind(OWNER, endpoint.id, "scorer", scorer.scorer_id)
        policies.create_budget(
            OWNER,
            budget_unit="USD",
            budget_amount=10.0,
            duration=("DAYS", 1),
            target_scope="ENDPOINT",
            budget_action="REJECT",
            target_value=endpoint.id,
        )
        guardrail, _ = policies.create_guardrail(
            OWNER,
            name="safe",
            scorer_id=scorer.scorer_id,
            scorer_version=scorer.version,
            stage="BEFORE",
            action="VALIDATION",
            action_endpoint_id=None,
        )
        policies.add_to_endpoint(OWNER, endpoint.id, guardrail.id, 1)
    finally:
        db.close()


def test_a_backup_restores_the_genai_records_and_the_gateway_secret(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shipyard.db'}"
    _populate(url)
    before = dump_all(url)
    assert all(before[table] for table in _GENAI_TABLES)  # every table has something to carry
    settings = Settings(
        home=tmp_path,
        database_url=url,
        artifacts=str(tmp_path / "artifacts"),
        secret_key=SECRET_KEY.decode(),
    )
    backup = tmp_path / "backup.tar"
    create_backup(settings, backup, say=quiet)

    home = tmp_path / "restored"
    restore_backup(backup, home, say=quiet)

    restored_url = f"sqlite:///{home / 'shipyard.db'}"
    after = dump_all(restored_url)
    assert {t: after[t] for t in _GENAI_TABLES} == {t: before[t] for t in _GENAI_TABLES}
    key = (home / "secret.key").read_bytes().strip()
    db = SqlDatabase(restored_url)
    try:
        stored_as = GatewayService(db, FernetCipher(key)).list_secrets(OWNER, None)[0].stored_as
        with db.read() as uow:
            ciphertext = uow.secrets.get("default", stored_as)
        assert ciphertext is not None
        assert json.loads(FernetCipher(key).decrypt(ciphertext)) == {"api_key": "sk-backup-0123456789"}
    finally:
        db.close()


def test_trace_attachments_are_carried_and_never_garbage(tmp_path: Path) -> None:
    """A trace's attachments (``<experiment>/traces/<id>/artifacts/attachments/<uuid>``, named by
    no row) belong to the trace: a backup carries them and gc keeps them; a stray file beside
    them in the experiment's folder is still garbage."""
    import os
    import uuid

    from shipyard.domain.traces import TraceInfo
    from shipyard.server.backup_tool import garbage_collect
    from shipyard.services.traces import TraceService
    from shipyard.stores.artifacts.local import LocalArtifactStore

    url = f"sqlite:///{tmp_path / 'shipyard.db'}"
    artifacts = tmp_path / "artifacts"
    db = SqlDatabase(url)
    try:
        tracking = TrackingService(db)
        tracking.bootstrap()
        experiment = tracking.create_experiment(OWNER, "attachments")
        trace_id = f"tr-{uuid.uuid4().hex}"
        TraceService(db, LocalArtifactStore(artifacts)).start_trace(
            OWNER, TraceInfo(trace_id, experiment.id, 1_700_000_000_000, "OK", 5)
        )
    finally:
        db.close()
    attachment = f"{experiment.artifact_location}/traces/{trace_id}/artifacts/attachments/{uuid.uuid4()}"
    stray = f"{experiment.artifact_location}/stray.bin"
    for key, content in ((attachment, b"\x89PNG image"), (stray, b"nobody's")):
        path = artifacts / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        old = path.stat().st_mtime - 7200
        os.utime(path, (old, old))
    settings = Settings(
        home=tmp_path, database_url=url, artifacts=str(artifacts), secret_key=SECRET_KEY.decode()
    )
    dry = garbage_collect(settings, min_age_s=3600, dry_run=True, say=quiet)
    assert {item.key for item in dry.removed} == {stray}
    backup = tmp_path / "backup.tar"
    create_backup(settings, backup, say=quiet)
    home = tmp_path / "restored"
    restore_backup(backup, home, say=quiet)
    assert (home / "artifacts" / attachment).read_bytes() == b"\x89PNG image"
