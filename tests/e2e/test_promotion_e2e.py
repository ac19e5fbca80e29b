"""A promotion to a protected ``prod`` waits for a second person's approval, as a CI workflow's
promotion step runs it: ``shipyard model promote … --to-workspace prod --wait`` in the
background while a second user approves with ``shipyard model approve`` — a real server, auth
on. The setup (users, a tiny model) goes through the SDK: only the steps under test pay for a
``shipyard`` process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shipyard.api.promotions import Promotion
from shipyard.client.client import Client
from shipyard.client.promotions import PromotionOperations
from shipyard.client.run import ActiveRun
from tests.conftest import ADMIN_TOKEN, ServerProcess
from tests.e2e.test_access_cli import cli, ok

pytestmark = pytest.mark.slow


def _promote(url: str, token: str, target: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "shipyard", "model", "promote", target, "--alias", "champion",
         "--to-workspace", "prod", "--wait", "--timeout", "2m"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "SHIPYARD_URL": url, "SHIPYARD_TOKEN": token},
    )  # fmt: skip


def _pending(prod: PromotionOperations, waiting: subprocess.Popen[str]) -> Promotion:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and waiting.poll() is None:
        found = prod.list(state="pending")
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"no pending promotion appeared: {waiting.communicate()}")


@pytest.fixture
def waiters() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_a_promotion_to_prod_waits_for_and_records_a_second_persons_approval(
    tmp_path: Path, waiters: list[subprocess.Popen[str]]
) -> None:
    # Both servers start at once: the second is the target of --to-url, at the end.
    with ThreadPoolExecutor(2) as pool:
        server, other = pool.map(
            lambda home: ServerProcess(home).start(), [tmp_path / "home", tmp_path / "other"]
        )
    url = server.url
    owner = Client(url, token=ADMIN_TOKEN)
    clients = [owner]
    try:
        tokens = {}
        for user, role in (("alice", "data-scientist"), ("bob", "ml-engineer")):
            owner.users.create(user)
            owner.roles.assign(user, role)
            tokens[user] = owner.tokens.create("e2e", user=user).secret
        alice = Client(url, token=tokens["alice"])
        bob_in_prod = Client(url, token=tokens["bob"], workspace="prod")
        owner_in_prod = Client(url, token=ADMIN_TOKEN, workspace="prod")
        clients += [alice, bob_in_prod, owner_in_prod]
        prod = bob_in_prod.operations(PromotionOperations)
        (tmp_path / "tiny").mkdir()
        (tmp_path / "tiny" / "weights.bin").write_bytes(b"\x00\x01\x02")
        with ActiveRun(alice, alice.create_run(alice.create_experiment("train").id, name="fit")) as run:
            run.log_artifact(tmp_path / "tiny", "model")
        for _ in range(2):
            alice.register_model("tiny", run.id, "model")

        ok("model", "protect", "--workspace", "prod", url=url)  # the owner: every alias in prod

        waiting = _promote(url, tokens["alice"], "tiny:1")
        waiters.append(waiting)
        pending = _pending(prod, waiting)
        assert pending.source == "default/tiny:1"
        assert waiting.poll() is None, "promote --wait must wait for the approval"
        approved = ok("model", "approve", str(pending.id), "--workspace", "prod", "-m", "smoke test passed",
                      url=url, env={"SHIPYARD_TOKEN": tokens["bob"]})  # fmt: skip
        assert "applied" in approved
        out, err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, out + err
        assert f"promotion {pending.id}" in out
        assert "applied" in err

        assert owner_in_prod.get_model("tiny").aliases == {"champion": 1}
        events = owner_in_prod.model_history("tiny")
        approvals = [e for e in events if e.action == "promotion_approved"]
        assert [(e.actor, e.detail["comment"]) for e in approvals] == [("bob", "smoke test passed")]
        assert [e.action for e in events][-2:] == ["alias_set", "promotion_applied"]

        # A rejection ends the waiting step with a non-zero exit a CI log makes obvious.
        rejecting = _promote(url, tokens["alice"], "tiny:2")
        waiters.append(rejecting)
        pending = _pending(prod, rejecting)
        ok(
            "model",
            "reject",
            str(pending.id),
            "--workspace",
            "prod",
            url=url,
            env={"SHIPYARD_TOKEN": tokens["bob"]},
        )
        _, err = rejecting.communicate(timeout=60)
        assert rejecting.returncode == 1
        assert "rejected" in err
        assert "PROMOTION_REJECTED" in err

        # To another server: the files go through this machine; the token comes from a variable.
        args = ("model", "promote", "tiny:1", "--alias", "champion", "--to-url", other.url)
        missing = cli(*args, url=url, env={"SHIPYARD_TOKEN": tokens["alice"], "SHIPYARD_TO_TOKEN": ""})
        assert missing.returncode == 1
        assert "SHIPYARD_TO_TOKEN" in missing.stderr
        copied = ok(*args, url=url, env={"SHIPYARD_TOKEN": tokens["alice"], "SHIPYARD_TO_TOKEN": ADMIN_TOKEN})
        assert "applied" in copied
        with Client(other.url, token=ADMIN_TOKEN) as there:
            assert there.get_model("tiny").aliases == {"champion": 1}
            version = there.get_model_version("tiny", "champion")
            assert version.tags["shipyard.promoted_from"] == "default/tiny:1"
            assert version.tags["shipyard.promoted_from.server"] == url
            assert version.tags["shipyard.promoted_from.run_id"] == run.id
            assert version.run_id is not None
            there.download_artifact(version.run_id, "model/weights.bin", tmp_path / "copied.bin")
        assert (tmp_path / "copied.bin").read_bytes() == b"\x00\x01\x02"
    finally:
        for client in clients:
            client.close()
        server.stop()
        other.stop()
