"""A deployment's log rotates by size and is read back across its files."""

from __future__ import annotations

from pathlib import Path

from shipyard.serving._deploylog import DeploymentLog, tail


def _numbers(text: str) -> list[int]:
    return [int(line.rsplit(" ", 1)[1]) for line in text.splitlines()]


def test_past_max_bytes_the_log_rotates_and_the_oldest_file_is_dropped(tmp_path: Path) -> None:
    log = DeploymentLog(tmp_path / "deployment.log", max_bytes=2000, backups=2)
    for i in range(400):
        log.write("worker 0", f"line {i}")
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["deployment.log", "deployment.log.1", "deployment.log.2"]
    assert all(p.stat().st_size < 2000 + 100 for p in tmp_path.iterdir())
    # what is left is the newest lines, in order, without a gap
    everything = _numbers(tail(tmp_path / "deployment.log", 10_000))
    assert everything == list(range(everything[0], 400))
    assert everything[0] > 0  # the oldest lines are gone


def test_tail_reads_across_a_rotation(tmp_path: Path) -> None:
    log = DeploymentLog(tmp_path / "deployment.log", max_bytes=2000, backups=3)
    for i in range(60):
        log.write("runtime", f"line {i}")
    assert (tmp_path / "deployment.log.1").exists()
    current = (tmp_path / "deployment.log").read_text().count("\n")
    assert current < 40  # the current file alone cannot give 40 lines
    assert _numbers(log.tail(40)) == list(range(20, 60))
    assert log.tail(0) == ""


def test_a_log_below_the_limit_is_one_file(tmp_path: Path) -> None:
    log = DeploymentLog(tmp_path / "deployment.log")
    log.event("worker 0 started")
    log.write("worker 0", "a\nb")
    assert [p.name for p in tmp_path.iterdir()] == ["deployment.log"]
    lines = log.tail(10).splitlines()
    assert [line.split(" ", 1)[1] for line in lines] == [
        "[runtime] worker 0 started",
        "[worker 0] a",
        "[worker 0] b",
    ]
