"""Alert e-mails through a real SMTP conversation with a small server on loopback (no mail
server can be reached from here; this one speaks just enough SMTP: EHLO, AUTH PLAIN, MAIL,
RCPT, DATA, QUIT)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator

import pytest

from shipyard.services.monitoring.alerts import alert_text, send_alert


class _Smtp(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server: Server = self.server  # type: ignore[assignment]
        self.wfile.write(b"220 test ready\r\n")
        while line := self.rfile.readline():
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"EHLO":
                self.wfile.write(b"250-test\r\n250 AUTH PLAIN\r\n")
            elif verb == b"AUTH":
                server.logins.append(line.decode().strip())
                self.wfile.write(b"235 ok\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                body = []
                while (part := self.rfile.readline()) not in (b".\r\n", b""):
                    body.append(part)
                server.messages.append(b"".join(body).decode())
                self.wfile.write(b"250 kept\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Smtp)
        self.messages: list[str] = []
        self.logins: list[str] = []


@pytest.fixture
def smtp() -> Iterator[Server]:
    server = Server()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


REPORT = {"monitor": "credit", "target": "credit:blue", "run_id": "abc"}
SIGNAL = {
    "name": "drift",
    "type": "data_drift",
    "rows": [
        {"column": "age", "metric": "normalized_wasserstein_distance", "value": 0.42, "threshold": 0.1,
         "breach_when": "above", "breached": True},
        {"column": "income", "metric": "normalized_wasserstein_distance", "value": 0.01, "threshold": 0.1,
         "breach_when": "above", "breached": False},
    ],
}  # fmt: skip


def test_the_alert_names_the_breached_columns_and_goes_out(smtp: Server) -> None:
    subject, body = alert_text(REPORT, SIGNAL)
    assert subject == "[shipyard] monitor credit: signal drift breached"
    assert "age: normalized_wasserstein_distance = 0.42 (> 0.1)" in body and "income" not in body
    port = smtp.server_address[1]
    result = send_alert(
        f"smtp://ops:p%40ss@127.0.0.1:{port}", "shipyard@example.com", ["a@x.io"], subject, body
    )
    assert result == {"to": ["a@x.io"], "ok": True, "error": None}
    (message,) = smtp.messages
    assert "Subject: [shipyard] monitor credit: signal drift breached" in message
    assert "To: a@x.io" in message and "From: shipyard@example.com" in message
    assert smtp.logins and smtp.logins[0].startswith("AUTH PLAIN")


def test_no_server_configured_or_reachable_is_recorded_not_raised() -> None:
    result = send_alert(None, "s@x", ["a@x.io"], "s", "b")
    assert not result["ok"] and "smtp_url" in result["error"]
    bad = send_alert("http://mail", "s@x", ["a@x.io"], "s", "b")
    assert not bad["ok"] and "smtp://host:port" in bad["error"]
    with socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler) as closed:
        port = closed.server_address[1]
    down = send_alert(f"smtp://127.0.0.1:{port}", "s@x", ["a@x.io"], "s", "b")
    assert not down["ok"] and "Connection" in down["error"]
