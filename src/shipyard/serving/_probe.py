"""HTTP GET over a UNIX socket, for the runtime's liveness and readiness probes: one
HTTP/1.0 request on a fresh connection, closed by the worker after its answer (stdlib only,
and no event loop: a probe runs every few seconds per worker from the instance's thread)."""

from __future__ import annotations

import socket
import time

_MAX_ANSWER = 4096


def probe(socket_path: str, route: str, timeout: float) -> str | None:
    """None when ``GET route`` answers 200; otherwise what went wrong, in words."""
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(socket_path)
            sock.sendall(f"GET {route} HTTP/1.0\r\nHost: worker\r\n\r\n".encode())
            answer = b""
            while len(answer) < _MAX_ANSWER:
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                chunk = sock.recv(_MAX_ANSWER)
                if not chunk:
                    break
                answer += chunk
    except TimeoutError:
        return f"GET {route} timed out after {timeout:g} s"
    except OSError as exc:
        return f"GET {route} failed: {exc.strerror or exc}"
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        return f"GET {route} got no HTTP answer"
    if status_line[1] == b"200":
        return None
    return f"GET {route} answered {int(status_line[1])}: {body.decode('utf-8', 'replace')[:500]}"
