"""``type: sweep``: a trial command run many times with parameters Optuna draws.

The parent keeps the typed sweep file, the trial's command job (a
:class:`~shipyard.services.jobs.JobSubmission` with ``${{search_space.x}}`` still in its
command) and the seed in its ``spec``; its ``report`` holds the trials
(:mod:`._sweep_state`). Each :meth:`SweepKind.advance`:

1. reads the trials' child jobs and their primary metric (what each logged through mlflow
   or the SDK on its run), and ends the trials whose jobs ended;
2. asks the early termination rule about every running trial that logged new values, and
   cancels those it stops — the report says which rule, at which step, with the numbers;
3. draws new trials (Optuna, :mod:`shipyard.services.sweep_search`) up to
   ``max_concurrent_trials`` running, until ``max_total_trials``, the grid's end or
   ``limits.timeout``; the report is saved *before* their jobs are created, so a server that
   dies in between leaves trials the next one creates with the same parameters;
4. once nothing runs and nothing is left to draw, logs the best trial's parameters and
   metric on the sweep's run and ends the sweep.

A sweep in which no trial logged its primary metric ends ``Failed`` saying so; failed
trials fail the sweep only when every trial failed.
"""

from __future__ import annotations

import math
import secrets
import threading
from dataclasses import dataclass
from typing import Any, ClassVar

from shipyard.domain.context import RequestContext
from shipyard.domain.jobs import FailureCause, Job, JobFailure, JobStatus
from shipyard.errors import InvalidSpec
from shipyard.services._clock import now_ms
from shipyard.services.job_kinds._sweep_state import MAX_KEPT_VALUES, SweepState, Trial
from shipyard.services.job_kinds.base import JobKind, JobRequest, ParentHandle, child_submission
from shipyard.services.job_specs import submission_from_spec
from shipyard.services.jobs import JobService, JobSubmission, ParentSubmission, child_name
from shipyard.services.ports import Database
from shipyard.services.sweep_search import SweepSearch, SweepStudy, value_text
from shipyard.specs import validate_spec
from shipyard.specs.bindings import render_search_space, search_space_bindings
from shipyard.specs.sweep import SweepJobSpec, command_mapping, sweep_field, trial_command

__all__ = ["KIND", "SweepKind"]

_PAGE = 10_000


@dataclass(frozen=True)
class _Sweep:
    """A parent's sweep, read once per server: its file, its search and its trial template."""

    spec: SweepJobSpec
    search: SweepSearch
    template: JobSubmission


class SweepKind(JobKind):
    type: ClassVar[str] = "sweep"

    def __init__(self) -> None:
        self._sweeps: dict[tuple[str, str, int], _Sweep] = {}
        self._lock = threading.Lock()

    # -- submit ----------------------------------------------------------------------

    def check(self, ctx: RequestContext, request: JobRequest, jobs: JobService) -> None:
        _, template = _read(request)
        jobs.check(ctx, template)

    def submit(self, ctx: RequestContext, request: JobRequest, jobs: JobService) -> Job:
        spec, template = _read(request)
        jobs.check(ctx, template)
        seed = spec.seed if spec.seed is not None else secrets.randbelow(2**32)
        limits = spec.limits
        return jobs.create_parent(
            ctx,
            ParentSubmission(
                type=self.type,
                spec={"file": dict(request.spec), "trial": template.to_json(), "seed": seed},
                compute=template.compute,
                name=spec.name,
                display_name=spec.display_name,
                experiment_name=spec.experiment_name or "Default",
                description=spec.description or "",
                tags=dict(spec.tags),
                summary=f"sweep of up to {limits.max_total_trials} trials of: {template.command}"[:1000],
            ),
        )

    # -- advance ---------------------------------------------------------------------

    def advance(self, parent: ParentHandle) -> None:
        job = parent.job
        sweep = self._sweep(job)
        spec = sweep.spec
        state = SweepState.from_report(job.report) or SweepState(
            seed=int(job.spec["seed"]),
            started_at=now_ms(),
            primary_metric=spec.objective.primary_metric,
            goal=spec.objective.goal,
        )
        children = parent.children()
        changed = not job.report
        changed |= self._follow(parent, state, children)
        changed |= self._stop_hopeless(parent, sweep, state)
        changed |= self._watch_clock(parent, spec, state)
        new = self._draw(sweep, state)
        best = state.best_trial()
        state.best = _best(best, parent.job.name) if best else None
        if new or changed:
            state.summary = state.counts()
            parent.save_report(state.to_report())
        for trial in state.running():
            if trial.step not in children:  # drawn now, or by a server that died before creating it
                parent.create_child(trial.step, _trial_submission(sweep.template, trial))
                parent.say(f"{trial.step} started with {_params_text(trial.params)}")
        if not state.running() and (state.timed_out or self._room(sweep, state) == 0):
            self._end(parent, sweep, state)

    def _follow(self, parent: ParentHandle, state: SweepState, children: dict[str, Job]) -> bool:
        """Read the running trials' metric values and end those whose jobs ended."""
        changed = False
        for trial in state.running():
            child = children.get(trial.step)
            if child is None:
                continue
            values = _metric_values(parent.db, child.run_id, state.primary_metric)
            if len(values) != trial.logged:
                trial.logged = len(values)
                trial.values = values[:MAX_KEPT_VALUES]
                trial.value = values[-1] if values else None
                changed = True
            if child.done:
                _end_trial(trial, child)
                parent.say(f"{trial.step} {trial.state}" + (f": {trial.message}" if trial.message else ""))
                changed = True
        return changed

    def _stop_hopeless(self, parent: ParentHandle, sweep: _Sweep, state: SweepState) -> bool:
        """Ask the early termination rule about each running trial with values it has not seen."""
        if sweep.spec.early_termination is None:
            return False
        fresh = [t for t in state.running() if t.stopped_by is None and len(t.values) > t.checked]
        if not fresh:
            return False
        study = sweep.search.study(state.records())
        for trial in fresh:
            trial.checked = len(trial.values)
            why = study.should_stop(trial.number)
            if why is not None:
                trial.stopped_by = why
                parent.cancel_child(trial.step, why)
                parent.say(f"{trial.step} {why}")
        return True

    def _watch_clock(self, parent: ParentHandle, spec: SweepJobSpec, state: SweepState) -> bool:
        timeout = spec.limits.timeout
        if state.timed_out or timeout is None or now_ms() - state.started_at < timeout * 1000:
            return False
        state.timed_out = True
        reason = f"the sweep reached limits.timeout ({timeout} s)"
        parent.say(f"{reason}: no new trials; the running ones are canceled")
        for trial in state.running():
            trial.message = reason
            parent.cancel_child(trial.step, reason)
        return True

    def _room(self, sweep: _Sweep, state: SweepState) -> int:
        """How many more trials the sweep may draw in all."""
        total = sweep.spec.limits.max_total_trials
        grid = sweep.search.grid_size
        return max(0, min(total, grid if grid is not None else total) - len(state.trials))

    def _draw(self, sweep: _Sweep, state: SweepState) -> list[Trial]:
        if state.timed_out:
            return []
        count = min(self._room(sweep, state), sweep.spec.limits.concurrency - len(state.running()))
        if count <= 0:
            return []
        study: SweepStudy = sweep.search.study(state.records())
        drawn = []
        for _ in range(count):
            suggestion = study.ask()
            trial = Trial(
                step=f"trial_{suggestion.number}",
                number=suggestion.number,
                params=suggestion.params,
                internal=suggestion.internal,
            )
            state.trials.append(trial)
            drawn.append(trial)
        return drawn

    def _end(self, parent: ParentHandle, sweep: _Sweep, state: SweepState) -> None:
        metric = state.primary_metric
        best = state.best_trial()
        counts = state.counts()
        why_stopped = " (stopped at limits.timeout)" if state.timed_out else ""
        if best is not None and best.value is not None:
            parent.log_to_run(
                params={k: value_text(v) for k, v in best.params.items()},
                metrics={metric: best.value},
                tags={
                    "shipyard.sweep.best_trial": best.step,
                    "shipyard.sweep.best_job": _job_name(parent, best),
                },
            )
            found = f"{metric} = {best.value:.6g} with {_params_text(best.params)}"
            message = f"best {best.step}: {found}; {counts}{why_stopped}"
            self._forget(parent.job)
            parent.finish(JobStatus.COMPLETED, message)
            return
        if state.trials and all(t.state == "failed" for t in state.trials):
            last = state.trials[-1].message or "see its log"
            message = f"every trial failed ({counts}); the last: {last}"
        else:
            message = (
                f"no trial logged the primary metric '{metric}' ({counts}){why_stopped}: log it from the"
                f" trial, e.g. mlflow.log_metric('{metric}', value)"
            )
        state.warning = message
        parent.save_report(state.to_report())
        self._forget(parent.job)
        parent.finish(JobStatus.FAILED, message, JobFailure(FailureCause.NO_RESULT, message))

    # -- the parent's sweep, cached ---------------------------------------------------

    def _sweep(self, job: Job) -> _Sweep:
        key = (job.workspace, job.name, job.created_at)
        with self._lock:
            found = self._sweeps.get(key)
        if found is not None:
            return found
        spec = validate_spec(job.spec["file"], SweepJobSpec, f"the sweep file of job {job.name}")
        sweep = _Sweep(
            spec, SweepSearch(spec, int(job.spec["seed"])), JobSubmission.from_json(job.spec["trial"])
        )
        with self._lock:
            if len(self._sweeps) > 1000:  # parents that ended on another server
                self._sweeps.clear()
            self._sweeps[key] = sweep
        return sweep

    def _forget(self, job: Job) -> None:
        with self._lock:
            self._sweeps.pop((job.workspace, job.name, job.created_at), None)


def _read(request: JobRequest) -> tuple[SweepJobSpec, JobSubmission]:
    """The sweep file checked, and its trial as a command job (bindings to the search space left in)."""
    spec = validate_spec(request.spec, SweepJobSpec, request.source)
    trial = trial_command(request.spec, spec.search_space)
    try:
        with search_space_bindings(spec.search_space.keys()):
            template = submission_from_spec(
                trial,
                source=request.source,
                code_snapshot=request.code_snapshot,
                input_snapshots=request.input_snapshots,
                environment=request.environment,
                git=request.git,
                raw=command_mapping(request.spec),
                uploads_pending=request.uploads_pending,
            )
    except InvalidSpec as exc:
        field = exc.details.get("field")
        if field:
            raise InvalidSpec(exc.message, **{**exc.details, "field": sweep_field(str(field))}) from None
        raise
    return spec, template


def _trial_submission(template: JobSubmission, trial: Trial) -> JobSubmission:
    """The trial's command job: its values in the command (shell-quoted) and, as Azure ML
    does, in ``AZUREML_SWEEP_<name>`` environment variables; on its run as tags."""
    texts = {name: value_text(value) for name, value in trial.params.items()}
    command = render_search_space(template.command, texts)
    return child_submission(
        template,
        command=command,
        environment_variables={
            **template.environment_variables,
            **{f"AZUREML_SWEEP_{name}": text for name, text in texts.items()},
        },
        tags={**template.tags, **{f"shipyard.sweep.{name}": text[:5000] for name, text in texts.items()}},
        spec={**template.spec, "command": command},
        timeout_s=template.timeout_s,
    )


def _end_trial(trial: Trial, child: Job) -> None:
    if child.status == JobStatus.COMPLETED:
        trial.state = "completed"
    elif child.status == JobStatus.FAILED:
        trial.state = "failed"
        trial.message = child.failure.message if child.failure else "failed"
    elif trial.stopped_by is not None:
        trial.state = "stopped"
    else:
        trial.state = "canceled"
        if trial.message is None:
            trial.message = f"canceled by {child.canceled_by}" if child.canceled_by else "canceled"


def _metric_values(db: Database, run_id: str, key: str) -> list[float]:
    """The values a run logged for ``key``, in order (by step, then as logged)."""
    values: list[float] = []
    after: tuple[int, int] | None = None
    with db.read() as uow:
        ref = uow.runs.ref(run_id)
        if ref is None:
            return []
        while True:
            rows, _total = uow.metrics.history(ref, key, after, _PAGE)
            values.extend(v for _step, _id, _ts, v in rows if math.isfinite(v))
            if len(rows) < _PAGE:
                return values
            after = (rows[-1][0], rows[-1][1])


def _best(trial: Trial, parent: str) -> dict[str, Any]:
    return {
        "trial": trial.step,
        "job": child_name(parent, trial.step),
        "params": trial.params,
        "value": trial.value,
    }


def _job_name(parent: ParentHandle, trial: Trial) -> str:
    return child_name(parent.job.name, trial.step)


def _params_text(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={value_text(v)}" for k, v in params.items())


KIND = SweepKind()
