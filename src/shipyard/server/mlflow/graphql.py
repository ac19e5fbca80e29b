"""MLflow's GraphQL endpoint: ``POST /graphql`` (and ``GET`` with the query in the URL), where
MLflow's web UI reads runs, experiments, model versions, chart points and artifact listings.

The schema is MLflow's (``_graphql_schema``), built with graphql-core from its schema
language; the fields resolve over Shipyard's services with the caller's context
(``_graphql_resolvers``). A request is parsed with a token limit, measured
(``_graphql_limits``: depth, fields, root fields, aliases) and validated before anything runs.

Answers are GraphQL's own shape. A request that cannot run — not JSON, no query, a syntax
error, an unknown field, a query too large, variables of the wrong type — answers 400
``{"errors": [...]}`` with no data. Once it runs, the answer is 200 ``{"data": ...}`` with
``errors`` beside it when some fields failed: each error carries its ``path`` and an
``extensions.code`` (MLflow's codes: ``RESOURCE_DOES_NOT_EXIST``, ``PERMISSION_DENIED``,
``INVALID_PARAMETER_VALUE``…), and the fields that did not fail still answer. A bug is
logged and answered as ``INTERNAL_ERROR`` without its text.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import orjson
from fastapi import APIRouter, Request, Response
from graphql import (
    ExecutionResult,
    GraphQLError,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    build_schema,
    execute,
    parse,
    validate,
)
from graphql.language import IntValueNode, StringValueNode, ValueNode
from starlette.concurrency import run_in_threadpool

from shipyard.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ShipyardError,
    Unauthenticated,
    Unavailable,
)
from shipyard.server.deps import Ctx, Svc
from shipyard.server.mlflow import _graphql_resolvers as resolvers
from shipyard.server.mlflow._graphql_limits import MAX_TOKENS, TooComplex, check_size
from shipyard.server.mlflow._graphql_schema import SDL
from shipyard.server.mlflow._route import MlflowApiError

__all__ = ["SCHEMA", "router"]

log = logging.getLogger("shipyard.server.mlflow.graphql")

router = APIRouter()

# Our error classes → MLflow's error codes, for ``extensions.code``.
_CODES: tuple[tuple[type[ShipyardError], str], ...] = (
    (NotFound, "RESOURCE_DOES_NOT_EXIST"),
    (PermissionDenied, "PERMISSION_DENIED"),
    (InvalidArgument, "INVALID_PARAMETER_VALUE"),
    (AlreadyExists, "RESOURCE_ALREADY_EXISTS"),
    (Unauthenticated, "UNAUTHENTICATED"),
    (Unavailable, "TEMPORARILY_UNAVAILABLE"),
)
_LONG_DIGITS = 19


def _long_out(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return value
    raise TypeError(f"LongString cannot represent {value!r}")


def _long_in(value: Any) -> int:
    text = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    if not (text.lstrip("-").isdigit() and len(text) <= _LONG_DIGITS):
        raise GraphQLError(f"LongString must be a whole number of at most {_LONG_DIGITS} digits")
    return int(text)


def _long_literal(node: ValueNode) -> int:
    if isinstance(node, (IntValueNode, StringValueNode)):
        return _long_in(node.value)
    raise GraphQLError("LongString must be a whole number")


def _build() -> GraphQLSchema:
    schema = build_schema(SDL)
    long = cast("GraphQLScalarType", schema.type_map["LongString"])
    long.coerce_output_value = _long_out
    long.coerce_input_value = _long_in
    long.coerce_input_literal = _long_literal
    for root, fields in ((schema.query_type, resolvers.QUERY), (schema.mutation_type, resolvers.MUTATION)):
        assert root is not None
        for name, resolve in fields.items():
            root.fields[name].resolve = resolve
    run = cast("GraphQLObjectType", schema.type_map["MlflowRunExtension"])
    for name, resolve in resolvers.RUN_FIELDS.items():
        run.fields[name].resolve = resolve
    for type_name in resolvers.FLOAT_FIELDS:
        cast("GraphQLObjectType", schema.type_map[type_name]).fields[
            "value"
        ].resolve = resolvers.finite_or_null
    return schema


SCHEMA = _build()


class _BadRequest(Exception):
    def __init__(self, code: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(code)
        self.errors = errors


def _bad(code: str, message: str) -> _BadRequest:
    return _BadRequest(code, [{"message": message, "extensions": {"code": code}}])


def _code(exc: Exception | None) -> str:
    for cls, code in _CODES:
        if isinstance(exc, cls):
            return code
    return exc.code if isinstance(exc, ShipyardError) else "INTERNAL_ERROR"


def _error(error: GraphQLError, request_code: str | None = None) -> dict[str, Any]:
    original = error.original_error
    message = error.message
    if request_code is not None:
        code = request_code
    elif original is None or isinstance(original, GraphQLError):
        code = "GRAPHQL_VALIDATION_FAILED"  # e.g. variables of the wrong type
    elif isinstance(original, ShipyardError):
        code, message = _code(original), original.message
    elif isinstance(original, MlflowApiError):  # raised by a helper shared with the REST routes
        code, message = original.error_code, original.message
    else:
        log.error("unhandled error in GraphQL field %s", error.path, exc_info=original)
        code, message = "INTERNAL_ERROR", "internal server error; the server log has the traceback"
    out: dict[str, Any] = {"message": message}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = error.path
    out["extensions"] = {"code": code}
    return out


def _request(data: Any) -> tuple[str, dict[str, Any] | None, str | None]:
    """(query, variables, operation name) of a GraphQL-over-HTTP request, or why not."""
    if not isinstance(data, dict):
        raise _bad("BAD_REQUEST", "the request body must be a JSON object with a 'query'")
    query, variables, operation = data.get("query"), data.get("variables"), data.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise _bad("BAD_REQUEST", "give the GraphQL document as 'query' (a string)")
    if variables is not None and not isinstance(variables, dict):
        raise _bad("BAD_REQUEST", "'variables' must be a JSON object")
    if operation is not None and not isinstance(operation, str):
        raise _bad("BAD_REQUEST", "'operationName' must be a string")
    return query, variables, operation


def run(call: resolvers.Call, data: Any) -> tuple[int, dict[str, Any]]:
    """(HTTP status, GraphQL answer) of one request body."""
    try:
        query, variables, operation = _request(data)
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
        except GraphQLError as exc:
            raise _BadRequest("GRAPHQL_PARSE_FAILED", [_error(exc, "GRAPHQL_PARSE_FAILED")]) from None
        try:
            check_size(document)
        except TooComplex as exc:
            raise _bad("QUERY_TOO_COMPLEX", f"{exc}; ask for less in more requests") from None
        invalid = validate(SCHEMA, document)
        if invalid:
            raise _BadRequest(
                "GRAPHQL_VALIDATION_FAILED", [_error(e, "GRAPHQL_VALIDATION_FAILED") for e in invalid]
            )
    except _BadRequest as exc:
        return 400, {"errors": exc.errors}
    result = execute(
        SCHEMA, document, context_value=call, variable_values=variables, operation_name=operation
    )
    assert isinstance(result, ExecutionResult)  # every resolver is synchronous
    if result.data is None:  # nothing ran: the operation or its variables were refused
        return 400, {"errors": [_error(e) for e in result.errors or []]}
    answer: dict[str, Any] = {"data": result.data}
    if result.errors:
        answer["errors"] = [_error(e) for e in result.errors]
    return 200, answer


def _answer(status: int, body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@router.post("/graphql")
async def graphql_post(request: Request, ctx: Ctx, svc: Svc) -> Response:
    try:
        data: Any = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        return _answer(
            400,
            {"errors": [{"message": "the request body is not JSON", "extensions": {"code": "BAD_REQUEST"}}]},
        )
    return _answer(*await run_in_threadpool(run, resolvers.Call(ctx, svc), data))


@router.get("/graphql")
async def graphql_get(request: Request, ctx: Ctx, svc: Svc) -> Response:
    params = request.query_params
    data: dict[str, Any] = {"query": params.get("query"), "operationName": params.get("operationName")}
    if "variables" in params:
        try:
            data["variables"] = orjson.loads(params["variables"])
        except orjson.JSONDecodeError:
            return _answer(
                400,
                {"errors": [{"message": "'variables' is not JSON", "extensions": {"code": "BAD_REQUEST"}}]},
            )
    return _answer(*await run_in_threadpool(run, resolvers.Call(ctx, svc), data))
