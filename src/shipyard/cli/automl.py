"""shipyard automl … — AutoML without a job file; and the leaderboard ``job show`` prints."""

from __future__ import annotations

import enum
import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli._output import (
    OutputFormat,
    OutputOption,
    TokenOption,
    UrlOption,
    WorkspaceOption,
    cell,
    new_table,
    parse_duration,
)

if TYPE_CHECKING:
    from shipyard.cli._output import CliTable
    from shipyard.domain.jobs import Job

__all__ = ["app", "automl_tables", "job_file"]

app = typer.Typer(
    help="AutoML: point at a table and a target column; trials search algorithms, the best model is"
    " registered.",
    no_args_is_help=True,
)


class Task(enum.StrEnum):
    classification = "classification"
    regression = "regression"
    forecasting = "forecasting"


def job_file(
    *,
    data: str,
    target: str,
    task: str,
    primary_metric: str | None = None,
    timeout_minutes: int | None = None,
    max_trials: int | None = None,
    max_concurrent_trials: int | None = None,
    time_column: str | None = None,
    series_ids: list[str] | None = None,
    horizon: int | None = None,
    compute: str | None = None,
    experiment_name: str | None = None,
    model_name: str | None = None,
) -> dict[str, Any]:
    """The ``type: automl`` job file the options describe (Azure's shape)."""
    if not data.startswith(("azureml:", "http://", "https://", "runs:/")) and "://" not in data:
        local = Path(data).expanduser().resolve()
        kind = "mltable" if (local / "MLTable").is_file() else "uri_file" if local.is_file() else "uri_folder"
        path = str(local)
    else:
        kind, path = "mltable" if data.startswith("azureml:") else "uri_file", data
    spec: dict[str, Any] = {
        "type": "automl",
        "task": task,
        "target_column_name": target,
        "training_data": {"type": kind, "path": path},
        "experiment_name": experiment_name or "automl",
    }
    if primary_metric:
        spec["primary_metric"] = primary_metric
    if compute:
        spec["compute"] = compute
    if model_name:
        spec["model_name"] = model_name
    limits = {
        "timeout_minutes": timeout_minutes,
        "max_trials": max_trials,
        "max_concurrent_trials": max_concurrent_trials,
    }
    spec["limits"] = {k: v for k, v in limits.items() if v is not None}
    if task == "forecasting" or time_column or series_ids or horizon:
        forecasting: dict[str, Any] = {"time_column_name": time_column or ""}
        if series_ids:
            forecasting["time_series_id_column_names"] = series_ids
        if horizon:
            forecasting["forecast_horizon"] = horizon
        spec["forecasting"] = forecasting
    return spec


@app.command("run")
def run(
    data: Annotated[
        str,
        typer.Option(
            "--data",
            help="The table: azureml:NAME@latest or azureml:NAME:VERSION (a data asset), or a local"
            " CSV/Parquet file or folder (an MLTable folder too), uploaded.",
        ),
    ],
    target: Annotated[str, typer.Option("--target", help="The column to predict.")],
    task: Annotated[Task, typer.Option("--task", help="classification, regression or forecasting.")],
    primary_metric: Annotated[
        str | None,
        typer.Option(
            "--primary-metric",
            help="Azure's metric name (default: accuracy / spearman_correlation /"
            " normalized_root_mean_squared_error).",
        ),
    ] = None,
    timeout: Annotated[
        str | None,
        typer.Option("--timeout", help="The search's time budget, e.g. 10m or 1h (whole minutes)."),
    ] = None,
    max_trials: Annotated[
        int | None, typer.Option("--max-trials", min=1, help="At most this many trials.")
    ] = None,
    max_concurrent_trials: Annotated[
        int | None, typer.Option("--max-concurrent-trials", min=1, help="Trials run at once (default 1).")
    ] = None,
    time_column: Annotated[
        str | None, typer.Option("--time-column", help="Forecasting: the column of dates or times.")
    ] = None,
    series_ids: Annotated[
        str | None,
        typer.Option("--series-ids", help="Forecasting: the columns naming a series, comma-separated."),
    ] = None,
    horizon: Annotated[
        int | None, typer.Option("--horizon", min=1, help="Forecasting: how many periods ahead.")
    ] = None,
    compute: Annotated[
        str | None, typer.Option("--compute", help="The compute target the trials run on.")
    ] = None,
    experiment_name: Annotated[
        str | None, typer.Option("--experiment-name", help="The experiment (default: automl).")
    ] = None,
    model_name: Annotated[
        str | None,
        typer.Option("--model-name", help="The registered model's name (default: EXPERIMENT-model)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Name of the job (default: generated).")
    ] = None,
    stream: Annotated[
        bool, typer.Option("--stream", help="Follow the job's log; exit 0 only if it Completed.")
    ] = False,
    output: OutputOption = OutputFormat.TABLE,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """Submit an AutoML job without writing its file: the table, the target column and the
    task; trials try algorithms within the budget and the best model is registered. The file
    it submits is printed with --output json's job spec (docs/automl.md)."""
    import yaml

    from shipyard.cli.jobs import create

    minutes = None if timeout is None else max(1, math.ceil(parse_duration(timeout, "--timeout") / 60))
    spec = job_file(
        data=data,
        target=target,
        task=task.value,
        primary_metric=primary_metric,
        timeout_minutes=minutes,
        max_trials=max_trials,
        max_concurrent_trials=max_concurrent_trials,
        time_column=time_column,
        series_ids=[s.strip() for s in series_ids.split(",") if s.strip()] if series_ids else None,
        horizon=horizon,
        compute=compute,
        experiment_name=experiment_name,
        model_name=model_name,
    )
    with tempfile.TemporaryDirectory(prefix="shipyard-automl-") as folder:
        file = Path(folder) / "automl.yml"
        file.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        create(
            file=file,
            set_=None,
            name=name,
            stream=stream,
            output=output,
            url=url,
            workspace=workspace,
            token=token,
        )


def automl_tables(job: Job) -> list[CliTable]:
    """What ``job show`` adds for an automl job: the leaderboard and the featurization."""
    board = new_table("rank", "trial", "algorithm", "score", "duration", "status", title="leaderboard")
    rows = job.report.get("leaderboard")
    rank = 0
    for row in rows if isinstance(rows, list) else []:
        score = row.get("score")
        if score is not None:
            rank += 1
        board.add_row(
            cell(("★ " if row.get("best") else "") + (str(rank) if score is not None else "-"), "bold"),
            cell(str(row.get("step", row.get("trial", "")))),
            cell(str(row.get("algorithm", ""))),
            cell("" if score is None else f"{score:.4g}"),
            cell(f"{float(row.get('duration_s') or 0):.1f} s"),
            cell(str(row.get("status", "")) + (f": {row['message']}" if row.get("message") else "")),
        )
    featurization = new_table("setting", "value", title="featurization", show_header=False)
    settings = job.spec.get("settings") if isinstance(job.spec.get("settings"), dict) else {}
    feat = settings.get("featurization") if isinstance(settings, dict) else None
    if isinstance(feat, dict):
        featurization.add_row(cell("mode", "bold"), cell(str(feat.get("mode", "auto"))))
        for key in ("blocked_transformers", "column_types", "imputers"):
            if feat.get(key):
                featurization.add_row(cell(key.replace("_", " "), "bold"), cell(_text(feat[key])))
    if isinstance(settings, dict):
        featurization.add_row(cell("primary metric", "bold"), cell(str(settings.get("primary_metric", ""))))
        featurization.add_row(cell("algorithms", "bold"), cell(", ".join(job.spec.get("algorithms") or [])))
    tables = [board, featurization]
    final = job.report.get("final")
    chosen = final.get("featurization") if isinstance(final, dict) else None
    if isinstance(chosen, list) and chosen:
        columns = new_table("column", "kind", "encoder", "imputer", title="featurization chosen (per column)")
        for column in chosen:
            if isinstance(column, dict):
                columns.add_row(
                    cell(str(column.get("name", "")), "bold"),
                    cell(str(column.get("kind", ""))),
                    cell(str(column.get("encoder", ""))),
                    cell(str(column.get("imputer", ""))),
                )
        tables.append(columns)
    importance = final.get("importance") if isinstance(final, dict) else None
    if isinstance(importance, dict) and importance:
        top = new_table("feature", "importance", title="permutation importance (the registered model)")
        for feature, value in importance.items():
            top.add_row(cell(str(feature), "bold"), cell(f"{float(value):.4g}"))
        tables.append(top)
    return tables


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
