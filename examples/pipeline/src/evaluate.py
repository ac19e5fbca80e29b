"""A stand-in for evaluation: a score read from the model."""

import sys
from pathlib import Path

weight = float((Path(sys.argv[1]) / "model.txt").read_text())
out = Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
(out / "report.txt").write_text(f"score {weight:.3f}\n")
