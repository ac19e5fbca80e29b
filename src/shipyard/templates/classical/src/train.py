"""Train %%{project}'s classifier on a CSV and log it with mlflow.

As a job (`shipyard job create -f jobs/train.yml --stream`, or the pipeline's `train` step) the
`mlflow` client finds its run, the server and its token in MLFLOW_* variables; the folder given
as --model becomes the job's `model` output (an MLflow model). Without --model the model is
logged to the run instead, so `python src/train.py --data data/wine.csv` works against any
tracking server `MLFLOW_TRACKING_URI` names.

The metric names are the ones `shipyard ci compare` puts side by side on a pull request:
train_loss, val_loss, acc, val_acc.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from dataclasses import dataclass

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

LABEL = "cultivar"
SEED = 7


@dataclass
class Split:
    x_train: pd.DataFrame
    x_val: pd.DataFrame
    y_train: pd.Series
    y_val: pd.Series


def split(frame: pd.DataFrame) -> Split:
    """The same held-out wines every time (the evaluation step scores exactly these)."""
    if LABEL not in frame.columns:
        raise SystemExit(f"the data has no {LABEL!r} column (columns: {', '.join(frame.columns)})")
    # Measurements as floats: the model's signature then takes any number a client sends.
    features, labels = frame.drop(columns=[LABEL]).astype("float64"), frame[LABEL]
    x_train, x_val, y_train, y_val = train_test_split(
        features, labels, test_size=0.3, random_state=SEED, stratify=labels
    )
    return Split(x_train, x_val, y_train, y_val)


def scores(model: Pipeline, data: Split) -> dict[str, float]:
    return {
        "train_loss": float(log_loss(data.y_train, model.predict_proba(data.x_train), labels=model.classes_)),
        "val_loss": float(log_loss(data.y_val, model.predict_proba(data.x_val), labels=model.classes_)),
        "acc": float(accuracy_score(data.y_train, model.predict(data.x_train))),
        "val_acc": float(accuracy_score(data.y_val, model.predict(data.x_val))),
    }


def fit(data: Split, c: float) -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000)).fit(
        data.x_train, data.y_train
    )


def git_commit() -> str | None:
    """The commit being trained: GitHub Actions says it; else the checkout's HEAD, if any."""
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except OSError:
        return None
    head = done.stdout.strip() if done.returncode == 0 else ""
    return head or None


def main() -> None:
    import mlflow
    import mlflow.sklearn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the CSV (its cultivar column is the label)")
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--model", help="the folder the MLflow model is saved to (a job's output)")
    args = parser.parse_args()

    data = split(pd.read_csv(args.data))
    with mlflow.start_run() as run:
        # A job's run already carries the commit Shipyard recorded at submission; never overwrite it.
        commit = git_commit()
        if commit and "mlflow.source.git.commit" not in run.data.tags:
            mlflow.set_tag("mlflow.source.git.commit", commit)
        mlflow.log_params(
            {"C": args.C, "rows": len(data.x_train) + len(data.x_val), "model": "LogisticRegression"}
        )
        model = fit(data, args.C)
        metrics = scores(model, data)
        mlflow.log_metrics(metrics)
        print(", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
        if args.model:
            # The run id in the model's MLmodel file lets the pipeline's register step name
            # the run that trained it (and `ci compare` find that run's metrics later).
            save(model, args.model, data.x_val.head(3), run_id=run.info.run_id)
        else:
            mlflow.sklearn.log_model(
                model, name="model", pip_requirements=requirements(), **_described(model, data.x_val.head(3))
            )


def requirements() -> list[str]:
    """What serving the model needs, named here: mlflow would otherwise infer it by loading
    the model in a subprocess, which takes longer than the training."""
    from importlib.metadata import version

    return [
        f"scikit-learn=={version('scikit-learn')}",
        f"skops=={version('skops')}",
        f"pandas=={version('pandas')}",
    ]


def _described(model: Pipeline, example: pd.DataFrame) -> dict[str, object]:
    from mlflow.models import infer_signature

    return {"signature": infer_signature(example, model.predict(example)), "input_example": example}


def save(model: Pipeline, path: str, example: pd.DataFrame, run_id: str | None = None) -> None:
    """The model as an MLflow model folder, with its signature, an input example and the run."""
    import mlflow.sklearn
    from mlflow.models import Model

    mlflow.sklearn.save_model(
        model,
        path,
        pip_requirements=requirements(),
        mlflow_model=Model(run_id=run_id),
        **_described(model, example),
    )


if __name__ == "__main__":
    main()
