"""Signing in: a token in, an HttpOnly SameSite=Strict cookie out; CSRF on mutations; sign-out
revokes the session's token; pages without a session go to /login; MLflow's links resolve."""

from __future__ import annotations

from tests.integration.studio.conftest import Studio


def test_sign_in_sets_a_strict_httponly_session_and_a_readable_csrf_cookie(studio: Studio) -> None:
    browser = studio.client()
    answer = browser.request("POST", "/api/v1/session", json={"token": studio.token})
    assert answer.status_code == 200 and answer.json()["user"] == "admin"
    cookies = answer.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("shipyard_session="))
    csrf = next(c for c in cookies if c.startswith("shipyard_csrf="))
    assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
    assert "HttpOnly" not in csrf and "SameSite=strict" in csrf
    assert session.split(";")[0].split("=", 1)[1] != studio.token  # a token of its own, not the one typed
    assert answer.headers["cache-control"] == "no-store"


def test_a_bad_token_is_a_clear_401_and_sets_no_cookie(studio: Studio) -> None:
    browser = studio.client()
    for body, status in (({"token": "shy_nope"}, 401), ({"token": ""}, 422), ({}, 422)):
        answer = browser.request("POST", "/api/v1/session", json=body)
        assert answer.status_code in (status, 400), answer.text
        assert "set-cookie" not in answer.headers
    answer = browser.request("POST", "/api/v1/session", json={"token": "shy_nope"})
    assert (
        answer.json()["error"]["code"] == "UNAUTHENTICATED" and "token" in answer.json()["error"]["message"]
    )


def test_a_mutation_with_the_cookie_but_without_the_csrf_header_is_refused(studio: Studio) -> None:
    browser = studio.signed_in(studio.token)
    del browser.client.headers["X-Shipyard-CSRF"]
    refused = browser.request("POST", "/api/v1/experiments", json={"name": "csrf-victim"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "CSRF_FAILED"
    browser.client.headers["X-Shipyard-CSRF"] = "0" * 40
    assert browser.request("POST", "/api/v1/experiments", json={"name": "csrf-victim"}).status_code == 403
    assert studio.owner.request("GET", "/api/v1/experiments/by-name/csrf-victim").status_code == 404
    # Reads need no header; another site's page cannot send the cookie (SameSite) or read the answer.
    assert browser.get("/api/v1/experiments").status_code == 200


def test_a_form_post_from_another_origin_cannot_sign_in(studio: Studio) -> None:
    browser = studio.client()
    answer = browser.request(
        "POST", "/api/v1/session", content=f"token={studio.token}",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"},
    )  # fmt: skip
    assert answer.status_code == 403 and "set-cookie" not in answer.headers


def test_sign_out_revokes_the_session_token(studio: Studio) -> None:
    browser = studio.signed_in(studio.token)
    assert browser.get("/studio/experiments").status_code == 200
    assert browser.request("DELETE", "/api/v1/session").status_code == 204
    gone = browser.get("/studio/experiments", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login?next=")
    names = [t["name"] for t in studio.owner.get("/api/v1/tokens").json()["tokens"]]
    assert len([n for n in names if n.startswith("studio-")]) >= 1  # the others' sessions stay


def test_pages_without_a_session_send_the_browser_to_sign_in_and_keep_where_it_was(studio: Studio) -> None:
    anonymous = studio.client()
    for path in ("/", "/studio/experiments", "/studio/experiments/1?filter=x"):
        answer = anonymous.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=%2F")
    page = anonymous.get("/login?next=/studio/experiments/1")
    assert page.status_code == 200 and 'data-next="/studio/experiments/1"' in page.text
    assert 'type="password"' in page.text and "shipyard login --url" in page.text
    # An address elsewhere is never where sign-in leads (open redirect).
    for evil in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
        assert 'data-next="/"' in anonymous.get("/login", params={"next": evil}).text
    # The API itself still answers 401 JSON, not a redirect.
    assert anonymous.get("/api/v1/experiments").status_code == 401


def test_the_pages_and_assets_hold_nothing_without_a_session(studio: Studio) -> None:
    anonymous = studio.client()
    assert anonymous.get("/studio/static/studio.js").status_code == 200
    assert anonymous.get("/studio/static/vendor/uPlot.iife.min.js").status_code == 200
    for trick in ("../app.py", "..%2f..%2fsettings.py", "vendor/../../api.py", "nope.js"):
        assert anonymous.get(f"/studio/static/{trick}").status_code == 404
    assert "experiments" not in anonymous.get("/studio/experiments/1", follow_redirects=False).text


def test_mlflow_links_are_resolved_by_the_page_script(studio: Studio) -> None:
    # The part after '#' never reaches a server: studio.js maps it (the browser test follows one).
    script = studio.browser.get("/studio/static/studio.js").text
    assert "/studio/experiments/" in script and "/versions/" in script
    assert '<script src="/studio/static/studio.js' in studio.browser.get("/").text
