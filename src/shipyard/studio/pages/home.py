"""``/`` (the experiments, and where MLflow's ``/#/…`` links are resolved) and ``/login``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from shipyard.studio.pages.experiments import experiments_page
from shipyard.studio.render import render

__all__ = ["router"]

router = APIRouter()


def _local(target: str | None) -> str:
    """Only a path of this server: ``next=//evil.example`` or ``https://…`` is an open redirect."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


@router.get("/")
async def home(request: Request) -> Response:
    # MLflow's links ("View run at http://HOST/#/experiments/3/runs/…") arrive here with the
    # part after '#', which only the browser sees: studio.js maps it onto /studio/… at once.
    return await experiments_page(request=request)


@router.get("/login")
async def login(request: Request, next: str | None = None) -> Response:  # noqa: A002 - the URL's name
    target = _local(next)
    if request.app.state.authenticator is None:  # --no-auth: nothing to sign in to
        return RedirectResponse(target, status_code=303)
    return render(request, "login.html", title="Sign in", next=target)
