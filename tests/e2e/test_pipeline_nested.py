"""A nested pipeline against a real server: one pipeline component used as two steps, each
expanded into its inner steps (``small-train``…), wired through the nested steps' inputs and
outputs; run again with one nested step's parameter changed, exactly that step's inner steps
and what reads them re-run, the others reused — each step saying why. The files are the
example of docs/pipeline-jobs.md ("Nested pipelines")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipyard.client.client import Client
from tests.conftest import ADMIN_TOKEN, ServerProcess

pytestmark = pytest.mark.slow

DOC = Path(__file__).resolve().parents[2] / "docs" / "pipeline-jobs.md"


def _block(header: str) -> str:
    """The YAML block of docs/pipeline-jobs.md that starts with ``# <header>``: what the page
    shows is what runs."""
    m = re.search(rf"```yaml\n# {re.escape(header)}[^\n]*\n(.*?)```", DOC.read_text(), re.S)
    assert m, f"docs/pipeline-jobs.md has no block starting with '# {header}'"
    return m.group(1)


def test_a_nested_pipeline_runs_its_inner_steps_and_reuses_them(
    server: ServerProcess, tmp_path: Path
) -> None:
    (tmp_path / "components").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "n.txt").write_text("5\n")
    (tmp_path / "components" / "train_eval.yml").write_text(_block("components/train_eval.yml"))
    path = tmp_path / "pipeline.yml"
    path.write_text(_block("pipeline.yml"))
    with Client(server.url, token=ADMIN_TOKEN) as client:
        first = client.jobs.wait(client.jobs.create(path).name, poll_s=0.1, timeout_s=60)
        assert first.status.value == "Completed", first.report
        steps = ["prep", "small-train", "small-evaluate", "large-train", "large-evaluate", "compare"]
        assert first.report["order"] == steps
        children = {c.step: c for c in client.jobs.list(parent=first.name)}
        assert set(children) == set(steps)
        assert children["small-train"].name == f"{first.name}-small-train"
        log = b"".join(client.jobs.stream(children["compare"].name, follow=False))
        assert b"10\n15\n" in log  # 5 * 2, 5 * 3: each nested step's own factor
        assert first.report["outputs"]["both"] == f"runs:/{children['compare'].run_id}/outputs/both"

        again = client.jobs.create(path, ["jobs.large.inputs.factor=4"])
        second = client.jobs.wait(again.name, poll_s=0.1, timeout_s=60)
        assert second.status.value == "Completed", second.report
        why = {s: e["why"] for s, e in second.report["steps"].items()}
        for reused in ("prep", "small-train", "small-evaluate"):
            assert why[reused] == f"reused from {first.name}/{reused}"
        assert why["large-train"] == "changed: parameters.factor"
        assert why["large-evaluate"] == "changed: inputs.model"
        assert why["compare"] == "changed: inputs.b"
        compare = next(c for c in client.jobs.list(parent=second.name) if c.step == "compare")
        assert b"10\n20\n" in b"".join(client.jobs.stream(compare.name, follow=False))
