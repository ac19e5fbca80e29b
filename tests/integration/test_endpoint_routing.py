"""The endpoint service on a real metadata store: keys, traffic and the routing table the
scoring router reads per request — always the current one, never a stale cached copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard.domain.context import RequestContext
from shipyard.domain.endpoints import AuthMode, Deployment, DeploymentState
from shipyard.errors import AlreadyExists, InvalidArgument, NotFound
from shipyard.services.endpoints import EndpointService
from shipyard.services.serving_ports import DeploymentKey, DeploymentPlan, DeploymentRuntime, Instance
from shipyard.specs.endpoint import OnlineEndpointSpec
from shipyard.stores.sql.database import SqlDatabase


class RecordingRuntime(DeploymentRuntime):
    """Remembers what it was asked to remove; runs nothing."""

    def __init__(self) -> None:
        self.removed: list[DeploymentKey] = []

    def apply(self, plan: DeploymentPlan) -> None:
        raise AssertionError("not used here")

    def instances(self, key: DeploymentKey) -> list[Instance]:
        return []

    def wait_ready(self, key: DeploymentKey, timeout_s: float) -> list[Instance]:
        return []

    def remove(self, key: DeploymentKey, drain_s: float = 5.0) -> None:
        self.removed.append(key)

    def logs(self, key: DeploymentKey, lines: int = 100) -> str:
        return ""

    def close(self) -> None:
        pass


@pytest.fixture
def runtime() -> RecordingRuntime:
    return RecordingRuntime()


@pytest.fixture
def service(db: SqlDatabase, runtime: RecordingRuntime, tmp_path: Path) -> EndpointService:
    return EndpointService(db, runtime, tmp_path / "deployments", lambda: "http://127.0.0.1:5151")


def _deploy(db: SqlDatabase, ctx: RequestContext, endpoint: str, name: str, timeout_ms: int = 5000) -> None:
    spec = {
        "request_settings": {"request_timeout_ms": timeout_ms, "max_concurrent_requests_per_instance": 3},
        "data_collector": {"sampling_rate": 0.25, "collections": {"model_inputs": {"enabled": True}}},
    }
    deployment = Deployment(
        endpoint, name, ctx.workspace, DeploymentState.SUCCEEDED, "", "r1", spec, {}, 1, "alice", 1
    )
    with db.write() as uow:
        uow.deployments.create(ctx.workspace, deployment)


def test_routing_follows_keys_and_traffic(
    service: EndpointService, db: SqlDatabase, ctx: RequestContext
) -> None:
    service.create(ctx, OnlineEndpointSpec(name="iris"))
    _deploy(db, ctx, "iris", "blue", timeout_ms=3000)
    _deploy(db, ctx, "iris", "green")
    service.invalidate(ctx.workspace, "iris")  # deployments written behind the service's back
    primary, secondary = service.credentials(ctx, "iris")

    table = service.routing(ctx.workspace, "iris")
    assert table.auth_mode is AuthMode.KEY
    assert table.accepts(f"Bearer {primary}") and table.accepts(f"bearer {secondary}")
    assert not table.accepts("Bearer nope") and not table.accepts(None) and not table.accepts(primary)
    assert primary not in repr(table)  # hashes only
    assert table.traffic == {}
    blue = table.deployments["blue"]
    assert blue.key == DeploymentKey(ctx.workspace, "iris", "blue")
    assert (blue.request_timeout_ms, blue.max_concurrent_requests_per_instance) == (3000, 3)
    assert blue.data_collection is not None and blue.data_collection.sampling_rate == 0.25
    assert blue.data_collection.model_inputs and not blue.data_collection.model_outputs
    assert service.routing(ctx.workspace, "iris") is table  # cached

    service.update(ctx, "iris", traffic={"blue": 90, "green": 10})
    assert service.routing(ctx.workspace, "iris").traffic == {"blue": 90, "green": 10}
    service.update(ctx, "iris", traffic={"blue": 100}, mirror_traffic={"green": 20})
    table = service.routing(ctx.workspace, "iris")
    assert (table.traffic, table.mirror_traffic) == ({"blue": 100}, {"green": 20})
    assert service.get(ctx, "iris").traffic == {"blue": 100, "green": 0}

    service.regenerate(ctx, "iris", "primary")
    table = service.routing(ctx.workspace, "iris")
    assert not table.accepts(f"Bearer {primary}") and table.accepts(f"Bearer {secondary}")


def test_traffic_rules_are_checked_against_the_deployments(
    service: EndpointService, db: SqlDatabase, ctx: RequestContext
) -> None:
    service.create(ctx, OnlineEndpointSpec(name="iris"))
    with pytest.raises(InvalidArgument, match="'blue', which does not exist"):
        service.update(ctx, "iris", traffic={"blue": 100})
    _deploy(db, ctx, "iris", "blue")
    with pytest.raises(InvalidArgument, match="sum to 100"):
        service.update(ctx, "iris", traffic={"blue": 50})
    service.update(ctx, "iris", traffic={"blue": 100})
    with pytest.raises(InvalidArgument, match="0% live traffic"):
        service.update(ctx, "iris", mirror_traffic={"blue": 10})
    assert service.get(ctx, "iris").mirror_traffic == {}


def test_keyless_endpoints_only_on_a_server_without_sign_in(
    service: EndpointService, db: SqlDatabase, runtime: RecordingRuntime, tmp_path: Path, ctx: RequestContext
) -> None:
    with pytest.raises(InvalidArgument, match="anyone score this endpoint"):
        service.create(ctx, OnlineEndpointSpec(name="open", auth_mode="none"))
    open_server = EndpointService(
        db, runtime, tmp_path / "deployments", lambda: "http://127.0.0.1:5151", allow_anonymous=True
    )
    open_server.create(ctx, OnlineEndpointSpec(name="open", auth_mode="none"))
    assert open_server.routing(ctx.workspace, "open").accepts(None)
    with pytest.raises(InvalidArgument, match="no keys"):
        open_server.credentials(ctx, "open")


def test_token_endpoints_take_no_key_and_have_none_to_show(
    service: EndpointService, ctx: RequestContext
) -> None:
    service.create(ctx, OnlineEndpointSpec(name="tokens", auth_mode="aml_token"))
    table = service.routing(ctx.workspace, "tokens")
    assert table.key_hashes == ()
    primary = service.get(ctx, "tokens").primary_key
    assert not table.accepts(f"Bearer {primary}")
    with pytest.raises(InvalidArgument, match="their own Shipyard"):
        service.credentials(ctx, "tokens")


def test_deleting_an_endpoint_deletes_its_deployments_and_stops_them(
    service: EndpointService, db: SqlDatabase, ctx: RequestContext, runtime: RecordingRuntime
) -> None:
    service.create(ctx, OnlineEndpointSpec(name="iris"))
    _deploy(db, ctx, "iris", "blue")
    service.update(ctx, "iris", traffic={"blue": 100})
    service.routing(ctx.workspace, "iris")
    service.delete(ctx, "iris")
    assert runtime.removed == [DeploymentKey(ctx.workspace, "iris", "blue")]
    with pytest.raises(NotFound):
        service.routing(ctx.workspace, "iris")
    with db.read() as uow:
        assert uow.deployments.in_states(list(DeploymentState)) == []
    service.create(ctx, OnlineEndpointSpec(name="iris"))  # the name is free again
    with pytest.raises(AlreadyExists):
        service.create(ctx, OnlineEndpointSpec(name="iris"))
