"""``python -m shipyard.automl trial|finish`` in-process, against an MLflow file store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from shipyard.automl.__main__ import FINISH_PREFIX, main
from shipyard.domain.automl import (
    EXIT_ALGORITHM_UNAVAILABLE,
    AutoMLSettings,
    ForecastingSettings,
    parse_result_line,
)

from .conftest import make_series


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"file:{tmp_path / 'mlruns'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    return uri


def _files(tmp_path: Path, frame: pd.DataFrame, settings: AutoMLSettings) -> tuple[str, str]:
    frame.to_csv(tmp_path / "train.csv", index=False)
    (tmp_path / "settings.json").write_text(settings.to_json())
    return str(tmp_path / "settings.json"), str(tmp_path / "train.csv")


def _trial(
    settings: str,
    data: str,
    algorithm: str,
    params: dict[str, object],
    n: int,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str, str]:
    code = main(
        [
            "trial",
            "--settings",
            settings,
            "--training-data",
            data,
            "--algorithm",
            algorithm,
            "--params",
            json.dumps(params),
            "--trial",
            str(n),
        ]
    )
    out, err = capsys.readouterr()
    return code, out, err


def test_trials_then_finish_register_a_classifier(
    tmp_path: Path, store: str, breast_cancer: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow

    frame = breast_cancer.sample(200, random_state=0)
    train, test = frame.iloc[:150], frame.iloc[150:]
    settings, data = _files(
        tmp_path,
        train,
        AutoMLSettings(task="classification", target_column_name="target", n_cross_validations=3),
    )
    board = []
    candidates: list[tuple[str, dict[str, object]]] = [
        ("LogisticRegression", {"C": 1.0}),
        ("DecisionTree", {"max_depth": 3}),
    ]
    for n, (algorithm, params) in enumerate(candidates):
        code, out, _ = _trial(settings, data, algorithm, params, n, capsys)
        assert code == 0
        row = parse_result_line(out)
        assert row is not None and row["algorithm"] == algorithm and row["trial"] == n
        board.append(row)
    run = mlflow.search_runs(search_all_experiments=True, output_format="list")[-1]
    assert run.data.params["algorithm"] == "LogisticRegression"
    assert "AUC_weighted" in run.data.metrics and "accuracy" in run.data.metrics

    (tmp_path / "board.json").write_text(json.dumps(board))
    test.to_csv(tmp_path / "test.csv", index=False)
    code = main(
        [
            "finish",
            "--settings",
            settings,
            "--training-data",
            data,
            "--test-data",
            str(tmp_path / "test.csv"),
            "--leaderboard",
            str(tmp_path / "board.json"),
            "--model-name",
            "cancer",
        ]
    )
    out, _ = capsys.readouterr()
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1].removeprefix(FINISH_PREFIX + " "))
    assert summary["model_version"] == 1

    model = mlflow.pyfunc.load_model("models:/cancer/1")
    assert model.metadata.signature is not None
    requirements = Path(mlflow.pyfunc.get_model_dependencies("models:/cancer/1")).read_text()
    assert "scikit-learn==" in requirements and "pandas==" in requirements
    assert "lightgbm" not in requirements and "xgboost" not in requirements  # no member uses them
    predicted = model.predict(test.drop(columns=["target"]))
    assert set(predicted) <= {0, 1}
    finish_run = mlflow.get_run(
        mlflow.search_runs(search_all_experiments=True, output_format="list", order_by=["start_time DESC"])[
            0
        ].info.run_id
    )
    metrics = finish_run.data.metrics
    assert metrics["test_accuracy"] > 0.8
    assert any(name.startswith("permutation_importance.") for name in metrics)
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(finish_run.info.run_id)}
    assert {"featurization.json", "permutation_importance.json", "leaderboard.json"} <= artifacts


def test_a_forecasting_finish_logs_a_pyfunc_that_forecasts(
    tmp_path: Path, store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlflow

    frame = make_series(stores=2, days=60)
    settings, data = _files(
        tmp_path,
        frame,
        AutoMLSettings(
            task="forecasting",
            target_column_name="sales",
            n_cross_validations=2,
            forecasting=ForecastingSettings("date", ("store",), forecast_horizon=5),
        ),
    )
    rows = []
    for n, (algorithm, params) in enumerate(
        [("DecisionTree", {"max_depth": 4}), ("KNN", {"n_neighbors": 3})]
    ):
        code, out, _ = _trial(settings, data, algorithm, params, n, capsys)
        assert code == 0
        rows.append(parse_result_line(out))
    (tmp_path / "board.json").write_text(json.dumps({"trials": rows}))
    code = main(
        [
            "finish",
            "--settings",
            settings,
            "--training-data",
            data,
            "--leaderboard",
            str(tmp_path / "board.json"),
            "--model-name",
            "sales",
        ]
    )
    out, _ = capsys.readouterr()
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1].removeprefix(FINISH_PREFIX + " "))
    # The tree and the KNN err differently: their average beats the better one on the same folds.
    assert summary["ensemble"] and summary["score"] < summary["best_single_score"]
    model = mlflow.pyfunc.load_model("models:/sales/1")
    future = pd.DataFrame({"store": ["s0", "s1"], "date": ["2024-03-01", "2024-03-01"], "promo": [0, 1]})
    forecast = model.predict(future)
    assert len(forecast) == 2 and forecast["forecast"].notna().all()
    run_id = model.metadata.run_id
    featurization = mlflow.artifacts.load_dict(f"runs:/{run_id}/featurization.json")
    kinds = {c["name"]: c["kind"] for c in featurization["columns"]}
    assert kinds["store"] == "categorical"
    assert kinds["_lag_1"] == "numeric"
    importance = mlflow.artifacts.load_dict(f"runs:/{run_id}/permutation_importance.json")
    assert set(importance) >= {"_lag_1", "store", "promo"}
    assert "permutation_importance._lag_1" in mlflow.get_run(run_id).data.metrics


def test_bad_input_exits_2_with_the_error_code(
    tmp_path: Path, store: str, breast_cancer: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, data = _files(
        tmp_path, breast_cancer.head(60), AutoMLSettings(task="classification", target_column_name="churned")
    )
    code, out, err = _trial(settings, data, "DecisionTree", {}, 0, capsys)
    assert code == 2
    assert "error INVALID_ARGUMENT: the training data has no target column 'churned'" in err
    assert "SHIPYARD_AUTOML_RESULT" not in out
    code, _, err = _trial(settings, data, "Prophet", {}, 0, capsys)
    assert (code, "unknown classification algorithm 'Prophet'" in err) == (2, True)
    code = main(
        ["trial", "--settings", settings, "--training-data", data, "--algorithm", "KNN", "--params", "[1]"]
    )
    assert code == 2 and "--params must be a JSON object" in capsys.readouterr().err
    (tmp_path / "settings.json").write_text("{")
    code, _, err = _trial(settings, data, "KNN", {}, 0, capsys)
    assert code == 2 and "error INVALID_SPEC: AutoML settings are not JSON" in err
    (tmp_path / "settings.json").write_text(
        AutoMLSettings(task="classification", target_column_name="target").to_json()
    )
    code = main(
        [
            "finish",
            "--settings",
            settings,
            "--training-data",
            data,
            "--leaderboard",
            str(tmp_path / "none.json"),
            "--model-name",
            "m",
        ]
    )
    assert code == 2 and "cannot read the" in capsys.readouterr().err


def test_a_missing_package_exits_3(
    tmp_path: Path,
    store: str,
    breast_cancer: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setitem(sys.modules, "xgboost", None)
    settings, data = _files(
        tmp_path, breast_cancer.head(60), AutoMLSettings(task="classification", target_column_name="target")
    )
    code, out, err = _trial(settings, data, "XGBoostClassifier", {}, 0, capsys)
    assert code == EXIT_ALGORITHM_UNAVAILABLE == 3
    assert "error UNAVAILABLE: XGBoostClassifier needs the 'xgboost' package" in err
    assert out == ""


def test_a_leaderboard_without_a_completed_trial_is_refused(
    tmp_path: Path, store: str, breast_cancer: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, data = _files(
        tmp_path, breast_cancer.head(60), AutoMLSettings(task="classification", target_column_name="target")
    )
    failed = {
        "trial": 0,
        "algorithm": "KNN",
        "params": {},
        "score": None,
        "metrics": {},
        "status": "Failed",
        "duration_s": 0.1,
    }
    (tmp_path / "board.json").write_text(json.dumps([failed]))
    code = main(
        [
            "finish",
            "--settings",
            settings,
            "--training-data",
            data,
            "--leaderboard",
            str(tmp_path / "board.json"),
            "--model-name",
            "m",
        ]
    )
    assert code == 2 and "no trial of the leaderboard completed" in capsys.readouterr().err
    (tmp_path / "board.json").write_text(json.dumps({"trials": "x"}))
    code = main(
        [
            "finish",
            "--settings",
            settings,
            "--training-data",
            data,
            "--leaderboard",
            str(tmp_path / "board.json"),
            "--model-name",
            "m",
        ]
    )
    assert code == 2 and "JSON list of trial rows" in capsys.readouterr().err


def test_a_model_requires_lightgbm_or_xgboost_only_when_a_member_uses_it() -> None:
    from shipyard.automl.finish import _needs
    from shipyard.automl.model import _requirements

    settings = AutoMLSettings(task="classification", target_column_name="y")
    members = [{"algorithm": "LightGBM"}, {"algorithm": "XGBoostClassifier"}, {"algorithm": "KNN"}]
    assert _needs(settings, members) == {"lightgbm", "xgboost"}
    assert _needs(settings, [{"algorithm": "KNN"}]) == set()
    pinned = _requirements({"lightgbm", "xgboost"})
    assert any(r.startswith("lightgbm==") for r in pinned)
    assert any(r.startswith("xgboost-cpu==") for r in pinned)
    assert not any(r.startswith(("lightgbm", "xgboost")) for r in _requirements(()))
