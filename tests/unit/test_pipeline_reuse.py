"""The reuse key and the explanation of why a pipeline step ran."""

from __future__ import annotations

from dataclasses import replace

from shipyard.services.jobs import InputValue, JobSubmission
from shipyard.services.pipeline_reuse import changes, content_hash_of_records, fingerprint

SUB = JobSubmission(
    command="python train.py ${{inputs.data}} ${{inputs.lr}}",
    inputs={"data": InputValue("run", "r1/outputs/clean", "uri_folder"), "lr": InputValue("literal", "0.5")},
    code_digest="code1",
    environment_variables={"SEED": "1"},
)
HASHES = {"r1/outputs/clean": "files:aaa", "r2/outputs/clean": "files:aaa", "r3/outputs/clean": "files:bbb"}


def _fp(sub: JobSubmission, env: str = "env1"):  # type: ignore[no-untyped-def]
    return fingerprint(sub, env, lambda _name, value: HASHES[value.value])


def test_the_same_step_has_the_same_key() -> None:
    assert _fp(SUB).key == _fp(replace(SUB)).key
    assert changes(_fp(SUB).to_json(), _fp(SUB)) == []


def test_an_upstream_rerun_with_the_same_bytes_keeps_the_key() -> None:
    moved = replace(SUB, inputs={**SUB.inputs, "data": InputValue("run", "r2/outputs/clean", "uri_folder")})
    assert _fp(moved).key == _fp(SUB).key


def test_each_change_is_named_and_changes_the_key() -> None:
    cases = {
        "command": replace(SUB, command="python train2.py"),
        "code": replace(SUB, code_digest="code2"),
        "inputs.data": replace(
            SUB, inputs={**SUB.inputs, "data": InputValue("run", "r3/outputs/clean", "uri_folder")}
        ),
        "parameters.lr": replace(SUB, inputs={**SUB.inputs, "lr": InputValue("literal", "0.7")}),
        "parameters.env.SEED": replace(SUB, environment_variables={"SEED": "2"}),
    }
    for what, sub in cases.items():
        assert changes(_fp(SUB).to_json(), _fp(sub)) == [what]
        assert _fp(sub).key != _fp(SUB).key, what
    assert changes(_fp(SUB).to_json(), _fp(SUB, env="env2")) == ["environment"]


def test_an_input_added_or_removed_is_a_change() -> None:
    fewer = replace(SUB, inputs={"lr": SUB.inputs["lr"]})
    assert changes(_fp(SUB).to_json(), _fp(fewer)) == ["inputs.data"]


def test_folder_content_hash_ignores_record_order_but_not_names() -> None:
    a = content_hash_of_records([("a.csv", "1"), ("b.csv", "2")])
    assert a == content_hash_of_records([("b.csv", "2"), ("a.csv", "1")])
    assert a != content_hash_of_records([("a.csv", "2"), ("b.csv", "1")])
