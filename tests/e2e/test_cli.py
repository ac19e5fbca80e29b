"""The read side of the ``shipyard`` command, as a user runs it: a real server, data logged
through the SDK, the CLI started as a subprocess, and assertions on what it prints."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import typer.main
from typer.core import TyperGroup, TyperOption
from typer.testing import CliRunner

from shipyard.cli.main import app
from shipyard.client.client import Client
from shipyard.client.run import ActiveRun
from shipyard.domain.registry import ModelEvent, ModelVersion, RegisteredModel
from shipyard.domain.tracking import Experiment, Run
from tests.conftest import ServerProcess

if TYPE_CHECKING:
    # Typer vendors click; this is the class its command tree is made of.
    from typer._click import Command

# Every test that needs the module's server takes seconds (the start, then ~1 s per CLI call).
slow = pytest.mark.slow


def run_cli(
    *args: str, url: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("SHIPYARD_URL", "SHIPYARD_WORKSPACE")}
    if url is not None:
        base["SHIPYARD_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "shipyard", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=120,
        check=False,
    )


def ok(*args: str, url: str) -> str:
    done = run_cli(*args, url=url)
    assert done.returncode == 0, done.stderr
    return done.stdout


def strict_json(text: str) -> Any:
    """Parse as a strict JSON reader would: bare NaN/Infinity are not JSON."""

    def reject(token: str) -> None:
        raise ValueError(f"not valid JSON: {token}")

    return json.loads(text, parse_constant=reject)


def field_names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass
class Seeded:
    url: str
    runs: dict[str, Run]  # by name
    wide_run: Run
    actor: str


def _log_run(
    client: Client, experiment_id: str, name: str, params: dict[str, str], metrics: dict[str, float]
) -> Run:
    run = ActiveRun(
        client, client.create_run(experiment_id, name=name, params=params, tags={"team": "[red]vision"})
    )
    with run:
        for step in range(10):
            run.log_metric("loss", 1 / (step + 1), step=step)
        run.log_metrics(metrics, step=9)
        with tempfile.TemporaryDirectory() as tmp:
            model = Path(tmp) / "model"
            model.mkdir()
            (model / "weights.bin").write_bytes(b"\x00" * 16)
            run.log_artifact(model)
    return client.get_run(run.id)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """One server for the whole module: every test here only reads, and a server start costs
    seconds. Holds the experiment ``iris-cli`` (three runs), ``wide`` (one run with more
    metrics and params than the run table shows), a deleted experiment ``archived``, and the
    model ``iris-clf`` with two versions and the alias ``champion`` on v2."""
    server = ServerProcess(tmp_path_factory.mktemp("cli") / "home").start()
    client = Client(server.url)
    try:
        iris = client.create_experiment("iris-cli")
        runs = {
            name: _log_run(client, iris.id, name, {"lr": lr, "solver": "lbfgs"}, {"acc": acc})
            for name, lr, acc in [("slow", "0.001", 0.80), ("medium", "0.01", 0.85), ("fast", "0.1", 0.95)]
        }
        wide = client.create_experiment("wide")
        wide_run = _log_run(
            client,
            wide.id,
            "many-keys",
            {f"p{i}": str(i) for i in range(4)},
            {"acc": 0.5, "f1": 0.5, "recall": float("nan"), "auc": float("inf")},
        )
        archived = client.create_experiment("archived")
        client.http.request("DELETE", f"/api/v1/experiments/{archived.id}")
        client.register_model("iris-clf", runs["slow"].id, "model")
        client.register_model("iris-clf", runs["fast"].id, "model")
        client.set_model_alias("iris-clf", "champion", 2)
        client.create_model("other-model", description="not trained yet")
        actor = client.model_history("iris-clf")[0].actor
        yield Seeded(server.url, runs, wide_run, actor)
    finally:
        client.close()
        server.stop()


# -- experiments -----------------------------------------------------------------------


@slow
def test_experiment_list_shows_active_by_default_and_deleted_on_request(seeded: Seeded) -> None:
    active = ok("experiment", "list", url=seeded.url)
    assert "iris-cli" in active
    assert "wide" in active
    assert "archived" not in active
    deleted = ok("experiment", "list", "--view", "deleted", url=seeded.url)
    assert "archived" in deleted
    assert "iris-cli" not in deleted
    everything = strict_json(ok("experiment", "list", "--view", "all", "--output", "json", url=seeded.url))
    assert {e["name"] for e in everything} >= {"iris-cli", "wide", "archived"}
    assert all(set(e) == field_names(Experiment) for e in everything)


@slow
def test_url_flag_wins_over_the_environment_and_workspace_scopes_the_listing(seeded: Seeded) -> None:
    done = run_cli("experiment", "list", "--url", seeded.url, url=closed_port_url())
    assert done.returncode == 0, done.stderr
    assert "iris-cli" in done.stdout
    other = run_cli(
        "experiment", "list", "-o", "json", url=seeded.url, env={"SHIPYARD_WORKSPACE": "elsewhere"}
    )
    assert other.returncode == 0, other.stderr
    assert "iris-cli" not in {e["name"] for e in strict_json(other.stdout)}


# -- runs ------------------------------------------------------------------------------


@slow
def test_run_list_table_shows_each_run_with_its_latest_metrics_and_params(seeded: Seeded) -> None:
    out = ok("run", "list", "-e", "iris-cli", url=seeded.url)
    header = out.splitlines()[0]
    for column in ("run id", "name", "status", "started", "duration", "metrics.acc", "params.lr"):
        assert column in header
    for name, run in seeded.runs.items():
        row = next(line for line in out.splitlines() if run.id in line)
        assert name in row
        assert "FINISHED" in row
        assert f"{run.metrics['acc'].value:.6g}" in row
        assert run.params["lr"] in row
    assert "3 runs" in out


@slow
def test_run_list_filters_orders_and_limits(seeded: Seeded) -> None:
    best_first = strict_json(
        ok(
            "run", "list", "-e", "iris-cli", "--filter", "metrics.acc > 0.82",
            "--order-by", "metrics.acc DESC", "--output", "json", url=seeded.url,
        )
    )  # fmt: skip
    assert [r["name"] for r in best_first] == ["fast", "medium"]
    assert all(set(r) == field_names(Run) for r in best_first)
    assert best_first[0]["metrics"]["acc"]["value"] == 0.95

    by_param = strict_json(
        ok("run", "list", "-e", "iris-cli", "--filter", "params.lr = '0.001'", "-o", "json", url=seeded.url)
    )
    assert [r["id"] for r in by_param] == [seeded.runs["slow"].id]

    top = ok(
        "run", "list", "-e", "iris-cli", "--order-by", "metrics.acc ASC", "--max-results", "1", url=seeded.url
    )
    assert seeded.runs["slow"].id in top
    assert seeded.runs["fast"].id not in top
    assert "raise --max-results" in top


def run_in_terminal(*args: str, url: str, columns: int = 80) -> list[str]:
    """The CLI with its stdout on a pseudo-terminal ``columns`` wide, as a user's terminal is;
    the lines as shown, styles taken off."""
    import fcntl
    import pty
    import re
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "SHIPYARD_URL")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipyard", *args],
        stdout=follower, stderr=subprocess.PIPE, env={**env, "SHIPYARD_URL": url, "TERM": "xterm"},
    )  # fmt: skip
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    text = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", b"".join(chunks).decode())
    return [line.rstrip() for line in text.replace("\r\n", "\n").splitlines()]


@slow
def test_run_list_fits_an_80_column_terminal_with_ids_whole(seeded: Seeded) -> None:
    # Piped, this table is 160 columns wide; in an 80-column terminal it was once squeezed
    # into "162…"-style ids and "FIN…" statuses.
    lines = run_in_terminal("run", "list", "-e", "wide", url=seeded.url)
    assert all(len(line) <= 80 for line in lines), "\n".join(lines)
    assert lines[0].split()[:4] == ["run", "id", "name", "status"]
    assert seeded.wide_run.id in lines[2]
    assert "…" not in "\n".join(lines[:3])
    # Under the table: what the width left out, then the count and the keys beyond six.
    assert lines[3].startswith("left out to fit 80 columns:")
    footer = next(i for i, line in enumerate(lines) if line.startswith("1 run;"))
    assert "(--columns chooses them)" in " ".join(lines[3:footer])
    assert "3 more columns not shown" in " ".join(lines[footer:])
    chosen = run_in_terminal(
        "run", "list", "-e", "wide", "--columns", "name,params.p3,metrics.recall", url=seeded.url
    )
    assert chosen[0].split() == ["name", "params.p3", "metrics.recall"]
    assert chosen[2].split() == ["many-keys", "3", "NaN"]


@slow
def test_an_unknown_column_is_a_usage_error_naming_the_columns(seeded: Seeded) -> None:
    done = run_cli("run", "list", "-e", "wide", "--columns", "name,metrics.nope", url=seeded.url)
    assert done.returncode == 2
    assert (
        "Invalid value for --columns: no column 'metrics.nope' here; choose from: run id, name" in done.stderr
    )


@slow
def test_run_list_keeps_the_table_narrow_and_names_what_it_left_out(seeded: Seeded) -> None:
    # 5 metrics (acc auc f1 loss recall) + 4 params (p0..p3) = 9 key columns; the table shows 6.
    out = ok("run", "list", "-e", "wide", url=seeded.url)
    header = out.splitlines()[0]
    shown = [word for word in header.split() if word.startswith(("metrics.", "params."))]
    assert len(shown) == 6
    assert any(w.startswith("metrics.") for w in shown)
    assert any(w.startswith("params.") for w in shown)
    footer = out.strip().splitlines()[-1]
    assert "3 more columns not shown" in footer
    every = {f"metrics.{k}" for k in seeded.wide_run.metrics} | {
        f"params.{k}" for k in seeded.wide_run.params
    }
    for hidden in every - set(shown):
        assert hidden in footer
    # A key the user sorts on is always shown, first.
    sorted_on = ok("run", "list", "-e", "wide", "--order-by", "params.p3", url=seeded.url).splitlines()[0]
    assert next(w for w in sorted_on.split() if w.startswith(("metrics.", "params."))) == "params.p3"


@slow
def test_run_show_prints_info_params_tags_and_metric_summaries(seeded: Seeded) -> None:
    run = seeded.runs["medium"]
    out = ok("run", "show", run.id, url=seeded.url)
    assert run.id in out
    assert "medium" in out
    assert "iris-cli" in out
    lines = out.splitlines()
    assert any(line.split() == ["lr", "0.01"] for line in lines)
    # User data is printed as typed, not read as rich markup.
    assert any(line.split() == ["team", "[red]vision"] for line in lines)
    # loss: latest 1/10 at step 9, 10 points, min 0.1, max 1.
    assert any(line.split() == ["loss", "0.1", "9", "10", "0.1", "1"] for line in lines)


@slow
def test_run_show_json_is_the_run_with_non_finite_floats_spelt_out(seeded: Seeded) -> None:
    data = strict_json(ok("run", "show", seeded.wide_run.id, "-o", "json", url=seeded.url))
    assert set(data) == field_names(Run)
    assert data["id"] == seeded.wide_run.id
    assert data["status"] == "FINISHED"
    assert data["params"] == {"p0": "0", "p1": "1", "p2": "2", "p3": "3"}
    assert data["metrics"]["recall"]["value"] == "NaN"
    assert data["metrics"]["auc"]["max"] == "Infinity"
    assert data["metrics"]["loss"]["count"] == 10


@slow
def test_unknown_run_id_is_a_clean_error_naming_the_id(seeded: Seeded) -> None:
    done = run_cli("run", "show", "no-such-run-42", url=seeded.url)
    assert done.returncode == 1
    assert done.stdout == ""
    assert "error:" in done.stderr
    assert "no-such-run-42" in done.stderr
    assert "NOT_FOUND" in done.stderr
    assert "Traceback" not in done.stderr
    assert "hint: `shipyard run list -e EXPERIMENT` lists its runs' ids" in done.stderr


@slow
def test_unknown_experiment_is_a_clean_error(seeded: Seeded) -> None:
    done = run_cli("run", "list", "-e", "no-such-experiment", url=seeded.url)
    assert done.returncode == 1
    assert "no-such-experiment" in done.stderr
    assert "Traceback" not in done.stderr
    assert "hint: `shipyard experiment list` lists the experiments" in done.stderr


@slow
def test_a_filter_the_server_rejects_is_reported_with_its_code(seeded: Seeded) -> None:
    done = run_cli("run", "list", "-e", "iris-cli", "--filter", "metrics.acc >>> 1", url=seeded.url)
    assert done.returncode == 1
    assert "INVALID_FILTER" in done.stderr
    assert "Traceback" not in done.stderr


# -- models ----------------------------------------------------------------------------


@slow
def test_model_list_with_and_without_a_name_pattern(seeded: Seeded) -> None:
    out = ok("model", "list", url=seeded.url)
    row = next(line for line in out.splitlines() if "iris-clf" in line)
    assert "v2" in row
    assert "champion=v2" in row
    assert "other-model" in out
    matched = strict_json(ok("model", "list", "--name-like", "IRIS%", "-o", "json", url=seeded.url))
    assert [m["name"] for m in matched] == ["iris-clf"]
    assert set(matched[0]) == field_names(RegisteredModel)
    assert matched[0]["aliases"] == {"champion": 2}


@slow
def test_model_show_lists_versions_with_lineage(seeded: Seeded) -> None:
    out = ok("model", "show", "iris-clf", url=seeded.url)
    slow, fast = seeded.runs["slow"].id, seeded.runs["fast"].id
    v2 = next(line for line in out.splitlines() if line.split()[:1] == ["v2"])
    assert f"runs:/{fast}/model" in v2
    assert fast in v2
    assert "champion" in v2
    assert seeded.actor in v2
    v1 = next(line for line in out.splitlines() if line.split()[:1] == ["v1"])
    assert f"runs:/{slow}/model" in v1
    assert "champion" not in v1

    data = strict_json(ok("model", "show", "iris-clf", "-o", "json", url=seeded.url))
    assert set(data) == {"model", "versions"}
    assert data["model"]["latest_version"] == 2
    assert {v["version"]: v["run_id"] for v in data["versions"]} == {1: slow, 2: fast}
    assert all(set(v) == field_names(ModelVersion) for v in data["versions"])


@slow
def test_model_history_says_who_did_what(seeded: Seeded) -> None:
    out = ok("model", "history", "iris-clf", url=seeded.url)
    known = {"model_created", "version_created", "alias_set"}
    actions = [word for line in out.splitlines() for word in line.split() if word in known]
    assert actions == ["model_created", "version_created", "version_created", "alias_set"]
    assert seeded.actor in out
    events = strict_json(ok("model", "history", "iris-clf", "-o", "json", url=seeded.url))
    assert all(set(e) == field_names(ModelEvent) for e in events)
    assert events[-1]["action"] == "alias_set"
    assert events[-1]["detail"]["alias"] == "champion"


@slow
def test_unknown_model_is_a_clean_error(seeded: Seeded) -> None:
    for command in ("show", "history"):
        done = run_cli("model", command, "no-such-model", url=seeded.url)
        assert done.returncode == 1, command
        assert "no-such-model" in done.stderr
        assert "NOT_FOUND" in done.stderr
        assert (
            "hint: see `shipyard model list`, and `shipyard model version list no-such-model`" in done.stderr
        )


# -- errors without a server -----------------------------------------------------------


def test_unreachable_server_exits_1_with_a_hint() -> None:
    url = closed_port_url()
    done = run_cli("experiment", "list", "--url", url)
    assert done.returncode == 1
    assert "cannot reach" in done.stderr
    assert url in done.stderr
    assert "shipyard up" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["experiment", "list", "--output", "xml"],
        ["experiment", "list", "--view", "archived"],
        ["run", "list", "-e", "x", "--max-results", "0"],
        ["run", "list"],  # --experiment is required
        ["experiment", "list", "--url", "localhost:5151"],
    ],
)
def test_bad_option_values_are_usage_errors(args: list[str]) -> None:
    done = run_cli(*args, url=closed_port_url())
    assert done.returncode == 2, done.stderr
    assert "Usage:" in done.stderr


# -- help ------------------------------------------------------------------------------


def _walk(command: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Command]]:
    yield path, command
    if isinstance(command, TyperGroup):
        for name, sub in command.commands.items():
            yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app)))


def test_the_tree_has_every_read_command() -> None:
    paths = {" ".join(path) for path, _ in COMMANDS}
    assert paths >= {
        "experiment list",
        "run list",
        "run show",
        "model list",
        "model show",
        "model history",
        "up",
    }


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) or "shipyard" for p, _ in COMMANDS])
def test_help_exits_0_and_documents_every_option(path: tuple[str, ...], command: Command) -> None:
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert command.help, f"{path} has no help text"
    for param in command.params:
        assert getattr(param, "help", None), f"{' '.join(path)}: {param.name} has no help text"
        for flag in param.opts if isinstance(param, TyperOption) else []:
            assert flag in result.output


@pytest.mark.parametrize("path", [(), ("run", "list")])
def test_help_imports_neither_the_sdk_nor_rich_nor_pydantic(path: tuple[str, ...]) -> None:
    # What keeps `shipyard --help` fast: httpx (pulled in by the SDK) and rich are only
    # imported by commands that run, and option values are converted without pydantic
    # (shipyard.cli._coerce). The real entry point, in a fresh interpreter.
    probe = (
        "import sys\n"
        "from shipyard.cli.main import main\n"
        f"sys.argv = ['shipyard', *{list(path)!r}, '--help']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "loaded = [m for m, module in sys.modules.items() if module is not None]\n"
        "heavy = sorted(m for m in loaded if m.split('.')[0] in ('httpx', 'rich', 'pydantic'))\n"
        "heavy += [m for m in loaded if m.startswith('shipyard.client')]\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "[]"


def test_every_read_command_and_option_is_in_the_cli_docs() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    leaves = [(path, command) for path, command in COMMANDS if path and not isinstance(command, TyperGroup)]
    for path, command in leaves:
        if path == ("up",):
            continue  # documented with the server, in docs/server.md
        assert f"shipyard {' '.join(path)}" in docs
        for param in command.params:
            if isinstance(param, TyperOption):
                assert any(flag in docs for flag in param.opts), f"{' '.join(path)} {param.opts}"
