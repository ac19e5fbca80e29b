"""Batch endpoint and deployment files: the documented example, both settings layouts, and
the refusals a user meets first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipyard.errors import InvalidSpec
from shipyard.specs._yaml import parse_spec
from shipyard.specs.batch_endpoint import BatchDeploymentSpec, BatchEndpointSpec, load_batch_deployment

DOC = Path(__file__).resolve().parents[3] / "docs" / "batch-endpoints.md"


def _block(header: str) -> str:
    m = re.search(rf"```(?:yaml|python)\n# {re.escape(header)}\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert m, f"docs/batch-endpoints.md has no block starting with '# {header}'"
    return m.group(1)


def test_the_documented_files_load(tmp_path: Path) -> None:
    endpoint = parse_spec(_block("endpoint.yml"), BatchEndpointSpec)
    assert endpoint.name == "iris-batch" and endpoint.notes()[0].startswith("auth_mode")
    (tmp_path / "deployment.yml").write_text(_block("deployment.yml"))
    loaded = load_batch_deployment(tmp_path / "deployment.yml")
    spec = loaded.spec
    assert (spec.settings.mini_batch_size, spec.settings.max_concurrency_per_instance) == (40, 2)
    assert spec.settings.retry_settings.max_retries == 3 and spec.compute_name == "local"
    assert spec.output is not None and spec.output.table == "iris_predictions"


def test_the_older_layout_with_settings_at_the_top_level() -> None:
    text = "name: dep\nendpoint_name: ep1\nmodel: azureml:m:1\nmini_batch_size: 7\nerror_threshold: 3\n"
    spec = parse_spec(text, BatchDeploymentSpec)
    assert (spec.settings.mini_batch_size, spec.settings.error_threshold) == (7, 3)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ("type: pipeline\n", "pipeline batch deployments are not supported"),
        ("settings:\n  output_file_name: out/preds.csv\n", "must be a file name"),
        ("output:\n  sql_url: postgresql://u:${{secrets.PW}}@h:5432\n  table: t\n", "names no database"),
        ("output:\n  sql_url: postgresql://u:${{secrets.PW}}@h/db\n  table: 1t\n", "is not a table name"),
        ("output:\n  sql_url: postgresql://u:hunter2@h/db\n  table: t\n", "holds a password in clear"),
        ("resources:\n  instance_count: 0\n", "instance_count is 0"),
    ],
)
def test_refusals_say_what_to_fix(extra: str, words: str) -> None:
    with pytest.raises(InvalidSpec, match=re.escape(words)) as caught:
        parse_spec("name: dep\nendpoint_name: ep1\nmodel: azureml:m:1\n" + extra, BatchDeploymentSpec)
    assert "hunter2" not in caught.value.message
