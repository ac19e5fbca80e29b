"""``type: sweep``: the Azure ML CLI v2 sweep job, as Shipyard reads it.

A sweep runs its ``trial`` (a command job's command, code and environment, with
``${{search_space.<name>}}`` in the command) many times, each trial with values drawn from
``search_space`` by ``sampling_algorithm``, keeps the one whose ``objective.primary_metric``
is best and may stop hopeless trials early (``early_termination``). The file's ``inputs``,
``outputs`` and ``compute`` are the trials'. docs/sweep-jobs.md is the reference.

The trial is checked as the command job it becomes (:func:`trial_command`): the same checks
of code, environment, inputs and bindings, with the errors placed on the sweep file's lines
(``trial.command``, ``limits.trial_timeout``…).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BeforeValidator,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from shipyard.errors import InvalidSpec
from shipyard.specs._base import SpecModel, StrictModel, scalar_map, visible
from shipyard.specs._yaml import LineDict, LoadedText
from shipyard.specs._yaml import _describe as describe_error
from shipyard.specs._yaml import _walk as walk_error
from shipyard.specs.bindings import search_space_bindings
from shipyard.specs.environment import InlineEnvironment
from shipyard.specs.job import (
    IGNORED_FIELDS,
    MAX_TIMEOUT_S,
    CommandJobSpec,
    JobInput,
    JobOutput,
    Resources,
)
from shipyard.specs.loaded import LoadedComposite, loaded_command

__all__ = [
    "MAX_GRID_POINTS",
    "BanditPolicy",
    "Choice",
    "EarlyTermination",
    "MedianStoppingPolicy",
    "Objective",
    "SamplingAlgorithm",
    "SearchSpaceEntry",
    "SweepJobSpec",
    "SweepLimits",
    "TruncationSelectionPolicy",
    "load_file",
    "trial_command",
]

#: A grid is enumerated (and shuffled) whole before its first trial: past this it is a typo or
#: a space that random or bayesian sampling explores better.
MAX_GRID_POINTS = 100_000


def _known_type(what: str, kinds: Sequence[str], hint: str = "") -> BeforeValidator:
    """Name the accepted ``type`` values when a mapping's ``type`` is none of them (pydantic's
    own message for a discriminated union is about 'tags')."""

    def check(value: Any) -> Any:
        if isinstance(value, Mapping):
            kind = value.get("type")
            if kind is None:
                raise ValueError(f"{what} needs a 'type': one of {', '.join(kinds)}")
            if kind not in kinds:
                raise ValueError(f"{what} type '{kind}' is not one of {', '.join(kinds)}{hint}")
        return value

    return BeforeValidator(check)


def _no_bool(value: Any) -> Any:
    # YAML's `true` is not a number, whatever pydantic's lax mode thinks.
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


Number = Annotated[float, BeforeValidator(_no_bool), Field(allow_inf_nan=False)]
ChoiceValue = StrictBool | StrictInt | float | str


# -- search space ----------------------------------------------------------------------------


class _Bounded(StrictModel):
    min_value: Number
    max_value: Number

    @model_validator(mode="after")
    def _ordered(self) -> Any:
        if self.min_value >= self.max_value:
            raise ValueError(f"min_value ({self.min_value:g}) must be below max_value ({self.max_value:g})")
        return self


class _Spread(StrictModel):
    mu: Number
    sigma: Number

    @field_validator("sigma")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value <= 0:
            raise ValueError(f"must be above 0 (the standard deviation); got {value:g}")
        return value


class _Quantized(StrictModel):
    q: Number

    @field_validator("q")
    @classmethod
    def _positive_step(cls, value: float) -> float:
        if value <= 0:
            raise ValueError(f"must be above 0 (values are rounded to multiples of q); got {value:g}")
        return value


class Choice(StrictModel):
    """One of ``values`` (the only kind ``grid`` sampling takes)."""

    type: Literal["choice"]
    values: list[ChoiceValue]

    @field_validator("values", mode="before")
    @classmethod
    def _plain_values(cls, value: Any) -> Any:
        if isinstance(value, list):
            if not value:
                raise ValueError("is empty: a choice needs at least one value")
            for item in value:
                if isinstance(item, (dict, list)) or item is None:
                    raise ValueError(
                        f"{item!r}: a choice's values are numbers, text or true/false"
                        " (nested search spaces are not supported)"
                    )
        return value


class Randint(StrictModel):
    """An integer in ``[0, upper)``."""

    type: Literal["randint"]
    upper: StrictInt

    @field_validator("upper")
    @classmethod
    def _at_least_one(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"must be at least 1 (randint draws from 0 to upper - 1); got {value}")
        return value


class Uniform(_Bounded):
    type: Literal["uniform"]


class QUniform(_Bounded, _Quantized):
    type: Literal["quniform"]


class LogUniform(_Bounded):
    """``exp(uniform(min_value, max_value))``: the bounds are exponents, as in Azure ML."""

    type: Literal["loguniform"]


class QLogUniform(_Bounded, _Quantized):
    type: Literal["qloguniform"]


class Normal(_Spread):
    type: Literal["normal"]


class QNormal(_Spread, _Quantized):
    type: Literal["qnormal"]


class LogNormal(_Spread):
    """``exp(normal(mu, sigma))``."""

    type: Literal["lognormal"]


class QLogNormal(_Spread, _Quantized):
    type: Literal["qlognormal"]


_ENTRY_TYPES = ("choice", "randint", "uniform", "quniform", "loguniform", "qloguniform", "normal", "qnormal",
                "lognormal", "qlognormal")  # fmt: skip

SearchSpaceEntry = Annotated[
    Choice
    | Randint
    | Uniform
    | QUniform
    | LogUniform
    | QLogUniform
    | Normal
    | QNormal
    | LogNormal
    | QLogNormal,
    Field(discriminator="type"),
    _known_type("a search space entry's", _ENTRY_TYPES),
]

LOG_TYPES = frozenset({"loguniform", "qloguniform", "lognormal", "qlognormal"})


# -- sampling, objective, early termination, limits -------------------------------------------


class RandomSampling(StrictModel):
    """``rule: sobol`` draws a scrambled Sobol sequence (even coverage) instead of independent points."""

    type: Literal["random"]
    seed: StrictInt | None = Field(default=None, ge=0, lt=2**32)
    rule: Literal["random", "sobol"] = "random"
    logbase: Number | Literal["e"] | None = None

    @field_validator("logbase")
    @classmethod
    def _base_above_one(cls, value: float | str | None) -> float | str | None:
        if isinstance(value, float) and value <= 1:
            raise ValueError(f"must be 'e' or a number above 1; got {value:g}")
        return value

    @property
    def base(self) -> float:
        return math.e if self.logbase in (None, "e") else float(self.logbase)


class GridSampling(StrictModel):
    type: Literal["grid"]


class BayesianSampling(StrictModel):
    type: Literal["bayesian"]


def _algorithm_by_name(value: Any) -> Any:
    # `sampling_algorithm: random` is the short form of `{type: random}`.
    return {"type": value} if isinstance(value, str) else value


SamplingAlgorithm = Annotated[
    RandomSampling | GridSampling | BayesianSampling,
    Field(discriminator="type"),
    _known_type(
        "the sampling algorithm's", ("random", "grid", "bayesian"), " (sobol is {type: random, rule: sobol})"
    ),
    BeforeValidator(_algorithm_by_name),
]


class Objective(StrictModel):
    goal: Literal["minimize", "maximize"]
    primary_metric: str = Field(min_length=1, max_length=250)

    @field_validator("goal", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        # The Python SDK's examples write `goal="Maximize"`.
        return value.lower() if isinstance(value, str) else value


class _Policy(StrictModel):
    """``evaluation_interval``: every how many logged values of the primary metric the rule
    runs (0, Azure's default, is every one); ``delay_evaluation``: not before that many."""

    evaluation_interval: StrictInt = Field(default=0, ge=0)
    delay_evaluation: StrictInt = Field(default=0, ge=0)

    @property
    def interval(self) -> int:
        return max(1, self.evaluation_interval)


class BanditPolicy(_Policy):
    type: Literal["bandit"]
    slack_factor: Number | None = Field(default=None, ge=0)
    slack_amount: Number | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_slack(self) -> BanditPolicy:
        if (self.slack_factor is None) == (self.slack_amount is None):
            raise ValueError(
                "give exactly one of slack_factor (a ratio of the best value) or slack_amount"
                " (a distance from it)"
            )
        return self

    @property
    def slack(self) -> str:
        if self.slack_factor is not None:
            return f"slack_factor {self.slack_factor:g}"
        return f"slack_amount {self.slack_amount:g}"


class MedianStoppingPolicy(_Policy):
    type: Literal["median_stopping"]


class TruncationSelectionPolicy(_Policy):
    type: Literal["truncation_selection"]
    truncation_percentage: StrictInt = Field(ge=1, le=99)
    exclude_finished_jobs: StrictBool = False

    @field_validator("exclude_finished_jobs")
    @classmethod
    def _finished_count(cls, value: bool) -> bool:
        if value:
            raise ValueError(
                "true is not supported: a trial is compared with the finished trials at the same step"
            )
        return value


EarlyTermination = Annotated[
    BanditPolicy | MedianStoppingPolicy | TruncationSelectionPolicy,
    Field(discriminator="type"),
    _known_type("an early termination policy's", ("bandit", "median_stopping", "truncation_selection")),
]


class SweepLimits(StrictModel):
    max_total_trials: StrictInt = Field(default=1000, ge=1, le=100_000)
    max_concurrent_trials: StrictInt | None = Field(default=None, ge=1)
    timeout: StrictInt | None = Field(
        default=None, gt=0, le=MAX_TIMEOUT_S, description="seconds, the whole sweep"
    )
    trial_timeout: StrictInt | None = Field(
        default=None, gt=0, le=MAX_TIMEOUT_S, description="seconds, each trial"
    )

    @model_validator(mode="after")
    def _concurrency_within_total(self) -> SweepLimits:
        if self.max_concurrent_trials is not None and self.max_concurrent_trials > self.max_total_trials:
            raise ValueError(
                f"max_concurrent_trials ({self.max_concurrent_trials}) is above max_total_trials"
                f" ({self.max_total_trials})"
            )
        return self

    @property
    def concurrency(self) -> int:
        """Azure ML's default: every trial at once (the compute target's slots still queue them)."""
        return self.max_concurrent_trials or self.max_total_trials


# -- the file ---------------------------------------------------------------------------------


class TrialSpec(StrictModel):
    """The command job each trial runs (its inputs, outputs and compute are the sweep's)."""

    command: str
    code: str | None = None
    environment: str | InlineEnvironment | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    resources: Resources | None = None
    distribution: None = None

    _scalars = field_validator("environment_variables", mode="before")(scalar_map)


def _trial_inline(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError(
            f"'{value}': a trial that is a component file is not supported; write the trial"
            " inline (command, code, environment)"
        )
    return value


class SweepJobSpec(SpecModel):
    """``shipyard job create -f sweep.yml``."""

    spec_kind: ClassVar[str] = "sweep job"

    type: Literal["sweep"]
    name: Annotated[str | None, visible("job")] = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$"
    )
    display_name: Annotated[str | None, visible("display_name")] = None
    experiment_name: Annotated[str | None, visible("experiment")] = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    compute: str | None = None
    inputs: dict[str, JobInput] = Field(default_factory=dict)
    outputs: dict[str, JobOutput | None] = Field(default_factory=dict)
    trial: Annotated[TrialSpec, BeforeValidator(_trial_inline)]
    search_space: dict[str, SearchSpaceEntry]
    sampling_algorithm: SamplingAlgorithm
    objective: Objective
    early_termination: EarlyTermination | None = None
    limits: SweepLimits = Field(default_factory=SweepLimits)
    identity: dict[str, Any] | None = None
    queue_settings: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None

    _scalars = field_validator("tags", mode="before")(scalar_map)

    @field_validator("search_space", mode="before")
    @classmethod
    def _entry_names(cls, value: Any) -> Any:
        if isinstance(value, dict):
            if not value:
                raise ValueError("is empty: name at least one hyperparameter")
            for name in value:
                if not str(name).isidentifier():
                    raise ValueError(
                        f"'{name}': a hyperparameter's name is letters, digits and '_'"
                        " (it is written ${{search_space.<name>}} in the trial command)"
                    )
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _whole(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> SweepJobSpec:
        spec: SweepJobSpec = handler(data)
        spec._check_grid()
        spec._check_log_bounds()
        trial_command(data, spec.search_space)  # the trial as the command job it becomes
        return spec

    def _check_grid(self) -> None:
        if not isinstance(self.sampling_algorithm, GridSampling):
            return
        points = 1
        for name, entry in self.search_space.items():
            if not isinstance(entry, Choice):
                raise InvalidSpec(
                    f"grid sampling takes choice entries only (as in Azure ML), and '{name}' is a"
                    f" {entry.type}: list its values in a choice, or use random or bayesian sampling",
                    field=f"search_space.{name}",
                )
            points *= len(entry.values)
        if points > MAX_GRID_POINTS:
            raise InvalidSpec(
                f"the grid has {points} points, more than {MAX_GRID_POINTS}: use random or bayesian"
                " sampling for a space that large",
                field="sampling_algorithm",
            )

    def _check_log_bounds(self) -> None:
        base = self.sampling_algorithm.base if isinstance(self.sampling_algorithm, RandomSampling) else math.e
        limit = math.log(1.7e308) / math.log(base)
        for name, entry in self.search_space.items():
            if isinstance(entry, (LogUniform, QLogUniform)) and entry.max_value > limit:
                raise InvalidSpec(
                    f"a {entry.type} draws exp(uniform(min_value, max_value)): the bounds are"
                    f" exponents, and max_value {entry.max_value:g} overflows (at most {limit:.0f});"
                    f" for values between 0.0001 and 0.1 write min_value: {math.log(1e-4):.2f},"
                    f" max_value: {math.log(0.1):.2f}",
                    field=f"search_space.{name}.max_value",
                )

    @property
    def seed(self) -> int | None:
        return self.sampling_algorithm.seed if isinstance(self.sampling_algorithm, RandomSampling) else None

    def notes(self) -> list[str]:
        """One line per accepted-but-ignored field present in this file."""
        return [
            f"{name}: {IGNORED_FIELDS[name]}"
            for name in ("identity", "queue_settings", "properties")
            if getattr(self, name) is not None
        ]


# -- the trial as a command job ------------------------------------------------------------------

# Where a command job's field comes from in a sweep file.
_TRIAL_FIELDS = ("command", "code", "environment", "environment_variables", "resources", "distribution")
_SHARED_FIELDS = ("experiment_name", "description", "tags", "compute", "inputs", "outputs")


def command_mapping(sweep: Mapping[str, Any]) -> dict[str, Any]:
    """The command job a trial is (before its values are put in): the trial's own fields, the
    sweep's inputs, outputs and compute, and ``limits.trial_timeout`` as its timeout."""
    trial = sweep.get("trial")
    trial = trial if isinstance(trial, Mapping) else {}
    out: dict[str, Any] = {"type": "command"}
    out.update({k: sweep[k] for k in _SHARED_FIELDS if k in sweep})
    out.update({k: trial[k] for k in _TRIAL_FIELDS if k in trial})
    limits = sweep.get("limits")
    if isinstance(limits, Mapping) and limits.get("trial_timeout") is not None:
        out["limits"] = {"timeout": limits["trial_timeout"]}
    return out


def sweep_field(field: str) -> str:
    """A command job's field (``command``, ``limits.timeout``) where the sweep file has it."""
    head = field.partition(".")[0]
    if head in _TRIAL_FIELDS:
        return f"trial.{field}"
    if head == "limits":
        return "limits.trial_timeout"
    return field


def trial_command(sweep: Mapping[str, Any], search_space: Mapping[str, Any]) -> CommandJobSpec:
    """The trial validated as a command job whose command may bind ``${{search_space.<name>}}``
    of ``search_space``; a problem is an InvalidSpec on the sweep file's field."""
    mapping = command_mapping(sweep)
    with search_space_bindings(search_space.keys()):
        try:
            return CommandJobSpec.model_validate(mapping)
        except ValidationError as exc:
            raise _first_problem(exc, mapping) from None
        except InvalidSpec as exc:
            field = sweep_field(str(exc.details.get("field") or "trial"))
            raise InvalidSpec(exc.message, **{**exc.details, "field": field}) from None


def _first_problem(exc: ValidationError, mapping: dict[str, Any]) -> InvalidSpec:
    err = exc.errors()[0]
    keys, _ = walk_error(LineDict(mapping), err["loc"], missing=err["type"] == "missing")
    field = sweep_field(".".join(keys)) if keys else "trial"
    message = describe_error(err, field.split("."), CommandJobSpec)
    return InvalidSpec(message, field=field)


class _SweepText(LoadedText):
    """The sweep file's text, placing a problem of its trial's command job on the sweep's line."""

    def __init__(self, text: LoadedText) -> None:
        self.source, self.data, self.overridden = text.source, text.data, text.overridden

    def locate(self, exc: InvalidSpec) -> InvalidSpec:
        field = exc.details.get("field")
        if field and not exc.details.get("file"):
            exc = InvalidSpec(exc.message, **{**exc.details, "field": sweep_field(str(field))})
        return super().locate(exc)


def load_file(path: Path, overrides: Sequence[str] = ()) -> LoadedComposite:
    """Read a sweep file (with ``--set`` overrides) and check its trial's code, local inputs and
    environment files like a command job's; the trial is the one part to upload (``""``)."""
    source = path.resolve()
    text = LoadedText.read(path, SweepJobSpec, overrides)
    spec = text.validate(SweepJobSpec)
    mapping = command_mapping(text.data)
    trial = trial_command(text.data, spec.search_space)
    part = loaded_command(trial, mapping, source, _SweepText(text))
    return LoadedComposite(
        type="sweep",
        source=source,
        raw=text.data,
        parts={"": part},
        notes=(*spec.notes(), *part.notes),
    )
