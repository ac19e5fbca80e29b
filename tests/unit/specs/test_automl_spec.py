"""``type: automl`` files: Azure's tabular examples load unchanged into the engine's settings;
image and NLP tasks, and every bad input, are refused with the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shipyard.errors import InvalidSpec
from shipyard.specs import load_spec, parse_spec
from shipyard.specs.automl import AutoMLJobSpec, algorithm_name, load_file

ROOT = Path(__file__).parent / "fixtures" / "azureml_automl"
FILES = (ROOT / "index.txt").read_text().split()
TABULAR = [f for f in FILES if yaml.safe_load((ROOT / f).read_text())["task"] in
           ("classification", "regression", "forecasting")]  # fmt: skip
OTHERS = [f for f in FILES if f not in TABULAR]
DEEP_FORECASTER = "cli/jobs/automl-standalone-jobs/cli-automl-forecasting-task-github-dau/cli-automl-forecasting-task-github-dau.yml"  # fmt: skip


def test_the_corpus_is_azures_nineteen_files() -> None:
    assert len(FILES) == 19
    assert len(TABULAR) == 7
    assert len(OTHERS) == 12


@pytest.mark.parametrize("rel", [f for f in TABULAR if f != DEEP_FORECASTER])
def test_every_tabular_example_loads(rel: str) -> None:
    spec = load_spec(ROOT / rel, AutoMLJobSpec)
    settings = spec.settings()
    assert settings.task == spec.task
    assert settings.algorithms
    if spec.task == "forecasting":
        assert settings.forecasting is not None and settings.forecasting.time_column_name


def test_the_deep_learning_forecaster_is_refused_saying_why() -> None:
    with pytest.raises(InvalidSpec, match="does not train classical or deep-learning forecasters") as caught:
        load_spec(ROOT / DEEP_FORECASTER, AutoMLJobSpec)
    assert caught.value.details["field"] == "training.allowed_training_algorithms"


@pytest.mark.parametrize("rel", OTHERS)
def test_image_and_nlp_tasks_are_refused(rel: str) -> None:
    with pytest.raises(InvalidSpec, match="Shipyard runs tabular AutoML only") as caught:
        load_spec(ROOT / rel, AutoMLJobSpec)
    assert caught.value.details["field"] == "task"


def test_azures_snake_case_algorithm_names_are_read() -> None:
    path = "cli/jobs/automl-standalone-jobs/cli-automl-regression-task-hardware-perf/cli-automl-regression-task-hardware-perf.yml"  # fmt: skip
    settings = load_spec(ROOT / path, AutoMLJobSpec).settings()
    assert settings.allowed_algorithms == ("LightGBM", "XGBoostRegressor")
    assert settings.featurization.column_types == {"CHMIN": "categorical"}
    assert settings.featurization.imputers == {"CACH": "most_frequent", "PRP": "most_frequent"}
    assert algorithm_name("k_nearest_neighbors", "classification") == "KNN"
    assert algorithm_name("extreme_random_trees", "regression") == "ExtremeRandomTrees"


def test_an_unsupported_imputer_is_a_note_not_an_error() -> None:
    path = "cli/jobs/automl-standalone-jobs/cli-automl-forecasting-orange-juice-sales/cli-automl-forecasting-orange-juice-sales.yml"  # fmt: skip
    spec = load_spec(ROOT / path, AutoMLJobSpec)
    assert any("imputer 'ffill' for Price is not supported" in n for n in spec.notes())
    assert spec.settings().forecasting.time_series_id_column_names == ("Store", "Brand")  # type: ignore[union-attr]


GOOD = """\
type: automl
task: classification
target_column_name: y
training_data: {type: mltable, path: azureml:bank:1}
"""


def test_defaults_follow_azure() -> None:
    spec = parse_spec(GOOD, AutoMLJobSpec)
    settings = spec.settings()
    assert settings.primary_metric == "accuracy"
    assert settings.n_cross_validations == "auto"
    assert spec.limits.max_trials == 1000 and spec.limits.max_concurrent_trials == 1
    assert spec.registered_model_name == "automl-model"


@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ("primary_metric: r2_score\n", "primary_metric", "does not fit a classification task"),
        ("limits: {max_trials: 0}\n", "limits.max_trials", "greater than or equal to 1"),
        ("limits: {max_trails: 3}\n", "limits", "max_trails"),
        ("n_cross_validations: 1\n", "n_cross_validations", "at least 2"),
        ("validation_data_size: 1.5\n", "validation_data_size", "between 0 and 1"),
        ("training: {allowed_training_algorithms: [magic_forest]}\n", "training.allowed_training_algorithms",
         "unknown classification algorithm 'magic_forest'"),
        ("featurization: {mode: custom, blocked_transformers: [Nope]}\n", "featurization.blocked_transformers",
         "unknown transformer"),
        ("featurization: {mode: custom, column_name_and_types: {a: Fuzzy}}\n",
         "featurization.column_name_and_types", "use one of"),
        ("colour: blue\n", "colour", "unknown field"),
    ],
)  # fmt: skip
def test_bad_inputs_name_their_field(extra: str, field: str, words: str) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse_spec(GOOD + extra, AutoMLJobSpec, "automl.yml")
    assert words in caught.value.message
    assert str(caught.value.details.get("field", "")).startswith(field) or field in caught.value.message


def test_an_unknown_task_and_a_missing_target_are_refused() -> None:
    with pytest.raises(InvalidSpec, match="task"):
        parse_spec(GOOD.replace("classification", "clustering"), AutoMLJobSpec)
    with pytest.raises(InvalidSpec, match="target_column_name"):
        parse_spec(GOOD.replace("target_column_name: y\n", ""), AutoMLJobSpec)


def test_forecasting_needs_its_block() -> None:
    text = GOOD.replace("classification", "forecasting")
    with pytest.raises(InvalidSpec, match="needs a 'forecasting' block"):
        parse_spec(text, AutoMLJobSpec)
    spec = parse_spec(text + "forecasting: {time_column_name: day, target_lags: auto, forecast_horizon: 7}\n",
                      AutoMLJobSpec)  # fmt: skip
    forecasting = spec.settings().forecasting
    assert forecasting is not None and forecasting.target_lags is None and forecasting.forecast_horizon == 7


@pytest.mark.parametrize(
    ("alias", "taken"),
    [("D", "D"), ("W-MON", "W-MON"), ("MS", "MS"), ("15min", "15min"), ("h", "h"), ("QS-JAN", "QS-JAN"),
     ("2W", "2W"), ("H", "h"), ("M", "ME"), ("15T", "15min"), ("A-DEC", "YE-DEC")],
)  # fmt: skip
def test_a_pandas_frequency_is_taken_and_old_aliases_renamed(alias: str, taken: str) -> None:
    text = GOOD.replace("classification", "forecasting")
    spec = parse_spec(text + f"forecasting: {{time_column_name: day, frequency: {alias}}}\n", AutoMLJobSpec)
    forecasting = spec.settings().forecasting
    assert forecasting is not None and forecasting.frequency == taken
    from pandas.tseries.frequencies import to_offset

    to_offset(taken)  # what the engine does with it: pandas takes it


def test_seasonality_is_auto_or_a_number_of_periods() -> None:
    text = GOOD.replace("classification", "forecasting")
    for given, taken in (("auto", None), ("7", 7)):
        spec = parse_spec(
            text + f"forecasting: {{time_column_name: day, seasonality: {given}}}\n", AutoMLJobSpec
        )
        forecasting = spec.settings().forecasting
        assert forecasting is not None and forecasting.seasonality == taken
    with pytest.raises(InvalidSpec, match="seasonality"):
        parse_spec(text + "forecasting: {time_column_name: day, seasonality: 0}\n", AutoMLJobSpec)


@pytest.mark.parametrize("alias", ["daily", "fortnightly", "W-Monday", "1.5D"])
def test_a_frequency_pandas_does_not_know_is_refused_at_submission(alias: str) -> None:
    text = GOOD.replace("classification", "forecasting")
    with pytest.raises(InvalidSpec, match="is not a pandas offset alias") as caught:
        parse_spec(text + f"forecasting: {{time_column_name: day, frequency: {alias}}}\n", AutoMLJobSpec)
    assert "forecasting.frequency" in str(caught.value.details.get("field", "")) + caught.value.message


def test_load_file_checks_local_tables_and_lists_them_as_inputs(tmp_path: Path) -> None:
    job = tmp_path / "automl.yml"
    job.write_text(
        GOOD.replace("azureml:bank:1", "./train") + "test_data: {type: mltable, path: azureml:t:1}\n"
    )
    with pytest.raises(InvalidSpec, match=r"training_data: '\./train' does not exist"):
        load_file(job)
    (tmp_path / "train").mkdir()
    loaded = load_file(job)
    assert loaded.type == "automl"
    assert set(loaded.inputs) == {"training_data", "test_data"}


def test_automl_run_writes_a_file_the_spec_reads(tmp_path: Path) -> None:
    from shipyard.cli.automl import job_file
    from shipyard.specs import validate_spec

    table = tmp_path / "rows.csv"
    table.write_text("a,y\n1,0\n")
    spec = job_file(data=str(table), target="y", task="classification", timeout_minutes=10, max_trials=3)
    read = validate_spec(spec, AutoMLJobSpec)
    assert read.training_data.type == "uri_file" and read.training_data.path == str(table)
    assert read.limits.timeout_minutes == 10 and read.limits.max_trials == 3
    asset = job_file(data="azureml:sales@latest", target="units", task="forecasting", time_column="day",
                     series_ids=["store"], horizon=7)  # fmt: skip
    settings = validate_spec(asset, AutoMLJobSpec).settings()
    assert settings.forecasting is not None and settings.forecasting.time_series_id_column_names == ("store",)
    with pytest.raises(InvalidSpec, match="time_column_name"):
        validate_spec(
            job_file(data="azureml:sales@latest", target="units", task="forecasting"), AutoMLJobSpec
        )


def test_the_docs_job_file_loads() -> None:
    import re

    docs = (Path(__file__).resolve().parents[3] / "docs" / "automl.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(# automl\.yml\n.*?)```", docs, re.S)
    assert block is not None
    spec = parse_spec(block.group(1), AutoMLJobSpec)
    settings = spec.settings()
    assert settings.primary_metric == "AUC_weighted" and "KNN" not in settings.algorithms
    assert spec.registered_model_name == "cancer-automl"
