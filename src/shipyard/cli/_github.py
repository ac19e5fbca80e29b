"""One pull-request comment kept up to date through GitHub's REST API (``shipyard ci comment``).

The comment is found again by a hidden marker on its first line, so a workflow that runs on
every push edits its report instead of piling up one comment per run. Only three endpoints
are used — list a PR's issue comments, create one, edit one — so any server speaking them
(GitHub Enterprise, or the tests' loopback stand-in) works through ``api_url``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from shipyard.errors import (
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ShipyardError,
    Unauthenticated,
    Unavailable,
)

__all__ = ["MARKER", "Posted", "upsert_comment", "with_marker"]

MARKER = "<!-- shipyard-ci -->"
_API_VERSION = "2022-11-28"
_PAGE = 100


@dataclass(frozen=True, slots=True)
class Posted:
    action: str  # "created" or "updated"
    id: int
    url: str  # the comment on github.com (html_url)


def with_marker(body: str) -> str:
    """The body with the marker as its first line (once, however often it is posted)."""
    return body if body.startswith(MARKER) else f"{MARKER}\n{body}"


def upsert_comment(api_url: str, repo: str, pr: int, body: str, token: str) -> Posted:
    """Edit the PR's comment that starts with the marker, or create it; errors as ShipyardError."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": _API_VERSION,
        "User-Agent": "shipyard-ci",  # GitHub refuses requests without one
    }
    body = with_marker(body)
    with httpx.Client(base_url=api_url.rstrip("/"), headers=headers, timeout=30) as http:
        existing = _find_marked(http, f"/repos/{repo}/issues/{pr}/comments")
        if existing is None:
            made = _send(http, "POST", f"/repos/{repo}/issues/{pr}/comments", {"body": body})
            return Posted("created", int(made["id"]), str(made.get("html_url", "")))
        edited = _send(http, "PATCH", f"/repos/{repo}/issues/comments/{existing}", {"body": body})
        return Posted("updated", int(edited["id"]), str(edited.get("html_url", "")))


def _find_marked(http: httpx.Client, path: str) -> int | None:
    """The id of the first comment carrying the marker, following the Link header's next pages."""
    url: str | None = path
    params: dict[str, Any] | None = {"per_page": _PAGE}
    while url is not None:
        response = _request(http, "GET", url, params=params)
        for comment in response.json():
            if str(comment.get("body") or "").lstrip().startswith(MARKER):
                return int(comment["id"])
        following = response.links.get("next", {}).get("url")
        url, params = following, None  # the next link carries its own query
    return None


def _send(http: httpx.Client, method: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    answer: dict[str, Any] = _request(http, method, path, json=payload).json()
    return answer


def _request(http: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        response = http.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        raise Unavailable(f"cannot reach the GitHub API at {http.base_url}: {exc}") from exc
    if response.is_success:
        return response
    raise _github_error(method, response)


def _github_error(method: str, response: httpx.Response) -> ShipyardError:
    """GitHub's own message (its JSON ``message``) with the status, as the right kind of error."""
    try:
        said = str(response.json().get("message", ""))
    except ValueError:
        said = response.text[:200]
    text = f"GitHub answered {response.status_code} to {method} {response.request.url.path}: {said}"
    status = response.status_code
    if status == 401:
        return Unauthenticated(text + " (is GITHUB_TOKEN valid and unexpired?)")
    if status == 403:
        return PermissionDenied(text + " (the token needs write access to the repository's pull requests)")
    if status == 404:
        return NotFound(text + " (check --repo and --pr, and that the token can see the repository)")
    if status >= 500:
        return Unavailable(text)
    return InvalidArgument(text)
