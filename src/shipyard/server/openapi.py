"""Export the native API's OpenAPI document, or check the committed copy is current.

``python -m shipyard.server.openapi --write docs/openapi.json`` after changing the API;
``--check`` (run by ``make check`` and CI) fails when the committed document has drifted.
Both refuse a document that lies about the server (``server/contract.py``: a dangling
``$ref``, a binary or text answer declared as schemaless JSON, a 422 the server never sends).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from shipyard.server.app import create_app
from shipyard.server.contract import problems
from shipyard.settings import Settings

__all__ = ["document", "main", "render"]


def document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        app = create_app(Settings(home=Path(home)))
        spec = app.openapi()
        app.state.database.close()
    return spec


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", type=Path, help="write the document to this file")
    group.add_argument("--check", type=Path, help="fail when this file differs from the live document")
    args = parser.parse_args(argv)
    spec = document()
    found = problems(spec)
    if found:
        print("the OpenAPI document is wrong:", *(f"  {p}" for p in found), sep="\n", file=sys.stderr)
        return 1
    text = json.dumps(spec, indent=2, sort_keys=True) + "\n"
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text, encoding="utf-8")
        return 0
    if not args.check.exists() or args.check.read_text(encoding="utf-8") != text:
        print(f"{args.check} is out of date: run `make openapi` and commit it", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
