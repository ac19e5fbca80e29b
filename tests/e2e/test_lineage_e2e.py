"""The demo's lineage against a real server (auth on), through the CLI: the session's
``credit_server`` holds the credit data asset, the job that trained on it and registered
``credit`` version 1 from its run, and the deployment ``credit/blue`` serving that version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ServerProcess
from tests.e2e.test_endpoints_scoring import cli
from tests.e2e.test_monitor_loop import _ok

pytestmark = pytest.mark.slow


def test_the_demo_models_lineage_is_complete_from_data_to_deployment(
    credit_server: tuple[ServerProcess, str, Path],
) -> None:
    server, _, tmp = credit_server
    graph = json.loads(_ok("lineage", "show", "model:credit:1", "--format", "json", url=server.url))
    nodes = {n["id"]: n for n in graph["nodes"]}
    edges = {(e["source"], e["relation"], e["target"]) for e in graph["edges"]}
    assert graph["root"] == "model:credit:1"
    assert not any(n["unresolved"] for n in nodes.values())
    (job,) = [n for n in nodes.values() if n["kind"] == "job"]
    (run,) = [n for n in nodes.values() if n["kind"] == "run"]
    assert job["attrs"]["code_digest"] and job["attrs"]["environment_hash"]
    assert {
        ("data:credit:1", "input", job["id"]),
        (job["id"], "ran", run["id"]),
        (run["id"], "registered", "model:credit:1"),
        ("model:credit:1", "deployed", "deployment:credit/blue"),
    } <= edges

    mermaid = _ok("lineage", "show", "model:credit:1", "--format", "mermaid", url=server.url)
    assert mermaid.startswith("flowchart LR\n")
    assert "-->|registered|" in mermaid and "deployment: credit/blue" in mermaid

    card = tmp / "card.html"
    _ok("model", "card", "credit:1", "--out", str(card), url=server.url)
    text = card.read_text(encoding="utf-8")
    assert text.startswith("<!doctype html>")
    assert run["id"].removeprefix("run:") in text and "deployment:credit/blue" in text


def test_bad_node_ids_and_card_arguments_are_clear_refusals(
    credit_server: tuple[ServerProcess, str, Path],
) -> None:
    server, _, tmp = credit_server
    bad = cli("lineage", "show", "credit", url=server.url)
    assert bad.returncode == 1
    assert "INVALID_ARGUMENT" in bad.stderr and "model:NAME:VERSION" in bad.stderr
    unknown = cli("lineage", "show", "model:credit:99", url=server.url)
    assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stderr
    no_version = cli("model", "card", "credit", url=server.url)
    assert no_version.returncode == 2 and "NAME:VERSION" in no_version.stderr
    pdf = cli("model", "card", "credit:1", "--out", str(tmp / "card.pdf"), url=server.url)
    assert pdf.returncode == 2 and ".html or .md" in pdf.stderr
    assert not (tmp / "card.pdf").exists()
