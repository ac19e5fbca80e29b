"""Register the evaluated model as a new version of %%{name}.

The pipeline's `register` step, run only after `evaluate` passed. The version's source is the
train step's run (`runs:/<run>/outputs/model`), whose id the model's MLmodel file carries, so
the version's lineage and `shipyard ci compare --baseline model:%%{name}@champion` reach the run
that logged train_loss, val_loss, acc and val_acc.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the MLflow model folder (the train step's output)")
    parser.add_argument("--report", required=True, help="the evaluate step's output (evaluation.json)")
    parser.add_argument("--name", required=True, help="the registered model's name")
    args = parser.parse_args()

    evaluation = json.loads((Path(args.report) / "evaluation.json").read_text())
    if not evaluation.get("passed"):
        sys.exit(f"not registered: the evaluation did not pass ({evaluation})")
    run_id = Model.load(args.model).run_id
    if not run_id:
        sys.exit(f"not registered: {args.model}/MLmodel names no run_id (was it saved by train.py?)")
    client = MlflowClient()
    try:
        client.create_registered_model(args.name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    version = client.create_model_version(
        args.name,
        f"runs:/{run_id}/outputs/model",
        run_id=run_id,
        tags={"val_acc": str(evaluation["val_acc"]), "val_loss": str(evaluation["val_loss"])},
    )
    print(f"registered {args.name} version {version.version} from run {run_id}")


if __name__ == "__main__":
    main()
