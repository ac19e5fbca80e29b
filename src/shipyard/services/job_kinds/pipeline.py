"""``type: pipeline``: steps as child command jobs, started once the steps they read from have
completed, each reused from an earlier identical run when it may be — and the reason written
down either way.

The parent's spec keeps, per step, the command job it becomes (a :class:`JobSubmission`
template; inputs read from upstream steps are filled when those end) and its place in the
graph. Everything the kind learns while it runs lives in the parent's ``report``
(:func:`step_report` is the shape ``job show`` prints), so another server can take over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from shipyard.domain.components import StepResult
from shipyard.domain.context import RequestContext
from shipyard.domain.jobs import FailureCause, Job, JobFailure, JobStatus
from shipyard.errors import NotFound
from shipyard.services._clock import now_ms
from shipyard.services.component_ports import STEP_RESULTS
from shipyard.services.job_kinds._pipeline_template import PipelineTemplate, build_template
from shipyard.services.job_kinds.base import JobKind, JobRequest, ParentHandle
from shipyard.services.jobs import InputValue, JobService, JobSubmission, ParentSubmission
from shipyard.services.pipeline_reuse import Fingerprint, changes, content_hash_of_records, fingerprint

__all__ = ["KIND", "PipelineKind"]

_HASHES = "content_hashes"  # report key of the cache of run-artifact content hashes


class PipelineKind(JobKind):
    type = "pipeline"

    def check(self, ctx: RequestContext, request: JobRequest, jobs: JobService) -> None:
        build_template(ctx, request, jobs)

    def submit(self, ctx: RequestContext, request: JobRequest, jobs: JobService) -> Job:
        template = build_template(ctx, request, jobs)
        spec = template.spec
        assert spec is not None  # built from the file just now
        order = list(template.steps)
        return jobs.create_parent(
            ctx,
            ParentSubmission(
                type=self.type,
                spec=template.to_json(),
                compute=(spec.default_compute or "local").removeprefix("azureml:"),
                name=spec.name,
                display_name=spec.display_name,
                experiment_name=spec.experiment_name or "Default",
                description=spec.description or "",
                tags=dict(spec.tags),
                summary=f"pipeline of {len(order)} step{'s' if len(order) != 1 else ''}: {', '.join(order)}",
            ),
        )

    def advance(self, parent: ParentHandle) -> None:
        _Advance(parent).run()

    def describe(self, job: Job) -> dict[str, Any]:
        return {k: v for k, v in job.report.items() if k != _HASHES}


KIND = PipelineKind()


class _Advance:
    """One call of :meth:`PipelineKind.advance`."""

    def __init__(self, parent: ParentHandle) -> None:
        self.parent = parent
        self.job = parent.job
        self.template = PipelineTemplate.from_json(self.job.spec)
        self.report: dict[str, Any] = _copy(self.job.report)
        self.steps: dict[str, dict[str, Any]] = self.report.setdefault("steps", {})
        self.report.setdefault("order", list(self.template.steps))
        self.changed = False
        self.children = parent.children()

    def run(self) -> None:
        failed = [s for s, c in self.children.items() if c.done and c.status != JobStatus.COMPLETED and
                  self.steps.get(s, {}).get("status") != "skipped"]  # fmt: skip
        stop = bool(failed) and not self.template.continue_on_step_failure
        if stop:
            self.parent.cancel_children(f"step {failed[0]} failed (continue_on_step_failure is false)")
        for name, step in self.template.steps.items():
            child = self.children.get(name)
            if child is not None:
                self._follow(name, child)
                continue
            waiting = [u for u in step.after if u not in self.children or not self.children[u].done]
            broken = [u for u in step.after if u in self.children and self.children[u].done
                      and self.children[u].status != JobStatus.COMPLETED]  # fmt: skip
            if broken:
                self._skip(name, f"not run: step {broken[0]} did not complete")
            elif stop:
                self._skip(name, f"not run: step {failed[0]} failed (continue_on_step_failure is false)")
            elif not waiting:
                self._start(name)
        if self.changed:
            self.parent.save_report(self.report)
        self._finish_when_done()

    # -- a step that exists ----------------------------------------------------------

    def _follow(self, name: str, child: Job) -> None:
        entry = self.steps.setdefault(name, {"job": child.name})
        status = entry.get("status")
        if child.done and status in ("running", None):
            entry["status"] = (
                "completed" if child.status == JobStatus.COMPLETED else child.status.value.lower()
            )
            self.changed = True
            if child.status == JobStatus.COMPLETED and "key" in entry:
                self._remember(name, child, entry, source_job=child.name)
            elif child.status != JobStatus.COMPLETED:
                self.parent.say(f"step {name}: {child.status.value}")

    def _remember(self, name: str, child: Job, entry: Mapping[str, Any], *, source_job: str) -> None:
        with self.parent.db.write() as uow:
            ws = uow.workspaces.ensure(self.job.workspace, self.job.created_by, now_ms())
            uow[STEP_RESULTS].add(
                ws,
                StepResult(
                    key=str(entry["key"]),
                    pipeline=self._pipeline_name,
                    step=name,
                    job=child.name,
                    source_job=source_job,
                    run_id=child.run_id,
                    fingerprint=dict(entry.get("fingerprint") or {}),
                    created_at=now_ms(),
                ),
            )

    @property
    def _pipeline_name(self) -> str:
        return self.job.display_name or self.job.name

    def _set(self, name: str, entry: dict[str, Any]) -> None:
        """A step's entry, and its line in ``job show`` (``children``: step → why)."""
        self.steps[name] = entry
        self.report.setdefault("children", {})[name] = entry["why"]
        self.changed = True

    def _skip(self, name: str, message: str) -> None:
        child = self.parent.record_skipped(name, message, {"why": message})
        self.children[name] = child
        self._set(name, {"job": child.name, "status": "skipped", "why": message})
        self.parent.say(f"step {name}: {message}")

    # -- a step that may start ---------------------------------------------------------

    def _start(self, name: str) -> None:
        step = self.template.steps[name]
        sub = self._resolved(name, step.submission, step.upstream)
        env_hash = self.parent.jobs.environments.resolve(self.parent.ctx, sub.environment).spec_hash
        fp = fingerprint(sub, env_hash, self._content_hash)
        key = fp.key
        earlier = self._earlier(name, key)
        why, changed = self._why(name, step.deterministic, fp, earlier)
        if why is None and earlier is not None:
            self._reuse(name, earlier, fp)
            return
        child = self.parent.create_child(name, sub)
        self.children[name] = child
        self._set(name, {
            "job": child.name, "status": "running", "why": why, "changed": changed, "key": key,
            "fingerprint": fp.to_json(),
        })  # fmt: skip
        self.parent.say(f"step {name}: started ({why})")

    def _earlier(self, name: str, key: str) -> StepResult | None:
        with self.parent.db.read() as uow:
            return uow[STEP_RESULTS].by_key(self.job.workspace, key)

    def _why(
        self, name: str, deterministic: bool, fp: Fingerprint, reusable: StepResult | None
    ) -> tuple[str | None, list[str]]:
        """Why the step runs (None: it is reused) and what changed since its last run."""
        with self.parent.db.read() as uow:
            last = uow[STEP_RESULTS].last_of(
                self.job.workspace, self._pipeline_name, name, self.job.created_at + 1
            )
        changed = changes(last.fingerprint, fp) if last is not None else []
        if self.template.force_rerun:
            return "force_rerun", changed
        if not deterministic:
            return "is_deterministic: false", changed
        if reusable is not None and self._source_alive(reusable):
            return None, []
        if last is None:
            return "no earlier run", []
        if not changed:
            return "no earlier run with these inputs kept its outputs", []
        return f"changed: {', '.join(changed)}", changed

    def _source_alive(self, result: StepResult) -> bool:
        try:
            self.parent.jobs.get(self.parent.ctx, result.source_job)
        except NotFound:
            return False
        return True

    def _reuse(self, name: str, earlier: StepResult, fp: Fingerprint) -> None:
        source = self.parent.jobs.get(self.parent.ctx, earlier.source_job)
        source_step = source.step or earlier.step
        where = f"{source.parent or source.name}/{source_step}"
        why = f"reused from {where}"
        child = self.parent.record_reused(name, source, {"why": why, "reused_from": where})
        self.children[name] = child
        entry = {"job": child.name, "status": "reused", "why": why, "reused_from": where,
                 "source_job": source.name, "key": fp.key, "fingerprint": fp.to_json()}  # fmt: skip
        self._set(name, entry)
        self._remember(name, child, entry, source_job=source.name)
        self.parent.say(f"step {name}: {why}")

    def _resolved(
        self, name: str, sub: JobSubmission, upstream: Mapping[str, tuple[str, str]]
    ) -> JobSubmission:
        """The step's submission with every upstream output bound to its step's run."""
        inputs = dict(sub.inputs)
        for input_name, (step, output) in upstream.items():
            up = self.children[step]
            where = f"{up.run_id}/outputs/{output}"
            if self.template.steps[step].submission.outputs.get(output) == "uri_file":
                where = f"{where}/{output}"  # the file itself (job_inputs names it after its output)
            if _default_artifacts(self.template.steps[step].submission, output):
                where = up.run_id  # the whole run: its ./outputs files are under outputs/
            inputs[input_name] = InputValue("run", where, sub.outputs.get(output, "uri_folder"))
            typed = self.template.steps[name].upstream_types.get(input_name)
            if typed:
                inputs[input_name] = replace(inputs[input_name], type=typed)
        return replace(sub, inputs=inputs, display_name=sub.display_name or name)

    def _content_hash(self, name: str, value: InputValue) -> str:
        if value.kind == "snapshot":
            return f"snapshot:{value.value}"
        if value.kind != "run":
            return f"{value.kind}:{value.value}"
        cache: dict[str, str] = self.report.setdefault(_HASHES, {})
        if value.value not in cache:
            run_id, _, path = value.value.partition("/")
            with self.parent.db.read() as uow:
                ref = uow.runs.ref(run_id)
                records = [] if ref is None else uow.artifacts.under(ref, path)
            prefix = f"{path}/" if path else ""
            pairs = [(r.path.removeprefix(prefix), r.sha256) for r in records]
            cache[value.value] = f"files:{content_hash_of_records(pairs)}"
            self.changed = True
        return cache[value.value]

    # -- the end -----------------------------------------------------------------------

    def _finish_when_done(self) -> None:
        if len(self.children) < len(self.template.steps) or not all(c.done for c in self.children.values()):
            return
        bad = [
            s
            for s in self.template.steps
            if self.steps.get(s, {}).get("status") not in ("completed", "reused")
        ]
        outputs = {
            out: f"runs:/{self.children[step].run_id}/outputs/{name}"
            for out, (step, name) in self.template.outputs.items()
            if step in self.children
        }
        reused = sum(1 for s in self.steps.values() if s.get("status") == "reused")
        ran = sum(1 for s in self.steps.values() if s.get("status") == "completed")
        self.report["summary"] = [
            f"{len(self.steps)} steps: {ran} ran, {reused} reused from earlier runs"
            + (f", {len(bad)} did not complete" if bad else ""),
            *(f"output {out}: {where}" for out, where in outputs.items()),
        ]
        self.report["outputs"] = outputs
        self.parent.save_report(self.report)
        if not bad:
            self.parent.finish(
                JobStatus.COMPLETED, f"completed: {len(self.steps)} steps, {reused} reused from earlier runs"
            )
            return
        failed = [s for s in bad if self.steps.get(s, {}).get("status") != "skipped"]
        message = f"failed: step {', '.join(failed or bad)} did not complete"
        self.parent.finish(JobStatus.FAILED, message, JobFailure(FailureCause.EXIT_CODE, message))


def _default_artifacts(upstream: JobSubmission, output: str) -> bool:
    """Azure's default ``artifacts`` output: a step declares ``outputs: {artifacts: }`` and
    writes its files to ``./outputs``, never to ``${{outputs.artifacts}}``; a step reading it
    gets the step's whole run (``<input>/outputs/world.txt``), as on Azure."""
    return output == "artifacts" and "${{outputs.artifacts}}" not in upstream.command.replace(" ", "")


def _copy(report: Mapping[str, Any]) -> dict[str, Any]:
    import json

    return dict(json.loads(json.dumps(dict(report))))
