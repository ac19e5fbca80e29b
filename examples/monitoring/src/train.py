"""Train the credit model on a CSV and register it with the mlflow client (inside a job, the
job's MLFLOW_TRACKING_URI/TOKEN point it at Shipyard and its run).

``python train.py --data credit.csv`` — the last column, ``default``, is the label.
"""

from __future__ import annotations

import argparse

import mlflow
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMBERS = ["age", "income", "debt_ratio"]
CATEGORIES = ["region"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--model-name", default="credit")
    args = parser.parse_args()
    frame = pd.read_csv(args.data)
    x, y = frame[NUMBERS + CATEGORIES], frame["default"]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=7, stratify=y)
    model = Pipeline(
        [
            ("prepare", ColumnTransformer([
                ("numbers", StandardScaler(), NUMBERS),
                ("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORIES),
            ])),
            ("classify", LogisticRegression(max_iter=500)),
        ]
    )  # fmt: skip
    with mlflow.start_run():
        model.fit(x_train, y_train)
        accuracy = accuracy_score(y_test, model.predict(x_test))
        mlflow.log_metric("test_accuracy", accuracy)
        mlflow.sklearn.log_model(
            model, name="model", input_example=x_train.head(3), registered_model_name=args.model_name
        )
    print(f"test accuracy {accuracy:.3f}; registered a new version of {args.model_name}")


if __name__ == "__main__":
    main()
