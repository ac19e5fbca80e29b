from __future__ import annotations

import pytest

from shipyard.domain.filters import (
    Clause,
    OrderBy,
    parse_experiment_filter,
    parse_experiment_order_by,
    parse_filter,
    parse_order_by,
)
from shipyard.errors import InvalidFilter


def test_parses_each_entity_and_operator() -> None:
    clauses = parse_filter(
        "metrics.acc >= 0.9 and params.lr = '0.01' AND tags.`team name` LIKE 'ml%' "
        "AND attributes.status != 'FAILED' AND run.run_id IN ('a', 'b') AND tag.x IS NULL"
    )
    assert clauses == [
        Clause("metric", "acc", ">=", 0.9),
        Clause("param", "lr", "=", "0.01"),
        Clause("tag", "team name", "LIKE", "ml%"),
        Clause("attribute", "status", "!=", "FAILED"),
        Clause("attribute", "run_id", "IN", ("a", "b")),
        Clause("tag", "x", "IS NULL", None),
    ]


def test_keys_may_hold_slashes_dots_and_quotes() -> None:
    assert parse_filter('metrics."val/loss" < 1e-3') == [Clause("metric", "val/loss", "<", 0.001)]
    assert parse_filter("params.`a.b` = 'it''s'") == [Clause("param", "a.b", "=", "it's")]


def test_attribute_aliases() -> None:
    assert parse_filter("attributes.created > 5") == [Clause("attribute", "start_time", ">", 5.0)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.a > 1 OR metrics.b > 2", "OR is not supported"),
        ("foo.a = 1", "unknown entity"),
        ("metrics.a >", "ends early"),
        ("metrics.a > 'x'", "compares with a number"),
        ("params.a = 3", "quoted string"),
        ("params.a = 'x", "cannot parse"),
        ("metrics.a LIKE 1", "does not apply to numbers"),
        ("attributes.nope = 'x'", "unknown attribute"),
        ("metrics.a > 1 metrics.b > 2", "expected AND"),
        ("params.a IN ('x')", "IN and NOT IN apply"),
        ("$$$", "cannot parse"),
    ],
)
def test_malformed_filters_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidFilter, match=message):
        parse_filter(text)


def test_blank_filter_is_no_clause() -> None:
    assert parse_filter(None) == []
    assert parse_filter("   ") == []


def test_order_by() -> None:
    assert parse_order_by(["metrics.acc DESC", "attributes.start_time", "params.lr asc"]) == [
        OrderBy("metric", "acc", False),
        OrderBy("attribute", "start_time", True),
        OrderBy("param", "lr", True),
    ]
    with pytest.raises(InvalidFilter):
        parse_order_by(["metrics.acc DESC extra"])


# -- MLflow's client spellings --------------------------------------------------------


def test_bare_names_are_attributes_as_in_mlflow() -> None:
    assert parse_filter("status = 'FINISHED' AND start_time > 5") == [
        Clause("attribute", "status", "=", "FINISHED"),
        Clause("attribute", "start_time", ">", 5.0),
    ]
    assert parse_order_by(["start_time DESC", "run_name"]) == [
        OrderBy("attribute", "start_time", False),
        OrderBy("attribute", "run_name", True),
    ]
    with pytest.raises(InvalidFilter, match="unknown attribute"):
        parse_filter("colour = 'red'")


def test_run_name_and_parent_tags_are_columns() -> None:
    assert parse_filter("tags.mlflow.runName = 'r1' AND tags.`mlflow.parentRunId` = 'abc'") == [
        Clause("attribute", "run_name", "=", "r1"),
        Clause("attribute", "parent_run_id", "=", "abc"),
    ]
    assert parse_order_by(["tags.mlflow.runName DESC"]) == [OrderBy("attribute", "run_name", False)]
    assert parse_filter("tags.mlflow.user = 'ana'") == [Clause("tag", "mlflow.user", "=", "ana")]


def test_experiment_filter_and_order() -> None:
    assert parse_experiment_filter(
        "name LIKE 'exp%' AND tags.team = 'ml' AND attributes.creation_time >= 10"
    ) == [
        Clause("attribute", "name", "LIKE", "exp%"),
        Clause("tag", "team", "=", "ml"),
        Clause("attribute", "creation_time", ">=", 10.0),
    ]
    assert parse_experiment_order_by(["name", "last_update_time DESC"]) == [
        OrderBy("attribute", "name", True),
        OrderBy("attribute", "last_update_time", False),
    ]
    assert parse_experiment_filter("  ") == []


@pytest.mark.parametrize(
    "text",
    [
        "name = 'a' OR name = 'b'",
        "name > 5",
        "creation_time = 'yesterday'",
        "metrics.acc > 1",
        "owner = 'x'",
        "name IS NULL",
        "name = 'a' name = 'b'",
    ],
)
def test_experiment_filter_refuses(text: str) -> None:
    with pytest.raises(InvalidFilter):
        parse_experiment_filter(text)


def test_experiment_order_by_refuses_tags_and_unknowns() -> None:
    for item in ["tags.team", "owner", "name DESC extra"]:
        with pytest.raises(InvalidFilter):
            parse_experiment_order_by([item])


def test_dataset_filters() -> None:
    assert parse_filter("datasets.name = 'train' AND dataset.digest IN ('a1', 'b2')") == [
        Clause("dataset", "name", "=", "train"),
        Clause("dataset", "digest", "IN", ("a1", "b2")),
    ]
    for text in ["datasets.size = 'x'", "datasets.name IS NULL", "datasets.name > 'a'"]:
        with pytest.raises(InvalidFilter):
            parse_filter(text)
    with pytest.raises(InvalidFilter, match="datasets"):
        parse_order_by(["datasets.name"])
