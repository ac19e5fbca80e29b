"""LocalProcessRuntime: real worker processes on UNIX sockets, driven as a router drives them."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from shipyard.errors import Unavailable
from shipyard.services.serving_ports import DeploymentKey, DeploymentPlan, Instance, InstanceState, Probe
from shipyard.serving.local import LocalProcessRuntime

from ._helpers import FAST, client, mlflow_plan, ready, script_plan, socket_path
from .conftest import COLUMNS, ROWS

RECORDS = [dict(zip(COLUMNS, r, strict=True)) for r in ROWS]
BODIES = [
    {"input_data": {"columns": COLUMNS, "index": [0, 1, 2], "data": ROWS}},
    {"input_data": ROWS},
    {"input_data": RECORDS},
    {"dataframe_split": {"columns": COLUMNS, "data": ROWS}},
    {"dataframe_records": RECORDS},
    {"instances": ROWS},
    {"inputs": RECORDS},
]
IRIS = DeploymentKey("default", "iris", "blue")


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProcessRuntime]:
    rt = LocalProcessRuntime(tmp_path_factory.mktemp("runtime"), handoff_s=0.3, drain_s=3.0)
    yield rt
    rt.close()


@pytest.fixture(scope="module")
def iris(runtime: LocalProcessRuntime, sklearn_model_dir: Path) -> httpx.Client:
    runtime.apply(mlflow_plan(IRIS, sklearn_model_dir))
    (instance,) = runtime.wait_ready(IRIS, 60)
    with client(instance.address) as c:
        yield c


def test_every_payload_format_gives_the_same_predictions(iris: httpx.Client) -> None:
    answers = []
    for body in BODIES:
        response = iris.post("/score", json=body)
        assert response.status_code == 200, response.text
        data = response.json()
        # Azure ML's input_data gets a plain list; MLflow's formats {"predictions": [...]}
        answers.append(data if "input_data" in body else data["predictions"])
    assert answers == [answers[0]] * len(BODIES)
    assert answers[0] == [0, 1, 2]


def test_a_signature_mismatch_is_400_naming_the_columns(iris: httpx.Client) -> None:
    missing = iris.post(
        "/score", json={"dataframe_split": {"columns": COLUMNS[:3], "data": [r[:3] for r in ROWS]}}
    )
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "INVALID_INPUT"
    assert "petal_width" in missing.json()["error"]["message"]
    assert "sepal_length" in missing.json()["error"]["message"]
    wrong = iris.post("/score", json={"dataframe_records": [{**RECORDS[0], "petal_length": "long"}]})
    assert wrong.status_code == 400
    assert "'petal_length'" in wrong.json()["error"]["message"]
    oops = iris.post("/score", content=b"{oops")
    assert oops.status_code == 400
    assert oops.json()["error"]["code"] == "INVALID_INPUT"
    assert oops.json()["error"]["message"].startswith("the request body is not valid JSON")


def test_probes_answer(iris: httpx.Client) -> None:
    assert iris.get("/live").status_code == 200
    assert iris.get("/ready").status_code == 200
    assert iris.get("/nope").status_code == 404


def test_throughput_of_one_worker_on_the_uds(iris: httpx.Client) -> None:
    """Not a benchmark (benchmarks/ has those): a number for the notes, never asserted."""
    body = orjson.dumps(BODIES[3])
    for _ in range(50):
        iris.post("/score", content=body)
    n, started = 500, time.perf_counter()
    for _ in range(n):
        iris.post("/score", content=body)
    elapsed = time.perf_counter() - started
    print(
        f"\none worker, one sequential httpx client on the UDS: {n / elapsed:.0f} req/s "
        f"({elapsed / n * 1000:.2f} ms/request)"
    )


def test_a_raising_run_is_500_naming_the_deployment_with_the_traceback_in_the_log(
    runtime: LocalProcessRuntime, custom_model: tuple[Path, Path]
) -> None:
    key = DeploymentKey("default", "custom", "green")
    runtime.apply(script_plan(key, *custom_model))
    (instance,) = runtime.wait_ready(key, 60)
    with client(instance.address) as c:
        ok = c.post("/score", json={"data": [1, 2]})
        assert ok.status_code == 200
        assert ok.json() == [2.0, 4.0]
        boom = c.post("/score", json={"explode": True})
        assert boom.status_code == 500
        assert boom.json() == {
            "error": {
                "code": "SCORING_FAILED",
                "message": "deployment 'green' could not score the request: run() raised ValueError:"
                " the scoring script exploded; the traceback is in its log:"
                " shipyard online-deployment get-logs -n green -e custom",
                "details": {
                    "deployment": "green",
                    "deployment_message": "run() raised ValueError: the scoring script exploded",
                },
            }
        }
        unserialisable = c.post("/score", json={"set": True})
        assert unserialisable.status_code == 500
        assert "not JSON-serialisable" in unserialisable.json()["error"]["details"]["deployment_message"]
    # The worker's stderr reaches the deployment log through a pipe: give it a moment.
    deadline = time.monotonic() + 10
    log = runtime.logs(key, lines=200)
    while 'raise ValueError("the scoring script exploded")' not in log and time.monotonic() < deadline:
        time.sleep(0.1)
        log = runtime.logs(key, lines=200)
    assert "Traceback (most recent call last)" in log
    assert 'raise ValueError("the scoring script exploded")' in log
    assert "[worker 0]" in log
    runtime.remove(key, drain_s=1)


def test_init_raising_makes_wait_ready_raise_with_the_reason(
    runtime: LocalProcessRuntime, custom_model: tuple[Path, Path]
) -> None:
    key = DeploymentKey("default", "custom", "broken")
    runtime.apply(script_plan(key, *custom_model, env={"FAIL_INIT": "1"}))
    with pytest.raises(Unavailable) as caught:
        runtime.wait_ready(key, 60)
    message = str(caught.value)
    assert "init() raised ZeroDivisionError: division by zero" in message
    assert "Traceback" in message  # the end of the log comes with it
    (instance,) = runtime.instances(key)
    assert instance.state is InstanceState.FAILED
    runtime.remove(key, drain_s=0)
    assert runtime.instances(key) == []


@pytest.mark.slow
def test_a_killed_worker_is_restarted_and_the_crash_is_in_the_log(
    runtime: LocalProcessRuntime, custom_model: tuple[Path, Path]
) -> None:
    key = DeploymentKey("default", "custom", "phoenix")
    runtime.apply(script_plan(key, *custom_model))
    (before,) = runtime.wait_ready(key, 60)
    assert before.pid is not None
    os.kill(before.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = ready(runtime, key)
        if now and now[0].pid != before.pid:
            break
        time.sleep(0.1)
    (after,) = runtime.instances(key)
    assert after.state is InstanceState.READY
    assert after.restarts == 1
    assert after.pid is not None
    with client(after.address) as c:
        assert c.post("/score", json={"data": [1]}).json() == [2.0]
    # The dead worker's socket is gone, not left for a router to be refused on.
    assert after.address != before.address
    assert not os.path.exists(socket_path(before.address))
    log = runtime.logs(key)
    assert f"worker 0 (pid {before.pid}) crashed: killed by signal SIGKILL; restarting in 1 s" in log
    runtime.remove(key, drain_s=0)
    assert not os.path.exists(socket_path(after.address))


@pytest.mark.slow
def test_a_crash_shows_in_one_step_never_as_ready_without_its_process(
    runtime: LocalProcessRuntime, custom_model: tuple[Path, Path]
) -> None:
    """Regression: the process's exit showed in ``instances()`` (pid None, then restarts 1)
    while the instance still said Ready, so a router picked a dead worker's address."""
    key = DeploymentKey("default", "custom", "lazarus")
    runtime.apply(script_plan(key, *custom_model))
    (before,) = runtime.wait_ready(key, 60)
    assert before.pid is not None
    os.kill(before.pid, signal.SIGKILL)
    seen: list[Instance] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # no sleep: the window was a few microseconds wide
        (now,) = runtime.instances(key)
        seen.append(now)
        if now.state is InstanceState.READY and now.restarts == 1:
            break
    assert seen[-1].state is InstanceState.READY and seen[-1].restarts == 1, runtime.logs(key)
    for s in seen:
        if s.state is InstanceState.READY:
            new = s.restarts == 1 and s.pid not in (None, before.pid) and s.address != before.address
            old = (s.restarts, s.pid, s.address) == (0, before.pid, before.address)
            assert new or old, s
        else:
            assert s.state in (InstanceState.CRASHED, InstanceState.STARTING), s
            assert s.restarts == 1, s
            assert (s.pid is None) is (s.state is InstanceState.CRASHED), s
    runtime.remove(key, drain_s=0)


@pytest.mark.slow
def test_a_worker_added_back_while_its_predecessor_drains_gets_a_socket_of_its_own(
    runtime: LocalProcessRuntime, custom_model: tuple[Path, Path]
) -> None:
    """Regression: scaling down and up again restarted index 1 on the path its draining
    predecessor still answered on: unlinked and rebound under the routers that picked it."""
    key = DeploymentKey("default", "custom", "yoyo")
    runtime.apply(script_plan(key, *custom_model, instance_count=2))
    first = {i.index: i for i in runtime.wait_ready(key, 60)}
    with client(first[1].address) as draining:
        runtime.apply(script_plan(key, *custom_model, revision="r1-x1", instance_count=1))
        runtime.apply(script_plan(key, *custom_model, revision="r1-x2", instance_count=2))
        # still within its hand-off (0.3 s): a router that picked it a moment ago reaches it
        assert draining.post("/score", json={"data": [2]}).json() == [4.0]
    again = {i.index: i for i in runtime.wait_ready(key, 60) if i.state is InstanceState.READY}
    assert again[1].address != first[1].address
    assert again[1].pid != first[1].pid
    with client(again[1].address) as c:
        assert c.post("/score", json={"data": [3]}).json() == [6.0]
    runtime.remove(key, drain_s=0)


@pytest.mark.slow
def test_a_new_revision_under_load_loses_no_request(
    runtime: LocalProcessRuntime, sklearn_model_dir: Path
) -> None:
    key = DeploymentKey("default", "iris", "rolling")
    runtime.apply(mlflow_plan(key, sklearn_model_dir, instance_count=2))
    runtime.wait_ready(key, 60)
    failures: list[str] = []
    served: dict[str, int] = {}
    stop = threading.Event()
    body = orjson.dumps(BODIES[0])

    def load() -> None:
        clients: dict[str, httpx.Client] = {}
        while not stop.is_set():
            candidates = ready(runtime, key)
            if not candidates:
                failures.append("no ready instance")
                time.sleep(0.01)
                continue
            instance = random.choice(candidates)
            c = clients.get(instance.address) or clients.setdefault(
                instance.address, client(instance.address)
            )
            try:
                response = c.post("/score", content=body)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text}")
                served[instance.revision] = served.get(instance.revision, 0) + 1
            except httpx.HTTPError as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
        for c in clients.values():
            c.close()

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    runtime.apply(mlflow_plan(key, sklearn_model_dir, revision="r2", instance_count=2))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and {i.revision for i in runtime.instances(key)} != {"r2"}:
        time.sleep(0.1)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    assert {i.revision for i in runtime.instances(key)} == {"r2"}
    assert served.get("r1", 0) > 0
    assert served.get("r2", 0) > 0
    log = runtime.logs(key, lines=300)
    assert "revision r2 is ready on 2 worker(s): draining 2 worker(s) of the previous revision" in log
    runtime.remove(key, drain_s=0)


@pytest.mark.slow
def test_scaling_up_and_down(runtime: LocalProcessRuntime, custom_model: tuple[Path, Path]) -> None:
    key = DeploymentKey("default", "custom", "elastic")
    runtime.apply(script_plan(key, *custom_model))
    runtime.wait_ready(key, 60)
    runtime.apply(script_plan(key, *custom_model, revision="r1-x3", instance_count=3))
    instances = runtime.wait_ready(key, 60)
    assert sorted(i.index for i in instances) == [0, 1, 2]
    runtime.apply(script_plan(key, *custom_model, revision="r1-x1", instance_count=1))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(runtime.instances(key)) != 1:
        time.sleep(0.1)
    (only,) = runtime.instances(key)
    assert (only.index, only.revision, only.state) == (0, "r1-x1", InstanceState.READY)
    runtime.remove(key, drain_s=0)


@pytest.mark.slow
def test_remove_lets_in_flight_requests_finish(
    runtime: LocalProcessRuntime, custom_model: tuple[Path, Path]
) -> None:
    key = DeploymentKey("default", "custom", "draining")
    runtime.apply(script_plan(key, *custom_model, max_concurrent_requests_per_instance=2))
    (instance,) = runtime.wait_ready(key, 60)
    result: list[httpx.Response] = []

    def slow_request() -> None:
        with client(instance.address) as c:
            result.append(c.post("/score", json={"data": [3], "sleep": 1.5}, timeout=10))

    t = threading.Thread(target=slow_request)
    t.start()
    time.sleep(0.5)
    started = time.monotonic()
    runtime.remove(key, drain_s=5)
    took = time.monotonic() - started
    t.join()
    assert result[0].status_code == 200
    assert result[0].json() == [6.0]
    assert runtime.instances(key) == []
    assert instance.pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(instance.pid, 0)
    assert took < 5
    assert "stopped after" in runtime.logs(key)


@pytest.mark.slow
def test_a_worker_slower_than_its_readiness_budget_is_failed_until_it_is_ready(
    runtime: LocalProcessRuntime, sklearn_model_dir: Path
) -> None:
    # Loading mlflow and the model takes seconds; this probe gives up after 0.1 + 3 x 0.1 s.
    impatient = Probe(initial_delay=0.1, period=0.1, timeout=1.0, failure_threshold=3)
    key = DeploymentKey("default", "iris", "impatient")
    runtime.apply(DeploymentPlan(key, "r1", "mlflow", sklearn_model_dir, readiness=impatient, liveness=FAST))
    with pytest.raises(Unavailable, match="readiness probe failed 3 times: GET /ready"):
        runtime.wait_ready(key, 60)
    (instance,) = _eventually_ready(runtime, key)
    assert instance.message == ""
    runtime.remove(key, drain_s=0)


def _eventually_ready(runtime: LocalProcessRuntime, key: DeploymentKey) -> list[Instance]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if ready(runtime, key):
            return runtime.instances(key)
        time.sleep(0.1)
    raise AssertionError(runtime.logs(key))


@pytest.mark.slow
def test_a_hung_worker_fails_its_liveness_probe_and_is_restarted(
    runtime: LocalProcessRuntime, custom_model: tuple[Path, Path]
) -> None:
    strict = Probe(initial_delay=0.5, period=0.2, timeout=0.3, failure_threshold=3)
    key = DeploymentKey("default", "custom", "hung")
    code_dir, model_dir = custom_model
    plan = DeploymentPlan(
        key,
        "r1",
        "custom",
        model_dir,
        code_dir=code_dir,
        scoring_script="score.py",
        liveness=strict,
        readiness=FAST,
    )
    runtime.apply(plan)
    (before,) = runtime.wait_ready(key, 60)
    assert before.pid is not None
    os.kill(before.pid, signal.SIGSTOP)  # alive to the kernel, deaf to every request
    (after,) = _eventually_ready_again(runtime, key, before.pid)
    assert after.restarts == 1
    log = runtime.logs(key, lines=300)
    assert "liveness probe failed 3 times; killing it" in log
    assert "crashed: liveness probe failed 3 times: GET /live timed out after 0.3 s" in log
    runtime.remove(key, drain_s=0)


def _eventually_ready_again(runtime: LocalProcessRuntime, key: DeploymentKey, old_pid: int) -> list[Instance]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = ready(runtime, key)
        if now and now[0].pid != old_pid:
            return now
        time.sleep(0.1)
    raise AssertionError(runtime.logs(key))
