"""The native API's OpenAPI document, made to say what the server really answers.

FastAPI documents each route's success and a 422 the server never sends (validation errors
are 400 ``INVALID_ARGUMENT`` here). :func:`complete` rewrites the generated document once,
from what every route already declares, instead of each router listing its errors:

- **statuses from the route's rule** (``server/access.py``) and its shape: every operation
  may answer 400 (a malformed ``Shipyard-Workspace`` header or parameter), 403 (a Host the
  server does not answer to, or a missing permission), 500 (a bug) and 503 (the database
  is unreachable); one that needs a principal also 401, and 404 when it names something (a
  parameter or a body); a change 409; a body 413; a POST/PUT/PATCH/DELETE 415 (a
  form-encoded body). Each error answer is :class:`~shipyard.server.schemas.ErrorOut`, and
  its description lists the stable codes of its status from :data:`shipyard.errors.HTTP_STATUS`;
- **uploads** (``Rule.upload``) take a raw ``application/octet-stream`` body;
- **schemas a route names by hand** (``openapi_extra``, e.g. the metric batch parsed from
  raw bytes) are added from the DTO of that name, so no ``$ref`` dangles.

:func:`problems` lists what is still wrong (a dangling ``$ref``, a success answered as JSON
with no schema — how a binary answer without a declared content type shows up — or a 422);
``python -m shipyard.server.openapi --check`` fails on any.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from shipyard.domain.access import is_mutation
from shipyard.errors import HTTP_STATUS
from shipyard.server.access import PUBLIC, SIGNED_IN, Rule, rule_for
from shipyard.server.guard import WORKSPACE_HEADER
from shipyard.server.schemas import Dto, ErrorOut

__all__ = ["BINARY_ANSWER", "TEXT_ANSWER", "complete", "problems", "statuses"]

_REF = "#/components/schemas/"
_MUTATING = frozenset({"post", "put", "patch", "delete"})
_BINARY = {"type": "string", "format": "binary"}

BINARY_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {"schema": _BINARY}}, "description": "The bytes."}
}
"""``responses=`` of a route that streams a file (with ``response_class=StreamingResponse``)."""

TEXT_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "The text."}
}
"""``responses=`` of a route that answers plain text (a log)."""
_WHEN = {
    400: "The request is malformed or a value is out of range; the message says what to fix.",
    401: "No token, or one that is unknown, expired or revoked.",
    403: "The caller lacks the permission, or the Host or Origin is not one this server answers.",
    404: "Something the request names does not exist (in this workspace).",
    409: "It clashes with what exists (a taken name, a state that forbids it).",
    413: "The body is over this server's limit.",
    415: "A form-encoded body (what an HTML form can send) on a change: send application/json.",
    500: "A bug: the server log has the traceback.",
    503: "The metadata or artifact store cannot be reached; retrying may help.",
}


def _codes_by_status() -> dict[int, list[str]]:
    found: dict[int, list[str]] = defaultdict(list)
    for code, status in sorted(HTTP_STATUS.items()):
        found[status].append(code)
    return found


def statuses(method: str, rule: Rule, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation may answer, derived from its rule and its shape."""
    found = {400, 403, 500, 503}
    has_body = "requestBody" in operation or rule.upload
    if rule.permission != PUBLIC:
        found.add(401)
        if operation.get("parameters") or has_body:
            found.add(404)
    if method in _MUTATING and rule.permission != PUBLIC and is_mutation(rule.permission):
        found.add(409)
    if has_body:
        found.add(413)
    if method in _MUTATING and not rule.upload:
        found.add(415)
    return sorted(found)


def _error_answer(status: int, codes: list[str], permission: str | None) -> dict[str, Any]:
    words = _WHEN[status]
    if status == 403 and permission is not None:
        words += f" Needs `{permission}`."
    listed = ", ".join(f"`{c}`" for c in codes)
    return {
        "description": f"{listed}. {words}",
        "content": {"application/json": {"schema": {"$ref": f"{_REF}ErrorOut"}}},
    }


def _workspace_header() -> dict[str, Any]:
    return {
        "name": WORKSPACE_HEADER,
        "in": "header",
        "required": False,
        "description": "The workspace the request acts in (default: `default`).",
        "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$"},
    }


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            if method in ("get", "put", "post", "delete", "patch", "head", "options"):
                yield path, method, operation


def complete(spec: dict[str, Any]) -> dict[str, Any]:
    """Rewrite FastAPI's document in place as the module docstring says; returns it."""
    schemas: dict[str, Any] = spec.setdefault("components", {}).setdefault("schemas", {})
    _add_model(schemas, ErrorOut, mode="serialization")
    codes = _codes_by_status()
    for path, method, operation in _operations(spec):
        rule = rule_for(method.upper(), path)
        if rule is None:  # bind_rules stops such a server from starting; nothing to describe
            continue
        responses: dict[str, Any] = operation.setdefault("responses", {})
        responses.pop("422", None)
        if rule.upload:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/octet-stream": {"schema": _BINARY}},
            }
        if rule.permission != PUBLIC:
            operation.setdefault("parameters", []).append(_workspace_header())
        needs = None if rule.permission in (PUBLIC, SIGNED_IN) else rule.permission
        for status in statuses(method, rule, operation):
            responses.setdefault(str(status), _error_answer(status, codes[status], needs))
    _add_named_schemas(spec, schemas)
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in schemas and unused not in set(_referenced(spec)):
            del schemas[unused]
    return spec


def _add_model(schemas: dict[str, Any], model: type[Dto], *, mode: str) -> None:
    found = model.model_json_schema(ref_template=_REF + "{model}", mode=mode)  # type: ignore[arg-type]
    for name, definition in found.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas.setdefault(model.__name__, found)


def _all_dtos() -> dict[str, type[Dto]]:
    found: dict[str, type[Dto]] = {}
    pending: list[type[Dto]] = [Dto]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.__name__, cls)
        pending.extend(cls.__subclasses__())
    return found


def _add_named_schemas(spec: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Define every schema a ``$ref`` names but FastAPI did not add: the DTOs of bodies a
    route parses itself and declares through ``openapi_extra``."""
    dtos = _all_dtos()
    while True:
        missing = {name for name in _referenced(spec) if name not in schemas and name in dtos}
        if not missing:
            return
        for name in sorted(missing):
            _add_model(schemas, dtos[name], mode="validation")


def _referenced(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            yield ref[len(_REF) :]
        for item in value.values():
            yield from _referenced(item)
    elif isinstance(value, list):
        for item in value:
            yield from _referenced(item)


def problems(spec: dict[str, Any]) -> list[str]:
    """What makes the document lie about the server; empty when it is sound."""
    found: list[str] = []
    defined = spec.get("components", {}).get("schemas", {})
    for name in sorted(set(_referenced(spec)) - set(defined)):
        found.append(f"$ref to #/components/schemas/{name}, which the document does not define")
    for path, method, operation in _operations(spec):
        where = f"{method.upper()} {path}"
        for status, answer in operation.get("responses", {}).items():
            if status == "422":
                found.append(f"{where} lists 422, which the server never answers (validation errors are 400)")
            json_body = (answer.get("content") or {}).get("application/json")
            if status.startswith("2") and json_body is not None and not json_body.get("schema"):
                found.append(
                    f"{where} answers {status} as JSON with no schema: give the route a response_model,"
                    " or a response_class and the content type it really sends (binary, text)"
                )
    return found
