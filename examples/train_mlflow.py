"""The same lifecycle through the unchanged ``mlflow`` client, pointed at Shipyard.

    export MLFLOW_TRACKING_TOKEN=$(cat ~/.shipyard/admin.token)   # or any user's token
    MLFLOW_TRACKING_URI=http://127.0.0.1:5151 python examples/train_mlflow.py

Autologs a scikit-learn fit on the Iris data scikit-learn ships, registers the model as
``iris-mlflow`` with alias ``champion``, loads it back through ``models:/iris-mlflow@champion``
and predicts — every call served by Shipyard.
"""

from __future__ import annotations

import mlflow
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

MODEL_NAME = "iris-mlflow"


def main() -> None:
    mlflow.set_experiment("iris-mlflow-demo")
    features, labels = load_iris(return_X_y=True, as_frame=True)
    x_train, x_test, y_train, y_test = train_test_split(features, labels, test_size=0.25, random_state=7)
    mlflow.sklearn.autolog(log_models=False)
    with mlflow.start_run(run_name="logreg") as run:
        model = LogisticRegression(max_iter=500).fit(x_train, y_train)
        accuracy = float(model.score(x_test, y_test))
        mlflow.log_metric("test_accuracy", accuracy)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=MODEL_NAME,
            serialization_format="skops",
            input_example=x_test.head(3),
        )
    version = info.registered_model_version
    MlflowClient().set_registered_model_alias(MODEL_NAME, "champion", str(version))
    loaded = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion")
    predictions = loaded.predict(x_test.head(5))
    print(f"mlflow run {run.info.run_id}: test accuracy {accuracy:.3f}")
    print(f"registered {MODEL_NAME} version {version} (alias champion); predictions {list(predictions)}")


if __name__ == "__main__":
    main()
