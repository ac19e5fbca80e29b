"""Reading a job file at the size limit: Shipyard's spec reader beside PyYAML's SafeLoader.

    .venv/bin/python benchmarks/spec_files.py              # 5 samples of each (~20 s)
    .venv/bin/python benchmarks/spec_files.py --repeat 3

Generated files just under ``MAX_SPEC_BYTES`` (1 MiB), in two shapes: one mapping of short
integer inputs (many small scalars) and one of text tags. Measured, medians taken in turns:

- **anchor**: ``yaml.load(text, Loader=yaml.SafeLoader)``, the pure-Python loader the reader
  subclassed before issue 10 (which added its line bookkeeping on top: 8.1 s for a 2 MB
  file then, now refused by its size);
- **reader**: ``load_mapping`` (libyaml's events, lines kept, limits checked);
- **load_job**: the whole CLI-side read of the file (reader, validation, input resolution).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import yaml

from _measure import median, say, time_calls
from shipyard.specs import MAX_SPEC_BYTES, load_job, load_mapping


def generate(shape: str, size: int) -> str:
    head = ["command: echo hi", "inputs:" if shape == "inputs" else "tags:"]
    rows: list[str] = []
    total = sum(len(line) + 1 for line in head)
    while True:
        i = len(rows)
        row = f"  in_{i}: {i}" if shape == "inputs" else f"  key_{i}: value number {i} with some text"
        if total + len(row) + 1 > size:
            return "\n".join(head + rows) + "\n"
        rows.append(row)
        total += len(row) + 1


def measure(shape: str, folder: Path, repeat: int) -> None:
    text = generate(shape, MAX_SPEC_BYTES - 64)
    path = folder / f"{shape}.yml"
    path.write_text(text)
    anchor = median(time_calls(lambda _: yaml.load(text, Loader=yaml.SafeLoader), repeat))
    reader = median(time_calls(lambda _: load_mapping(text), repeat))
    whole = median(time_calls(lambda _: load_job(path), repeat))
    say(
        f"{shape:6s} {len(text) / 1024**2:.2f} MiB: anchor {anchor:.3f} s, reader {reader:.3f} s"
        f" ({anchor / reader:.1f}x faster), load_job {whole:.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Reading a job file at the size limit.")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    say(f"load average before: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        for shape in ("inputs", "tags"):
            measure(shape, Path(folder), args.repeat)


if __name__ == "__main__":
    main()
