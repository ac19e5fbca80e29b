"""Model version sources are confined to Shipyard's stores; the registry filter grammar."""

from __future__ import annotations

import pytest

from shipyard.domain.model_search import ModelClause, parse_model_filter, parse_model_order_by
from shipyard.domain.model_sources import ModelSource, check_prompt_source, is_prompt, parse_model_source
from shipyard.errors import InvalidArgument, InvalidFilter


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("runs:/abc123/model", ModelSource("run", run_id="abc123", path="model")),
        ("runs:/abc123", ModelSource("run", run_id="abc123", path="")),
        ("models:/m-0123abcd", ModelSource("logged_model", logged_model_id="m-0123abcd")),
        ("models:/iris/3", ModelSource("version", name="iris", version="3")),
        ("models:/iris@champion", ModelSource("version", name="iris", version="@champion")),
        (
            "mlflow-artifacts:/default/1/r/artifacts/model",
            ModelSource("artifact", path="default/1/r/artifacts/model"),
        ),
    ],
)
def test_sources_inside_shipyard_are_parsed(source: str, expected: ModelSource) -> None:
    assert parse_model_source(source) == expected


@pytest.mark.parametrize(
    "source",
    [
        "file:///etc/passwd",  # server files by scheme
        "/etc/passwd",  # absolute path
        "etc/passwd",  # relative path: the server's working folder
        "C:/Windows/win.ini",  # a drive letter parses as a one-letter scheme
        "s3://bucket/model",  # another store
        "http://169.254.169.254/latest",  # another host
        "mlflow-artifacts://evil.example/x",  # a host in the netloc
        "runs:/abc/../../etc/passwd",  # traversal
        "runs:/abc/%2e%2e/%2e%2e/etc",  # encoded traversal
        "mlflow-artifacts:/default/1/r/artifacts/../../../../etc",
        "mlflow-artifacts:/default/1/r/artifacts/x#/../../etc",  # fragment smuggling
        "runs:/abc/model?path=/etc",  # query smuggling
        "runs:/abc/mod\x00el",  # NUL byte
        "models:/../../etc",
        "models:/name",  # neither version nor alias
        "",
        "x" * 2000,
    ],
)
def test_sources_outside_shipyard_are_refused(source: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_model_source(source)


def test_filter_accepts_what_the_mlflow_client_sends() -> None:
    clauses = parse_model_filter("name LIKE 'iris%' AND tag.`mlflow.prompt.is_prompt` != 'true'")
    assert clauses == [
        ModelClause("name", "", "LIKE", "iris%"),
        ModelClause("tag", "mlflow.prompt.is_prompt", "!=", "true"),
    ]
    assert parse_model_filter("name = 'it''s'")[0].value == "it's"
    versions = parse_model_filter("run_id IN ('a', 'b') AND version_number >= 2", versions=True)
    assert versions[0].value == ("a", "b")
    assert versions[1] == ModelClause("version", "", ">=", 2)


@pytest.mark.parametrize(
    "text",
    [
        "name = 'a' OR name = 'b'",
        "name = ",
        "color = 'red'",
        "run_id = 'x'",  # versions only
        "name > 'a'",
        "name = 'unterminated",
        "name LIKE 3",
    ],
)
def test_malformed_filters_are_refused(text: str) -> None:
    with pytest.raises(InvalidFilter):
        parse_model_filter(text)


def test_order_by() -> None:
    order = parse_model_order_by(["name DESC", "last_updated_timestamp"])
    assert [(o.column, o.ascending) for o in order] == [("name", False), ("updated_at", True)]
    with pytest.raises(InvalidFilter):
        parse_model_order_by(["version_number DESC"])
    with pytest.raises(InvalidFilter):
        parse_model_order_by(["name SIDEWAYS"])


@pytest.mark.parametrize(
    ("tags", "prompt"),
    [
        ({"mlflow.prompt.is_prompt": "true"}, True),
        ({"mlflow.prompt.is_prompt": "TRUE"}, True),
        ({"mlflow.prompt.is_prompt": "false"}, False),
        ({"mlflow.prompt.is_prompt": "yes"}, False),
        ({}, False),
    ],
)
def test_a_prompt_is_told_by_its_tag_as_mlflow_tells_it(tags: dict[str, str], prompt: bool) -> None:
    assert is_prompt(tags) is prompt


def test_a_prompt_versions_source_is_one_of_mlflows_placeholders() -> None:
    for placeholder in ("dummy-source", "prompt-template"):
        check_prompt_source(placeholder)
    for bad in ("file:///etc/passwd", "runs:/abc/model", "", "dummy-source/../x"):
        with pytest.raises(InvalidArgument, match="Prompt sources must use an MLflow placeholder"):
            check_prompt_source(bad)
    # ...and only a prompt may use them: a model's version is still refused with one.
    with pytest.raises(InvalidArgument):
        parse_model_source("dummy-source")
