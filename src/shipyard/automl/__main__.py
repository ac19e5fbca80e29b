"""``python -m shipyard.automl trial|finish``: the entry points an AutoML job's children run.

Exit codes: 0 done; 2 bad input (``error CODE: message`` on stderr, before any fitting when
the data does not fit the settings); 3 the algorithm cannot run here (its package is missing);
1 anything else (the traceback is in the log). A trial's last line on stdout is
``SHIPYARD_AUTOML_RESULT {json}``; ``finish`` prints ``SHIPYARD_AUTOML_FINISH {json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from shipyard.domain.automl import EXIT_ALGORITHM_UNAVAILABLE, AutoMLSettings, Trial, result_line
from shipyard.errors import InvalidArgument, ShipyardError

__all__ = ["FINISH_PREFIX", "main"]

FINISH_PREFIX = "SHIPYARD_AUTOML_FINISH"
EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m shipyard.automl")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("trial", "finish"):
        sub = commands.add_parser(name)
        sub.add_argument("--settings", required=True, help="settings.json written by the job")
        sub.add_argument("--training-data", required=True)
        sub.add_argument("--validation-data")
        if name == "trial":
            sub.add_argument("--algorithm", required=True)
            sub.add_argument("--params", default="{}", help="the hyperparameters, a JSON object")
            sub.add_argument("--trial", type=int, default=0, help="the trial's number")
        else:
            sub.add_argument("--test-data")
            sub.add_argument("--leaderboard", required=True, help="a JSON list of trial rows")
            sub.add_argument("--model-name", required=True)
    return parser


def _json_file(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidArgument(f"cannot read the {what} {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise InvalidArgument(f"the {what} {path} is not JSON: {exc}") from None


def _settings(path: str) -> AutoMLSettings:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidArgument(f"cannot read the settings {path}: {exc.strerror}") from None
    return AutoMLSettings.from_json(text)


def _params(text: str) -> dict[str, Any]:
    try:
        params = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"--params is not JSON: {exc}") from None
    if not isinstance(params, dict):
        raise InvalidArgument("--params must be a JSON object of hyperparameters")
    return params


def _trial(args: argparse.Namespace) -> int:
    import mlflow

    from shipyard.automl.data import read_table

    settings = _settings(args.settings)
    params = _params(args.params)
    train = read_table(args.training_data)
    validation = read_table(args.validation_data) if args.validation_data else None
    row = _run(settings, train, validation, args.algorithm, params, args.trial)
    with mlflow.start_run():
        mlflow.log_params({"algorithm": args.algorithm, **{k: str(v) for k, v in params.items()}})
        mlflow.log_metrics({k: v for k, v in row["metrics"].items() if v == v})
    print(result_line(row), flush=True)
    return 0


def _run(
    settings: AutoMLSettings,
    train: Any,
    validation: Any,
    algorithm: str,
    params: dict[str, Any],
    trial: int,
) -> Trial:
    from shipyard.automl.candidates import build_estimator

    build_estimator(settings.task, algorithm, params, settings.seed)  # unknown or missing: fail now
    if settings.task == "forecasting":
        import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra

        from shipyard.automl.forecasting import prepare_series, run_forecast_trial
        from shipyard.automl.trial import make_pipeline

        frame = train if validation is None else pd.concat([train, validation], ignore_index=True)
        series = prepare_series(settings, frame)
        return run_forecast_trial(
            series,
            lambda plans: make_pipeline(settings, plans, algorithm, params),
            algorithm,
            params,
            trial,
        )
    from shipyard.automl.trial import prepare, run_trial

    return run_trial(settings, prepare(settings, train, validation), algorithm, params, trial)[0]


def _finish(args: argparse.Namespace) -> int:
    import mlflow

    from shipyard.automl.data import read_table
    from shipyard.automl.finish import finish

    settings = _settings(args.settings)
    board = _json_file(args.leaderboard, "leaderboard")
    rows = board.get("trials") if isinstance(board, dict) else board
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InvalidArgument("the leaderboard must be a JSON list of trial rows")
    train = read_table(args.training_data)
    validation = read_table(args.validation_data) if args.validation_data else None
    test = read_table(args.test_data) if args.test_data else None
    with mlflow.start_run():
        summary = finish(settings, train, validation, test, rows, args.model_name)
    print(f"{FINISH_PREFIX} {json.dumps(summary, sort_keys=True, default=str)}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    from shipyard.automl.candidates import AlgorithmUnavailable

    args = _parser().parse_args(argv)
    try:
        return _trial(args) if args.command == "trial" else _finish(args)
    except AlgorithmUnavailable as exc:
        print(f"error {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_ALGORITHM_UNAVAILABLE
    except ShipyardError as exc:
        print(f"error {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
