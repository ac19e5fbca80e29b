"""Azure ML's scoring-script shape, for a deployment with code (`code_configuration`).

endpoints/blue.yml serves the MLflow model without code, which needs none of this; use this
script when the endpoint must do more than the model does (pre- or post-processing):

    code_configuration:
      code: ../src
      scoring_script: score.py

`init()` runs once per worker with AZUREML_MODEL_DIR set to the model's folder; `run()` gets
each request's body, here `{"input_data": {"columns": [...], "data": [[...], ...]}}` (the same
request as the MLflow deployment takes) and returns the predicted cultivars.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

model: Any = None


def _model_folder(root: Path) -> Path:
    """The folder holding MLmodel: the model folder itself, or the one folder inside it."""
    found = sorted(p.parent for p in root.rglob("MLmodel"))
    if not found:
        raise FileNotFoundError(f"no MLmodel file under {root}")
    return found[0]


def init() -> None:
    global model  # noqa: PLW0603 -- Azure's contract: init() loads, run() reads
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(str(_model_folder(Path(os.environ["AZUREML_MODEL_DIR"]))))


def run(raw_data: str) -> list[int]:
    import pandas as pd

    try:
        body = json.loads(raw_data)["input_data"]
        frame = pd.DataFrame(body["data"], columns=body["columns"]).astype("float64")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            'send {"input_data": {"columns": [...], "data": [[...], ...]}} with every measurement as a number'
        ) from exc
    return [int(label) for label in model.predict(frame)]
