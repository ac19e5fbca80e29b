"""shipyard model …"""

from __future__ import annotations

import typer

app = typer.Typer(help="Registered models: list and show.", no_args_is_help=True)
