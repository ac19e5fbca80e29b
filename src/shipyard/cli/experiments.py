"""shipyard experiment …"""

from __future__ import annotations

import typer

app = typer.Typer(help="Experiments: list them.", no_args_is_help=True)
