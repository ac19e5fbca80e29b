"""Shipyard's error tree: one root, stable codes, one code → HTTP status table.

    ShipyardError                 INTERNAL            500
    ├── InvalidArgument           INVALID_ARGUMENT    400
    │   ├── InvalidFilter         INVALID_FILTER      400
    │   ├── InvalidPageToken      INVALID_PAGE_TOKEN  400
    │   ├── InvalidPath           INVALID_PATH        400
    │   ├── InvalidSpec           INVALID_SPEC        400
    │   ├── InvalidInput          INVALID_INPUT       400
    │   └── InvalidBackup         INVALID_BACKUP      400
    ├── Unauthenticated           UNAUTHENTICATED     401
    ├── PermissionDenied          PERMISSION_DENIED   403
    │   ├── HostNotAllowed        HOST_NOT_ALLOWED    403
    │   ├── OriginNotAllowed      ORIGIN_NOT_ALLOWED  403
    │   ├── ApprovalRequired      APPROVAL_REQUIRED   403
    │   └── SelfApproval          SELF_APPROVAL       403
    ├── NotFound                  NOT_FOUND           404
    ├── MethodNotAllowed          METHOD_NOT_ALLOWED  405
    ├── RequestTimeout            REQUEST_TIMEOUT     408
    ├── AlreadyExists             ALREADY_EXISTS      409
    ├── Conflict                  CONFLICT            409
    │   └── ParamAlreadySet       PARAM_ALREADY_SET   409
    ├── PayloadTooLarge           PAYLOAD_TOO_LARGE   413
    ├── UnsupportedMediaType      UNSUPPORTED_MEDIA_TYPE 415
    ├── TooManyRequests           TOO_MANY_REQUESTS   429
    ├── Unavailable               UNAVAILABLE         503
    ├── EnvironmentBuildFailed    ENVIRONMENT_BUILD_FAILED 500
    └── ScoringFailed             SCORING_FAILED      500

The server turns an exception into ``{"error": {"code", "message", "details"}}`` with the
status from :data:`HTTP_STATUS`; the SDK turns that body back into the same class through
:func:`error_from_payload`. Codes are part of the public contract: never rename one.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "HTTP_STATUS",
    "AlreadyExists",
    "ApprovalRequired",
    "Conflict",
    "EnvironmentBuildFailed",
    "HostNotAllowed",
    "InvalidArgument",
    "InvalidBackup",
    "InvalidFilter",
    "InvalidInput",
    "InvalidPageToken",
    "InvalidPath",
    "InvalidSpec",
    "MethodNotAllowed",
    "NotFound",
    "OriginNotAllowed",
    "ParamAlreadySet",
    "PayloadTooLarge",
    "PermissionDenied",
    "RequestTimeout",
    "ScoringFailed",
    "SelfApproval",
    "ShipyardError",
    "TooManyRequests",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedMediaType",
    "error_from_payload",
]


class ShipyardError(Exception):
    """Root of every error Shipyard raises on purpose."""

    code: ClassVar[str] = "INTERNAL"
    status: ClassVar[int] = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_payload(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidArgument(ShipyardError):
    """The request is malformed or a value is out of range; the message says which."""

    code = "INVALID_ARGUMENT"
    status = 400


class InvalidFilter(InvalidArgument):
    code = "INVALID_FILTER"


class InvalidPageToken(InvalidArgument):
    code = "INVALID_PAGE_TOKEN"


class InvalidPath(InvalidArgument):
    """A client-supplied path would escape its root or is not a plain relative path."""

    code = "INVALID_PATH"


class InvalidSpec(InvalidArgument):
    """A job, environment, data or compute file does not follow its schema.

    ``details`` carries ``file``, ``line`` and ``field`` when they are known, so the CLI can
    point at the offending line the way the Azure CLI's schema check does.
    """

    code = "INVALID_SPEC"


class InvalidInput(InvalidArgument):
    """A scoring request's body does not fit the deployment's model (not JSON, a missing
    column, a value of the wrong type); the message says what to change."""

    code = "INVALID_INPUT"


class InvalidBackup(InvalidArgument):
    """A backup file that cannot be restored as it is: truncated, damaged or altered (a hash
    that does not match), or not a Shipyard backup. Nothing was restored from it."""

    code = "INVALID_BACKUP"


class Unauthenticated(ShipyardError):
    code = "UNAUTHENTICATED"
    status = 401


class PermissionDenied(ShipyardError):
    code = "PERMISSION_DENIED"
    status = 403


class HostNotAllowed(PermissionDenied):
    """The request's Host is not one the server answers to (DNS rebinding)."""

    code = "HOST_NOT_ALLOWED"


class OriginNotAllowed(PermissionDenied):
    """A web page of another origin tried to change something (CSRF)."""

    code = "ORIGIN_NOT_ALLOWED"


class ApprovalRequired(PermissionDenied):
    """The alias is protected: it moves only through a promotion that others approve
    (``shipyard model promote``), never by setting or deleting it directly."""

    code = "APPROVAL_REQUIRED"


class SelfApproval(PermissionDenied):
    """The requester of a promotion tried to approve or reject it: a second person must."""

    code = "SELF_APPROVAL"


class NotFound(ShipyardError):
    code = "NOT_FOUND"
    status = 404


class MethodNotAllowed(ShipyardError):
    code = "METHOD_NOT_ALLOWED"
    status = 405


class RequestTimeout(ShipyardError):
    """A deployment took longer than its ``request_timeout_ms`` to answer a scoring request."""

    code = "REQUEST_TIMEOUT"
    status = 408


class AlreadyExists(ShipyardError):
    code = "ALREADY_EXISTS"
    status = 409


class Conflict(ShipyardError):
    """The request is valid but clashes with the current state of a resource."""

    code = "CONFLICT"
    status = 409


class ParamAlreadySet(Conflict):
    """Params are immutable once logged; re-logging the same value is allowed."""

    code = "PARAM_ALREADY_SET"


class PayloadTooLarge(ShipyardError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413


class UnsupportedMediaType(ShipyardError):
    """A mutating request's body is of a type a plain HTML form can send."""

    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415


class TooManyRequests(ShipyardError):
    """Every worker of a deployment stayed busy past ``max_queue_wait_ms``; retrying may help."""

    code = "TOO_MANY_REQUESTS"
    status = 429


class Unavailable(ShipyardError):
    """A backend (database, artifact store) cannot be reached; retrying may help."""

    code = "UNAVAILABLE"
    status = 503


class EnvironmentBuildFailed(ShipyardError):
    """uv could not build a job's environment; ``details["log_tail"]`` holds the build log's end."""

    code = "ENVIRONMENT_BUILD_FAILED"
    status = 500


class ScoringFailed(ShipyardError):
    """A deployment's model or scoring script raised while scoring. ``details`` name the
    ``deployment`` and carry its own words in ``deployment_message``; the traceback is in
    the deployment's log."""

    code = "SCORING_FAILED"
    status = 500


def _all_subclasses(cls: type[ShipyardError]) -> list[type[ShipyardError]]:
    out: list[type[ShipyardError]] = [cls]
    for sub in cls.__subclasses__():
        out.extend(_all_subclasses(sub))
    return out


_BY_CODE: dict[str, type[ShipyardError]] = {c.code: c for c in _all_subclasses(ShipyardError)}

HTTP_STATUS: dict[str, int] = {code: cls.status for code, cls in _BY_CODE.items()}
"""Stable error code → HTTP status; shared by the server and the SDK."""


def error_from_payload(status: int, payload: Any) -> ShipyardError:
    """Rebuild the exception a server answered with (used by the SDK)."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        # Not a Shipyard answer: a proxy's 502/503/504 means the server behind it is down.
        cls = Unavailable if status in (502, 503, 504) else ShipyardError
        return cls(f"HTTP {status}: {str(payload)[:500]}")
    cls = _BY_CODE.get(str(error.get("code")), ShipyardError)
    details = error.get("details") if isinstance(error.get("details"), dict) else {}
    exc = cls(str(error.get("message", "")), **(details or {}))
    return exc
