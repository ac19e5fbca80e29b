"""A trial of examples/sweep/sweep.yml: 'trains' for a few epochs and logs its accuracy each epoch.

The accuracy is a made-up function of the hyperparameters, so the sweep finishes in seconds;
replace it with your training loop and keep the mlflow.log_metric call.
"""

import argparse
import math

import mlflow

parser = argparse.ArgumentParser()
parser.add_argument("--learning-rate", type=float, required=True)
parser.add_argument("--optimizer", required=True)
parser.add_argument("--epochs", type=int, default=8)
args = parser.parse_args()

# Best near lr = 0.01 with adam; every epoch gets closer to the trial's ceiling.
ceiling = 0.95 - 0.08 * abs(math.log10(args.learning_rate) + 2) - (0.0 if args.optimizer == "adam" else 0.1)
for epoch in range(1, args.epochs + 1):
    accuracy = ceiling * (1 - math.exp(-epoch / 2))
    mlflow.log_metric("accuracy", accuracy, step=epoch)
    print(f"epoch {epoch}: accuracy {accuracy:.3f}", flush=True)
