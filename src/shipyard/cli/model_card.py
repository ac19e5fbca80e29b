"""shipyard model card NAME:VERSION [--out card.html|card.md]"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli._output import TokenOption, UrlOption, WorkspaceOption, connect, fail

__all__ = ["card"]

_FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}


def _version_ref(text: str) -> tuple[str, int]:
    name, sep, number = text.rpartition(":")
    if not sep or not name or not number.isdigit() or int(number) < 1:
        raise typer.BadParameter(f"write NAME:VERSION with a version number, e.g. credit:3; got {text!r}")
    return name, int(number)


def card(
    ref: Annotated[str, typer.Argument(metavar="NAME:VERSION", help="The model version, e.g. credit:3.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the card to this file: .html (one self-contained, printable page) or .md"
            " (Markdown for a pull request). Default: Markdown on stdout.",
        ),
    ] = None,
    url: UrlOption = None,
    workspace: WorkspaceOption = None,
    token: TokenOption = None,
) -> None:
    """A model card: the version's lineage (data → job → run → model → deployments → monitors),
    its run's metrics and parameters, its evaluation against a baseline (the version @champion
    pointed at before it, else the current @champion, else the previous version), its
    approvals and its alias history."""
    name, number = _version_ref(ref)
    kind = "markdown"
    if out is not None:
        found = _FORMATS.get(out.suffix.lower())
        if found is None:
            raise typer.BadParameter(f"--out must end in .html or .md; got {out.name!r}", param_hint="--out")
        kind = found
    from shipyard.client.model_card import ModelCardOperations
    from shipyard.domain.model_card import to_html, to_markdown

    with connect(url, workspace, token) as client:
        data = client.operations(ModelCardOperations).data(name, number)
    text = to_html(data) if kind == "html" else to_markdown(data)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {out}: {error.strerror or error}", "INVALID_ARGUMENT")
    typer.echo(f"model card of {name}:{number} written to {out}", err=True)
