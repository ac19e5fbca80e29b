"""Drop blank lines and spaces: a cleaner whose output may stay the same when its input changes."""

import sys
from pathlib import Path

rows = [line.strip() for line in (Path(sys.argv[1]) / "raw.csv").read_text().splitlines() if line.strip()]
out = Path(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
(out / "clean.csv").write_text("\n".join(rows) + "\n")
