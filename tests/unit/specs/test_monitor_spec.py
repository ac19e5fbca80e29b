"""monitor.yml: Azure ML's monitor schedule files load; bad ones are refused by line and field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shipyard.errors import InvalidSpec
from shipyard.specs import load_spec, parse_spec
from shipyard.specs.monitor import MonitorSignal, MonitorSpec, SignalThreshold
from shipyard.specs.monitor_metrics import iso_duration
from shipyard.specs.monitor_signals import InputData, SqlInputData
from shipyard.specs.schedule import RecurrenceTrigger

AZURE = Path(__file__).parent / "fixtures" / "azureml_monitoring"

GOOD = """\
name: credit_monitor
trigger:
  type: cron
  expression: "0 3 * * *"
create_monitor:
  monitoring_target:
    ml_task: classification
    endpoint_deployment_id: azureml:credit:blue
  monitoring_signals:
    drift:
      type: data_drift
      features: [age, income]
      metric_thresholds:
        numerical:
          jensen_shannon_distance: 0.05
      production_data:
        input_data: {path: ./prod, type: uri_folder}
        data_window:
          lookback_window_size: P7D
          lookback_window_offset: P1D
      action:
        webhook: {url: "https://hooks.example.com/drift", secret: hook-key}
        job: ./retrain.yml
"""


def _error(text: str) -> InvalidSpec:
    with pytest.raises(InvalidSpec) as info:
        parse_spec(text, MonitorSpec, "monitor.yml")
    return info.value


def _signal(spec: MonitorSpec, name: str) -> MonitorSignal:
    return next(s for s in spec.signals() if s.name == name)


@pytest.mark.parametrize(
    "name",
    [
        "advanced-model-monitoring.yaml",
        "custom-monitoring.yaml",
        "model-monitoring-with-collected-data.yaml",
        "out-of-box-monitoring.yaml",
    ],
)
def test_azure_examples_load_unchanged(name: str) -> None:
    spec = load_spec(AZURE / name, MonitorSpec)
    assert isinstance(spec.trigger, RecurrenceTrigger)
    assert spec.create_monitor.alert_notification is not None


def test_azure_generative_example_loads_with_a_real_deployment_id() -> None:
    path = AZURE / "generation-safety-quality-monitoring.yaml"
    with pytest.raises(InvalidSpec, match=r"fake_endpoint_id.*azureml:<endpoint>:<deployment>"):
        load_spec(path, MonitorSpec)
    # Only the endpoint's name changes: Azure's `time_zone: utc` is read in any case.
    spec = load_spec(
        path, MonitorSpec, ["create_monitor.monitoring_target.endpoint_deployment_id=azureml:chat:blue"]
    )
    # Azure's generative signal is read, reported, and not computed.
    assert spec.signals() == []
    assert (
        "signal 'testSignal' (generation_safety_quality) is Azure ML's: loaded, not computed" in spec.notes()
    )


def test_advanced_example_keeps_its_thresholds_and_features() -> None:
    spec = load_spec(AZURE / "advanced-model-monitoring.yaml", MonitorSpec)
    target = spec.create_monitor.monitoring_target
    assert target is not None and (target.endpoint, target.deployment) == ("credit-default", "main")
    drift = _signal(spec, "advanced_data_drift")
    assert drift.top_n == 10 and drift.features is None
    assert drift.thresholds == (
        SignalThreshold("jensen_shannon_distance", "numerical", 0.01, "above"),
        SignalThreshold("pearsons_chi_squared_test", "categorical", 0.02, "below"),
    )
    assert drift.reference is not None and isinstance(drift.reference.input_data, InputData)
    assert drift.reference.input_data.path == "azureml:credit-reference:1"
    quality = _signal(spec, "advanced_data_quality")
    assert quality.features == ("SEX", "EDUCATION")
    assert ("out_of_bounds_rate", "categorical", 0.03) in [
        (t.metric, t.kind, t.value) for t in quality.thresholds
    ]
    assert [s.name for s in spec.signals()] == ["advanced_data_drift", "advanced_data_quality"]
    assert any("compute:" in n for n in spec.notes())


def test_out_of_box_monitor_gets_azures_default_signals() -> None:
    spec = load_spec(AZURE / "out-of-box-monitoring.yaml", MonitorSpec)
    signals = {s.name: s for s in spec.signals()}
    assert list(signals) == ["data-drift-signal", "prediction-drift-signal", "data-quality-signal"]
    assert signals["data-drift-signal"].thresholds == (
        SignalThreshold("normalized_wasserstein_distance", "numerical", 0.1, "above"),
        SignalThreshold("jensen_shannon_distance", "categorical", 0.1, "above"),
    )
    quality = signals["data-quality-signal"]
    assert {(t.metric, t.value) for t in quality.thresholds} == {
        ("null_value_rate", 0.0),
        ("data_type_error_rate", 0.0),
        ("out_of_bounds_rate", 0.0),
    }
    assert signals["data-drift-signal"].production is None  # the deployment's collected data


def test_collected_data_example_notes_the_preprocessing_component() -> None:
    spec = load_spec(AZURE / "model-monitoring-with-collected-data.yaml", MonitorSpec)
    assert (
        "signal 'advanced_data_drift': pre_processing_component is not run yet; the data is read as is"
        in (spec.notes())
    )
    prediction = _signal(spec, "advanced_prediction_drift")
    # Only categorical given: numerical keeps Azure's default.
    assert [t.metric for t in prediction.thresholds] == [
        "normalized_wasserstein_distance",
        "pearsons_chi_squared_test",
    ]


def test_shipyard_file_normalized_with_window_and_action() -> None:
    spec = parse_spec(GOOD, MonitorSpec, "monitor.yml")
    drift = _signal(spec, "drift")
    assert drift.features == ("age", "income")
    assert drift.lookback == timedelta(days=7) and drift.lookback_offset == timedelta(days=1)
    assert [t.metric for t in drift.thresholds] == ["jensen_shannon_distance", "jensen_shannon_distance"]
    assert drift.action is not None and drift.action.job == "./retrain.yml"
    assert drift.action.webhook is not None and drift.action.webhook.secret == "hook-key"
    assert drift.alert_enabled is False


def test_model_performance_and_system_signals() -> None:
    text = GOOD.replace("ml_task: classification", "ml_task: regression") + (
        "    perf:\n      type: model_performance\n      metric_thresholds:\n"
        "        regression: {rmse: 2.5}\n"
        "    ops:\n      type: system\n      metric_thresholds: {latency_p99_ms: 200, request_rate: 1}\n"
    )
    spec = parse_spec(text, MonitorSpec, "monitor.yml")
    assert _signal(spec, "perf").thresholds == (SignalThreshold("rmse", "regression", 2.5, "above"),)
    assert {(t.metric, t.breach_when) for t in _signal(spec, "ops").thresholds} == {
        ("latency_p99_ms", "above"),
        ("request_rate", "below"),
    }
    classification = parse_spec(GOOD + "    perf:\n      type: model_performance\n", MonitorSpec, "m.yml")
    assert _signal(classification, "perf").thresholds == (
        SignalThreshold("accuracy", "classification", 0.9, "below"),
    )


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            "type: data_drift",
            "type: concept_drift",
            11,
            "signal 'drift' has unknown type 'concept_drift'; use one of",
        ),
        ("jensen_shannon_distance: 0.05", "wasserstein: 0.05", 15, "unknown field 'wasserstein'"),
        (
            "jensen_shannon_distance: 0.05",
            "pearsons_chi_squared_test: 0.05",
            14,
            "pearsons_chi_squared_test is a categorical metric, not a numerical one: put it under 'categorical:'",
        ),
        ("P7D", "7 days", 19, "'7 days' is not an ISO 8601 duration"),
        ("P1D", "P1M", 20, "'P1M' is not an ISO 8601 duration"),
        ("P7D", "P0D", 19, "empty window"),
        (
            "azureml:credit:blue",
            "credit/blue",
            8,
            "not a deployment id; write azureml:<endpoint>:<deployment>",
        ),
        ("0.05", "high", 15, "'high' is not a number"),
        ("0.05", "true", 15, "True is not a number"),
        ("0.05", "-1", 15, "greater than or equal to 0"),
        ("[age, income]", "3", 12, "not a feature selection"),
        ("job: ./retrain.yml", "job: azureml:retrain", 23, "names an existing job"),
        ('"https://hooks.example.com/drift"', "hooks.example.com", 22, "is not an http(s) URL"),
    ],
)
def test_bad_input_names_the_line(old: str, new: str, line: int, message: str) -> None:
    assert old in GOOD
    err = _error(GOOD.replace(old, new, 1))
    assert message in err.message
    assert err.details["line"] == line, err.message


def test_model_performance_needs_an_ml_task() -> None:
    text = GOOD.replace("    ml_task: classification\n", "") + "    perf:\n      type: model_performance\n"
    err = _error(text)
    assert "needs monitoring_target.ml_task: classification or regression (it is not given)" in err.message
    assert err.details["field"] == "create_monitor.monitoring_signals.perf.type"
    assert err.details["line"] == 24


def test_performance_thresholds_must_fit_the_task() -> None:
    wrong = (
        GOOD
        + "    perf:\n      type: model_performance\n      metric_thresholds:\n        regression: {mae: 1}\n"
    )
    assert "regression thresholds do not fit ml_task classification" in _error(wrong).message
    regression = GOOD.replace("ml_task: classification", "ml_task: regression")
    assert (
        "needs a threshold for mae, mse or rmse"
        in _error(regression + "    perf:\n      type: model_performance\n").message
    )


def test_a_signal_without_data_needs_the_deployment() -> None:
    text = (
        GOOD.replace("    endpoint_deployment_id: azureml:credit:blue\n", "")
        + "    ops:\n      type: system\n"
    )
    err = _error(text)
    assert "signal 'ops' reads the deployment's data" in err.message
    assert err.details["field"] == "create_monitor.monitoring_signals.ops.type"


def test_an_action_needs_something_to_do_and_emails_are_checked() -> None:
    assert (
        "an action needs a webhook, a job file, or both"
        in _error(GOOD + "    ops:\n      type: system\n      action: {}\n").message
    )
    bad_mail = GOOD + "  alert_notification:\n    emails: [ops.example.com]\n"
    assert "'ops.example.com' is not an e-mail address" in _error(bad_mail).message


def test_iso_durations() -> None:
    assert iso_duration("P1W") == timedelta(weeks=1)
    assert iso_duration("PT12H") == timedelta(hours=12)
    assert iso_duration("P1DT6H30M") == timedelta(days=1, hours=6, minutes=30)
    for bad in ("P", "PT", "P1Y", "1D", "P1DT"):
        with pytest.raises(ValueError, match="ISO 8601"):
            iso_duration(bad)


def test_a_signal_without_a_type_is_named() -> None:
    err = _error(GOOD.replace("      type: data_drift\n", "", 1))
    assert "signal 'drift' has no type; use one of data_drift, prediction_drift" in err.message
    assert err.details["line"] == 10


def test_the_documented_example_loads() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "monitor-yaml.md").read_text(encoding="utf-8")
    block = doc.split("```yaml\n# monitor.yml\n", 1)[1].split("```", 1)[0]
    spec = parse_spec(block, MonitorSpec, "monitor.yml")
    assert [(s.name, s.type) for s in spec.signals()] == [
        ("feature_drift", "data_drift"),
        ("quality", "data_quality"),
        ("accuracy", "model_performance"),
        ("serving", "system"),
    ]
    assert _signal(spec, "feature_drift").lookback == timedelta(days=7)


SQL_PRODUCTION = """\
      production_data:
        input_data:
          type: sql
          connection: "${{secrets.PREDICTIONS_DB}}"
          query: >-
            SELECT age, income FROM preds
            WHERE scored_at >= :window_start AND scored_at < :window_end
        data_window:
"""


def _sql_monitor(connection: str = '"${{secrets.PREDICTIONS_DB}}"', query: str | None = None) -> str:
    block = SQL_PRODUCTION.replace('"${{secrets.PREDICTIONS_DB}}"', connection)
    if query is not None:
        block = block.replace(
            "SELECT age, income FROM preds\n            WHERE scored_at >= :window_start AND scored_at < :window_end",
            query,
        )
    text = GOOD.replace(
        "      production_data:\n        input_data: {path: ./prod, type: uri_folder}\n        data_window:\n",
        block,
    )
    assert "type: sql" in text
    return text


def test_production_data_may_be_a_sql_query_through_a_secret() -> None:
    spec = parse_spec(_sql_monitor(), MonitorSpec, "monitor.yml")
    production = _signal(spec, "drift").production
    assert production is not None and isinstance(production.input_data, SqlInputData)
    assert production.input_data.connection == "${{secrets.PREDICTIONS_DB}}"
    assert ":window_start" in production.input_data.query
    path_spec = parse_spec(GOOD, MonitorSpec, "monitor.yml")
    path_production = _signal(path_spec, "drift").production
    assert path_production is not None and isinstance(path_production.input_data, InputData)


@pytest.mark.parametrize(
    "connection",
    [
        "postgresql://monitor:${{secrets.PG_PASSWORD}}@db:5432/preds",
        "postgresql://monitor@db:5432/preds",
        "sqlite:////data/preds.db",
    ],
)
def test_a_sql_connection_may_be_a_url_without_a_clear_password(connection: str) -> None:
    spec = parse_spec(_sql_monitor(f'"{connection}"'), MonitorSpec, "monitor.yml")
    production = _signal(spec, "drift").production
    assert production is not None and isinstance(production.input_data, SqlInputData)


@pytest.mark.parametrize(
    ("connection", "query", "message"),
    [
        ('"postgresql://monitor:hunter2@db/preds"', None, "holds a password in clear"),
        ('"mysql://monitor@db/preds"', None, "is not a SQLite or PostgreSQL URL"),
        ('"sqlite:///preds.db"', None, "needs an absolute file path"),
        ('"postgresql://monitor@db:5432"', None, "names no database"),
        (
            '"${{secrets.DB}}"',
            "SELECT * FROM preds WHERE day = :day",
            "the query uses :day, which no run binds",
        ),
        ('"${{secrets.DB}}"', "EMPTY", "the query is empty"),
    ],
)
def test_a_bad_sql_input_is_refused_by_line(connection: str, query: str | None, message: str) -> None:
    text = _sql_monitor(connection, query)
    if query == "EMPTY":
        text = text.replace("query: >-\n            EMPTY\n", 'query: "  "\n')
    err = _error(text)
    assert message in err.message
    assert "hunter2" not in err.message
    assert err.details["line"] in (19, 20, 21), err.message


def test_a_sql_query_may_cast_and_quote_times() -> None:
    query = "SELECT age FROM preds WHERE scored_at::date >= :window_start::date AND note <> '12:30'"
    spec = parse_spec(_sql_monitor(query=query), MonitorSpec, "monitor.yml")
    production = _signal(spec, "drift").production
    assert production is not None and isinstance(production.input_data, SqlInputData)


def test_a_sql_input_without_its_fields_says_which() -> None:
    err = _error(_sql_monitor().replace('          connection: "${{secrets.PREDICTIONS_DB}}"\n', ""))
    assert "connection" in err.message


def test_the_documented_sql_production_data_loads() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "monitor-yaml.md").read_text(encoding="utf-8")
    block = doc.split("## SQL production data", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    indented = "".join(f"      {line}\n" for line in block.splitlines())
    text = GOOD.replace(
        "      production_data:\n        input_data: {path: ./prod, type: uri_folder}\n"
        "        data_window:\n          lookback_window_size: P7D\n          lookback_window_offset: P1D\n",
        indented,
    )
    production = _signal(parse_spec(text, MonitorSpec, "monitor.yml"), "drift").production
    assert production is not None and isinstance(production.input_data, SqlInputData)
    assert production.input_data.connection == "${{secrets.PREDICTIONS_DB}}"
