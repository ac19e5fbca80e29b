"""Batch scoring of 1,000,000 rows into PostgreSQL, beside a plain ``DataFrame.to_sql``.

    .venv/bin/python benchmarks/batch.py                   # 1,000,000 rows, 3 runs each (~3 min)
    .venv/bin/python benchmarks/batch.py --quick           # 200,000 rows, 1 run each
    .venv/bin/python benchmarks/batch.py --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test

One Shipyard server (``python -m shipyard up``, SQLite metadata, a fresh home under
``.bench/``) and one fresh PostgreSQL database created on ``--pg-url``'s server, both gone
at the end (also on an error, Ctrl-C or SIGTERM). A LogisticRegression on 4 float features
is trained and registered through the ``mlflow`` client; the rows are a CSV data asset.

- **Shipyard**: ``batch-endpoint invoke`` of a deployment of that model with
  ``mini_batch_size: 50000``, ``max_concurrency_per_instance: 2`` and
  ``output: {sql_url, table}``, timed three ways: the mini-batch phase inside the job (score,
  COPY each mini-batch in its own transaction, write predictions.csv), the whole job process
  (plus importing mlflow, loading the model, reading the CSV) — both from the job's
  ``batch_summary.json`` — and invoke → ``Completed`` as the client sees it.
- **The anchor**: the same predictions (``job_id, mini_batch, row, prediction``) scored
  in this process, then written with ``DataFrame.to_sql(table, engine, index=False)`` — only
  the write is timed, so the ratio understates ours, which also reads and scores.

Medians of ``--repeat`` runs, in turns. Results: ``.bench/batch.json`` and ``.bench/batch.md``.
See docs/benchmarks.md#batch-scoring.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from _measure import median, run_header, say
from _servers import Processes, Server, start_shipyard
from shipyard.client.client import Client

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / ".bench"
DEFAULT_PG = os.environ.get("SHIPYARD_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MINI_BATCH = 50_000

DEPLOYMENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json
name: bench
endpoint_name: bench-batch
model: azureml:bench-clf@latest
compute: azureml:local
resources:
  instance_count: 1
settings:
  max_concurrency_per_instance: 2
  mini_batch_size: {mini_batch}
  retry_settings:
    max_retries: 0
    timeout: 600
output:
  sql_url: {sql_url}
  table: predictions
"""


@dataclass
class Sizes:
    rows: int
    repeat: int
    mini_batch_size: int = MINI_BATCH


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="200,000 rows, one run each")
    parser.add_argument("--rows", type=int, default=None, help="rows to score (default 1,000,000)")
    parser.add_argument("--repeat", type=int, default=None, help="runs of each side (default 3)")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="a PostgreSQL server to create a database on")
    parser.add_argument("--keep", action="store_true", help="keep the work folder under .bench/")
    return parser.parse_args()


def _terminate(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


class Database:
    """A fresh database on the server of ``admin_url``, dropped on exit."""

    def __init__(self, admin_url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.name = f"shipyard_bench_{uuid.uuid4().hex[:10]}"
        base = make_url(admin_url)
        self.admin = create_engine(
            base.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
        )
        self.url = base.set(database=self.name).render_as_string(hide_password=False)

    def __enter__(self) -> Database:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        return self

    def __exit__(self, *exc: object) -> None:
        from sqlalchemy import text

        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def deployment_sql_url(client: Client, pg_url: str) -> str:
    """``pg_url`` as the deployment's ``sql_url``: the server refuses a password in clear, so a
    password becomes the secret it asks for (``${{secrets.BENCH_PG_PASSWORD}}``)."""
    from sqlalchemy.engine import URL, make_url

    url = make_url(pg_url)
    if not url.password:
        return pg_url
    client.secrets.set("BENCH_PG_PASSWORD", str(url.password))
    no_password = URL.create(url.drivername, url.username, None, url.host, url.port, url.database, url.query)
    bare = no_password.render_as_string(hide_password=False)
    scheme, _, rest = bare.partition("://")
    return f"{scheme}://{rest.replace('@', ':${{secrets.BENCH_PG_PASSWORD}}@', 1)}"


def prepare(client: Client, server: Server, work: Path, sizes: Sizes, pg_url: str) -> Any:
    """Register the model, the data asset, the endpoint and its deployment; the model object."""
    import mlflow
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(sizes.rows, 4)), columns=["f0", "f1", "f2", "f3"])
    target = (frame["f0"] + frame["f1"] * 0.5 - frame["f2"] > 0).astype(int)
    model = LogisticRegression().fit(frame.head(10_000), target.head(10_000))
    mlflow.set_tracking_uri(server.url)
    os.environ.pop("MLFLOW_TRACKING_TOKEN", None)  # a user's, for another server
    if server.token:
        os.environ["MLFLOW_TRACKING_TOKEN"] = server.token
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            model, name="model", input_example=frame.head(2), registered_model_name="bench-clf"
        )
    data = work / "rows.csv"
    frame.to_csv(data, index=False)
    say(f"data: {sizes.rows:,} rows, {data.stat().st_size / 1e6:.0f} MB")
    client.create_data_asset("bench-rows", data, type="uri_file")
    (work / "ep.yml").write_text("name: bench-batch\n")
    client.batch_endpoints.create(work / "ep.yml")
    sql_url = deployment_sql_url(client, pg_url)
    (work / "dep.yml").write_text(DEPLOYMENT.format(mini_batch=sizes.mini_batch_size, sql_url=sql_url))
    client.batch_deployments.create(work / "dep.yml")
    return model, frame


def ours(client: Client, work: Path, index: int) -> dict[str, float]:
    started = time.perf_counter()
    job = client.batch_endpoints.invoke("bench-batch", "azureml:bench-rows@latest")
    final = client.jobs.wait(job.name, poll_s=0.1)
    wall = time.perf_counter() - started
    if str(final.status) != "Completed":
        raise RuntimeError(f"job {job.name} ended {final.status}: {final.failure}")
    path = client.download_artifact(
        final.run_id, "outputs/batch_summary.json", work / f"summary-{index}.json"
    )
    summary = json.loads(path.read_text())
    return {
        "rows": summary["rows"],
        "scoring_s": summary["scoring_seconds"],
        "in_job_s": summary["seconds"],
        "invoke_to_completed_s": wall,
    }


def anchor(model: Any, frame: Any, pg_url: str, index: int) -> dict[str, float]:
    import numpy as np
    import pandas as pd
    from sqlalchemy import create_engine

    predictions = pd.DataFrame(
        {
            "job_id": f"to-sql-{index}",
            "mini_batch": np.arange(len(frame)) // MINI_BATCH,
            "row": np.arange(len(frame)),
            "prediction": model.predict(frame),
        }
    )
    engine = create_engine(pg_url)
    try:
        started = time.perf_counter()
        predictions.to_sql("predictions_to_sql", engine, if_exists="append", index=False)
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return {"rows": len(predictions), "to_sql_s": seconds}


def count_rows(pg_url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            ours_rows = conn.execute(text("SELECT count(*) FROM predictions")).scalar_one()
            theirs = conn.execute(text("SELECT count(*) FROM predictions_to_sql")).scalar_one()
    finally:
        engine.dispose()
    return {"shipyard_table": int(ours_rows), "to_sql_table": int(theirs)}


def run(args: argparse.Namespace, sizes: Sizes, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = run_header(sizes, args.quick)
    began = time.perf_counter()
    with Processes() as procs, Database(args.pg_url) as db:
        say(f"starting Shipyard; database {db.name}")
        server = start_shipyard(procs, sys.executable, work / "home", work / "shipyard.log", ROOT)
        client = Client(server.url, token=server.token)
        try:
            model, frame = prepare(client, server, work, sizes, db.url)
            samples: dict[str, list[dict[str, float]]] = {"shipyard": [], "to_sql": []}
            for i in range(sizes.repeat):
                say(f"run {i + 1}/{sizes.repeat}: shipyard batch job")
                samples["shipyard"].append(ours(client, work, i))
                say(f"run {i + 1}/{sizes.repeat}: pandas to_sql")
                samples["to_sql"].append(anchor(model, frame, db.url, i))
            results["samples"] = samples
            results["rows_in_tables"] = count_rows(db.url)
        finally:
            client.close()
    results["machine"]["load_average_after"] = os.getloadavg()
    results["wall_seconds"] = time.perf_counter() - began
    return results


def report(results: dict[str, Any], sizes: Sizes) -> list[str]:
    s = results["samples"]
    rows = sizes.rows
    scoring = median([x["scoring_s"] for x in s["shipyard"]])
    in_job = median([x["in_job_s"] for x in s["shipyard"]])
    wall = median([x["invoke_to_completed_s"] for x in s["shipyard"]])
    to_sql = median([x["to_sql_s"] for x in s["to_sql"]])
    anchor_rate = rows / to_sql

    def line(name: str, seconds: float) -> str:
        rate = rows / seconds
        return f"| {name} | {seconds:.2f} s | {rate:,.0f} | {rate / anchor_rate:.2f}x |"

    counts = results["rows_in_tables"]
    return [
        f"Batch scoring, {rows:,} rows into PostgreSQL, median of {sizes.repeat} run(s)"
        f" ({results['machine']['cpus']} CPUs, {results['date']})",
        "",
        "| measure | time | rows/s | vs to_sql |",
        "|---|---:|---:|---:|",
        line("Shipyard batch job: score + COPY + predictions.csv (the job's mini-batch phase)", scoring),
        line("Shipyard batch job: the whole process (+ model import/load, input read)", in_job),
        line("Shipyard batch job: invoke → Completed (+ queue, inputs copied, finalize)", wall),
        line("pandas `DataFrame.to_sql` of the same predictions (write only)", to_sql),
        "",
        f"- rows in the tables afterwards: {counts['shipyard_table']:,} (Shipyard, {sizes.repeat}"
        f" job(s)), {counts['to_sql_table']:,} (to_sql, {sizes.repeat} run(s))",
        f"- mini_batch_size {sizes.mini_batch_size:,}, max_concurrency_per_instance 2;"
        f" whole benchmark {results['wall_seconds'] / 60:.1f} min",
    ]


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _terminate)
    sizes = Sizes(
        rows=args.rows or (200_000 if args.quick else 1_000_000),
        repeat=args.repeat or (1 if args.quick else 3),
    )
    # `python` in the job's command: this venv's, as for the server.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    work = BENCH / f"batch-{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True)
    try:
        results = run(args, sizes, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    lines = report(results, sizes)
    print("\n".join(lines))
    (BENCH / "batch.json").write_text(json.dumps(results, indent=2, default=str))
    (BENCH / "batch.md").write_text("\n".join(lines) + "\n")
    print(f"results: {BENCH / 'batch.json'}, {BENCH / 'batch.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
