"""Rollout leases on each backend: which serving server brings a deployment up.

Two "servers" are two owners claiming through one real database (SQLite, then PostgreSQL,
where the second claims on a connection of its own while the first holds its rows locked).
"""

from __future__ import annotations

import threading
from pathlib import Path

from shipyard.domain.context import RequestContext
from shipyard.domain.endpoints import Deployment, DeploymentState
from shipyard.services.endpoints import EndpointService
from shipyard.specs.endpoint import OnlineEndpointSpec
from shipyard.stores.sql.database import SqlDatabase

LEASE_MS = 10_000


def _deployment(ctx: RequestContext, name: str, revision: str = "r1") -> Deployment:
    return Deployment(
        "iris", name, ctx.workspace, DeploymentState.CREATING, "", revision, {}, {}, 1, "alice", 1
    )


def _setup(db: SqlDatabase, ctx: RequestContext, *names: str, all_traffic: bool = False) -> None:
    EndpointService(db, None, Path("unused"), lambda: "http://127.0.0.1").create(
        ctx, OnlineEndpointSpec(name="iris")
    )
    with db.write() as uow:
        for name in names:
            uow.deployments.create(ctx.workspace, _deployment(ctx, name), all_traffic=all_traffic)


def _claim(db: SqlDatabase, owner: str, now: int, *, own: bool = False) -> list[str]:
    with db.write() as uow:
        return [r.deployment.name for r in uow.deployments.claim(owner, now, LEASE_MS, own=own)]


def test_each_rollout_is_claimed_once_until_its_lease_lapses(db: SqlDatabase, ctx: RequestContext) -> None:
    _setup(db, ctx, "blue", "green", all_traffic=True)
    with db.write() as uow:
        taken = uow.deployments.claim("a", 1000, LEASE_MS)
    assert [(r.deployment.name, r.all_traffic, r.previous_owner) for r in taken] == [
        ("blue", True, None),
        ("green", True, None),
    ]
    assert _claim(db, "b", 2000) == []  # a holds them
    with db.write() as uow:
        uow.deployments.renew("a", 5000, LEASE_MS)  # the heartbeat: now until 15 000
    assert _claim(db, "b", 12_000) == []
    assert _claim(db, "a", 12_000, own=True) == ["blue", "green"]  # a restarted takes its own back
    with db.write() as uow:
        lapsed = uow.deployments.claim("b", 30_000, LEASE_MS)
    assert [(r.deployment.name, r.previous_owner) for r in lapsed] == [("blue", "a"), ("green", "a")]

    # Only the holder (or nobody, after a change) records the end; once, with the wish.
    with db.write() as uow:
        stale = uow.deployments.finish(
            "default", "iris", "blue", "r1", "a", 31_000, state=DeploymentState.FAILED, reason="x"
        )
        done = uow.deployments.finish(
            "default", "iris", "blue", "r1", "b", 31_000, state=DeploymentState.SUCCEEDED, reason=""
        )
        again = uow.deployments.finish(
            "default", "iris", "blue", "r1", "b", 32_000, state=DeploymentState.FAILED, reason="late"
        )
        gone = uow.deployments.finish(
            "default", "iris", "red", "r1", "b", 32_000, state=DeploymentState.FAILED, reason=""
        )
        shown = uow.deployments.get("default", "iris", "blue")
    assert (stale.outcome, done.outcome, done.all_traffic, again.outcome, gone.outcome) == (
        "taken",
        "finished",
        True,
        "taken",
        "gone",
    )
    assert shown is not None and shown.state is DeploymentState.SUCCEEDED
    assert _claim(db, "c", 99_000) == ["green"]  # blue is done: nothing to bring up

    # An update is a fresh wish: no lease, claimable at once, the flag as the update says.
    with db.write() as uow:
        uow.deployments.update(
            "default",
            "iris",
            "blue",
            40_000,
            state=DeploymentState.UPDATING,
            revision="r2",
            all_traffic=False,
        )
        again_taken = uow.deployments.claim("c", 40_000, LEASE_MS)
    assert [(r.deployment.revision, r.all_traffic, r.previous_owner) for r in again_taken] == [
        ("r2", False, None)
    ]


def test_two_servers_claiming_at_once_take_different_rollouts(
    db: SqlDatabase, database_url: str, ctx: RequestContext
) -> None:
    _setup(db, ctx, *(f"d{i}" for i in range(8)))
    other = SqlDatabase(database_url)
    got: dict[str, list[str]] = {}
    start = threading.Barrier(2)

    def claim(owner: str, database: SqlDatabase) -> None:
        start.wait()
        got[owner] = _claim(database, owner, 1000)

    try:
        threads = [threading.Thread(target=claim, args=(o, d)) for o, d in (("a", db), ("b", other))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        other.close()
    assert sorted(got["a"] + got["b"]) == [f"d{i}" for i in range(8)]  # each once, none twice
