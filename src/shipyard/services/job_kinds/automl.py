"""``type: automl``: tabular AutoML as a composite job — trials, then one ``finish`` step.

The parent keeps, in its ``spec``, the file, the engine's settings
(:class:`~shipyard.domain.automl.AutoMLSettings`, seed included), the algorithms it may try
and the trial's command job (a template whose inputs are the file's tables); the settings
are a one-file code snapshot (``settings.json``) every trial runs in. Each
:meth:`AutoMLKind.advance`:

1. reads the trials that ended: their score is the primary metric their run logged (the
   engine logs every metric of the task under Azure's names);
2. decides whether the search stops: ``limits.exit_score`` reached or
   ``limits.timeout_minutes`` passed (both cancel the running trials), ``limits.max_trials``
   drawn, or — with ``enable_early_termination`` — the last :data:`PATIENCE` trials did not
   improve on the best;
3. draws trials (Optuna TPE over the algorithm and its hyperparameters,
   :mod:`._automl_search`) up to ``max_concurrent_trials`` at once; the report is saved before
   their jobs are created, so a server that dies in between leaves trials the next creates;
4. once the search stopped and no trial runs, starts ``finish`` (which refits the best, or a
   voting ensemble, and registers the model) with the leaderboard as ``leaderboard.json``,
   and ends the parent with the registered version.

Everything that can be known before a trial runs is checked at submission, each problem a
4xx with a stable ``reason`` (:mod:`._automl_data`): the target column is in the training
table, the task fits its type, forecasting's columns are there, the budget holds a trial.
"""

from __future__ import annotations

import importlib.util
import json
import secrets
import shlex
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from shipyard.domain.automl import ALGORITHMS, EXIT_ALGORITHM_UNAVAILABLE, PRIMARY_METRICS, AutoMLSettings
from shipyard.domain.context import RequestContext
from shipyard.domain.jobs import FailureCause, Job, JobFailure, JobStatus
from shipyard.errors import InvalidArgument, ShipyardError
from shipyard.services._clock import now_ms
from shipyard.services.artifacts import ArtifactService
from shipyard.services.job_kinds._automl_data import check_budget, check_table, training_columns
from shipyard.services.job_kinds._automl_search import AutoMLSearch
from shipyard.services.job_kinds._automl_state import AutoMLState, AutoMLTrial
from shipyard.services.job_kinds.base import JobKind, JobRequest, ParentHandle, child_submission
from shipyard.services.job_kinds.sweep import _metric_values
from shipyard.services.job_specs import submission_from_spec
from shipyard.services.jobs import JobService, JobSubmission, ParentSubmission
from shipyard.specs import validate_spec
from shipyard.specs.automl import DATA_FIELDS, MIN_TRIAL_MINUTES, AutoMLJobSpec
from shipyard.specs.job import CommandJobSpec

__all__ = ["KIND", "PATIENCE", "AutoMLKind"]

#: With ``enable_early_termination``, the search stops after this many finished trials in a
#: row that did not beat the best (once every algorithm had its first trial).
PATIENCE = 10

_FINISH = "finish"


class AutoMLKind(JobKind):
    type: ClassVar[str] = "automl"

    #: How a child starts the engine (its ``trial`` and ``finish`` commands follow); a test
    #: puts a stand-in here.
    engine: str = "python -m shipyard.automl"

    # -- submit ----------------------------------------------------------------------

    def check(self, ctx: RequestContext, request: JobRequest, jobs: JobService) -> None:
        _read(ctx, request, jobs, seed=0, engine=self.engine)

    def submit(self, ctx: RequestContext, request: JobRequest, jobs: JobService) -> Job:
        seed = secrets.randbelow(2**32)
        spec, settings, template = _read(ctx, request, jobs, seed=seed, engine=self.engine)
        algorithms = [
            name
            for name in settings.algorithms
            if (need := ALGORITHMS[settings.task][name].requires) is None or importlib.util.find_spec(need)
        ]
        if not algorithms:
            raise InvalidArgument(
                f"none of the algorithms allowed ({', '.join(settings.algorithms)}) can run: install"
                " shipyard[automl] (lightgbm, xgboost) or allow a scikit-learn algorithm",
                field="training.allowed_training_algorithms",
            )
        code = _snapshot(jobs, {"settings.json": settings.to_json()})
        limits = spec.limits
        return jobs.create_parent(
            ctx,
            ParentSubmission(
                type=self.type,
                spec={
                    "file": dict(request.spec),
                    "settings": settings.to_dict(),
                    "algorithms": algorithms,
                    "trial": template.to_json(),
                    "settings_code": code,
                    "model_name": spec.registered_model_name,
                },
                compute=template.compute,
                name=spec.name,
                display_name=spec.display_name,
                experiment_name=spec.experiment_name or "Default",
                description=spec.description or "",
                tags=dict(spec.tags),
                summary=(
                    f"automl {settings.task} of '{settings.target_column_name}' by {settings.primary_metric},"
                    f" up to {limits.max_trials} trials of {', '.join(algorithms)}"
                )[:1000],
            ),
        )

    # -- advance ---------------------------------------------------------------------

    def advance(self, parent: ParentHandle) -> None:
        job = parent.job
        spec = validate_spec(job.spec["file"], AutoMLJobSpec, f"the automl file of job {job.name}")
        settings = AutoMLSettings.from_dict(job.spec["settings"])
        state = AutoMLState.from_report(job.report) or AutoMLState(
            started_at=now_ms(),
            primary_metric=settings.primary_metric,
            greater_is_better=settings.greater_is_better,
        )
        template = JobSubmission.from_json(job.spec["trial"])
        children = parent.children()
        changed = not job.report
        changed |= _follow(parent, settings, state, children)
        changed |= _decide_stop(parent, spec, state, len(job.spec["algorithms"]))
        new = _draw(job, spec, state)
        if new or changed:
            parent.save_report(state.to_report())
        for trial in state.running():
            if trial.step not in children:
                parent.create_child(trial.step, _trial_submission(template, job, trial))
                parent.say(f"{trial.step} started: {trial.algorithm} {json.dumps(trial.params, default=str)}")
        if state.stopped and not state.running():
            _finish(parent, template, state, children)


def _read(
    ctx: RequestContext, request: JobRequest, jobs: JobService, *, seed: int, engine: str
) -> tuple[AutoMLJobSpec, AutoMLSettings, JobSubmission]:
    spec = validate_spec(request.spec, AutoMLJobSpec, request.source)
    settings = spec.settings(seed=seed if spec.seed is None else spec.seed)
    check_budget(spec.limits.timeout_minutes, spec.limits.trial_timeout_minutes, MIN_TRIAL_MINUTES)
    mapping = _trial_mapping(spec, engine)
    template = submission_from_spec(
        CommandJobSpec.model_validate(mapping),
        source=request.source,
        code_snapshot=None,
        input_snapshots=request.input_snapshots,
        environment=None,
        git=request.git,
        raw=mapping,
        uploads_pending=request.uploads_pending,
    )
    jobs.check(ctx, template)
    training = template.inputs.get("training_data")
    if training is not None:
        columns = training_columns(ctx, jobs, training)
        if columns is not None:
            check_table(settings, columns)
    return spec, settings, template


def _trial_mapping(spec: AutoMLJobSpec, engine: str) -> dict[str, Any]:
    """The command job a trial is, before its algorithm and parameters are added."""
    inputs = {}
    command = f"{engine} trial --settings settings.json"
    for name in DATA_FIELDS:
        data = getattr(spec, name)
        if data is None:
            continue
        inputs[name] = {"type": data.type, "path": data.path}
        if name != "test_data":
            command += f" --{name.replace('_', '-')} ${{{{inputs.{name}}}}}"
    mapping: dict[str, Any] = {
        "type": "command",
        "command": command,
        "inputs": inputs,
        "experiment_name": spec.experiment_name,
        "compute": spec.compute,
    }
    if spec.limits.trial_timeout_minutes:
        mapping["limits"] = {"timeout": spec.limits.trial_timeout_minutes * 60}
    return {k: v for k, v in mapping.items() if v is not None}


def _snapshot(jobs: JobService, files: dict[str, str]) -> str | None:
    """A code snapshot holding ``files`` (name → text): the folder a child runs in."""
    snapshots = jobs.snapshots
    if snapshots is None:
        return None
    with tempfile.TemporaryDirectory(prefix="shipyard-automl-") as folder:
        for name, text in files.items():
            (Path(folder) / name).write_text(text, encoding="utf-8")
        return snapshots.snapshot_local_folder(Path(folder)).digest


def _follow(
    parent: ParentHandle, settings: AutoMLSettings, state: AutoMLState, children: dict[str, Job]
) -> bool:
    changed = False
    for trial in state.running():
        child = children.get(trial.step)
        if child is None or not child.done:
            continue
        changed = True
        metrics = {}
        for name in PRIMARY_METRICS[settings.task]:
            values = _metric_values(parent.db, child.run_id, name)
            if values:
                metrics[name] = values[-1]
        trial.metrics = metrics
        trial.score = metrics.get(settings.primary_metric)
        trial.duration_s = _duration(child)
        if child.status == JobStatus.COMPLETED and trial.score is not None:
            trial.state = "completed"
        elif child.status == JobStatus.CANCELED:
            trial.state = "canceled"
            trial.message = trial.message or "canceled"
        elif child.failure is not None and child.failure.exit_code == EXIT_ALGORITHM_UNAVAILABLE:
            # Its package is missing where the trials run: not drawn again.
            trial.state, trial.message = "unavailable", child.failure.message
            if trial.algorithm not in state.unavailable:
                state.unavailable.append(trial.algorithm)
        else:
            trial.state = "failed"
            trial.message = (child.failure.message if child.failure else None) or (
                f"the trial logged no {settings.primary_metric}"
            )
        parent.say(f"{trial.step} {trial.state}" + (f": {trial.message}" if trial.message else ""))
    return changed


def _duration(child: Job) -> float:
    started = next((e.at for e in child.events if e.status == JobStatus.RUNNING), child.created_at)
    ended = child.events[-1].at if child.events else child.updated_at
    return max(0.0, (ended - started) / 1000)


def _decide_stop(parent: ParentHandle, spec: AutoMLJobSpec, state: AutoMLState, algorithms: int) -> bool:
    """Whether the search stops now (it draws no more trials); exit_score and the timeout
    also cancel the running trials."""
    if state.stopped:
        return False
    limits = spec.limits
    why, cancel = _reached(spec, state), True
    if why is None and len(state.trials) >= limits.max_trials and not state.running():
        why, cancel = f"limits.max_trials ({limits.max_trials}) reached", False
    if why is None and limits.enable_early_termination:
        why, cancel = _not_improving(state, algorithms), False
    if why is None:
        return False
    for trial in state.running() if cancel else ():
        trial.message = why
        parent.cancel_child(trial.step, why)
    state.stopped = why
    parent.say(f"search stopped: {why}")
    return True


def _reached(spec: AutoMLJobSpec, state: AutoMLState) -> str | None:
    limits = spec.limits
    best = state.best()
    score = best.score if best is not None else None
    exit_score = limits.exit_score
    if (
        best is not None
        and score is not None
        and exit_score is not None
        and (score >= exit_score if state.greater_is_better else score <= exit_score)
    ):
        return f"{best.step} reached limits.exit_score ({exit_score:g})"
    if limits.timeout_minutes and now_ms() - state.started_at >= limits.timeout_minutes * 60_000:
        return f"limits.timeout_minutes ({limits.timeout_minutes}) reached"
    return None


def _not_improving(state: AutoMLState, algorithms: int) -> str | None:
    best = state.best()
    finished = [t for t in state.trials if t.final]
    if best is None or len(finished) < algorithms + PATIENCE:
        return None
    after = [t for t in finished if t.number > best.number]
    if len(after) < PATIENCE:
        return None
    return f"early termination: the last {len(after)} trials did not improve on {best.step}"


def _draw(job: Job, spec: AutoMLJobSpec, state: AutoMLState) -> list[AutoMLTrial]:
    if state.stopped:
        return []
    limits = spec.limits
    count = min(limits.max_trials - len(state.trials), limits.max_concurrent_trials - len(state.running()))
    if count <= 0:
        return []
    settings = job.spec["settings"]
    search = AutoMLSearch(
        settings["task"], job.spec["algorithms"], state.greater_is_better, int(settings["seed"])
    )
    if set(job.spec["algorithms"]) <= set(state.unavailable):
        state.stopped = "no algorithm can run on the compute target: " + ", ".join(state.unavailable)
        return []
    drawn = []
    for _ in range(count):
        draw = search.next(state.records(), state.unavailable)
        trial = AutoMLTrial(
            step=f"trial_{draw.number}",
            number=draw.number,
            algorithm=draw.algorithm,
            params=draw.params,
            internal=draw.internal,
        )
        state.trials.append(trial)
        drawn.append(trial)
    return drawn


def _trial_submission(template: JobSubmission, job: Job, trial: AutoMLTrial) -> JobSubmission:
    params = json.dumps(trial.params, sort_keys=True)
    command = (
        f"{template.command} --algorithm {shlex.quote(trial.algorithm)} --params {shlex.quote(params)}"
        f" --trial {trial.number}"
    )
    return child_submission(
        template,
        command=command,
        code_digest=job.spec.get("settings_code"),
        tags={
            **template.tags,
            "shipyard.automl.algorithm": trial.algorithm,
            "shipyard.automl.trial": str(trial.number),
        },
        spec={**template.spec, "command": command},
    )


def _finish_submission(template: JobSubmission, job: Job, code: str | None) -> JobSubmission:
    command = template.command.replace(" trial ", " finish ", 1)
    if "test_data" in template.inputs:
        command += " --test-data ${{inputs.test_data}}"
    command += f" --leaderboard leaderboard.json --model-name {shlex.quote(str(job.spec['model_name']))}"
    return child_submission(
        template,
        command=command,
        code_digest=code,
        timeout_s=None,
        tags={**template.tags, "shipyard.automl.step": _FINISH},
        spec={**template.spec, "command": command},
    )


def _finish(
    parent: ParentHandle, template: JobSubmission, state: AutoMLState, children: dict[str, Job]
) -> None:
    job = parent.job
    best = state.best()
    if best is None:
        last = next((t.message for t in reversed(state.trials) if t.message), "see the trials' logs")
        message = f"no trial completed with a score ({state.counts()}); the last problem: {last}"
        state.message = message
        parent.save_report(state.to_report())
        parent.finish(JobStatus.FAILED, message, JobFailure(FailureCause.NO_RESULT, message))
        return
    if state.finish == "pending":
        board = [
            {k: row[k] for k in ("trial", "algorithm", "params", "score", "metrics", "status", "duration_s")}
            for row in state.leaderboard()
        ]
        settings_json = AutoMLSettings.from_dict(job.spec["settings"]).to_json()
        state.leaderboard_snapshot = _snapshot(
            parent.jobs, {"settings.json": settings_json, "leaderboard.json": json.dumps(board, default=str)}
        )
        state.finish = "running"
        parent.save_report(state.to_report())
    child = children.get(_FINISH)
    if child is None:
        parent.create_child(_FINISH, _finish_submission(template, job, state.leaderboard_snapshot))
        parent.say(
            f"finish started: refit {best.step} ({best.algorithm}) and register {job.spec['model_name']}"
        )
        return
    if not child.done:
        return
    if child.status != JobStatus.COMPLETED:
        message = f"the finish step {child.status.value.lower()}: " + (
            child.failure.message if child.failure else "see its log"
        )
        state.finish, state.message = "failed", message
        parent.save_report(state.to_report())
        parent.finish(JobStatus.FAILED, message, child.failure)
        return
    name = str(job.spec["model_name"])
    state.model = _registered(parent, name, child.run_id)
    if state.model is None:
        message = f"the finish step completed but registered no version of model {name}: see its log"
        state.finish, state.message = "failed", message
        parent.save_report(state.to_report())
        parent.finish(JobStatus.FAILED, message, JobFailure(FailureCause.NO_RESULT, message))
        return
    state.finish = "completed"
    state.final = _final(parent, child.run_id)
    version = f"{name}:{state.model['version']}"
    message = f"best {best.step} {best.algorithm}: {state.primary_metric} = {best.score:.6g}; model {version}"
    parent.log_to_run(
        params={"algorithm": best.algorithm},
        metrics={state.primary_metric: float(best.score or 0.0)},
        tags={"shipyard.automl.best_trial": best.step, "shipyard.automl.model": version},
    )
    parent.save_report(state.to_report())
    parent.finish(JobStatus.COMPLETED, message)


#: Permutation importances kept in the report (the finish run has them all).
_TOP_FEATURES = 15


def _final(parent: ParentHandle, run_id: str) -> dict[str, Any]:
    """What the finish run logged of the model it registered: the model chosen (an algorithm
    or ``VotingEnsemble``), its scores on the test data, its most important features."""
    with parent.db.read() as uow:
        run = uow.runs.get(run_id)
    if run is None:
        return {}
    metrics = {k: m.value for k, m in run.metrics.items()}
    importance = sorted(
        ((k.removeprefix("permutation_importance."), v) for k, v in metrics.items()
         if k.startswith("permutation_importance.")),
        key=lambda kv: -kv[1],
    )  # fmt: skip
    return {
        "chosen_model": run.params.get("chosen_model"),
        "test_metrics": {k.removeprefix("test_"): v for k, v in metrics.items() if k.startswith("test_")},
        "importance": dict(importance[:_TOP_FEATURES]),
        "featurization": _featurization(parent, run_id),
    }


#: Columns of the chosen featurization kept in the report (``featurization.json`` has them all).
_FEATURIZED_COLUMNS = 200


def _featurization(parent: ParentHandle, run_id: str) -> list[dict[str, str]]:
    """Per column, what the engine made of it (kind, encoder, imputer, why), read back from
    the finish run's ``featurization.json``; empty when it cannot be read — the model is
    registered either way, and the run keeps the file."""
    try:
        artifacts = parent.service(ArtifactService)
        stream, _ = artifacts.open(parent.ctx, run_id, "featurization.json")
        with stream:
            described = json.loads(stream.read(4 << 20))
    except (LookupError, OSError, ValueError, ShipyardError):
        return []
    columns = described.get("columns") if isinstance(described, dict) else None
    kept = ("name", "kind", "encoder", "imputer", "reason")
    return [
        {k: str(c[k]) for k in kept if c.get(k) not in (None, "")}
        for c in (columns if isinstance(columns, list) else [])[:_FEATURIZED_COLUMNS]
        if isinstance(c, dict) and c.get("name") is not None
    ]


def _registered(parent: ParentHandle, name: str, run_id: str) -> dict[str, Any] | None:
    with parent.db.read() as uow:
        versions = uow.models.latest_versions(parent.job.workspace, [name]).get(name, [])
    mine = [v for v in versions if v.run_id == run_id]
    if not mine:
        return None
    top = max(mine, key=lambda v: v.version)
    return {"name": name, "version": top.version, "run_id": top.run_id}


KIND = AutoMLKind()
