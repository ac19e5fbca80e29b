"""The runnable example of docs/job-yaml.md loads, and its command renders as documented."""

from __future__ import annotations

import re
from pathlib import Path

from shipyard.specs import find_bindings, load_job, render_command

DOC = Path(__file__).resolve().parents[3] / "docs" / "job-yaml.md"


def _block(header: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    m = re.search(rf"```(?:yaml|python)\n# {re.escape(header)}\n(.*?)```", text, re.DOTALL)
    assert m, f"docs/job-yaml.md has no block starting with '# {header}'"
    return m.group(1)


def test_the_documented_example_loads_and_renders(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "src" / "train.py").write_text(_block("src/train.py"))
    (tmp_path / "data" / "iris.csv").write_text("5.1,3.5,1.4,0.2,setosa\n")
    (tmp_path / "job.yml").write_text(_block("job.yml"))
    job = load_job(tmp_path / "job.yml", ["inputs.C=0.5"])
    assert job.code == tmp_path.resolve() / "src"
    assert job.spec.inputs["C"] == 0.5
    assert [b.name for b in find_bindings(job.spec.command)] == ["iris", "C", "max_iter", "model"]
    rendered = render_command(
        job.spec.command, {"iris": "/d/iris.csv", "C": "0.5", "max_iter": None}, {"model": "/o"}
    )
    assert rendered == "python train.py --data /d/iris.csv --C 0.5  --out /o"
