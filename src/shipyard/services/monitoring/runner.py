"""Runs monitor jobs' computations off the orchestrator's thread, and does what a breach asks.

A monitor run reads and profiles data: seconds, where an orchestrator pass takes
milliseconds and must keep renewing its leases. So :class:`MonitorRunner` computes in a
small thread pool, and the ``monitor`` job type (``job_kinds/monitor.py``) polls it. Nothing
here outlives the server: a server that dies mid-run leaves a job another server adopts,
finds no computation for, and starts again — a run is a pure function of its window.

After the run, :meth:`finish` keeps its record: the signal values as the run's metrics, the
report as ``monitor/report.html`` and ``monitor/report.json`` artifacts, the webhooks called
and the retraining jobs submitted (named after the monitor job, so a second try finds the
first's job instead of submitting another).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from shipyard.domain.context import RequestContext
from shipyard.domain.jobs import Job
from shipyard.errors import AlreadyExists, ShipyardError
from shipyard.services.artifacts import ArtifactService
from shipyard.services.monitoring.sources import MonitorSources
from shipyard.services.ports import Database

if TYPE_CHECKING:
    # The engine brings numpy and scipy: imported when a monitor first runs, not at every
    # server start (0.7 s of scipy.stats on each).
    from shipyard.services.monitoring.engine import MonitorRun
    from shipyard.specs.monitor import MonitorSpec

__all__ = ["REPORT_HTML", "REPORT_JSON", "MonitorRunner", "monitor_experiment"]


REPORT_HTML = "monitor/report.html"
REPORT_JSON = "monitor/report.json"
_HISTORY = 30  # earlier runs drawn in a report's over-time charts
_ABANDONED_S = 600.0  # a computed run not collected within this is forgotten


def monitor_experiment(name: str) -> str:
    """The experiment a monitor's runs go to: one per monitor, so its charts are its own."""
    return f"monitor-{name}"


SourcesFor = Callable[[RequestContext], MonitorSources]


class MonitorRunner:
    def __init__(
        self,
        db: Database,
        artifacts: ArtifactService,
        sources_for: SourcesFor,
        *,
        workers: int = 2,
        smtp_url: str | None = None,
        mail_from: str = "shipyard@localhost",
    ) -> None:
        self.db = db
        self.smtp_url = smtp_url
        self.mail_from = mail_from
        self.artifacts = artifacts
        self.sources_for = sources_for
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shipyard-monitor")
        self._lock = threading.Lock()
        self._running: dict[tuple[str, str, int], tuple[Future[MonitorRun], float]] = {}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- computing ----------------------------------------------------------------------

    def poll(
        self, ctx: RequestContext, job: Job, name: str, spec: MonitorSpec, now_ms: int
    ) -> MonitorRun | None:
        """The run's result once computed (an error raised as the computation raised it);
        None while it computes — started here on first ask."""
        key = (job.workspace, job.name, job.created_at)
        with self._lock:
            entry = self._running.get(key)
            future = entry[0] if entry is not None else None
            if future is None:
                from shipyard.services.monitoring.engine import run_monitor

                self._forget_abandoned()
                previous, history = self.previous_runs(ctx, name, before=job)
                sources = self.sources_for(ctx)
                future = self._pool.submit(
                    run_monitor, name, spec, sources, now_ms=now_ms, previous_ms=previous, history=history
                )
                self._running[key] = (future, time.monotonic())
        if not future.done():
            return None
        with self._lock:
            self._running.pop(key, None)
        return future.result()

    def _forget_abandoned(self) -> None:
        """Drop results no one came back for (the job was canceled, timed out, or taken over
        by another server while this one computed): they would otherwise stay in memory."""
        stale = time.monotonic() - _ABANDONED_S
        for key, (future, started) in list(self._running.items()):
            if future.done() and started < stale:
                del self._running[key]

    def previous_runs(
        self, ctx: RequestContext, name: str, *, before: Job | None = None, limit: int = _HISTORY
    ) -> tuple[int | None, list[dict[str, Any]]]:
        """When the monitor last ran (its window's end: the next window's start) and its
        earlier runs' values, oldest first."""
        with self.db.read() as uow:
            jobs = uow.jobs.list(ctx.workspace, None, 0, 2000, type_="monitor")
        runs = [
            j for j in jobs
            if j.type == "monitor" and j.spec.get("monitor_name") == name and j.report.get("generated_at")
            and (before is None or j.name != before.name)
        ]  # fmt: skip
        runs.sort(key=lambda j: int(j.report["generated_at"]))
        runs = runs[-limit:]
        history = [
            {"at": int(j.report["generated_at"]), "run_id": j.run_id, "job": j.name,
             "values": dict(j.report.get("values") or {})}
            for j in runs
        ]  # fmt: skip
        previous = int(runs[-1].report["window_end"]) if runs and runs[-1].report.get("window_end") else None
        return previous, history

    # -- keeping the record -------------------------------------------------------------

    def keep_report(self, job: Job, run: MonitorRun) -> None:
        """The report as the run's artifacts: self-contained HTML and the JSON it is drawn from."""
        from shipyard.services.monitoring.report import render_report

        with self.db.read() as uow:
            ref = uow.runs.ref(job.run_id)
        if ref is None:  # pragma: no cover - the job's run is made with the job
            return
        with tempfile.TemporaryDirectory(prefix="shipyard-monitor-") as tmp:
            html = Path(tmp) / "report.html"
            html.write_text(render_report(run.report), encoding="utf-8")
            data = Path(tmp) / "report.json"
            data.write_bytes(orjson.dumps(run.report, option=orjson.OPT_SERIALIZE_NUMPY))
            self.artifacts.put_local(ref, REPORT_HTML, html, job.created_by)
            self.artifacts.put_local(ref, REPORT_JSON, data, job.created_by)

    def email(
        self, recipients: list[str], report: Mapping[str, Any], signal: Mapping[str, Any]
    ) -> dict[str, Any]:
        from shipyard.services.monitoring.alerts import alert_text, send_alert

        subject, body = alert_text(report, signal)
        return send_alert(self.smtp_url, self.mail_from, recipients, subject, body)

    def webhook(
        self, ctx: RequestContext, url: str, secret: str | None, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        from shipyard.services.monitoring.webhook import post_webhook

        key = None
        if secret is not None:
            try:
                key = self.sources_for(ctx).secret(secret)
            except ShipyardError as error:
                return {"url": url, "ok": False, "error": f"secret {secret!r}: {error.message}"}
        result = post_webhook(url, payload, secret=key)
        return {"url": url, **_plain(result)}


def _plain(result: Any) -> dict[str, Any]:
    import dataclasses

    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        return dataclasses.asdict(result)
    return dict(result) if isinstance(result, Mapping) else {"result": str(result)}


def submit_retraining(
    ctx: RequestContext, jobs: Any, body: Mapping[str, Any], name: str, tags: Mapping[str, str]
) -> str:
    """Submit the retraining job ``body`` as ``name`` (once: a second try finds the first)."""
    from shipyard.services.job_requests import job_request, submit_job, with_name_and_tags

    request = job_request(with_name_and_tags(body, name, dict(tags)))
    try:
        return submit_job(ctx, request, jobs).name
    except AlreadyExists:
        return name
