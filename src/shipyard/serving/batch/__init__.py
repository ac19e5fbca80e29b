"""Batch scoring: ``python -m shipyard.serving.batch``, the entry point of a batch endpoint's job.

    _config    the settings the job receives in SHIPYARD_BATCH_CONFIG (JSON)
    _inputs    a uri_file (CSV/Parquet: mini_batch_size rows each) or a uri_folder
               (mini_batch_size files each) → numbered mini-batches
    _models    the model a mini-batch is scored with: an MLflow model (no code) or a scoring
               script's init()/run(mini_batch) — the serving scorers, called with frames
    _runner    mini-batches in parallel (max_concurrency_per_instance), retried
               (retry_settings), failures counted against error_threshold, progress logged
    _sinks     where the rows go: outputs/<output_file_name> and, when the deployment names
               one, a SQL table — each mini-batch replaced in one transaction (idempotent)

Import-light on purpose: the job's interpreter loads pandas and the model, nothing of the
server. ``docs/batch-endpoints.md`` describes the files and the output columns.
"""
