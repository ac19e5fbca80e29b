"""A tiny sklearn model saved as an MLflow model, and a scoring-script model folder."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]

SCORE_PY = """
import json, os, pathlib, time

state = {}

def init():
    state["factor"] = float(pathlib.Path(os.environ["AZUREML_MODEL_DIR"], "factor.txt").read_text())
    if os.environ.get("FAIL_INIT"):
        1 / 0

def run(raw_data):
    data = json.loads(raw_data)
    if data.get("explode"):
        raise ValueError("the scoring script exploded")
    if data.get("set"):
        return {1, 2}
    time.sleep(data.get("sleep", 0))
    return [x * state["factor"] for x in data["data"]]
"""


@pytest.fixture(scope="session")
def sklearn_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris()
    x = pd.DataFrame(iris.data, columns=COLUMNS)
    model = LogisticRegression(max_iter=500).fit(x, iris.target)
    path = tmp_path_factory.mktemp("models") / "iris"
    with warnings.catch_warnings():  # mlflow's own notes about type hints and pip versions
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(model, str(path), signature=infer_signature(x, model.predict(x)))
    return path


@pytest.fixture(scope="session")
def custom_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(code_dir with score.py, model_dir with factor.txt)."""
    root = tmp_path_factory.mktemp("custom")
    (root / "code").mkdir()
    (root / "code" / "score.py").write_text(SCORE_PY)
    (root / "model").mkdir()
    (root / "model" / "factor.txt").write_text("2.0")
    return root / "code", root / "model"
