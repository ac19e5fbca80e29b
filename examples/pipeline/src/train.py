"""A stand-in for training: the sum of the rows times the learning rate."""

import sys
from pathlib import Path

total = sum(float(x) for x in (Path(sys.argv[1]) / "clean.csv").read_text().split())
out = Path(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
(out / "model.txt").write_text(f"{total * float(sys.argv[2])}\n")
