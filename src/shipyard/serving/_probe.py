"""HTTP GET over a UNIX socket, for the runtime's liveness and readiness probes (stdlib only:
a probe runs every few seconds per worker and must not need an event loop)."""

from __future__ import annotations

import http.client
import socket


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def probe(socket_path: str, route: str, timeout: float) -> str | None:
    """None when ``GET route`` answers 200; otherwise what went wrong, in words."""
    conn = _UnixConnection(socket_path, timeout)
    try:
        conn.request("GET", route)
        response = conn.getresponse()
        body = response.read(2048)
    except TimeoutError:
        return f"GET {route} timed out after {timeout:g} s"
    except (OSError, http.client.HTTPException) as exc:
        return f"GET {route} failed: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
    finally:
        conn.close()
    if response.status == 200:
        return None
    return f"GET {route} answered {response.status}: {body.decode('utf-8', 'replace')}"
