"""``shipyard ci comment`` against a stand-in for GitHub's REST API.

GitHub cannot be reached from where these tests run, so the API is a small HTTP server on
loopback (a ``ThreadingHTTPServer`` on port 0, below) speaking the three endpoints the
command uses, as GitHub documents them: ``GET /repos/{o}/{r}/issues/{n}/comments`` (paged by
``per_page`` with a ``Link: <…>; rel="next"`` header), ``POST`` to the same path, and
``PATCH /repos/{o}/{r}/issues/comments/{id}``; a wrong token gets GitHub's 401 body. The
command runs as a user runs it, with ``--api-url`` pointing at the stand-in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

TOKEN = "ghp_test_token"
MARKER = "<!-- shipyard-ci -->"


@dataclass
class FakeGitHub:
    """The state of the stand-in: comments per (repo, PR), and every request's headers."""

    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    next_id: int = 1000
    url: str = ""


class GitHubStandIn(BaseHTTPRequestHandler):
    """The three endpoints, over the :class:`FakeGitHub` of its subclass (one per test)."""

    state: ClassVar[FakeGitHub]

    def log_message(self, *args: Any) -> None:  # keep the test's output clean
        pass

    def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self, method: str) -> bool:
        self.state.seen.append((method, self.path, dict(self.headers.items())))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._answer(401, {"message": "Bad credentials", "status": "401"})
            return False
        return True

    def _body(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        return data

    def do_GET(self) -> None:
        if not self._authorized("GET"):
            return
        parts = urlsplit(self.path)
        _, _, owner, name, _, number, _ = parts.path.split("/")
        query = parse_qs(parts.query)
        per_page, page = int(query["per_page"][0]), int(query.get("page", ["1"])[0])
        everything = self.state.comments.get((f"{owner}/{name}", int(number)), [])
        shown = everything[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(everything):
            headers["Link"] = (
                f'<{self.state.url}{parts.path}?per_page={per_page}&page={page + 1}>; rel="next"'
            )
        self._answer(200, shown, headers)

    def do_POST(self) -> None:
        if not self._authorized("POST"):
            return
        _, _, owner, name, _, number, _ = self.path.split("/")
        self.state.next_id += 1
        made = {"id": self.state.next_id, "body": self._body()["body"],
                "html_url": f"https://github.com/{owner}/{name}/pull/{number}#issuecomment-{self.state.next_id}"}  # fmt: skip
        self.state.comments.setdefault((f"{owner}/{name}", int(number)), []).append(made)
        self._answer(201, made)

    def do_PATCH(self) -> None:
        if not self._authorized("PATCH"):
            return
        wanted = int(self.path.rsplit("/", 1)[1])
        for comments in self.state.comments.values():
            for comment in comments:
                if comment["id"] == wanted:
                    comment["body"] = self._body()["body"]
                    self._answer(200, comment)
                    return
        self._answer(404, {"message": "Not Found"})


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    state = FakeGitHub()
    handler = type("Handler", (GitHubStandIn,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def comment(github: FakeGitHub, *args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "GITHUB_API_URL")}
    if token is not None:
        env["GITHUB_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "shipyard", "ci", "comment", "--api-url", github.url, *args],
        capture_output=True, text=True, timeout=60, check=False, env=env,
    )  # fmt: skip


def test_the_first_run_creates_the_comment_and_the_next_edits_it(github: FakeGitHub, tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    report.write_text("| a |\n|---|\n| 1 |\n", encoding="utf-8")
    first = comment(github, "--repo", "acme/fraud", "--pr", "7", "--body-file", str(report))
    assert first.returncode == 0, first.stderr
    [made] = github.comments[("acme/fraud", 7)]
    assert made["body"] == f"{MARKER}\n| a |\n|---|\n| 1 |\n"
    assert first.stdout.strip() == f"created comment {made['id']} on acme/fraud#7: {made['html_url']}"

    report.write_text("| a |\n|---|\n| 2 |\n", encoding="utf-8")
    second = comment(github, "--repo", "acme/fraud", "--pr", "7", "--body-file", str(report))
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith(f"updated comment {made['id']} ")
    assert github.comments[("acme/fraud", 7)] == [{**made, "body": f"{MARKER}\n| a |\n|---|\n| 2 |\n"}]
    # GitHub's required headers, on every request.
    for _, _, headers in github.seen:
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert headers["Accept"] == "application/vnd.github+json"
        assert headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert [(method, path.split("?")[0]) for method, path, _ in github.seen] == [
        ("GET", "/repos/acme/fraud/issues/7/comments"),
        ("POST", "/repos/acme/fraud/issues/7/comments"),
        ("GET", "/repos/acme/fraud/issues/7/comments"),
        ("PATCH", f"/repos/acme/fraud/issues/comments/{made['id']}"),
    ]


def test_the_marked_comment_is_found_past_the_first_page(github: FakeGitHub, tmp_path: Path) -> None:
    others = [{"id": i, "body": f"comment {i}", "html_url": ""} for i in range(1, 151)]
    ours = {"id": 151, "body": f"{MARKER}\nold report", "html_url": "https://github.com/x"}
    github.comments[("acme/fraud", 3)] = [*others, ours, {"id": 152, "body": "later", "html_url": ""}]
    report = tmp_path / "report.md"
    report.write_text("new report\n", encoding="utf-8")
    done = comment(github, "--repo", "acme/fraud", "--pr", "3", "--body-file", str(report))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("updated comment 151 ")
    assert ours["body"] == f"{MARKER}\nnew report\n"
    assert len(github.comments[("acme/fraud", 3)]) == 152
    pages = [path for method, path, _ in github.seen if method == "GET"]
    assert pages == ["/repos/acme/fraud/issues/3/comments?per_page=100",
                     "/repos/acme/fraud/issues/3/comments?per_page=100&page=2"]  # fmt: skip


def test_a_bad_token_shows_githubs_401(github: FakeGitHub, tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    report.write_text("x\n", encoding="utf-8")
    done = comment(github, "--repo", "acme/fraud", "--pr", "7", "--body-file", str(report), token="expired")
    assert done.returncode == 1
    assert "GitHub answered 401 to GET /repos/acme/fraud/issues/7/comments: Bad credentials" in done.stderr
    assert "(UNAUTHENTICATED)" in done.stderr
    assert "Traceback" not in done.stderr
    assert github.comments == {}


def test_a_missing_token_is_a_clear_usage_error(github: FakeGitHub, tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    report.write_text("x\n", encoding="utf-8")
    done = comment(github, "--repo", "acme/fraud", "--pr", "7", "--body-file", str(report), token=None)
    assert done.returncode == 2
    assert "error: GITHUB_TOKEN is not set" in done.stderr
    assert "secrets.GITHUB_TOKEN" in done.stderr
    assert github.seen == []


def test_a_missing_body_file_is_named(github: FakeGitHub, tmp_path: Path) -> None:
    done = comment(github, "--repo", "acme/fraud", "--pr", "7", "--body-file", str(tmp_path / "report.md"))
    assert done.returncode == 2
    assert f"error: --body-file {tmp_path / 'report.md'}: No such file or directory" in done.stderr
    assert github.seen == []


def test_a_repo_that_is_not_owner_slash_name_is_refused(github: FakeGitHub, tmp_path: Path) -> None:
    done = comment(github, "--repo", "fraud", "--pr", "7", "--body-file", str(tmp_path / "r.md"))
    assert done.returncode == 2
    assert "is not OWNER/NAME" in done.stderr
