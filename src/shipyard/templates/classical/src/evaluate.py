"""Evaluate the trained model on the held-out wines; fail the pipeline below the bar.

The pipeline's `evaluate` step: scores the model from the `train` step on the same held-out
split, logs val_acc and val_loss to its own run, writes evaluation.json ({"val_acc",
"val_loss", "min_val_acc", "passed"}) to its `report` output, and exits 1 when val_acc is
below --min-val-acc, so the `register` step never runs for a model that failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score, log_loss
from train import split


def evaluate(model_dir: str, data_path: str, min_val_acc: float) -> dict[str, float | bool]:
    import mlflow.sklearn

    model = mlflow.sklearn.load_model(model_dir)
    data = split(pd.read_csv(data_path))
    val_acc = float(accuracy_score(data.y_val, model.predict(data.x_val)))
    val_loss = float(log_loss(data.y_val, model.predict_proba(data.x_val), labels=model.classes_))
    return {
        "val_acc": val_acc,
        "val_loss": val_loss,
        "min_val_acc": min_val_acc,
        "passed": val_acc >= min_val_acc,
    }


def main() -> None:
    import mlflow

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the MLflow model folder (the train step's output)")
    parser.add_argument("--data", required=True, help="the CSV the model was trained on")
    parser.add_argument("--min-val-acc", type=float, required=True, help="the lowest val_acc that passes")
    parser.add_argument("--report", required=True, help="the folder evaluation.json is written to")
    args = parser.parse_args()

    result = evaluate(args.model, args.data, args.min_val_acc)
    with mlflow.start_run():
        mlflow.log_metrics({"val_acc": float(result["val_acc"]), "val_loss": float(result["val_loss"])})
    Path(args.report).mkdir(parents=True, exist_ok=True)
    (Path(args.report) / "evaluation.json").write_text(json.dumps(result, indent=2) + "\n")
    verdict = "passed" if result["passed"] else "FAILED"
    print(f"evaluation {verdict}: val_acc {result['val_acc']:.3f} (at least {args.min_val_acc})")
    if not result["passed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
