"""Train a classifier on the iris data and save it as an MLflow model.

Run as a job (`shipyard job create -f job.yml --stream`): the job's process finds its run,
the server's address and its own token in MLFLOW_* variables, so the unchanged `mlflow`
client logs to the job's run, and the folder given as --model becomes the registered model.
"""

from __future__ import annotations

import argparse

import mlflow
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the iris CSV (last column: species)")
    parser.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    parser.add_argument("--model", required=True, help="the folder the MLflow model is saved to")
    args = parser.parse_args()

    frame = pd.read_csv(args.data)
    # Measurements as floats: the model's signature then takes any number a client sends.
    features, labels = frame.drop(columns=["species"]).astype("float64"), frame["species"]
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.3, random_state=7, stratify=labels
    )
    with mlflow.start_run():
        mlflow.log_params({"C": args.C, "rows": len(frame), "model": "LogisticRegression"})
        model = LogisticRegression(C=args.C, max_iter=500).fit(x_train, y_train)
        accuracy = accuracy_score(y_test, model.predict(x_test))
        mlflow.log_metrics({"accuracy": accuracy, "log_loss": log_loss(y_test, model.predict_proba(x_test))})
        print(f"accuracy on {len(y_test)} held-out flowers: {accuracy:.3f}")
        # The job's output folder: Shipyard registers what is saved here as iris-classifier.
        mlflow.sklearn.save_model(model, args.model, input_example=x_test.head(3))


if __name__ == "__main__":
    main()
