"""shipyard run …"""

from __future__ import annotations

import typer

app = typer.Typer(help="Runs: list and show.", no_args_is_help=True)
