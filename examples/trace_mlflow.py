"""MLflow 3 tracing through the unchanged ``mlflow`` client, pointed at Shipyard.

    export MLFLOW_TRACKING_TOKEN=$(cat ~/.shipyard/admin.token)   # or any user's token
    MLFLOW_TRACKING_URI=http://127.0.0.1:5151 python examples/trace_mlflow.py

A small "flower advisor" answers questions with the ``iris-mlflow@champion`` model that
examples/train_mlflow.py registered: each answer is a trace (``@mlflow.trace``) with a parsing
span, a ``mlflow.start_span`` around the prediction and a formatting span. A reviewer's
feedback is logged on one, and ``mlflow.search_traces`` finds the slow ones — every call served
by Shipyard (its studio shows them under the experiment's Traces tab).
"""

from __future__ import annotations

import re
from typing import Any

import mlflow
import pandas as pd

SPECIES = ["setosa", "versicolor", "virginica"]
COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
QUESTIONS = [
    "sepals 5.1 by 3.5, petals 1.4 by 0.2",
    "sepals 6.7 by 3.0, petals 5.2 by 2.3",
    "sepals 5.9 by 3.0, petals 4.2 by 1.5",
    "sepals 4.8 by 3.4, petals 1.9 by 0.2",
    "sepals 6.3 by 2.5, petals 5.0 by 1.9",
    "sepals 5.5 by 2.4, petals 3.8 by 1.1",
]


@mlflow.trace(span_type="PARSER")
def parse(question: str) -> list[float]:
    numbers = [float(n) for n in re.findall(r"\d+(?:\.\d+)?", question)]
    if len(numbers) != 4:
        raise ValueError(f"expected four measurements, got {numbers}")
    return numbers


@mlflow.trace(span_type="CHAIN")
def advise(question: str, model: Any) -> str:  # a loaded mlflow.pyfunc model
    measures = parse(question)
    with mlflow.start_span("predict", span_type="LLM") as span:
        span.set_inputs({"measures": measures})
        label = int(model.predict(pd.DataFrame([measures], columns=COLUMNS))[0])
        span.set_outputs({"label": label})
    return f"that looks like an iris {SPECIES[label]}"


def main() -> None:
    experiment = mlflow.set_experiment("iris-advisor")
    model = mlflow.pyfunc.load_model("models:/iris-mlflow@champion")
    for question in QUESTIONS:
        print(f"  {question!r} -> {advise(question, model)!r}")
    try:
        advise("a flower with no numbers", model)  # a failed trace: status ERROR, the exception kept
    except ValueError as exc:
        print(f"  refused: {exc}")
    mlflow.flush_trace_async_logging()
    traces = mlflow.search_traces(locations=[experiment.experiment_id], return_type="list")
    first = traces[-1]  # newest first: the last is the first question
    mlflow.log_feedback(
        trace_id=first.info.trace_id,
        name="correct",
        value=True,
        rationale="setosa it is",
        source=mlflow.entities.AssessmentSource(source_type="HUMAN", source_id="reviewer"),
    )
    failed = mlflow.search_traces(
        locations=[experiment.experiment_id], filter_string="trace.status = 'ERROR'", return_type="list"
    )
    spans = sum(len(t.data.spans) for t in traces)
    where = f"experiment {experiment.experiment_id}"
    print(f"{len(traces)} traces, {spans} spans in {where}; {len(failed)} failed")
    print(f"feedback 'correct' logged on trace {first.info.trace_id}")


if __name__ == "__main__":
    main()
