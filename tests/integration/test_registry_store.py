"""The model registry on a real metadata store (SQLite, then PostgreSQL) with run artifacts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from shipyard.domain.context import Principal, RequestContext
from shipyard.domain.tracking import Run
from shipyard.errors import AlreadyExists, InvalidArgument, InvalidPath, NotFound
from shipyard.services._clock import now_ms
from shipyard.services.artifacts import ArtifactService
from shipyard.services.registry import RegistryService
from shipyard.services.tracking import TrackingService
from tests.integration.conftest import upload

BOB = RequestContext(principal=Principal("bob"), workspace="default")
CAROL_ELSEWHERE = RequestContext(principal=Principal("carol"), workspace="team-c")


def trained_run(tracking: TrackingService, artifacts: ArtifactService, ctx: RequestContext) -> Run:
    exp = tracking.create_experiment(ctx, f"train-{now_ms()}")
    run = tracking.create_run(ctx, exp.id, tags={"shipyard.source.git.commit": "abc123"})
    upload(artifacts, ctx, run.id, "model/MLmodel", b"flavors: {}\n")
    upload(artifacts, ctx, run.id, "model/weights.bin", b"\x00" * 4096)
    return run


@pytest.fixture
def run(tracking, artifacts, ctx) -> Run:  # type: ignore[no-untyped-def]
    return trained_run(tracking, artifacts, ctx)


def test_model_name_is_unique_in_a_workspace(registry: RegistryService, ctx) -> None:  # type: ignore[no-untyped-def]
    created = registry.create_model(ctx, "churn", "predicts churn", {"team": "growth"})
    assert (created.name, created.description, created.tags) == (
        "churn",
        "predicts churn",
        {"team": "growth"},
    )
    assert created.latest_version is None and created.aliases == {} and created.created_by == "alice"
    assert registry.get_model(ctx, "churn") == created
    with pytest.raises(AlreadyExists, match="churn"):
        registry.create_model(ctx, "churn")
    with pytest.raises(InvalidArgument, match="cannot contain '/'"):  # unreachable in URLs
        registry.create_model(ctx, "team/churn")
    assert [m.name for m in registry.list_models(ctx)] == ["churn"]


def test_registering_needs_an_existing_artifact(registry, tracking, run, ctx) -> None:  # type: ignore[no-untyped-def]
    for path in ("missing", "model/weights", "mod", "model/weights.bin/x"):
        with pytest.raises(NotFound, match="no artifact"):
            registry.register(ctx, "churn", run.id, path)
    with pytest.raises(InvalidPath):
        registry.register(ctx, "churn", run.id, "../model")
    with pytest.raises(InvalidArgument, match="cannot contain '/'"):
        registry.register(ctx, "team/churn", run.id, "model")
    with pytest.raises(NotFound):
        registry.register(ctx, "churn", "0" * 32, "model")
    with pytest.raises(NotFound):  # a refused registration leaves no model behind
        registry.get_model(ctx, "churn")
    with pytest.raises(NotFound):
        registry.history(ctx, "churn")
    single_file = registry.register(ctx, "churn", run.id, "model/weights.bin")
    assert single_file.version == 1 and single_file.source == f"runs:/{run.id}/model/weights.bin"


def test_versions_count_from_one_and_keep_their_lineage(registry, run, ctx) -> None:  # type: ignore[no-untyped-def]
    before = now_ms()
    versions = [registry.register(ctx, "churn", run.id, "model", description=f"v{i}") for i in range(3)]
    assert [v.version for v in versions] == [1, 2, 3]
    first = versions[0]
    assert first.source == f"runs:/{run.id}/model" and first.artifact_path == "model"
    assert (first.run_id, first.experiment_id) == (run.id, run.experiment_id)
    assert first.code_version == "abc123" and first.status == "READY"
    assert first.created_by == "alice" and before <= first.created_at <= now_ms()
    assert [v.version for v in registry.list_versions(ctx, "churn")] == [1, 2, 3]
    assert registry.get_model(ctx, "churn").latest_version == 3
    assert registry.get_version(ctx, "churn", "latest").description == "v2"
    assert registry.get_version(ctx, "churn", "2").version == 2
    assert registry.get_version(ctx, "churn", 1).description == "v0"
    for missing in (4, "0", "9" * 30, "²", "-1"):
        with pytest.raises(NotFound):
            registry.get_version(ctx, "churn", missing)


def test_code_version_longer_than_the_column_is_refused_clearly(registry, tracking, run, ctx) -> None:  # type: ignore[no-untyped-def]
    tracking.set_tags(ctx, run.id, {"shipyard.source.git.commit": "c" * 257})
    with pytest.raises(InvalidArgument, match="at most 256"):
        registry.register(ctx, "churn", run.id, "model")
    with pytest.raises(NotFound):  # nothing half-registered
        registry.get_model(ctx, "churn")
    tracking.set_tags(ctx, run.id, {"shipyard.source.git.commit": "c" * 256})
    assert registry.register(ctx, "churn", run.id, "model").code_version == "c" * 256


def test_latest_of_a_model_without_versions_is_not_found(registry, ctx) -> None:  # type: ignore[no-untyped-def]
    registry.create_model(ctx, "empty")
    with pytest.raises(NotFound, match="no versions"):
        registry.get_version(ctx, "empty", "latest")


def test_aliases_are_set_moved_and_deleted(registry, run, ctx) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        registry.register(ctx, "churn", run.id, "model")
    assert registry.set_alias(ctx, "churn", "champion", 1).aliases == {"champion": 1}
    assert registry.get_version(ctx, "churn", "champion").version == 1
    assert registry.get_version(ctx, "churn", 1).aliases == ["champion"]
    moved = registry.set_alias(ctx, "churn", "champion", 3)
    assert moved.aliases == {"champion": 3}
    assert registry.get_version(ctx, "churn", 1).aliases == []
    assert registry.get_version(ctx, "churn", "champion").version == 3
    registry.set_alias(ctx, "churn", "challenger", 3)
    assert registry.get_version(ctx, "churn", 3).aliases == ["challenger", "champion"]
    registry.delete_alias(ctx, "churn", "champion")
    with pytest.raises(NotFound, match="champion"):
        registry.get_version(ctx, "churn", "champion")
    with pytest.raises(NotFound):
        registry.delete_alias(ctx, "churn", "champion")
    for reserved in ("latest", "v2", "V3"):
        with pytest.raises(InvalidArgument, match="reserved"):
            registry.set_alias(ctx, "churn", reserved, 1)
    for missing_version in (9, 2**40):
        with pytest.raises(NotFound):
            registry.set_alias(ctx, "churn", "canary", missing_version)
    with pytest.raises(NotFound):
        registry.set_alias(ctx, "nope", "canary", 1)
    assert registry.get_model(ctx, "churn").aliases == {"challenger": 3}


def test_model_and_version_tags(registry, run, ctx) -> None:  # type: ignore[no-untyped-def]
    registry.register(ctx, "churn", run.id, "model", tags={"framework": "sklearn"})
    registry.update_model(ctx, "churn", description="d", tags={"team": "growth", "tier": "1"})
    registry.update_version(ctx, "churn", 1, description="first", tags={"validated": "yes"})
    model = registry.get_model(ctx, "churn")
    assert (model.description, model.tags) == ("d", {"team": "growth", "tier": "1"})
    version = registry.get_version(ctx, "churn", 1)
    assert version.description == "first"
    assert version.tags == {"framework": "sklearn", "validated": "yes"}
    registry.delete_model_tag(ctx, "churn", "tier")
    registry.delete_version_tag(ctx, "churn", 1, "framework")
    assert registry.get_model(ctx, "churn").tags == {"team": "growth"}
    assert registry.get_version(ctx, "churn", 1).tags == {"validated": "yes"}
    for call in (
        lambda: registry.delete_model_tag(ctx, "churn", "tier"),
        lambda: registry.delete_version_tag(ctx, "churn", 1, "framework"),
        lambda: registry.delete_version_tag(ctx, "churn", 7, "validated"),
        lambda: registry.update_version(ctx, "churn", 7, description="x"),
    ):
        with pytest.raises(NotFound):
            call()


def test_history_records_who_changed_what_and_when(registry, run, ctx) -> None:  # type: ignore[no-untyped-def]
    before = now_ms()
    registry.create_model(ctx, "churn", "predicts churn")
    registry.register(ctx, "churn", run.id, "model")
    registry.register(BOB, "churn", run.id, "model")
    registry.set_alias(ctx, "churn", "champion", 1)
    registry.set_alias(BOB, "churn", "champion", 2)
    registry.update_model(BOB, "churn", description="v2", tags={"team": "growth"})
    registry.update_version(ctx, "churn", 2, description="better", tags={"ok": "yes"})
    registry.delete_version_tag(ctx, "churn", 2, "ok")
    registry.delete_model_tag(BOB, "churn", "team")
    registry.delete_alias(ctx, "churn", "champion")
    after = now_ms()
    events = registry.history(ctx, "churn")
    assert [(e.action, e.version, e.actor) for e in events] == [
        ("model_created", None, "alice"),
        ("version_created", 1, "alice"),
        ("version_created", 2, "bob"),
        ("alias_set", 1, "alice"),
        ("alias_set", 2, "bob"),
        ("description_set", None, "bob"),
        ("tags_set", None, "bob"),
        ("version_description_set", 2, "alice"),
        ("version_tags_set", 2, "alice"),
        ("version_tag_deleted", 2, "alice"),
        ("tag_deleted", None, "bob"),
        ("alias_deleted", 2, "alice"),
    ]
    times = [e.at for e in events]
    assert times == sorted(times) and before <= times[0] and times[-1] <= after
    assert events[4].detail == {"alias": "champion", "previous_version": 1}
    assert events[2].detail["source"] == f"runs:/{run.id}/model"
    assert events[6].detail == {"tags": {"team": "growth"}}
    assert [e.action for e in registry.history(ctx, "churn", max_results=2, offset=10)] == [
        "tag_deleted",
        "alias_deleted",
    ]


def test_registry_is_private_to_its_workspace(registry, tracking, artifacts, run, ctx) -> None:  # type: ignore[no-untyped-def]
    registry.register(ctx, "churn", run.id, "model")
    registry.set_alias(ctx, "churn", "champion", 1)
    for call in (
        lambda: registry.get_model(CAROL_ELSEWHERE, "churn"),
        lambda: registry.get_version(CAROL_ELSEWHERE, "churn", "champion"),
        lambda: registry.history(CAROL_ELSEWHERE, "churn"),
        lambda: registry.set_alias(CAROL_ELSEWHERE, "churn", "champion", 1),
        lambda: registry.register(CAROL_ELSEWHERE, "other", run.id, "model"),
    ):
        with pytest.raises(NotFound):
            call()
    assert registry.list_models(CAROL_ELSEWHERE) == []
    their_run = trained_run(tracking, artifacts, CAROL_ELSEWHERE)
    theirs = registry.register(CAROL_ELSEWHERE, "churn", their_run.id, "model")
    assert theirs.version == 1  # their own "churn", numbered on its own
    assert registry.get_model(ctx, "churn").aliases == {"champion": 1}
    assert [e.actor for e in registry.history(ctx, "churn")] == ["alice"] * 3


def test_concurrent_registrations_get_distinct_numbers(registry, run, ctx) -> None:  # type: ignore[no-untyped-def]
    registry.register(ctx, "churn", run.id, "model")
    with ThreadPoolExecutor(6) as pool:
        numbers = list(
            pool.map(lambda _: registry.register(ctx, "churn", run.id, "model").version, range(12))
        )
    assert sorted(numbers) == list(range(2, 14))
    assert registry.get_model(ctx, "churn").latest_version == 13


def test_latest_versions_of_a_page_per_stage_and_workspace(registry, tracking, artifacts, run, ctx) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        registry.register(ctx, "churn", run.id, "model")
    registry.register(ctx, "fraud", run.id, "model")
    registry.create_model(ctx, "empty")
    registry.transition_stage(ctx, "churn", 1, "Production")
    their_run = trained_run(tracking, artifacts, CAROL_ELSEWHERE)
    for _ in range(5):  # their own "churn" must not show in ours
        registry.register(CAROL_ELSEWHERE, "churn", their_run.id, "model")

    latest = registry.latest_versions_of(ctx, ["churn", "fraud", "empty", "missing"])
    assert {name: [(v.version, v.stage) for v in found] for name, found in latest.items()} == {
        "churn": [(1, "Production"), (3, "None")],
        "fraud": [(1, "None")],
        "empty": [],
        "missing": [],
    }
    for name in ("churn", "fraud", "empty"):
        assert latest[name] == registry.latest_versions(ctx, name)
    assert registry.latest_versions_of(ctx, []) == {}
    assert [v.version for v in registry.latest_versions_of(CAROL_ELSEWHERE, ["churn"])["churn"]] == [5]
