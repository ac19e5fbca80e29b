"""What every MLflow handler shares: the error format, request parsing, JSON responses.

MLflow answers errors as ``{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "…"}`` with
its own code → status table (RESOURCE_ALREADY_EXISTS is a 400 there, not a 409). Routes built
with :class:`MlflowRoute` turn every exception into that shape, so the native API's error
handlers never see an MLflow request and the native format stays untouched.

The messages are MLflow's too where clients and tests match on them ("Run with id=… not
found", "Missing value for required parameter 'run_id'. …"): :func:`mlflow_message` words an
error from the details the services attach to it (``run_id``, ``name`` and ``version``…), so
the services keep one message for the native API and MLflow's wording lives here.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, get_origin

import orjson
from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from starlette.exceptions import HTTPException

from shipyard.domain.validation import check_storable
from shipyard.errors import (
    AlreadyExists,
    Conflict,
    InvalidArgument,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ShipyardError,
    Unauthenticated,
    Unavailable,
)

__all__ = [
    "MlflowApiError",
    "MlflowIn",
    "MlflowRoute",
    "error_response",
    "finite",
    "missing_value",
    "mlflow_message",
    "ok",
    "payload",
]

log = logging.getLogger("shipyard.server.mlflow")

# Our error classes → MLflow's (error_code, HTTP status). Subclasses inherit their parent's row.
_CODES: tuple[tuple[type[ShipyardError], str, int], ...] = (
    (NotFound, "RESOURCE_DOES_NOT_EXIST", 404),
    (AlreadyExists, "RESOURCE_ALREADY_EXISTS", 400),
    (InvalidArgument, "INVALID_PARAMETER_VALUE", 400),
    (Conflict, "INVALID_PARAMETER_VALUE", 400),  # e.g. a param re-logged with another value
    (PayloadTooLarge, "INVALID_PARAMETER_VALUE", 413),
    (Unauthenticated, "UNAUTHENTICATED", 401),
    (PermissionDenied, "PERMISSION_DENIED", 403),
    (Unavailable, "TEMPORARILY_UNAVAILABLE", 503),
)


class MlflowApiError(Exception):
    """An error only the MLflow face has (malformed request, unknown endpoint)."""

    def __init__(self, error_code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.status = status


def error_response(error_code: str, message: str, status: int) -> Response:
    body = orjson.dumps({"error_code": error_code, "message": message})
    return Response(body, status_code=status, media_type="application/json")


# MLflow's wording (its SQL stores' and handlers', 3.17) of the errors clients match on, chosen
# by the details a service attached: the first row whose keys the error carries wins.
_NOT_FOUND_TEXTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("key", "run_id"), "No tag with name: {key} in run with id {run_id}"),
    (("key", "experiment_id"), "No tag with name: {key} in experiment with id {experiment_id}"),
    (("key", "model_id"), "No tag with key {key!r} found for model with ID {model_id!r}."),
    (("run_id",), "Run with id={run_id} not found"),
    (("experiment_id",), "No Experiment with id={experiment_id} exists"),
    (("experiment_name",), "Could not find experiment with name '{experiment_name}'"),
    (("model_id",), "Logged model with ID '{model_id}' not found."),
    (("name", "version"), "Model Version (name={name}, version={version}) not found"),
    (("name", "alias"), "Registered model alias {alias} not found."),
    (("name", "latest"), "Latest version not found for model {name}."),
    (("name",), "Registered Model with name={name} not found"),
)
_INVALID_TEXTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("run_id", "lifecycle_stage"),
        "The run {run_id} must be in the 'active' state. Current state is {lifecycle_stage}.",
    ),
    (
        ("key", "old_value", "new_value", "run_id"),
        "Changing param values is not allowed. Param with key='{key}' was already logged with"
        " value='{old_value}' for run ID='{run_id}'. Attempted logging new value '{new_value}'.",
    ),
    (
        ("experiment_id", "lifecycle_stage"),
        "The experiment {experiment_id} must be in the 'active' state. Current state is {lifecycle_stage}.",
    ),
)
_EXISTS_TEXTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("experiment_name",), "Experiment(name={experiment_name}) already exists."),
    (("name",), "Registered Model (name={name}) already exists."),
)


def mlflow_message(exc: ShipyardError) -> str:
    """MLflow's text for ``exc`` when MLflow has one, else the service's own message."""
    texts = (
        _NOT_FOUND_TEXTS
        if isinstance(exc, NotFound)
        else _EXISTS_TEXTS
        if isinstance(exc, AlreadyExists)
        else _INVALID_TEXTS
        if isinstance(exc, InvalidArgument | Conflict)
        else ()
    )
    for keys, text in texts:
        if all(exc.details.get(k) is not None for k in keys):
            return text.format(**{k: exc.details[k] for k in keys})
    return exc.message


def _translate(exc: Exception) -> Response:
    if isinstance(exc, MlflowApiError):
        return error_response(exc.error_code, exc.message, exc.status)
    if isinstance(exc, ShipyardError):
        for cls, code, status in _CODES:
            if isinstance(exc, cls):
                return error_response(code, mlflow_message(exc), status)
        log.error("%s: %s", exc.code, exc.message)
        return error_response("INTERNAL_ERROR", exc.message, exc.status)
    if isinstance(exc, RequestValidationError):
        return error_response("INVALID_PARAMETER_VALUE", f"invalid request: {exc.errors()[:3]}", 400)
    if isinstance(exc, HTTPException):
        code = "ENDPOINT_NOT_FOUND" if exc.status_code in (404, 405) else "BAD_REQUEST"
        return error_response(code, str(exc.detail), exc.status_code)
    log.error("unhandled error on an MLflow endpoint", exc_info=exc)
    return error_response("INTERNAL_ERROR", "internal server error; the server log has the traceback", 500)


class MlflowRoute(APIRoute):
    """An APIRoute whose errors, including those of its dependencies, use MLflow's format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # noqa: BLE001 - every error becomes MLflow's JSON
                return _translate(exc)

        return run


class MlflowIn(BaseModel):
    """Request messages: unknown fields are ignored, as protobuf's JSON parser does."""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        """orjson refuses lone surrogates already; integers past 64 bits are refused here."""
        if isinstance(data, dict):
            check_storable(data)
        return data


M = TypeVar("M", bound=MlflowIn)


def _from_query(request: Request, model: type[MlflowIn]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        field = model.model_fields.get(key)
        if field is not None and get_origin(field.annotation) is list:
            data.setdefault(key, []).append(value)
        else:
            data[key] = value
    return data


_DOCS_HINT = " See the API docs for more information about request parameters."


def missing_value(param: str) -> MlflowApiError:
    """MLflow's answer to a request without a required parameter."""
    return MlflowApiError(
        "INVALID_PARAMETER_VALUE", f"Missing value for required parameter '{param}'.{_DOCS_HINT}"
    )


def _shown(value: Any) -> str:
    """A value as MLflow quotes it in its messages: compact JSON, cut short."""
    try:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 200 else text[:200] + "…"


def _problem(exc: ValidationError) -> str:
    """MLflow's wording of the first problem (``_validate_param_against_schema``)."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    if first["type"] == "missing":
        return f"Missing value for required parameter '{where}'.{_DOCS_HINT}"
    got = first.get("input")
    if first["type"] in ("value_error", "assertion_error"):  # our own validators say why
        why = str(first["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        return f"Invalid value {_shown(got)} for parameter '{where}' supplied: {why}.{_DOCS_HINT}"
    # Two spaces after the colon, as MLflow's invalid_value() joins its hint.
    return (
        f"Invalid value {_shown(got)} for parameter '{where}' supplied: "
        f" Hint: Value was of type '{type(got).__name__}'.{_DOCS_HINT}"
    )


def payload(model: type[M]) -> Any:
    """A dependency parsing the request message: JSON body, or the query string for GET."""

    async def parse(request: Request) -> M:
        if request.method == "GET":
            data: Any = _from_query(request, model)
        else:
            raw = await request.body()
            try:
                data = orjson.loads(raw) if raw.strip() else {}
            except orjson.JSONDecodeError as exc:
                raise MlflowApiError(
                    "MALFORMED_REQUEST", f"the request body is not valid JSON: {exc}"
                ) from None
            if not isinstance(data, dict):
                raise MlflowApiError("MALFORMED_REQUEST", "the request body must be a JSON object")
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise MlflowApiError("INVALID_PARAMETER_VALUE", _problem(exc)) from None

    return Depends(parse)


def finite(value: float) -> float | str:
    """NaN and ±inf as protobuf's JSON spells them (plain JSON has no such numbers)."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def ok(body: dict[str, Any] | None = None) -> Response:
    return Response(orjson.dumps(body or {}), media_type="application/json")
