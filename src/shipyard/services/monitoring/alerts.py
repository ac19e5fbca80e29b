"""Alert e-mails: ``alert_notification.emails`` of a monitor, for signals with ``alert_enabled``.

Sent through the mail server of the ``smtp_url`` setting (``smtp://host:port``, ``smtps://``
for TLS, ``user:password@`` for a server that wants a login); without it a breach is still
recorded, shown and acted on, and the run's report says no mail went out. Sending never fails
the monitor run: the outcome is recorded beside the webhook's.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["alert_text", "send_alert"]

_TIMEOUT_S = 10.0


def send_alert(
    smtp_url: str | None, sender: str, recipients: Sequence[str], subject: str, body: str
) -> dict[str, Any]:
    """``{"to", "ok", "error"}``: what happened, never an exception."""
    to = list(recipients)
    if not smtp_url:
        return {"to": to, "ok": False, "error": "no mail server configured (the smtp_url setting)"}
    parts = urlsplit(smtp_url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        return {"to": to, "ok": False, "error": "smtp_url must be smtp://host:port or smtps://host:port"}
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, ", ".join(to), subject
    message.set_content(body)
    port = parts.port or (465 if parts.scheme == "smtps" else 25)
    try:
        client: smtplib.SMTP
        if parts.scheme == "smtps":
            client = smtplib.SMTP_SSL(
                parts.hostname, port, timeout=_TIMEOUT_S, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(parts.hostname, port, timeout=_TIMEOUT_S)
        with client:
            if parts.username:
                client.login(unquote(parts.username), unquote(parts.password or ""))
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        return {"to": to, "ok": False, "error": f"{type(error).__name__}: {error}"}
    return {"to": to, "ok": True, "error": None}


def alert_text(report: Mapping[str, Any], signal: Mapping[str, Any]) -> tuple[str, str]:
    """The subject and plain-text body of a breach's e-mail."""
    monitor = report.get("monitor")
    subject = f"[shipyard] monitor {monitor}: signal {signal['name']} breached"
    lines = [
        f"Monitor {monitor} ({report.get('target') or 'its data'}), run {report.get('run_id')}:",
        f"signal {signal['name']} ({signal['type']}) breached:",
        "",
    ]
    for row in signal.get("rows") or []:
        if row.get("breached"):
            where = f"{row['column']}: " if row.get("column") else ""
            sign = ">" if row.get("breach_when") == "above" else "<"
            lines.append(f"  {where}{row['metric']} = {row['value']:.4g} ({sign} {row['threshold']:g})")
    lines += ["", f"The report: /api/v1/runs/{report.get('run_id')}/artifacts/monitor/report.html"]
    return subject, "\n".join(lines)
