"""``python -m shipyard.serving.batch --model DIR --data PATH``: one batch scoring job.

Run by the job a batch endpoint's ``invoke`` creates, in the job's code folder, with the
settings in ``SHIPYARD_BATCH_CONFIG``. Writes ``outputs/<output_file_name>`` (append_row) and
``outputs/batch_summary.json``; exits 1 when more items failed than ``error_threshold``
allows, with the reason as the last line of the log.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from shipyard.serving.batch._config import CONFIG_VARIABLE, SQL_URL_VARIABLE, BatchConfig

__all__ = ["main"]


def _say(line: str) -> None:
    print(line, flush=True)


def _model(config: BatchConfig, model_dir: Path) -> Any:
    from shipyard.serving.batch._models import MlflowBatchModel, ScriptBatchModel

    if config.scoring_script:
        return ScriptBatchModel(Path.cwd(), config.scoring_script, model_dir)
    return MlflowBatchModel(model_dir)


def run(config: BatchConfig, model_dir: Path, data: Path, outputs: Path, job_id: str) -> int:
    import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs in the dev extra

    from shipyard.serving.batch._inputs import mini_batches
    from shipyard.serving.batch._runner import ThresholdExceeded, run_mini_batches
    from shipyard.serving.batch._sinks import open_sql_sink

    started = time.monotonic()
    sink = None
    if config.output is not None:
        sink = open_sql_sink(config.output["sql_url"], config.output["table"], job_id)
        _say(
            f"[batch] rows also go to table {config.output['table']} ({config.output['sql_url'].split('://')[0]})"
        )
    model = _model(config, model_dir)
    model.load()
    batches = mini_batches(data, config.input_type, config.mini_batch_size)
    unit = "files" if batches and batches[0].files else "rows"
    _say(
        f"[batch] {config.endpoint}/{config.deployment}: {len(batches)} mini-batches of up to"
        f" {config.mini_batch_size} {unit}, {config.concurrency} at a time"
    )
    kept: dict[int, Any] = {}
    loaded = time.monotonic()

    def deliver(batch: Any, frame: Any) -> int:
        if config.output_action == "summary_only":
            return len(frame)
        if sink is not None:
            sink.write(batch.id, frame)
        kept[batch.id] = frame
        return len(frame)

    outcome = "completed"
    try:
        progress = run_mini_batches(
            batches,
            model.predict_batch,
            deliver,
            concurrency=config.concurrency,
            max_retries=config.max_retries,
            timeout_s=config.timeout_s,
            error_threshold=config.error_threshold,
            say=_say,
            verbose=config.verbose,
        )
    except ThresholdExceeded as exc:
        outcome = str(exc)
        progress = None
    finally:
        if sink is not None:
            sink.close()
    outputs.mkdir(parents=True, exist_ok=True)
    if progress is None:
        _say(f"[batch] {outcome}")
        return 1
    if config.output_action == "append_row":
        frames = [kept[k] for k in sorted(kept)]
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        table.to_csv(outputs / config.output_file_name, index=False)
    finished = time.monotonic()
    seconds = finished - started
    scoring = finished - loaded
    summary = {
        "mini_batches": progress.total,
        "succeeded": progress.done,
        "failed": progress.failed,
        "failed_items": progress.failed_items,
        "retried": progress.retries,
        "rows": progress.rows,
        "seconds": round(seconds, 3),
        "load_seconds": round(loaded - started, 3),
        "scoring_seconds": round(scoring, 3),
        "rows_per_second": round(progress.rows / scoring, 1) if scoring > 0 else None,
        "output_file": None if config.output_action == "summary_only" else config.output_file_name,
        "sql_table": None if config.output is None else config.output["table"],
        "failures": {str(k): v for k, v in sorted(progress.failures.items())},
    }
    (outputs / "batch_summary.json").write_text(json.dumps(summary, indent=2))
    _say(
        f"[batch] done: {progress.rows:,} rows in {seconds:.1f} s ({loaded - started:.1f} s loading the"
        f" model and the input), {progress.failed} mini-batch(es) failed"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shipyard.serving.batch", description=__doc__)
    parser.add_argument("--model", required=True, type=Path, help="The model's folder.")
    parser.add_argument("--data", required=True, type=Path, help="A CSV/Parquet file or a folder of them.")
    parser.add_argument("--outputs", type=Path, default=Path("outputs"), help="Where the files go.")
    args = parser.parse_args(argv)
    config = BatchConfig.from_json(os.environ.get(CONFIG_VARIABLE, "{}"), os.environ.get(SQL_URL_VARIABLE))
    job_id = os.environ.get("SHIPYARD_JOB_NAME") or f"local-{int(time.time())}"
    return run(config, args.model, args.data, args.outputs, job_id)


if __name__ == "__main__":
    sys.exit(main())
