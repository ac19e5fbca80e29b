"""The mini-batch loop of batch scoring: retries, timeouts, the error threshold, and the
rows a script's run() may return."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest

from shipyard.serving.batch._inputs import MiniBatch, mini_batches
from shipyard.serving.batch._models import rows_frame
from shipyard.serving.batch._runner import ThresholdExceeded, run_mini_batches


def _batches(n: int, size: int = 10) -> list[MiniBatch]:
    frame = pd.DataFrame({"x": range(n * size)})
    return [MiniBatch(i, frame=frame.iloc[i * size : (i + 1) * size]) for i in range(n)]


def _run(batches: list[MiniBatch], score, **settings) -> tuple[object, dict[int, int], list[str]]:  # type: ignore[no-untyped-def]
    delivered: dict[int, int] = {}
    lines: list[str] = []

    def deliver(batch: MiniBatch, frame: pd.DataFrame) -> int:
        delivered[batch.id] = delivered.get(batch.id, 0) + 1
        return len(frame)

    options = {"concurrency": 3, "max_retries": 2, "timeout_s": 5.0, "error_threshold": -1} | settings
    progress = run_mini_batches(batches, score, deliver, say=lines.append, **options)
    return progress, delivered, lines


def test_every_mini_batch_is_delivered_once_and_counted() -> None:
    progress, delivered, lines = _run(_batches(7), lambda b: b.frame)
    assert delivered == {i: 1 for i in range(7)}
    assert (progress.done, progress.rows, progress.failed) == (7, 70, 0)  # type: ignore[attr-defined]
    assert lines[-1].startswith("[batch] 7/7 mini-batches, 70 rows,") and "rows/s" in lines[-1]


def test_a_failing_attempt_is_retried_and_delivered_once() -> None:
    failed: set[int] = set()

    def score(batch: MiniBatch) -> pd.DataFrame:
        if batch.id == 3 and 3 not in failed:
            failed.add(3)
            raise OSError("disk hiccup")
        return batch.frame

    progress, delivered, lines = _run(_batches(5), score)
    assert delivered == {i: 1 for i in range(5)}
    assert progress.retries == 1 and progress.failed == 0  # type: ignore[attr-defined]
    assert "[batch] mini-batch 3 attempt 1 failed: OSError: disk hiccup; retrying" in lines


def test_a_mini_batch_that_keeps_failing_is_skipped_under_threshold_minus_one() -> None:
    def score(batch: MiniBatch) -> pd.DataFrame:
        if batch.id == 1:
            raise ValueError("bad row")
        return batch.frame

    progress, delivered, _ = _run(_batches(4), score, max_retries=1)
    assert sorted(delivered) == [0, 2, 3]
    assert progress.failed == 1 and progress.failed_items == 10  # type: ignore[attr-defined]
    assert progress.failures == {1: "ValueError: bad row"}  # type: ignore[attr-defined]


def test_failed_items_beyond_the_threshold_stop_the_run_with_the_reason() -> None:
    def score(batch: MiniBatch) -> pd.DataFrame:
        raise ValueError("all bad")

    with pytest.raises(ThresholdExceeded, match=r"10 failed items \(rows or files\) > 9"):
        _run(_batches(20), score, max_retries=0, error_threshold=9, concurrency=1)


def test_an_attempt_past_its_timeout_is_retried() -> None:
    release = threading.Event()
    calls: list[int] = []

    def score(batch: MiniBatch) -> pd.DataFrame:
        calls.append(batch.id)
        if batch.id == 0 and calls.count(0) == 1:
            release.wait(5)  # stuck; left behind when its time is up
        return batch.frame

    started = time.monotonic()
    progress, delivered, lines = _run(_batches(2), score, timeout_s=0.3)
    release.set()
    assert delivered == {0: 1, 1: 1} and time.monotonic() - started < 4
    assert any("mini-batch 0 attempt 1 failed: timed out after 0.3 s" in line for line in lines)
    assert progress.retries == 1  # type: ignore[attr-defined]


def test_what_run_may_return() -> None:
    assert list(rows_frame([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]).columns) == ["a", "b"]
    assert list(rows_frame([(1, 2), (3, 4)]).columns) == ["col_0", "col_1"]
    assert rows_frame(["f.csv: 1", "g.csv: 0"])["result"].tolist() == ["f.csv: 1", "g.csv: 0"]
    with pytest.raises(TypeError, match="return a pandas DataFrame or a list of rows"):
        rows_frame(42)


def test_a_file_is_cut_into_rows_and_a_folder_into_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pd.DataFrame({"x": range(25)}).to_csv(tmp_path / "rows.csv", index=False)
    cut = mini_batches(tmp_path / "rows.csv", "uri_file", 10)
    assert [b.items for b in cut] == [10, 10, 5]
    assert cut[2].frame.index.tolist() == list(range(20, 25))  # positions in the file: the row ids
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    for name in ("a.csv", "b.csv", "sub/c.csv", ".hidden.csv"):
        (folder / name).write_text("x\n1\n")
    files = mini_batches(folder, "uri_folder", 2)
    assert [[p.relative_to(folder).as_posix() for p in b.files] for b in files] == [
        ["a.csv", "b.csv"],
        ["sub/c.csv"],
    ]
