"""The metric batcher through an outage, with a fake server: what it cannot send is kept in a
spill file and sent later with the same keys; what does not fit is counted and said."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from shipyard.client import _batcher
from shipyard.client._batcher import MetricBatcher
from shipyard.client._spill import SpillFile, leftover_files, read_leftover
from shipyard.errors import InvalidArgument, Unavailable


class FlakyServer:
    """Stores each idempotency key's batch once, as the real one does; ``down`` refuses all."""

    def __init__(self) -> None:
        self.down = threading.Event()
        self.lose_next_answers = 0  # store the batch, then fail as a dropped connection would
        self.stored: dict[str, bytes] = {}
        self.tried: list[str] = []
        self._lock = threading.Lock()

    def send(self, payload: bytes, key: str) -> dict[str, Any]:
        with self._lock:
            self.tried.append(key)
            if self.down.is_set():
                raise Unavailable("cannot reach the Shipyard server: connection refused")
            duplicate = key in self.stored
            self.stored.setdefault(key, payload)
            if self.lose_next_answers:
                self.lose_next_answers -= 1
                self.down.set()
                raise Unavailable("connection reset after the server answered")
        return {"accepted": 0 if duplicate else 1, "duplicate": duplicate}

    def points(self) -> list[tuple[str, int]]:
        out = []
        for payload in self.stored.values():
            for series in orjson.loads(payload)["metrics"]:
                out.extend((series["key"], step) for step in series["steps"])
        return sorted(out)


@pytest.fixture(autouse=True)
def quick_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_batcher, "_PROBE_MIN_S", 0.01)
    monkeypatch.setattr(_batcher, "_PROBE_MAX_S", 0.05)


def opener(folder: Path, max_bytes: int = 1 << 30) -> Any:
    return lambda: SpillFile(folder, {"url": "http://test", "run_id": "r1"}, max_bytes)


def expected(steps: int) -> list[tuple[str, int]]:
    return sorted((k, s) for s in range(steps) for k in ("a", "b"))


def test_what_the_server_cannot_take_is_kept_and_sent_once_when_it_is_back(tmp_path: Path) -> None:
    server = FlakyServer()
    batcher = MetricBatcher(server.send, batch_size=1000, open_spill=opener(tmp_path))
    server.down.set()
    # 50 batches through a queue of 8: had a down server held the senders, this would block.
    for step in range(25_000):
        batcher.add_many({"a": 1.0, "b": 2.0}, step, 1)
    with pytest.raises(Unavailable, match=r"50000 metric points are kept in .*\.spill and are sent when"):
        batcher.flush(timeout=0.2)
    assert batcher.kept == 50_000 and server.stored == {}
    (spilled,) = tmp_path.glob("*.spill")
    server.down.clear()
    batcher.flush(timeout=30)
    assert server.points() == expected(25_000)
    # Every batch went out under the key it was first tried with: nothing stored twice.
    assert set(server.stored) == set(server.tried)
    assert batcher.close() is None and batcher.lost == 0
    assert not spilled.exists()


def test_a_batch_stored_whose_answer_was_lost_is_replayed_under_its_key_not_stored_twice(
    tmp_path: Path,
) -> None:
    server = FlakyServer()
    server.lose_next_answers = 1
    batcher = MetricBatcher(server.send, batch_size=100, senders=1, open_spill=opener(tmp_path))
    for step in range(1000):
        batcher.add_many({"a": 1.0, "b": 2.0}, step, 1)
    with pytest.raises(Unavailable):
        batcher.flush(timeout=0.2)
    server.down.clear()
    batcher.close(timeout=30)
    first = server.tried[0]
    assert server.tried.count(first) >= 2  # sent, answer lost, kept, replayed with its key
    assert server.points() == expected(1000)


def test_points_past_the_spill_bound_are_counted_lost_and_said_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server = FlakyServer()
    server.down.set()
    batcher = MetricBatcher(server.send, batch_size=100, open_spill=opener(tmp_path, max_bytes=20_000))
    with caplog.at_level(logging.WARNING, logger="shipyard.client"):
        for step in range(5000):
            batcher.add("a", 0.5, step, 1_700_000_000_000)
        leftover = batcher.close(timeout=0.2)
    assert leftover is not None and leftover.path.exists()
    assert batcher.lost > 0 and leftover.points > 0
    assert batcher.lost + leftover.points == 5000
    said = caplog.text
    assert "cannot be reached (cannot reach the Shipyard server: connection refused)" in said
    assert f"LOST 100 metric points: the spill file {leftover.path} is full" in said
    leftover.keep(batcher.lost, "FINISHED")


def test_without_a_spill_file_an_unsendable_batch_is_lost_and_raised(tmp_path: Path) -> None:
    server = FlakyServer()
    server.down.set()
    batcher = MetricBatcher(server.send, batch_size=10)
    for step in range(10):
        batcher.add("a", 1.0, step, 1)
    with pytest.raises(Unavailable, match="connection refused"):
        batcher.flush(timeout=5)
    assert batcher.lost == 10
    batcher.close()


def test_a_kept_file_holds_the_batches_the_lost_count_and_the_end(tmp_path: Path) -> None:
    spill = SpillFile(tmp_path, {"url": "http://x", "run_id": "abc"}, 1 << 20)
    assert spill.append("k1", 2, b'{"metrics": []}')
    assert spill.append("k2", 3, b'{"metrics": [1]}')
    assert read_leftover(spill.path) is None  # its process holds it: not a leftover yet
    assert leftover_files(tmp_path) == []
    path = spill.keep(lost=7, status="FINISHED")
    with path.open("ab") as f:  # a record cut short by a kill ends the file
        f.write(b"B k3 4 100\n{")
    left = read_leftover(path)
    assert left is not None
    assert [(b.key, b.points, b.payload) for b in left.batches] == [
        ("k1", 2, b'{"metrics": []}'),
        ("k2", 3, b'{"metrics": [1]}'),
    ]
    assert (left.lost, left.status, left.points, left.header["run_id"]) == (7, "FINISHED", 5, "abc")
    assert leftover_files(tmp_path) == [path]


def test_a_drained_spill_starts_over_so_the_bound_is_on_what_waits(tmp_path: Path) -> None:
    spill = SpillFile(tmp_path, {"run_id": "abc"}, max_bytes=400)
    for round_ in range(10):  # 10 x 200 bytes through a 400-byte file
        assert spill.append(f"k{round_}", 1, b"x" * 150), round_
        record = spill.peek()
        assert record is not None and record.key == f"k{round_}"
        spill.pop(record)
        assert spill.points == 0 and spill.peek() is None
    spill.discard()
    assert not spill.path.exists()


def test_a_file_that_is_not_a_spill_file_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "notes.spill"
    other.write_text("hello\n")
    with pytest.raises(ValueError, match="is not a Shipyard spill file"):
        read_leftover(other)


@pytest.mark.parametrize(
    ("name", "value"), [("SHIPYARD_SPILL_MAX_MB", "lots"), ("SHIPYARD_OUTAGE_WAIT", "-1")]
)
def test_a_bad_setting_names_itself(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    from shipyard.client.run import _env_number

    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidArgument, match=f"{name} must be a number of 0 or more, got '{value}'"):
        _env_number(name, 1.0)
