"""The studio's session: a cookie holding a token of the user's, made when they sign in.

Why a token of its own and not the one typed in: signing out revokes it (the typed one, often
the owner's long-lived token, never sits in a browser), it expires (``studio_session_hours``),
and every server on the same database accepts it, as it does any token.

The cookie is ``HttpOnly`` (no script reads it) and ``SameSite=Strict`` (no other site's page
sends it). A mutation made with it must also carry :data:`CSRF_HEADER` with
:func:`csrf_of` the token: the page learns that value from a second, script-readable cookie
that only pages of this origin can read — the double-submit pattern, on top of the guard's
Origin and content-type checks (``server/guard.py``).
"""

from __future__ import annotations

import hashlib
from http.cookies import CookieError, SimpleCookie

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "SESSION_COOKIE", "SESSION_TOKEN_PREFIX", "csrf_of", "read_cookie"]

SESSION_COOKIE = "shipyard_session"
CSRF_COOKIE = "shipyard_csrf"
CSRF_HEADER = "X-Shipyard-CSRF"
SESSION_TOKEN_PREFIX = "studio-"  # noqa: S105 - a name, not a secret; sessions show in `shipyard token list` under this name


def csrf_of(token: str) -> str:
    """Derived, not stored: any server of the database checks it without shared state, and it
    tells nothing of the token."""
    return hashlib.sha256(b"shipyard-csrf\0" + token.encode()).hexdigest()[:40]


def read_cookie(header: bytes | None, name: str) -> str | None:
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header.decode("latin-1"))
    except CookieError:
        return None
    found = jar.get(name)
    return found.value if found is not None and found.value else None
