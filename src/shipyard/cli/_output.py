"""What every read command shares: the common options, the connection, errors and rendering.

Only typer and the error tree are imported at module level: ``shipyard --help`` imports this
module, while the SDK (httpx) and rich are imported by the functions that need them, i.e.
only when a command really runs.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from shipyard.cli._tables import (
    CliTable,
    ColumnsOption,
    cell,
    new_table,
    parse_columns,
    plural,
    print_tables,
)
from shipyard.errors import NotFound, PermissionDenied, ShipyardError, Unauthenticated, Unavailable

if TYPE_CHECKING:
    from shipyard.client.client import Client

__all__ = [
    "CliTable",
    "ColumnsOption",
    "OutputFormat",
    "OutputOption",
    "TokenOption",
    "UrlOption",
    "WorkspaceOption",
    "cell",
    "connect",
    "describe_uncaught",
    "fail",
    "fail_on",
    "fmt_duration",
    "fmt_number",
    "fmt_time",
    "fmt_timestamp",
    "new_table",
    "now_ms",
    "parse_columns",
    "parse_duration",
    "plural",
    "print_error",
    "print_json",
    "print_tables",
    "to_jsonable",
]


class OutputFormat(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


def _check_url(value: str | None) -> str | None:
    # Caught here as a usage error: otherwise it would surface as "cannot reach the server".
    if value is not None and not value.startswith(("http://", "https://")):
        raise typer.BadParameter(f"{value!r} is not an http:// or https:// URL")
    return value


UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        metavar="URL",
        envvar="SHIPYARD_URL",
        callback=_check_url,
        show_default=False,
        help="Base URL of the Shipyard server [default: http://127.0.0.1:5151].",
    ),
]
WorkspaceOption = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        metavar="NAME",
        envvar="SHIPYARD_WORKSPACE",
        show_default=False,
        help="Workspace to read [default: the server's default workspace].",
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        metavar="TOKEN",
        envvar="SHIPYARD_TOKEN",
        show_default=False,
        help="Sign in with this token; without it, SHIPYARD_TOKEN, else the token `shipyard login`"
        " stored for the URL.",
    ),
]
OutputOption = Annotated[
    OutputFormat,
    typer.Option(
        "--output",
        "-o",
        case_sensitive=False,
        help="'table' for people, 'json' for scripts (stable field names, times in epoch ms).",
    ),
]

# The SDK retries reads on connection errors for ~3 s, right for a training script riding out a
# server restart; a person at a prompt would rather hear at once that nothing is listening.
_CLI_RETRIES = 1


# -- the connection and its errors ---------------------------------------------------


@contextmanager
def connect(
    url: str | None, workspace: str | None, token: str | None = None, *, not_found: str | None = None
) -> Iterator[Client]:
    """A :class:`Client` for one command, signed in with ``token`` (else ``SHIPYARD_TOKEN``,
    else the stored credential); any :class:`ShipyardError` ends the command cleanly.
    ``not_found`` is the next step to print when what the command names does not exist."""
    from shipyard.client.client import Client

    try:
        client = Client(url, workspace=workspace, token=token)
    except ShipyardError as exc:  # a token that cannot be sent, say
        fail_on(exc, url)
    client.http.retries = _CLI_RETRIES
    try:
        yield client
    except NotFound as exc:
        fail(exc.message, exc.code, not_found or _hint(exc, client.url))
    except ShipyardError as exc:
        fail_on(exc, client.url)
    finally:
        client.close()


def fail(message: str, code: str = "INVALID_ARGUMENT", hint: str | None = None) -> NoReturn:
    """``error: MESSAGE (CODE)`` in red on stderr, then ``hint: …`` (the next step) if there is
    one, and exit status 1: how every command ends on a refusal — never with a traceback."""
    print_error(message, code, hint)
    raise typer.Exit(1)


def fail_on(exc: ShipyardError, url: str | None = None) -> NoReturn:
    """:func:`fail` with the error's own message and code, and the next step its kind calls for."""
    fail(exc.message, exc.code, _hint(exc, url))


def print_error(message: str, code: str, hint: str | None = None) -> None:
    """What :func:`fail` prints, for the entry point's last resort (outside any command)."""
    typer.secho(f"error: {message} ({code})", err=True, fg="red")
    if hint:
        typer.secho(f"hint: {hint}", err=True, fg="red")


def describe_uncaught(exc: BaseException) -> tuple[str, str, str | None] | None:
    """``(message, code, hint)`` for an error that escaped a command but is the user's to fix:
    a refusal raised before the command connected (a file read first), or a file or folder
    of theirs that cannot be read or written. None for anything else: a bug keeps its
    traceback."""
    if isinstance(exc, ShipyardError):
        return exc.message, exc.code, _hint(exc, None)
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}", "INVALID_ARGUMENT", None
    return None


def _hint(exc: ShipyardError, url: str | None) -> str | None:
    from shipyard.client._http import resolve_url

    url = url or resolve_url(None)
    # The SDK raises Unavailable *from* the transport error when it got no answer at all; an
    # Unavailable relayed from a running server (say, its database is down) has no cause.
    if isinstance(exc, Unavailable) and exc.__cause__ is not None:
        return (
            f"is a server running at {url}? Start one with `shipyard up`, "
            "or point --url / SHIPYARD_URL at yours."
        )
    if isinstance(exc, Unauthenticated):
        return f"sign in with `shipyard login --url {url}`, or set SHIPYARD_TOKEN."
    if isinstance(exc, PermissionDenied):
        return (
            "ask an owner of this server for a role that allows it (`shipyard role assign`);"
            " `shipyard whoami` shows what you may do."
        )
    return None


# -- values from people ----------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_duration(value: str, param_hint: str) -> int:
    """``30d``, ``12h``, ``90m`` or ``3600s`` in seconds; anything else is a usage error."""
    match = _DURATION.match(value)
    if match is None:
        raise typer.BadParameter(
            f"{value!r} is not a duration: write a number and a unit, e.g. 30d, 12h, 90m or 3600s",
            param_hint=param_hint,
        )
    return int(match.group(1)) * _SECONDS[match.group(2)]


# -- JSON ------------------------------------------------------------------------------


def to_jsonable(value: Any) -> Any:
    """Dataclasses to dicts, enums to their values, non-finite floats to the proto3 JSON
    spellings the API uses ("NaN", "Infinity", "-Infinity"): plain JSON has no NaN."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    # Plain stdout, not rich: rich would wrap long lines and colour them.
    sys.stdout.write(json.dumps(to_jsonable(value), indent=2, allow_nan=False) + "\n")


# -- values for people -----------------------------------------------------------------


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def fmt_timestamp(ms: int | None) -> str:
    """Local wall time to the second; empty for a missing time."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def fmt_time(ms: int | None, now: int) -> str:
    """Recent times as an age ("5m ago"), older ones (or future ones: clock skew) as a date."""
    if ms is None:
        return ""
    age_s = (now - ms) // 1000
    if age_s < 0 or age_s >= 86_400:
        return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M")
    if age_s < 60:
        return f"{age_s}s ago"
    if age_s < 3600:
        return f"{age_s // 60}m ago"
    return f"{age_s // 3600}h {age_s % 3600 // 60:02d}m ago"


def fmt_duration(ms: int) -> str:
    if ms < 1000:
        return f"{max(ms, 0)}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    seconds = ms // 1000
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    if seconds < 86_400:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 86_400}d {seconds % 86_400 // 3600:02d}h"


def fmt_number(value: float) -> str:
    """Six significant digits; NaN and infinities spelt as in the JSON output."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.6g}"
