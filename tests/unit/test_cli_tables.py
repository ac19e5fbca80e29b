"""Tables in a terminal: they fit its width, keep every value whole (folded, never cut), say
what they left out, and take --columns; piped, they are never fitted."""

from __future__ import annotations

import re

import pytest
import typer

from shipyard.cli._tables import cell, new_table, parse_columns, plural, print_tables

_STYLE = re.compile(r"\x1b\[[0-9;]*m")
RUN_IDS = ["16200f9d1e2e4753b9b6062bc8f73a77", "38649244a7e445a1a898b8cf77aa0f15"]


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdout is an 80-column terminal to rich."""
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("COLUMNS", "80")


def printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The lines as a terminal shows them: bold and dim taken off."""
    return _STYLE.sub("", capsys.readouterr().out).splitlines()


@pytest.fixture
def piped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    monkeypatch.delenv("COLUMNS", raising=False)


def runs_table() -> object:
    table = new_table(
        "run id", "name", "status", "started", "duration", "metrics.acc", "metrics.loss", "params.solver",
        priority=("run id", "name", "metrics.acc", "status"),
    )  # fmt: skip
    for run_id in RUN_IDS:
        table.add_row(
            cell(run_id), cell("lr-0.001"), cell("FINISHED"), cell("4m ago"), cell("9ms"),
            cell("0.87"), cell("0.051"), cell("lbfgs-with-a-long-name"),
        )  # fmt: skip
    return table


def test_a_wide_table_fits_80_columns_keeps_ids_whole_and_names_what_it_left_out(
    terminal: None, capsys: pytest.CaptureFixture[str]
) -> None:
    print_tables(runs_table(), footer=plural(2, "run"), choosable=True)  # type: ignore[arg-type]
    lines = printed(capsys)
    assert all(len(line) <= 80 for line in lines), lines
    header = lines[0].split()
    # The ranked columns first (run id, name, metrics.acc, status), then left to right.
    assert header[:4] == ["run", "id", "name", "status"]
    assert "metrics.acc" in header
    for run_id in RUN_IDS:
        assert any(run_id in line for line in lines)  # whole: "162…" could not be copied
    assert "…" not in "\n".join(lines)
    note = " ".join(line.strip() for line in lines[-3:-1])
    assert note.startswith("left out to fit 80 columns:")
    assert "params.solver" in note
    assert "--columns chooses them" in note
    assert lines[-1] == "2 runs"


def test_columns_chooses_and_orders_the_columns(terminal: None, capsys: pytest.CaptureFixture[str]) -> None:
    print_tables(runs_table(), columns=["params.solver", "run id"], choosable=True)  # type: ignore[arg-type]
    lines = printed(capsys)
    assert lines[0].split() == ["params.solver", "run", "id"]
    assert lines[2].split() == ["lbfgs-with-a-long-name", RUN_IDS[0]]
    assert not any("left out" in line for line in lines)


def test_an_unknown_column_is_a_usage_error_listing_the_choices(terminal: None) -> None:
    with pytest.raises(typer.BadParameter) as caught:
        print_tables(runs_table(), columns=["nme"], choosable=True)  # type: ignore[arg-type]
    assert "no column 'nme' here; choose from: run id, name, status" in str(caught.value)


def test_columns_option_text(terminal: None) -> None:
    assert parse_columns(" name , status,,") == ["name", "status"]
    assert parse_columns(None) is None
    with pytest.raises(typer.BadParameter):
        parse_columns(" , ")


def test_a_long_value_is_folded_onto_more_lines_never_cut(
    terminal: None, capsys: pytest.CaptureFixture[str]
) -> None:
    long_path = "default/2/" + "a" * 150 + "/artifacts"
    info = new_table("field", "value", show_header=False, title="Run x")
    info.add_row(cell("artifacts"), cell(long_path))
    info.add_row(cell("description"), cell("a few words that wrap " * 8))
    print_tables(info)
    lines = printed(capsys)
    assert all(len(line) <= 80 for line in lines)
    folded = "".join(line[len(" artifacts     ") :].strip() for line in lines[1:4])
    assert long_path in folded
    assert not any("left out" in line for line in lines)


def test_piped_output_is_never_fitted(piped: None, capsys: pytest.CaptureFixture[str]) -> None:
    print_tables(runs_table(), footer="2 runs")  # type: ignore[arg-type]
    lines = printed(capsys)
    assert len(lines) == 5  # header, rule, two rows, footer: one line per row, whatever the width
    assert lines[2].split() == [
        RUN_IDS[0],
        "lr-0.001",
        "FINISHED",
        "4m",
        "ago",
        "9ms",
        "0.87",
        "0.051",
        "lbfgs-with-a-long-name",
    ]


@pytest.mark.parametrize(
    ("count", "noun", "irregular", "expected"),
    [
        (1, "job", None, "1 job"),
        (0, "job", None, "0 jobs"),
        (3, "run", None, "3 runs"),
        (1, "entry", "entries", "1 entry"),
        (2, "entry", "entries", "2 entries"),
    ],
)
def test_plural(count: int, noun: str, irregular: str | None, expected: str) -> None:
    assert plural(count, noun, irregular) == expected
