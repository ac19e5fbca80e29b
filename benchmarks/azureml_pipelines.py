"""Run Azure ML's command-only pipeline examples on a local compute target, and say how each ended.

    .venv/bin/python benchmarks/azureml_pipelines.py                     # the mirror below
    .venv/bin/python benchmarks/azureml_pipelines.py --examples ~/azureml-examples
    .venv/bin/python benchmarks/azureml_pipelines.py --only nyc --keep

``--examples`` is a checkout of github.com/Azure/azureml-examples or a bare mirror of it (the
default: ``/work/.mirror/Azure+azureml-examples/repo``, read with ``git ls-tree``/``cat-file``
at HEAD). Nothing is downloaded at run time: without it, the script says so and exits 0 with
nothing measured. Which files are pipeline jobs is
``tests/unit/specs/fixtures/azureml_pipelines/index.txt`` (95 of them); the ones run are those
whose steps are all command steps — with local or inline components (37), through a pipeline
component (3), naming components by ``azureml:<name>@latest`` (2, the
``1b_e2e_registered_components`` folder), or nested pipelines whose component files are in
the example (2, ``pipeline_with_pipeline_component``).

What it does, as a user following Azure's README would:

1. copies each example's folder (code and data) out of the repository into ``.bench/azureml_pipelines/``;
2. starts one Shipyard server (``python -m shipyard up``, sign-in on, SQLite, a fresh home);
3. registers what the files name with ``azureml:`` — a compute target (``cpu-cluster``,
   from Azure's ``cli/resources/compute/cluster-basic.yml``: a ``local`` target here), each
   component (``shipyard component create -f`` on the component file of that name in the
   example's folder) and each data asset (``shipyard data create -f`` likewise);
4. submits each pipeline (``client.jobs.create``, the code path of ``shipyard job create -f``),
   one at a time, with ``--set settings.force_rerun=true`` so that every step runs (several
   examples share steps, which would otherwise be reused from the one before; ``--reuse``
   leaves that on), and waits for it.

Azure's curated environments (``azureml://registries/azureml/environments/sklearn-1.5/…``)
are built by uv from PyPI on first use (the first pipeline's time includes that build).
``sklearn-1.5`` wants Python 3.10 and a conda file may pin 3.8, which Shipyard never downloads:
``--python-dir`` puts folders holding them on the server's PATH (default: each of pyenv's
``versions/3.*/bin``).

Printed: a table (pipeline, result — ``Completed``, ``Failed`` with the step and its cause,
or ``refused`` with the message —, seconds from submit to the end) and the counts.
Results: ``.bench/azureml_pipelines.json`` and ``.bench/azureml_pipelines.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from _measure import markdown_table, run_header, say
from _servers import Processes, Server, client_env, start_shipyard
from shipyard.client.client import Client
from shipyard.domain.jobs import Job
from shipyard.errors import ShipyardError

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
MIRROR = Path("/work/.mirror/Azure+azureml-examples/repo")
INDEX = ROOT / "tests" / "unit" / "specs" / "fixtures" / "azureml_pipelines" / "index.txt"
CLUSTER_FILE = "cli/resources/compute/cluster-basic.yml"
PYENV = Path.home() / ".pyenv" / "versions"
TERMINAL = {"Completed", "Failed", "Canceled"}

#: Assets an example makes some other way than with a file in its folder.
KNOWN_MISSING = {
    "credit-default-reference": " (the example's notebook builds it from"
    " https://azuremlexamples.blob.core.windows.net/datasets/credit_card/… and uploads it to a datastore)",
}
_URL_HOST = re.compile(r"\b(?:https?|wasbs?|abfss?)://(?:[^@/\s']+@)?(?P<host>[A-Za-z0-9.-]+)")


@dataclass
class Outcome:
    pipeline: str
    group: str  # "local components", "pipeline component", "registered components", "nested pipelines"
    result: str  # Completed | Failed | Canceled | refused | timeout
    detail: str = ""  # the failed step and its cause, or the refusal's message
    seconds: float | None = None
    job: str | None = None
    steps: dict[str, str] = field(default_factory=dict)  # step → its status in the report


# -- the examples, out of the repository ---------------------------------------------------


def _root_of(rel: str) -> str:
    """The example's folder: the file's own, or its 4th-level ancestor for deeper files
    (a monitoring example's pipeline sits in ``configurations/`` and names ``../code``)."""
    parts = PurePosixPath(rel).parts
    return str(PurePosixPath(*parts[:4])) if len(parts) > 5 else str(PurePosixPath(rel).parent)


def extract(examples: Path, folders: list[str], dest: Path) -> list[str]:
    """Copy ``folders`` (and everything under them) from a checkout or a bare mirror to
    ``dest``; return the files a bare mirror lists but does not hold (large ones may be absent)."""
    if (examples / "cli").is_dir():
        for folder in folders:
            shutil.copytree(examples / folder, dest / folder, dirs_exist_ok=True)
        return []
    git = ["git", "-C", str(examples)]
    listing = subprocess.run(
        [*git, "ls-tree", "-r", "-z", "HEAD", "--", *folders], check=True, capture_output=True
    )
    entries: list[tuple[str, str]] = []
    for item in listing.stdout.split(b"\0"):
        if item:
            meta, raw_path = item.split(b"\t", 1)
            entries.append((meta.split()[2].decode(), raw_path.decode()))
    batch = subprocess.run(
        [*git, "cat-file", "--batch"], input=b"".join(f"{sha}\n".encode() for sha, _ in entries),
        check=True, capture_output=True,
    )  # fmt: skip
    out, at = batch.stdout, 0
    missing: list[str] = []
    for _sha, path in entries:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        if header[-1] == b"missing":
            missing.append(path)
            at = end + 1
            continue
        size = int(header[2])
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(out[end + 1 : end + 1 + size])
        at = end + 1 + size + 1
    return missing


def _yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    return data if isinstance(data, dict) else {}


def _group(tree: Path, rel: str) -> str | None:
    """Which of the runnable kinds the pipeline is; None when a step is not a command step
    (or names a component that is neither a local file nor one in the example's folder)."""
    path = tree / rel
    data = _yaml(path)
    if data.get("component") and not data.get("jobs"):
        target = _yaml(path.parent / str(data["component"]).removeprefix("file:"))
        steps = [s for s in (target.get("jobs") or {}).values() if isinstance(s, dict)]
        kind = _commands(path.parent, steps, tree / _root_of(rel)) if steps else None
        return "pipeline component" if kind else None
    steps = [s for s in (data.get("jobs") or {}).values() if isinstance(s, dict)]
    kind = _commands(path.parent, steps, tree / _root_of(rel)) if steps else None
    groups = {"local": "local components", "registered": "registered components"}
    return {**groups, "nested": "nested pipelines"}.get(kind or "")


def _commands(folder: Path, steps: list[dict[str, Any]], example: Path | None) -> str | None:
    registered = nested = False
    for step in steps:
        component = step.get("component")
        target = _pipeline_file(folder, step)
        if target is not None:  # a nested pipeline: runnable when its own steps are
            inner = [s for s in (_yaml(target).get("jobs") or {}).values() if isinstance(s, dict)]
            kind = _commands(target.parent, inner, example) if inner else None
            if kind is None:
                return None
            nested, registered = True, registered or kind == "registered"
            continue
        if step.get("type", "command") != "command":
            return None
        if not isinstance(component, str):
            continue
        if name := _named(component):
            # Registered from the example's own file, as its README says; a name defined
            # nowhere in the folder is one of Azure's built-in or registry components.
            found = _file_named(example, name, "component") if example else None
            if found is None or _yaml(found).get("type", "command") != "command":
                return None
            registered = True
        elif component.startswith("azureml:"):
            return None  # azureml://registries/…: Azure's registries
        elif _yaml(folder / component.removeprefix("file:")).get("type", "command") != "command":
            return None
    return "nested" if nested else "registered" if registered else "local"


def _pipeline_file(folder: Path, step: dict[str, Any]) -> Path | None:
    """The local pipeline component file a nested pipeline step names (None: not one)."""
    component = step.get("component")
    if not isinstance(component, str) or component.startswith("azureml:"):
        return None
    path = folder / component.removeprefix("file:")
    if step.get("type") == "pipeline" or (path.is_file() and _yaml(path).get("type") == "pipeline"):
        return path
    return None


def _all_steps(folder: Path, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps, with those of nested pipelines (their component files) in place of them."""
    out: list[dict[str, Any]] = []
    for step in steps:
        target = _pipeline_file(folder, step)
        if target is None:
            out.append(step)
            continue
        inner = [s for s in (_yaml(target).get("jobs") or {}).values() if isinstance(s, dict)]
        out.extend(_all_steps(target.parent, inner))
    return out


# -- what the files name with azureml: ---------------------------------------------------------

_REF = re.compile(r"^azureml:(?P<name>[A-Za-z0-9_.-]+?)(?:@[\w.-]+|:[\w.-]+)?$")


def _named(value: object) -> str | None:
    if isinstance(value, str) and not value.startswith("azureml://") and (m := _REF.match(value)):
        return m["name"]
    return None


def references(path: Path) -> dict[str, set[str]]:
    """Computes, components and data assets the pipeline names by ``azureml:<name>``."""
    data = _yaml(path)
    found: dict[str, set[str]] = {"compute": set(), "component": set(), "data": set()}
    if data.get("component") and not data.get("jobs"):  # its steps are the pipeline component's
        inner = _yaml(path.parent / str(data["component"]).removeprefix("file:"))
        data = {**data, "jobs": inner.get("jobs") or {}}
    settings = data.get("settings") or {}
    steps = [s for s in (data.get("jobs") or {}).values() if isinstance(s, dict)]
    steps = _all_steps(path.parent, steps)
    for value in [data.get("compute"), settings.get("default_compute"), *(s.get("compute") for s in steps)]:
        if isinstance(value, str) and "${{" not in value:
            found["compute"].add(_named(value) or value)
    for step in steps:
        if name := _named(step.get("component")):
            found["component"].add(name)
    inputs = [data.get("inputs") or {}, *((s.get("inputs") or {}) for s in steps)]
    for value in (v for block in inputs for v in block.values()):
        # a model (mlflow_model, custom_model) is registered by a training run, not a file
        is_data = isinstance(value, dict) and not str(value.get("type", "")).endswith("_model")
        if is_data and (name := _named(value.get("path"))):
            found["data"].add(name)
    # serverless: Azure's "pick machines for me"; the steps run on the default target
    found["compute"] -= {"local", "serverless"}
    return found


def _file_named(folder: Path, name: str, kind: str) -> Path | None:
    """The YAML file under ``folder`` that defines the component or data asset ``name``."""
    for candidate in sorted(folder.rglob("*.y*ml")):
        try:
            data = _yaml(candidate)
        except yaml.YAMLError:
            continue
        if data.get("name") != name:
            continue
        is_data = data.get("type") in {"uri_folder", "uri_file", "mltable"} and "command" not in data
        if (kind == "data") == is_data:
            return candidate
    return None


class Registrar:
    """Registers each named resource once, with the CLI a user would type."""

    def __init__(self, server: Server, tree: Path) -> None:
        self.server = server
        self.tree = tree
        self.done: dict[tuple[str, str], str] = {}  # (kind, name) → "" or why it failed

    def _cli(self, *args: str) -> str:
        cli = [sys.executable, "-m", "shipyard", *args]
        proc = subprocess.run(
            cli, check=False, capture_output=True, text=True, env=client_env(self.server), timeout=300
        )
        return "" if proc.returncode == 0 else (proc.stderr.strip() or proc.stdout.strip())

    def ensure(self, kind: str, name: str, folder: Path) -> str:
        """'' when ``name`` is registered; else why it could not be."""
        key = (kind, name)
        if key in self.done:
            return self.done[key]
        if kind == "compute":
            why = self._cli("compute", "create", "-f", str(self.tree / CLUSTER_FILE), "--name", name)
            label = f"compute create -f {CLUSTER_FILE} --name {name}"
        else:
            found = _file_named(folder, name, kind)
            if found is None:
                why = f"no {kind} file named {name!r} in {folder.relative_to(self.tree)}"
                why += KNOWN_MISSING.get(name, "")
                label = f"{kind} {name}"
            else:
                why = self._cli(kind, "create", "-f", str(found))
                label = f"{kind} create -f {found.relative_to(self.tree)}"
        say(f"shipyard {label}: {why or 'ok'}")
        self.done[key] = why
        return why


# -- running one pipeline ----------------------------------------------------------------------


def _failed_steps(client: Client, job: Job) -> str:
    """Each failed step with its cause and the last lines of its log; skipped ones counted."""
    steps = job.report.get("steps") or {}
    children = {c.step: c for c in client.jobs.list(parent=job.name)}
    parts = []
    for step, info in steps.items():
        if info.get("status") != "failed":
            continue
        child = children.get(step)
        failure = child.failure if child else None
        if failure is None:
            parts.append(f"step {step}: {info.get('why', 'failed')}")
            continue
        tail = " / ".join(line.strip() for line in failure.log_tail.strip().splitlines()[-3:] if line.strip())
        parts.append(
            f"step {step} ({failure.cause}): {failure.message}" + (f" — log: {tail}" if tail else "")
        )
    skipped = [s for s, info in steps.items() if info.get("status") in {"skipped", "canceled"}]
    if skipped:
        parts.append(f"not run: {', '.join(skipped)}")
    if not parts and job.failure is not None:
        parts.append(job.failure.message)
    return "; ".join(parts)


def run_one(
    client: Client, registrar: Registrar, tree: Path, rel: str, group: str, timeout: float, *, reuse: bool
) -> Outcome:
    path = tree / rel
    folder = path.parent  # the pipeline's own folder holds the files its README registers
    outcome = Outcome(rel, group, "refused")
    for kind, names in references(path).items():
        for name in sorted(names):
            if why := registrar.ensure(kind, name, folder):
                outcome.detail = f"could not register {kind} {name}: {why}"
                return outcome
    started = time.monotonic()
    try:
        job = client.jobs.create(path, [] if reuse else ["settings.force_rerun=true"])
    except ShipyardError as exc:
        outcome.detail = str(exc).replace(str(tree) + "/", "")
        return outcome
    outcome.job = job.name
    deadline = started + timeout
    while job.status.value not in TERMINAL and time.monotonic() < deadline:
        time.sleep(0.25)
        job = client.jobs.get(job.name)
    outcome.seconds = round(time.monotonic() - started, 2)
    outcome.steps = {s: str(i.get("status")) for s, i in (job.report.get("steps") or {}).items()}
    if job.status.value not in TERMINAL:
        outcome.result = "timeout"
        outcome.detail = f"still {job.status.value} after {timeout:.0f} s; steps: {outcome.steps}"
        client.jobs.cancel(job.name)
        return outcome
    outcome.result = job.status.value
    if outcome.result != "Completed":
        outcome.detail = _network(_failed_steps(client, job))
    return outcome


def _network(detail: str) -> str:
    """``detail`` with, for each URL host it names, whether this machine reaches it: an input
    at a URL fails here because there is no network, which the message alone may not say."""
    for host in dict.fromkeys(m["host"] for m in _URL_HOST.finditer(detail)):
        try:
            socket.create_connection((host, 443), timeout=5).close()
        except OSError as exc:
            detail += f" [from this machine, {host}:443 is unreachable: {exc.strerror or exc}]"
    return detail


# -- the whole run -----------------------------------------------------------------------------


def _write(outcomes: list[Outcome], missing: list[str], seconds: float, examples: Path, out: Path) -> None:
    counts = Counter(o.result for o in outcomes)
    by_group = Counter((o.group, o.result) for o in outcomes)
    rows: list[tuple[str, ...]] = [
        ("pipeline", "result", "steps", "s", "why (failed step and cause, or refusal)")
    ]
    for o in outcomes:
        secs = "" if o.seconds is None else f"{o.seconds:.1f}"
        steps = ", ".join(f"{n} {s}" for s, n in Counter(o.steps.values()).most_common())
        rows.append(
            (o.pipeline, o.result, steps, secs, o.detail.replace("\n", " ").replace("|", "\\|")[:400])
        )
    lines = [
        f"# Azure ML's command-only pipeline examples on a local target ({time.strftime('%Y-%m-%d')})",
        "",
        f"Examples: `{examples}`; {len(outcomes)} pipelines in {seconds:.0f} s; "
        + ", ".join(f"{n} {r}" for r, n in counts.most_common())
        + ".",
        "",
        *(f"- {g}: " + ", ".join(f"{n} {r}" for (gg, r), n in sorted(by_group.items()) if gg == g)
          for g in sorted({o.group for o in outcomes})),
        "",
        *markdown_table(rows),
    ]  # fmt: skip
    if missing:
        lines += ["", "Files the mirror lists but does not hold: " + ", ".join(missing)]
    (out / "azureml_pipelines.md").write_text("\n".join(lines) + "\n")
    data = {
        **run_header(argparse.Namespace(pipelines=len(outcomes)), False),
        "examples": str(examples),
        "seconds": seconds,
        "counts": dict(counts),
        "missing_files": missing,
        "outcomes": [asdict(o) for o in outcomes],
    }
    (out / "azureml_pipelines.json").write_text(json.dumps(data, indent=2) + "\n")
    print("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--examples", type=Path, default=MIRROR, help="checkout or bare mirror of azureml-examples"
    )
    parser.add_argument("--only", action="append", default=[], help="run pipelines whose path contains this")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds per pipeline (first: env builds)"
    )
    parser.add_argument("--python-dir", type=Path, action="append", default=None,
                        help="a folder with a python3.X, put on the server's PATH (repeatable;"
                             " default: each of pyenv's versions/*/bin)")  # fmt: skip
    parser.add_argument(
        "--keep", action="store_true", help="keep the server's home and the extracted examples"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="let steps be reused (default: settings.force_rerun=true)"
    )
    args = parser.parse_args()
    # A SIGTERM unwinds like Ctrl-C, so the server this starts is stopped with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    examples: Path = args.examples.expanduser()
    if not (examples / "cli").is_dir() and not (examples / "HEAD").is_file():
        print(
            f"no copy of Azure/azureml-examples at {examples} (a checkout or a bare mirror): nothing measured"
        )
        return 0
    pipelines = [
        rel
        for kind, rel in (line.split(" ", 1) for line in INDEX.read_text().splitlines())
        if kind == "pipeline"
    ]
    work = BENCH / "azureml_pipelines"
    shutil.rmtree(work, ignore_errors=True)
    tree = work / "examples"
    tree.mkdir(parents=True)
    pipelines = [p for p in pipelines if not args.only or any(o in p for o in args.only)]
    folders = sorted({_root_of(p) for p in pipelines} | {str(PurePosixPath(CLUSTER_FILE).parent)})
    say(f"extracting {len(folders)} example folders from {examples}")
    missing = extract(examples, folders, tree)
    chosen = [(rel, group) for rel in pipelines if (tree / rel).is_file() and (group := _group(tree, rel))]
    say(f"{len(chosen)} command-only pipelines of {len(pipelines)}")

    pythons = args.python_dir if args.python_dir is not None else sorted(PYENV.glob("3.*/bin"), reverse=True)
    env = {"PATH": os.pathsep.join([*map(str, pythons), os.environ.get("PATH", "")])}
    say("pythons on the server's PATH: " + (", ".join(map(str, pythons)) or "none added"))
    outcomes: list[Outcome] = []
    started = time.monotonic()
    with Processes() as procs:
        server = start_shipyard(procs, sys.executable, work / "home", work / "shipyard.log", ROOT, env=env)
        say(f"shipyard up at {server.url} in {server.seconds_to_healthy:.1f} s")
        registrar = Registrar(server, tree)
        with Client(server.url, token=server.token) as client:
            for rel, group in chosen:
                say(f"{rel} …")
                outcome = run_one(client, registrar, tree, rel, group, args.timeout, reuse=args.reuse)
                say(f"  {outcome.result} {outcome.seconds or ''} {outcome.detail[:300]}")
                outcomes.append(outcome)
    _write(outcomes, missing, time.monotonic() - started, examples, BENCH)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
