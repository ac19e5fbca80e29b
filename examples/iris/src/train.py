"""A short training script, the way a data scientist writes one against Shipyard.

Trains a linear classifier on the Iris data (a CSV given with ``--data``, else the copy
scikit-learn ships: no download), one epoch at a time, logging params, per-epoch metrics,
system metrics and the model itself, then registers the model and points the ``champion``
alias at it. Run it directly, or as a job (``examples/iris/job.yml``), where
``shipyard.start_run`` continues the job's own run:

    shipyard login --url http://127.0.0.1:5151 --token-file ~/.shipyard/admin.token   # once
    SHIPYARD_URL=http://127.0.0.1:5151 python examples/iris/src/train.py
    shipyard job create -f examples/iris/job.yml --stream
    shipyard job create -f examples/iris/sweep.yml --stream    # tune alpha (trials: --no-register)
"""

from __future__ import annotations

import argparse
import csv
import json
import pickle
import tempfile
from pathlib import Path
from typing import Any

from sklearn.datasets import load_iris
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split

import shipyard

EXPERIMENT = "iris-demo"
MODEL_NAME = "iris-classifier"
PARAMS: dict[str, Any] = {
    "alpha": 1e-3,
    "epochs": 60,
    "learning_rate": "optimal",
    "test_size": 0.25,
    "seed": 7,
}


def load(data: str | None) -> tuple[Any, Any]:
    """Features and labels from a CSV whose last column is the class, or sklearn's copy."""
    if data is None:
        return load_iris(return_X_y=True)
    with open(data, newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return [[float(v) for v in row[:-1]] for row in rows], [int(row[-1]) for row in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a CSV of the iris data (default: scikit-learn's copy)")
    parser.add_argument("--epochs", type=int, default=PARAMS["epochs"])
    parser.add_argument("--alpha", type=float, default=PARAMS["alpha"])
    parser.add_argument(
        "--no-register", action="store_true", help="log only, leave the registry alone (a sweep's trials)"
    )
    args = parser.parse_args()
    PARAMS.update(epochs=args.epochs, alpha=args.alpha)
    client = shipyard.connect()
    features, labels = load(args.data)
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=PARAMS["test_size"], random_state=PARAMS["seed"], stratify=labels
    )
    model = SGDClassifier(
        loss="log_loss",
        alpha=PARAMS["alpha"],
        learning_rate=PARAMS["learning_rate"],
        random_state=PARAMS["seed"],
    )
    with shipyard.start_run(
        experiment=EXPERIMENT, name="sgd-baseline", log_system_metrics=True, system_metrics_interval=1.0
    ) as run:
        run.log_params(PARAMS)
        run.set_tags({"dataset": "sklearn.datasets.load_iris", "framework": "scikit-learn"})
        for epoch in range(int(PARAMS["epochs"])):
            model.partial_fit(x_train, y_train, classes=[0, 1, 2])
            run.log_metrics(
                {
                    "train_loss": log_loss(y_train, model.predict_proba(x_train), labels=[0, 1, 2]),
                    "test_loss": log_loss(y_test, model.predict_proba(x_test), labels=[0, 1, 2]),
                    "test_accuracy": accuracy_score(y_test, model.predict(x_test)),
                },
                step=epoch,
            )
        accuracy = accuracy_score(y_test, model.predict(x_test))
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "model"
            folder.mkdir()
            with (folder / "model.pkl").open("wb") as handle:
                pickle.dump(model, handle)
            (folder / "meta.json").write_text(
                json.dumps(
                    {"flavor": "sklearn", "features": 4, "classes": ["setosa", "versicolor", "virginica"]}
                )
            )
            run.log_artifact(folder, "model")
        run.flush()
    print(f"run {run.id}: test accuracy {accuracy:.3f}")
    if args.no_register:
        return
    version = shipyard.register_model(
        MODEL_NAME, run_id=run.id, artifact_path="model", description=f"SGD on iris, accuracy {accuracy:.3f}"
    )
    client.set_model_alias(MODEL_NAME, "champion", version.version)
    print(f"registered {MODEL_NAME} version {version.version} (alias champion) from {version.source}")


if __name__ == "__main__":
    main()
