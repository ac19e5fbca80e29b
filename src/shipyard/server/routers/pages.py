"""What a browser finds beside the studio (``shipyard/studio/``, which answers ``/``): the
interactive API docs at ``/docs`` (Swagger UI served from the package, so it works offline)
and ``/openapi.json``.

These are the same on every Shipyard server of a version and hold no data, so they are
public (``server/access.py``); every operation they describe still needs a token, which
Swagger UI's *Authorize* button takes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from shipyard.errors import NotFound
from shipyard.server.access import PUBLIC, SIGNED_IN, rule_for
from shipyard.server.contract import complete

__all__ = ["install_openapi", "router"]

router = APIRouter(include_in_schema=False)

_ASSETS = {
    "swagger-ui-bundle.js": "application/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}


def _assets_dir() -> Path:
    import fastapi_offline  # its wheel carries Swagger UI's files; nothing of it runs

    return Path(fastapi_offline.__file__).parent / "static"


def install_openapi(app: FastAPI) -> None:
    """The document says, per operation, the permission it needs, that it takes a token, and
    every status it may answer (``server/contract.py``)."""
    plain = app.openapi

    def with_sign_in() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = plain()
            spec.setdefault("components", {})["securitySchemes"] = {
                "token": {"type": "http", "scheme": "bearer", "description": "a Shipyard token (shy_…)"}
            }
            spec["security"] = [{"token": []}]
            for path, operations in spec.get("paths", {}).items():
                for method, operation in operations.items():
                    rule = rule_for(method.upper(), path)
                    if rule is not None and rule.permission == PUBLIC:
                        operation["security"] = []
                    elif rule is not None and rule.permission != SIGNED_IN:
                        operation["description"] = (
                            f"{operation.get('description', '')}\n\nNeeds `{rule.permission}`."
                        ).strip()
            app.openapi_schema = complete(spec)
        return app.openapi_schema

    app.openapi = with_sign_in  # type: ignore[method-assign]


@router.get("/openapi.json")
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs")
def docs() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Shipyard API",
        swagger_js_url="/docs/static/swagger-ui-bundle.js",
        swagger_css_url="/docs/static/swagger-ui.css",
        swagger_favicon_url="/docs/static/favicon.png",
        swagger_ui_parameters={"persistAuthorization": True},
    )


@router.get("/docs/static/{name}")
def asset(name: str) -> FileResponse:
    media = _ASSETS.get(name)
    if media is None:  # a fixed list: no path from the client reaches the disk
        raise NotFound(f"no documentation asset {name!r}")
    return FileResponse(_assets_dir() / name, media_type=media, headers={"Cache-Control": "max-age=86400"})
