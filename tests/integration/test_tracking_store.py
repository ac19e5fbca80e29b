"""Tracking on a real metadata store: experiments, runs, params, tags, metrics and search.

Every test runs on SQLite and on PostgreSQL (the ``database_url`` fixture).
"""

from __future__ import annotations

import base64
import json
import math
from concurrent.futures import ThreadPoolExecutor

import pytest

from shipyard.domain.context import Principal, RequestContext
from shipyard.domain.tracking import Run
from shipyard.errors import (
    AlreadyExists,
    Conflict,
    InvalidArgument,
    InvalidFilter,
    InvalidPageToken,
    NotFound,
    ParamAlreadySet,
)
from shipyard.services._clock import now_ms
from shipyard.services.ports import MetricBatch
from shipyard.services.tracking import TrackingService

BOB = RequestContext(principal=Principal("bob"), workspace="team-b")


def batch(
    key: str, steps: list[int], values: list[float], timestamps: list[int] | None = None
) -> MetricBatch:
    stamps = timestamps if timestamps is not None else [1_700_000_000_000 + s for s in steps]
    return MetricBatch.from_points([key] * len(steps), list(steps), list(values), stamps)


def new_run(tracking: TrackingService, ctx: RequestContext, experiment: str = "exp", **kwargs: object) -> Run:
    try:
        experiment_id = tracking.get_experiment_by_name(ctx, experiment).id
    except NotFound:
        experiment_id = tracking.create_experiment(ctx, experiment).id
    return tracking.create_run(ctx, experiment_id, **kwargs)  # type: ignore[arg-type]


def forge(token: str, position: object) -> str:
    """``token`` with its position replaced: what a client tampering with a token sends."""
    data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    data["p"] = position
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def all_history(tracking: TrackingService, ctx: RequestContext, run_id: str, key: str, page: int) -> list:  # type: ignore[type-arg]
    """Follow page tokens to the end; return the pages."""
    pages = []
    token = None
    while True:
        found = tracking.metric_history(ctx, run_id, key, max_results=page, page_token=token)
        pages.append(found)
        token = found.next_page_token
        if token is None:
            return pages


# -- experiments --------------------------------------------------------------------


def test_experiment_is_created_with_its_tags_and_author(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    before = now_ms()
    created = tracking.create_experiment(ctx, "churn", {"team": "growth"})
    got = tracking.get_experiment(ctx, created.id)
    assert got == created
    assert got.name == "churn" and got.tags == {"team": "growth"}
    assert got.workspace == "default" and got.lifecycle_stage == "active"
    assert got.created_by == "alice" and before <= got.created_at <= now_ms()
    assert tracking.get_experiment_by_name(ctx, "churn").id == created.id


def test_duplicate_experiment_name_is_refused(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    tracking.create_experiment(ctx, "churn")
    with pytest.raises(AlreadyExists, match="churn"):
        tracking.create_experiment(ctx, "churn")
    names = [e.name for e in tracking.list_experiments(ctx, view="all")[0]]
    assert names.count("churn") == 1


def test_experiment_rename_moves_the_name_and_refuses_a_taken_one(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    first = tracking.create_experiment(ctx, "first")
    tracking.create_experiment(ctx, "taken")
    renamed = tracking.update_experiment(ctx, first.id, name="second")
    assert renamed.name == "second" and renamed.id == first.id
    assert tracking.get_experiment_by_name(ctx, "second").id == first.id
    with pytest.raises(NotFound):
        tracking.get_experiment_by_name(ctx, "first")
    with pytest.raises(AlreadyExists, match="taken"):
        tracking.update_experiment(ctx, first.id, name="taken")
    assert tracking.get_experiment(ctx, first.id).name == "second"


def test_deleted_experiment_leaves_the_list_refuses_runs_and_comes_back(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    exp = tracking.create_experiment(ctx, "old")
    tracking.update_experiment(ctx, exp.id, lifecycle_stage="deleted")
    active = [e.id for e in tracking.list_experiments(ctx)[0]]
    deleted = [e.id for e in tracking.list_experiments(ctx, view="deleted")[0]]
    assert exp.id not in active and deleted == [exp.id]
    with pytest.raises(InvalidArgument, match="deleted"):
        tracking.create_run(ctx, exp.id)
    tracking.update_experiment(ctx, exp.id, lifecycle_stage="active")
    assert exp.id in [e.id for e in tracking.list_experiments(ctx)[0]]
    assert tracking.create_run(ctx, exp.id).experiment_id == exp.id


def test_experiment_list_pages_through_every_experiment_once(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    created = [tracking.create_experiment(ctx, f"exp-{i:02d}").id for i in range(24)]
    for experiment_id in created[:3]:
        tracking.update_experiment(ctx, experiment_id, lifecycle_stage="deleted")
    seen: list[str] = []
    sizes = []
    token = None
    while True:
        page, token = tracking.list_experiments(ctx, max_results=10, page_token=token)
        seen.extend(e.id for e in page)
        sizes.append(len(page))
        if token is None:
            break
    default = tracking.get_experiment_by_name(ctx, "Default").id
    assert sizes == [10, 10, 2]
    assert sorted(seen) == sorted([default, *created[3:]])
    _, token = tracking.list_experiments(ctx, max_results=10)
    assert token is not None
    with pytest.raises(InvalidPageToken):
        tracking.list_experiments(ctx, view="deleted", max_results=10, page_token=token)
    with pytest.raises(InvalidPageToken):
        tracking.list_experiments(ctx, max_results=10, page_token="bm90IGEgdG9rZW4")


def test_tampered_experiment_page_token_is_a_client_error(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        tracking.create_experiment(ctx, f"e{i}")
    _, token = tracking.list_experiments(ctx, max_results=1)
    assert token is not None
    for position in ("x", -5, [1], 1.5, True, 2**70):
        with pytest.raises(InvalidPageToken):
            tracking.list_experiments(ctx, max_results=1, page_token=forge(token, position))
    # a null position means "first page": harmless, the same as sending no token
    assert len(tracking.list_experiments(ctx, max_results=1, page_token=forge(token, None))[0]) == 1


# -- runs ---------------------------------------------------------------------------


def test_child_run_points_at_its_parent(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    parent = new_run(tracking, ctx, name="sweep", params={"n": "3"}, tags={"kind": "sweep"})
    child = new_run(tracking, ctx, name="trial-1", parent_run_id=parent.id)
    got = tracking.get_run(ctx, child.id)
    assert got.parent_run_id == parent.id and got.name == "trial-1"
    assert tracking.get_run(ctx, parent.id).params == {"n": "3"}
    assert tracking.get_run(ctx, parent.id).tags == {"kind": "sweep"}
    with pytest.raises(NotFound):
        new_run(tracking, ctx, parent_run_id="0" * 32)


def test_run_status_update_sets_the_end_time(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    run = new_run(tracking, ctx)
    assert run.status == "RUNNING" and run.end_time is None
    before = now_ms()
    done = tracking.update_run(ctx, run.id, status="FINISHED")
    assert done.status == "FINISHED"
    assert done.end_time is not None and before <= done.end_time <= now_ms()
    explicit = tracking.update_run(ctx, run.id, status="FAILED", end_time=1234, name="renamed")
    assert (explicit.status, explicit.end_time, explicit.name) == ("FAILED", 1234, "renamed")
    with pytest.raises(InvalidArgument, match="RUNNING, SCHEDULED, FINISHED"):
        tracking.update_run(ctx, run.id, status="DONE")
    assert tracking.get_run(ctx, run.id).status == "FAILED"


@pytest.mark.parametrize("field", ["start_time", "end_time"])
def test_run_times_out_of_range_are_refused(tracking, ctx, field) -> None:  # type: ignore[no-untyped-def]
    run = new_run(tracking, ctx)
    with pytest.raises(InvalidArgument, match=field):
        if field == "start_time":
            new_run(tracking, ctx, start_time=2**64)
        else:
            tracking.update_run(ctx, run.id, end_time=-1)
    assert tracking.get_run(ctx, run.id).end_time is None


def test_deleted_run_refuses_logging_until_restored(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    run = new_run(tracking, ctx, params={"a": "1"})
    tracking.set_run_lifecycle(ctx, run.id, "deleted")
    assert tracking.get_run(ctx, run.id).lifecycle_stage == "deleted"
    attempts = [
        lambda: tracking.log_params(ctx, run.id, {"b": "2"}),
        lambda: tracking.set_tags(ctx, run.id, {"t": "x"}),
        lambda: tracking.log_metrics(ctx, run.id, batch("loss", [0], [1.0])),
        lambda: tracking.update_run(ctx, run.id, status="FINISHED"),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidArgument, match="deleted"):
            attempt()
    got = tracking.get_run(ctx, run.id)
    assert (got.params, got.tags, got.metrics, got.status) == ({"a": "1"}, {}, {}, "RUNNING")
    tracking.set_run_lifecycle(ctx, run.id, "active")
    tracking.log_params(ctx, run.id, {"b": "2"})
    assert tracking.get_run(ctx, run.id).params == {"a": "1", "b": "2"}


def test_unknown_run_is_not_found(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    for call in (
        lambda: tracking.get_run(ctx, "f" * 32),
        lambda: tracking.log_params(ctx, "f" * 32, {"a": "1"}),
        lambda: tracking.metric_history(ctx, "nope", "loss"),
        lambda: tracking.get_experiment(ctx, "987654"),
        lambda: tracking.get_experiment(ctx, "9" * 40),
        lambda: tracking.get_experiment(ctx, "²"),
    ):
        with pytest.raises(NotFound):
            call()


# -- params and tags ----------------------------------------------------------------


def test_params_are_immutable_and_a_refused_batch_writes_nothing(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    run = new_run(tracking, ctx)
    tracking.log_params(ctx, run.id, {"lr": "0.1"})
    tracking.log_params(ctx, run.id, {"lr": "0.1"})  # same value again: fine
    with pytest.raises(ParamAlreadySet, match="immutable") as info:
        tracking.log_params(ctx, run.id, {"fresh": "x", "lr": "0.2"})
    assert info.value.details["key"] == "lr" and info.value.details["old_value"] == "0.1"
    assert tracking.get_run(ctx, run.id).params == {"lr": "0.1"}


def test_key_and_value_limits_are_inclusive(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    run = new_run(tracking, ctx)
    key = "k" * 250
    tracking.log_params(ctx, run.id, {key: "v" * 6000})
    tracking.set_tags(ctx, run.id, {key: "t" * 8000})
    for call in (
        lambda: tracking.log_params(ctx, run.id, {"k" * 251: "v"}),
        lambda: tracking.log_params(ctx, run.id, {"other": "v" * 6001}),
        lambda: tracking.set_tags(ctx, run.id, {"other": "t" * 8001}),
        lambda: tracking.set_tags(ctx, run.id, {"bad*key": "t"}),
    ):
        with pytest.raises(InvalidArgument, match=r"limit|may only contain"):
            call()
    got = tracking.get_run(ctx, run.id)
    assert got.params == {key: "v" * 6000} and got.tags == {key: "t" * 8000}


def test_tags_are_set_overwritten_and_deleted(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    run = new_run(tracking, ctx)
    tracking.set_tags(ctx, run.id, {"stage": "dev", "owner": "alice"})
    tracking.set_tags(ctx, run.id, {"stage": "prod"})
    assert tracking.get_run(ctx, run.id).tags == {"stage": "prod", "owner": "alice"}
    tracking.delete_tag(ctx, run.id, "owner")
    assert tracking.get_run(ctx, run.id).tags == {"stage": "prod"}
    with pytest.raises(NotFound, match="owner"):
        tracking.delete_tag(ctx, run.id, "owner")


# -- metrics ------------------------------------------------------------------------


def test_nan_and_infinities_round_trip(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    run = new_run(tracking, ctx)
    tracking.log_metrics(ctx, run.id, batch("x", [0, 1, 2, 3, 4], [0.5, math.nan, math.inf, -math.inf, 2.0]))
    history = tracking.metric_history(ctx, run.id, "x")
    assert history.steps == [0, 1, 2, 3, 4]
    v = history.values
    assert v[0] == 0.5 and math.isnan(v[1]) and v[2] == math.inf and v[3] == -math.inf and v[4] == 2.0
    summary = tracking.get_run(ctx, run.id).metrics["x"]
    assert (summary.value, summary.step, summary.count) == (2.0, 4, 5)
    assert (summary.min, summary.max) == (-math.inf, math.inf)
    tracking.log_metrics(ctx, run.id, batch("y", [0, 1], [1.0, math.nan]))
    assert math.isnan(tracking.get_run(ctx, run.id).metrics["y"].value)


def test_replayed_idempotency_key_stores_nothing(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    run = new_run(tracking, ctx)
    first = batch("loss", list(range(100)), [float(i) for i in range(100)])
    assert tracking.log_metrics(ctx, run.id, first, idempotency_key="batch-0001") is True
    replay = batch("loss", list(range(100, 150)), [9.0] * 50)
    assert tracking.log_metrics(ctx, run.id, first, idempotency_key="batch-0001") is False
    assert tracking.log_metrics(ctx, run.id, replay, idempotency_key="batch-0001") is False
    history = tracking.metric_history(ctx, run.id, "loss")
    assert history.steps == list(range(100)) and history.total == 100
    summary = tracking.get_run(ctx, run.id).metrics["loss"]
    assert (summary.count, summary.value, summary.max) == (100, 99.0, 99.0)
    with pytest.raises(InvalidArgument, match="8 to 64"):
        tracking.log_metrics(ctx, run.id, replay, idempotency_key="short")
    other = new_run(tracking, ctx)  # the same key on another run must not pass for a replay
    with pytest.raises(Conflict, match="another run"):
        tracking.log_metrics(ctx, other.id, replay, idempotency_key="batch-0001")
    assert tracking.get_run(ctx, other.id).metrics == {}


def test_latest_value_is_highest_step_then_newest_timestamp(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    run = new_run(tracking, ctx)

    def latest() -> tuple[float, int, int]:
        m = tracking.get_run(ctx, run.id).metrics["acc"]
        return m.value, m.step, m.timestamp

    tracking.log_metrics(ctx, run.id, batch("acc", [5, 5, 3], [1.0, 2.0, 3.0], [100, 200, 300]))
    assert latest() == (2.0, 5, 200)
    tracking.log_metrics(ctx, run.id, batch("acc", [5], [9.0], [150]))  # same step, older
    assert latest() == (2.0, 5, 200)
    tracking.log_metrics(ctx, run.id, batch("acc", [4], [7.0], [999]))  # newer, lower step
    assert latest() == (2.0, 5, 200)
    tracking.log_metrics(ctx, run.id, batch("acc", [6], [4.0], [50]))  # higher step wins
    assert latest() == (4.0, 6, 50)
    summary = tracking.get_run(ctx, run.id).metrics["acc"]
    assert (summary.count, summary.min, summary.max) == (6, 1.0, 9.0)


def test_history_pages_have_no_gaps_or_repeats(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    run = new_run(tracking, ctx)
    steps = [s for s in range(1000) for _ in range(2)]  # every step logged twice
    values = [float(i) for i in range(len(steps))]
    tracking.log_metrics(ctx, run.id, batch("loss", steps, values))
    pages = all_history(tracking, ctx, run.id, "loss", page=333)
    assert [len(p.steps) for p in pages] == [333] * 6 + [2]
    assert all(p.total == 2000 for p in pages)
    assert [s for p in pages for s in p.steps] == steps
    assert [v for p in pages for v in p.values] == values
    token = pages[0].next_page_token
    assert token is not None
    for bad in (token, forge(token, [2**70, 0]), forge(token, "x"), "garbage"):
        with pytest.raises(InvalidPageToken):
            tracking.metric_history(ctx, run.id, "other" if bad == token else "loss", page_token=bad)


def test_downsampled_history_keeps_the_spikes(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    run = new_run(tracking, ctx)
    values = [math.sin(s / 40) for s in range(10_000)]
    values[4321], values[7777] = 1000.0, -1000.0
    tracking.log_metrics(ctx, run.id, batch("loss", list(range(10_000)), values))
    chart = tracking.metric_history(ctx, run.id, "loss", max_points=200)
    assert chart.downsampled and 2 <= len(chart.steps) <= 200 and chart.total == 10_000
    assert chart.steps == sorted(chart.steps)
    assert 1000.0 in chart.values and -1000.0 in chart.values
    assert chart.values[chart.steps.index(4321)] == 1000.0
    whole = tracking.metric_history(ctx, run.id, "loss", max_points=20_000)
    assert not whole.downsampled and len(whole.steps) == 10_000


# -- search -------------------------------------------------------------------------

# name: (metrics, params, tags, status, start_time)
SEARCH_RUNS: dict[str, tuple[dict[str, float], dict[str, str], dict[str, str], str, int]] = {
    "alpha": ({"acc": 0.7, "loss": 0.9}, {"lr": "0.1", "opt": "adam", "batch": "16"}, {"team": "vision"}, "FINISHED", 1000),
    "beta": ({"acc": 0.8, "loss": 0.5}, {"lr": "0.01", "opt": "Adam", "batch": "32"}, {"team": "nlp", "note": "keep"}, "FINISHED", 2000),
    "gamma": ({"acc": 0.9, "loss": 0.3}, {"lr": "0.001", "opt": "sgd", "batch": "64"}, {"team": "vision"}, "FAILED", 3000),
    "delta": ({"acc": 0.9}, {"lr": "0.1"}, {"team": "Vision-2"}, "RUNNING", 4000),
    "empty": ({}, {}, {}, "RUNNING", 5000),
}  # fmt: skip

FILTERS: dict[str, set[str]] = {
    "metrics.acc = 0.9": {"gamma", "delta"},
    "metrics.acc != 0.9": {"alpha", "beta"},
    "metrics.acc < 0.8": {"alpha"},
    "metrics.acc <= 0.8": {"alpha", "beta"},
    "metrics.acc > 0.8": {"gamma", "delta"},
    "metrics.acc >= 0.8": {"beta", "gamma", "delta"},
    "metric.`acc` >= 0.9": {"gamma", "delta"},
    "metrics.loss IS NULL": {"delta", "empty"},
    "metrics.loss IS NOT NULL": {"alpha", "beta", "gamma"},
    "metrics.loss < 1 and metrics.acc > 0.75": {"beta", "gamma"},
    "params.lr = '0.1'": {"alpha", "delta"},
    "params.lr != '0.1'": {"beta", "gamma"},
    "params.opt LIKE 'a%'": {"alpha"},
    "params.opt ILIKE 'a%'": {"alpha", "beta"},
    "params.batch > '16'": {"beta", "gamma"},
    "params.batch >= '32'": {"beta", "gamma"},
    "params.batch < '32'": {"alpha"},
    "params.batch <= '32'": {"alpha", "beta"},
    "params.opt IS NULL": {"delta", "empty"},
    "param.lr IS NOT NULL": {"alpha", "beta", "gamma", "delta"},
    "tags.team = 'vision'": {"alpha", "gamma"},
    "tags.team != 'vision'": {"beta", "delta"},
    "tags.team LIKE 'vis%'": {"alpha", "gamma"},
    "tags.team ILIKE 'vis%'": {"alpha", "gamma", "delta"},
    "tags.\"team\" = 'nlp'": {"beta"},
    "tags.note IS NOT NULL": {"beta"},
    "tags.note IS NULL": {"alpha", "gamma", "delta", "empty"},
    "attributes.run_name = 'beta'": {"beta"},
    "attributes.run_name != 'beta'": {"alpha", "gamma", "delta", "empty"},
    "attributes.run_name LIKE '%ta'": {"beta", "delta"},
    "attributes.run_name ILIKE 'ALPHA'": {"alpha"},
    "attributes.status IN ('FINISHED', 'FAILED')": {"alpha", "beta", "gamma"},
    "attributes.status NOT IN ('FINISHED')": {"gamma", "delta", "empty"},
    "run.status = 'FAILED'": {"gamma"},
    "attributes.start_time = 2000": {"beta"},
    "attributes.start_time != 2000": {"alpha", "gamma", "delta", "empty"},
    "attributes.start_time > 2500": {"gamma", "delta", "empty"},
    "attributes.start_time >= 3000": {"gamma", "delta", "empty"},
    "attributes.created < 2000": {"alpha"},
    "attributes.start_time <= 2000": {"alpha", "beta"},
    "attributes.end_time IS NULL": {"delta", "empty"},
    "attributes.end_time IS NOT NULL": {"alpha", "beta", "gamma"},
    # user_id is the user the client declares (the mlflow.user tag; none here), created_by who signed in
    "attributes.user_id = 'unknown'": {"alpha", "beta", "gamma", "delta", "empty"},
    "attributes.user_id = 'alice'": set(),
    "attributes.created_by = 'alice'": {"alpha", "beta", "gamma", "delta", "empty"},
    "attributes.lifecycle_stage = 'active'": {"alpha", "beta", "gamma", "delta", "empty"},
    "params.lr = '0.1' AND tags.team = 'vision' AND metrics.acc < 0.8": {"alpha"},
}


@pytest.fixture
def search_runs(tracking, ctx) -> tuple[str, dict[str, Run]]:  # type: ignore[no-untyped-def]
    exp = tracking.create_experiment(ctx, "search")
    runs = {}
    for name, (metrics, params, tags, status, start) in SEARCH_RUNS.items():
        run = tracking.create_run(ctx, exp.id, name=name, params=params, tags=tags, start_time=start)
        if metrics:
            keys = list(metrics)
            tracking.log_metrics(
                ctx,
                run.id,
                MetricBatch.from_points(keys, [0] * len(keys), list(metrics.values()), [start] * len(keys)),
            )
        if status != "RUNNING":
            tracking.update_run(ctx, run.id, status=status)
        runs[name] = run
    return exp.id, runs


def names(found: list[Run]) -> list[str]:
    return [r.name for r in found]


def test_search_applies_every_operator_of_the_grammar(tracking, ctx, search_runs) -> None:  # type: ignore[no-untyped-def]
    exp_id, runs = search_runs
    cases = dict(FILTERS)
    cases[f"attributes.run_id IN ('{runs['alpha'].id}', '{runs['gamma'].id}')"] = {"alpha", "gamma"}
    cases[f"attributes.artifact_uri LIKE '%{runs['gamma'].id}%'"] = {"gamma"}
    wrong = {}
    for filter_string, expected in cases.items():
        found, _ = tracking.search_runs(ctx, [exp_id], filter_string=filter_string)
        if set(names(found)) != expected:
            wrong[filter_string] = sorted(names(found))
    assert wrong == {}


MALFORMED_FILTERS = [
    "metrics.acc > 0.5 OR metrics.loss < 1",
    "foo.acc > 1",
    "metrics.acc >",
    "params.lr = '0.1",
    "metrics.acc > 'high'",
    "params.lr > 0.1",
    "attributes.colour = 'red'",
    "tags.team IN ('a')",
    "metrics.acc 0.5",
    "%%% garbage",
    "attributes.start_time > 1e30",
    "attributes.end_time < -1e999",
]


def test_malformed_filters_are_refused(tracking, ctx, search_runs) -> None:  # type: ignore[no-untyped-def]
    accepted = []
    for bad in MALFORMED_FILTERS:
        try:
            tracking.search_runs(ctx, [search_runs[0]], filter_string=bad)
        except InvalidFilter:
            continue
        accepted.append(bad)
    assert accepted == []


def test_search_orders_by_metric_with_missing_values_last(tracking, ctx, search_runs) -> None:  # type: ignore[no-untyped-def]
    exp_id, _ = search_runs
    ascending, _ = tracking.search_runs(ctx, [exp_id], order_by=["metrics.loss ASC"])
    descending, _ = tracking.search_runs(ctx, [exp_id], order_by=["metrics.loss DESC"])
    assert names(ascending)[:3] == ["gamma", "beta", "alpha"]
    assert names(descending)[:3] == ["alpha", "beta", "gamma"]
    assert set(names(ascending)[3:]) == set(names(descending)[3:]) == {"delta", "empty"}
    by_param, _ = tracking.search_runs(ctx, [exp_id], order_by=["params.batch DESC"])
    assert names(by_param)[:3] == ["gamma", "beta", "alpha"]
    by_start, _ = tracking.search_runs(ctx, [exp_id], order_by=["attributes.start_time ASC"])
    assert names(by_start) == ["alpha", "beta", "gamma", "delta", "empty"]
    newest_first, _ = tracking.search_runs(ctx, [exp_id])
    assert names(newest_first) == ["empty", "delta", "gamma", "beta", "alpha"]


def test_search_with_the_most_clauses_and_orderings_allowed(tracking, ctx, search_runs) -> None:  # type: ignore[no-untyped-def]
    exp_id, _ = search_runs
    clauses = ["metrics.acc > 0", "params.lr != 'x'", "tags.team != 'x'", "metrics.loss >= 0"] * 10
    order_by = ["metrics.acc DESC", "params.batch", "tags.team", "metrics.loss", "attributes.run_name"] * 2
    found, _ = tracking.search_runs(ctx, [exp_id], filter_string=" AND ".join(clauses), order_by=order_by)
    assert names(found) == ["gamma", "beta", "alpha"]
    with pytest.raises(InvalidFilter, match="at most 40"):
        tracking.search_runs(ctx, [exp_id], filter_string=" AND ".join([*clauses, "metrics.acc > 0"]))
    with pytest.raises(InvalidFilter, match="at most 10"):
        tracking.search_runs(ctx, [exp_id], order_by=[*order_by, "metrics.acc"])


def test_search_hides_deleted_runs_unless_asked(tracking, ctx, search_runs) -> None:  # type: ignore[no-untyped-def]
    exp_id, runs = search_runs
    tracking.set_run_lifecycle(ctx, runs["beta"].id, "deleted")
    assert "beta" not in names(tracking.search_runs(ctx, [exp_id])[0])
    assert names(tracking.search_runs(ctx, [exp_id], view="deleted")[0]) == ["beta"]
    assert len(tracking.search_runs(ctx, [exp_id], view="all")[0]) == 5


def test_search_pages_over_250_runs_without_duplicates_or_gaps(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    exp = tracking.create_experiment(ctx, "many")
    created = {}
    for i in range(250):
        run = tracking.create_run(ctx, exp.id, name=f"r{i:03d}", start_time=1000 + i // 10)  # ties
        if i % 10:  # every tenth run has no score
            tracking.log_metrics(ctx, run.id, batch("score", [0], [float(i % 7)]))
        created[run.id] = i
    for order_by in (["metrics.score DESC"], ["metrics.score ASC"], []):
        seen: list[Run] = []
        token = None
        pages = 0
        while True:
            page, token = tracking.search_runs(
                ctx, [exp.id], order_by=order_by, max_results=20, page_token=token
            )
            seen.extend(page)
            pages += 1
            if token is None:
                break
        ids = [r.id for r in seen]
        assert pages == 13
        assert len(ids) == 250 and set(ids) == set(created), order_by
        if order_by:
            scored = [r.metrics["score"].value for r in seen if "score" in r.metrics]
            assert len(scored) == 225
            assert scored == sorted(scored, reverse=order_by[0].endswith("DESC"))
            assert all("score" not in r.metrics for r in seen[225:])  # missing last
    first, token = tracking.search_runs(ctx, [exp.id], max_results=20)
    with pytest.raises(InvalidPageToken):
        tracking.search_runs(ctx, [exp.id], filter_string="metrics.score > 1", page_token=token)
    assert len(first) == 20


def test_other_workspaces_are_invisible(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    mine = new_run(tracking, ctx, experiment="shared-name")
    theirs = new_run(tracking, BOB, experiment="shared-name", params={"secret": "1"})
    their_exp = theirs.experiment_id
    assert their_exp != mine.experiment_id
    assert tracking.get_experiment(BOB, their_exp).workspace == "team-b"
    for call in (
        lambda: tracking.get_run(ctx, theirs.id),
        lambda: tracking.get_experiment(ctx, their_exp),
        lambda: tracking.search_runs(ctx, [their_exp]),
        lambda: tracking.search_runs(ctx, [mine.experiment_id, their_exp]),
        lambda: tracking.log_params(ctx, theirs.id, {"x": "1"}),
        lambda: tracking.log_metrics(ctx, theirs.id, batch("loss", [0], [1.0])),
        lambda: tracking.metric_history(ctx, theirs.id, "loss"),
        lambda: tracking.set_run_lifecycle(ctx, theirs.id, "deleted"),
        lambda: tracking.create_run(ctx, their_exp),
    ):
        with pytest.raises(NotFound):
            call()
    my_experiments = tracking.list_experiments(ctx, view="all")[0]
    assert their_exp not in {e.id for e in my_experiments}
    everything = [e.id for e in my_experiments]
    found, _ = tracking.search_runs(ctx, everything, view="all", filter_string="params.secret = '1'")
    assert found == []
    assert [r.id for r in tracking.search_runs(ctx, everything, view="all")[0]] == [mine.id]
    untouched = tracking.get_run(BOB, theirs.id)
    assert untouched.params == {"secret": "1"} and untouched.metrics == {}
    assert untouched.lifecycle_stage == "active"


# -- concurrency --------------------------------------------------------------------


def test_concurrent_batches_into_one_run_lose_nothing(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    """Several writers on one run (e.g. ranks of a distributed job), and a retry racing the
    original request: every point counted once, aggregates exact, no spurious conflict."""
    run = new_run(tracking, ctx)
    writers, batches, size = 6, 8, 100

    def write(writer: int) -> list[bool]:
        stored = []
        for b in range(batches):
            first = (writer * batches + b) * size
            points = batch("loss", list(range(first, first + size)), [float(first)] * size)
            stored.append(tracking.log_metrics(ctx, run.id, points, idempotency_key=f"w{writer}-b{b:04d}"))
            # the same batch again from another writer: a retry racing the original
            stored.append(tracking.log_metrics(ctx, run.id, points, idempotency_key=f"w{writer}-b{b:04d}"))
        return stored

    with ThreadPoolExecutor(writers) as pool:
        results = list(pool.map(write, range(writers)))
    assert all(r.count(True) == batches for r in results)
    total = writers * batches * size
    summary = tracking.get_run(ctx, run.id).metrics["loss"]
    assert (summary.count, summary.step) == (total, total - 1)
    assert (summary.min, summary.max) == (0.0, float(total - size))
    assert tracking.metric_history(ctx, run.id, "loss").steps == list(range(total))


def test_first_writes_into_a_new_workspace_do_not_collide(tracking) -> None:  # type: ignore[no-untyped-def]
    newcomers = [RequestContext(Principal(f"user{i}"), workspace="brand-new") for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        created = list(pool.map(lambda c: tracking.create_experiment(c, f"by-{c.principal.name}"), newcomers))
    assert len({e.id for e in created}) == 6
    listed = tracking.list_experiments(newcomers[0])[0]
    assert sorted(e.name for e in listed) == sorted(f"by-user{i}" for i in range(6))


def test_a_chart_of_a_large_series_covers_it_whole_from_rollups_with_spikes_in_place(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    from shipyard.stores.sql.metrics import ROLLUP_FROM

    run = new_run(tracking, ctx)
    n = ROLLUP_FROM * 3  # logged in batches: crossing ROLLUP_FROM builds the rollups, later batches fold in
    values = [math.sin(s / 500) for s in range(n)]
    values[1234], values[n - 77] = 50.0, -50.0
    values[777] = math.nan
    for start in range(0, n, 7_000):
        stop = min(n, start + 7_000)
        tracking.log_metrics(ctx, run.id, batch("loss", list(range(start, stop)), values[start:stop]))
    chart = tracking.metric_history(ctx, run.id, "loss", max_points=500)
    assert chart.downsampled and chart.total == n and chart.next_page_token is None
    assert 2 <= len(chart.steps) <= 500 and chart.steps == sorted(chart.steps)
    assert chart.steps[-1] >= n - 1024 and chart.steps[0] < 1024  # the whole series, not a first page
    assert chart.values[chart.steps.index(1234)] == 50.0
    assert chart.values[chart.steps.index(n - 77)] == -50.0
    assert all(not math.isnan(v) for v in chart.values)
    # the same figures as down-sampling every point
    every = tracking.metric_history(ctx, run.id, "loss", max_results=1_000_000)
    finite = [v for v in every.values if not math.isnan(v)]
    assert max(chart.values) == max(finite) and min(chart.values) == min(finite)


def test_a_sparse_large_series_charts_from_a_coarser_level(tracking, ctx) -> None:  # type: ignore[no-untyped-def]
    from shipyard.stores.sql.metrics import ROLLUP_FROM

    run = new_run(tracking, ctx)
    n = ROLLUP_FROM + 5_000
    steps = [1_700_000_000_000 + i * 60_000 for i in range(n)]  # steps as timestamps: one a minute
    tracking.log_metrics(ctx, run.id, batch("lat", steps, [float(i % 97) for i in range(n)]))
    chart = tracking.metric_history(ctx, run.id, "lat", max_points=300)
    assert chart.downsampled and len(chart.steps) <= 300 and chart.steps == sorted(chart.steps)
    assert chart.steps[0] == steps[0] or chart.steps[0] < steps[0] + 60_000 * 2**10
    assert max(chart.values) == 96.0 and min(chart.values) == 0.0
