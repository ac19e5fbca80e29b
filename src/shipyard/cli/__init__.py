"""The ``shipyard`` command line (Typer + rich). Heavy imports happen inside commands."""
