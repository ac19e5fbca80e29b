"""``type: monitor``: one run of a monitor file — what a monitor schedule fires.

``shipyard schedule create -f monitor.yml`` stores a job of this type (the monitor file, and
the retraining job files its actions name, their code uploaded), and every tick submits it;
``shipyard monitor run`` submits it at once. The job has no children: its computation runs in
the :class:`~shipyard.services.monitoring.runner.MonitorRunner`'s threads, and the job is its
record — its run holds the signal values as metrics and the HTML report as an artifact, its
report the signals' verdicts, the webhooks called and the retraining jobs it submitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shipyard.domain.context import RequestContext
from shipyard.domain.jobs import FailureCause, Job, JobFailure, JobStatus
from shipyard.errors import InvalidSpec, NotFound, ShipyardError
from shipyard.services._clock import now_ms
from shipyard.services.job_kinds.base import JobKind, JobRequest, ParentHandle
from shipyard.services.job_requests import check_job, job_request
from shipyard.services.jobs import JobService, ParentSubmission
from shipyard.services.monitoring.runner import MonitorRunner, monitor_experiment, submit_retraining
from shipyard.specs._yaml import validate_spec
from shipyard.specs.monitor import MonitorSpec

if TYPE_CHECKING:
    from shipyard.services.monitoring.engine import MonitorRun

__all__ = ["KIND", "MonitorKind"]


class MonitorKind(JobKind):
    type = "monitor"

    def check(self, ctx: RequestContext, request: JobRequest, jobs: JobService) -> None:
        self._read(ctx, request, jobs)

    def submit(self, ctx: RequestContext, request: JobRequest, jobs: JobService) -> Job:
        spec = self._read(ctx, request, jobs)
        name = spec.name
        return jobs.create_parent(
            ctx,
            ParentSubmission(
                type=self.type,
                spec={"monitor_name": name, "monitor": dict(request.spec["monitor"]),
                      "actions": dict(request.spec.get("actions") or {})},
                name=request.spec.get("name"),
                display_name=f"monitor {name}",
                experiment_name=monitor_experiment(name),
                description=spec.description or "",
                tags={**dict(request.spec.get("tags") or {}), "shipyard.monitor": name},
                summary=f"monitor {name}",
            ),
        )  # fmt: skip

    def _read(self, ctx: RequestContext, request: JobRequest, jobs: JobService) -> MonitorSpec:
        given = request.spec.get("monitor")
        if not isinstance(given, Mapping):
            raise InvalidSpec("a monitor job carries its monitor file under 'monitor'", field="monitor")
        spec = validate_spec(dict(given), MonitorSpec, request.source)
        target = spec.create_monitor.monitoring_target
        if target is not None and target.endpoint and target.deployment:
            with jobs.db.read() as uow:
                endpoint = uow.endpoints.get(ctx.workspace, target.endpoint)
                found = uow.deployments.get(ctx.workspace, target.endpoint, target.deployment)
            if endpoint is None:
                raise NotFound(
                    f"monitoring_target: no online endpoint {target.endpoint!r} in workspace"
                    f" {ctx.workspace!r} (`shipyard online-endpoint list` shows those there are)",
                    field="create_monitor.monitoring_target.endpoint_deployment_id",
                )
            if found is None:
                raise NotFound(
                    f"monitoring_target: endpoint {target.endpoint!r} has no deployment"
                    f" {target.deployment!r}",
                    field="create_monitor.monitoring_target.endpoint_deployment_id",
                )
        signals = {s.name: s for s in spec.signals()}
        actions = dict(request.spec.get("actions") or {})
        for signal, body in actions.items():
            wanted = signals.get(signal)
            if wanted is None or wanted.action is None or wanted.action.job is None:
                raise InvalidSpec(
                    f"a retraining job was sent for signal {signal!r}, whose action names no job file",
                    field=f"create_monitor.monitoring_signals.{signal}.action.job",
                )
            if not isinstance(body, Mapping):
                raise InvalidSpec(
                    f"the retraining job of signal {signal!r} is not a job body", field="actions"
                )
            check_job(ctx, job_request(body), jobs)
        for signal in signals.values():
            if signal.action is not None and signal.action.job is not None and signal.name not in actions:
                raise InvalidSpec(
                    f"signal {signal.name!r} names the retraining job {signal.action.job!r}, but its body"
                    " was not sent: create monitors with `shipyard schedule create -f monitor.yml`",
                    field=f"create_monitor.monitoring_signals.{signal.name}.action.job",
                )
        return spec

    def advance(self, parent: ParentHandle) -> None:
        job = parent.job
        runner = parent.service(MonitorRunner)
        name = str(job.spec["monitor_name"])
        spec = MonitorSpec.model_validate(job.spec["monitor"])
        if not job.report:
            parent.say(f"monitor {name}: computing {len(spec.signals())} signal(s)")
            parent.save_report({"phase": "computing", "started_at": now_ms()})
        started = int(parent.job.report.get("started_at") or now_ms())
        try:
            run = runner.poll(parent.ctx, job, name, spec, started)
        except ShipyardError as error:
            parent.finish(JobStatus.FAILED, error.message, JobFailure(FailureCause.SUBMIT, error.message))
            return
        if run is None:
            return
        self._record(parent, runner, name, spec, run)

    def _record(
        self, parent: ParentHandle, runner: MonitorRunner, name: str, spec: MonitorSpec, run: MonitorRun
    ) -> None:
        job = parent.job
        run.report.update(run_id=job.run_id, job=job.name)
        runner.keep_report(job, run)
        parent.log_to_run(
            metrics=run.metrics, tags={"shipyard.monitor.breached": ",".join(run.breached) or "none"}
        )
        actions = self._act(parent, runner, name, spec, run)
        signals = run.report["signals"]
        failed = [s["name"] for s in signals if s["error"]]
        for s in signals:
            if s["error"]:
                parent.say(f"signal {s['name']}: not computed: {s['error']}")
            else:
                hits = [r for r in s["rows"] if r["breached"]]
                what = ", ".join(f"{r['column'] or r['metric']}" for r in hits)
                parent.say(f"signal {s['name']}: {'BREACHED (' + what + ')' if hits else 'ok'}")
        stored = {k: v for k, v in run.report.items() if k != "history"}
        window = run.report.get("window") or {}
        parent.save_report({**stored, "phase": "done", "values": run.metrics, "breached": run.breached,
                            "actions": actions, "window_end": window.get("end")})  # fmt: skip
        message = (
            f"{len(signals) - len(failed)} signal(s) computed"
            + (f", breached: {', '.join(run.breached)}" if run.breached else ", none breached")
            + (f"; not computed: {', '.join(failed)}" if failed else "")
        )
        if failed and len(failed) == len(signals):
            parent.finish(JobStatus.FAILED, message, JobFailure(FailureCause.NO_RESULT, message))
        else:
            parent.finish(JobStatus.COMPLETED, message)

    def _act(
        self, parent: ParentHandle, runner: MonitorRunner, name: str, spec: MonitorSpec, run: MonitorRun
    ) -> list[dict[str, Any]]:
        from shipyard.services.monitoring.webhook import breach_payload

        job = parent.job
        bodies = dict(job.spec.get("actions") or {})
        done: list[dict[str, Any]] = []
        by_name = {s["name"]: s for s in run.report["signals"]}
        alert = spec.create_monitor.alert_notification
        emails = list(alert.emails) if alert is not None and not isinstance(alert, str) else []
        for signal in spec.signals():
            if signal.name not in run.breached:
                continue
            record: dict[str, Any] = {"signal": signal.name}
            if signal.alert_enabled and emails:
                record["email"] = runner.email(emails, run.report, by_name[signal.name])
                parent.say(
                    f"signal {signal.name}: e-mail to {', '.join(emails)}: {_outcome(record['email'])}"
                )
            if signal.action is None:
                if len(record) > 1:
                    done.append(record)
                continue
            if signal.action.webhook is not None:
                hook = signal.action.webhook
                payload = breach_payload(run.report, by_name[signal.name])
                record["webhook"] = runner.webhook(parent.ctx, hook.url, hook.secret, payload)
                parent.say(f"signal {signal.name}: webhook {hook.url}: {_outcome(record['webhook'])}")
            body = bodies.get(signal.name)
            running = _retraining(parent, name, signal.name) if body is not None else None
            if running is not None:
                # One retraining at a time per signal: a monitor that breaches every hour must
                # not pile up trainings that each take longer than that.
                record["job_skipped"] = running
                parent.say(f"signal {signal.name}: retraining job {running} is still running; none submitted")
            elif body is not None:
                tags = {
                    "shipyard.monitor": name,
                    "shipyard.monitor.job": job.name,
                    "shipyard.monitor.run_id": job.run_id,
                    "shipyard.monitor.signal": signal.name,
                }
                try:
                    record["job"] = submit_retraining(
                        parent.ctx, parent.jobs, body, f"{job.name}-{signal.name}-retrain", tags
                    )
                    parent.say(f"signal {signal.name}: submitted retraining job {record['job']}")
                except ShipyardError as error:
                    record["job_error"] = error.message
                    parent.say(f"signal {signal.name}: the retraining job was refused: {error.message}")
            done.append(record)
        return done


def _retraining(parent: ParentHandle, monitor: str, signal: str) -> str | None:
    """The retraining job an earlier run of ``monitor`` submitted for ``signal`` that has not
    ended yet, if any."""
    with parent.db.read() as uow:
        earlier = uow.jobs.list(parent.job.workspace, None, 0, 50, type_="monitor")
        names = [
            str(action["job"])
            for job in earlier
            if job.name != parent.job.name and job.spec.get("monitor_name") == monitor
            for action in job.report.get("actions") or []
            if action.get("signal") == signal and action.get("job")
        ]
        for name in names:
            found = uow.jobs.get(parent.job.workspace, name)
            if found is not None and not found.done:
                return name
    return None


def _outcome(result: Mapping[str, Any]) -> str:
    if result.get("ok"):
        return f"answered {result.get('status')}" if "status" in result else "sent"
    return f"failed ({result.get('error') or result.get('status')})"


KIND = MonitorKind()
