"""shipyard monitor …

``monitor compare`` runs here, on this machine: it reads two Parquet files and needs no
server. Its exit status follows ``diff``'s convention so CI can tell the cases apart: 0 when
compared (drift or not, unless ``--fail-on-drift``), 1 for drift with ``--fail-on-drift``,
2 when the files could not be compared at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from shipyard.cli._output import (
    OutputFormat,
    OutputOption,
    cell,
    new_table,
    print_error,
    print_json,
    print_tables,
)
from shipyard.errors import ShipyardError

__all__ = ["app"]

app = typer.Typer(help="Model monitoring: compare data, run and show monitors.", no_args_is_help=True)

# "Could not compare" must differ from "drifted" (1, with --fail-on-drift) for a CI job.
_CANNOT_COMPARE = 2


def _cannot_compare(message: str, code: str) -> NoReturn:
    print_error(message, code)
    raise typer.Exit(_CANNOT_COMPARE)


@app.command()
def compare(
    reference: Annotated[
        Path,
        typer.Option(
            "--reference", metavar="PATH", help="Parquet file of the reference data (e.g. training)."
        ),
    ],
    current: Annotated[
        Path,
        typer.Option(
            "--current", metavar="PATH", help="Parquet file of the data to check, with the same columns."
        ),
    ],
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            metavar="COL",
            help="The label or prediction column: compared too (prediction drift), but not a feature,"
            " so it counts neither toward drifted_share nor for --fail-on-drift.",
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report", metavar="FILE", help="Also write a self-contained HTML report with the histograms."
        ),
    ] = None,
    fail_on_drift: Annotated[
        bool,
        typer.Option("--fail-on-drift", help="Exit with status 1 when any feature drifted (for CI)."),
    ] = False,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Compare two Parquet files column by column, with Azure ML's default drift metrics and
    thresholds (normalized Wasserstein distance for numbers, Jensen-Shannon distance for
    categories), on this machine. Exit status: 0 when compared, 1 with --fail-on-drift when a
    feature drifted, 2 when the files cannot be compared.
    """
    from shipyard.services.monitoring.compare import compare as compare_files
    from shipyard.services.monitoring.report import compare_report, render_report

    try:
        result = compare_files(reference, current, target=target, histograms=report is not None)
        if report is not None:
            page = render_report(compare_report(result, reference=str(reference), current=str(current)))
            report.write_text(page, encoding="utf-8")
    except ShipyardError as exc:
        _cannot_compare(exc.message, exc.code)
    except OSError as exc:  # the report's folder is missing or not writable
        _cannot_compare(f"{exc.filename or report}: {exc.strerror or exc}", "INVALID_ARGUMENT")
    verdicts = {"columns": result["columns"], "drifted_share": result["drifted_share"]}
    if output is OutputFormat.JSON:
        print_json(verdicts)
    else:
        _print_table(verdicts, target)
    if report is not None:
        typer.echo(f"report: {report}", err=True)
    if fail_on_drift and verdicts["drifted_share"] > 0:
        raise typer.Exit(1)


def _print_table(verdicts: dict[str, Any], target: str | None) -> None:
    from shipyard.cli._output import fmt_number

    table = new_table(
        "column", "type", "metric", "value", "threshold", "drifted", priority=("column", "drifted")
    )
    for row in verdicts["columns"]:
        style = "bold red" if row["drifted"] else ""
        name = f"{row['column']} (target)" if row["column"] == target else row["column"]
        table.add_row(
            cell(name, style),
            cell(row["type"]),
            cell(row["metric"]),
            cell(fmt_number(row["value"])),
            cell(fmt_number(row["threshold"])),
            cell("yes" if row["drifted"] else "no", style),
        )
    features = {row["column"] for row in verdicts["columns"] if row["column"] != target}
    drifted = {row["column"] for row in verdicts["columns"] if row["drifted"] and row["column"] != target}
    print_tables(
        table, footer=f"{len(drifted)} of {len(features)} features drifted ({verdicts['drifted_share']:.0%})"
    )
