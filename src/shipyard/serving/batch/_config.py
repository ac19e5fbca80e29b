"""The settings of one batch scoring job, as :mod:`shipyard.services.batch_jobs` writes them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CONFIG_VARIABLE", "SQL_URL_VARIABLE", "BatchConfig"]

CONFIG_VARIABLE = "SHIPYARD_BATCH_CONFIG"
SQL_URL_VARIABLE = "SHIPYARD_BATCH_SQL_URL"


@dataclass(frozen=True, slots=True)
class BatchConfig:
    endpoint: str = ""
    deployment: str = ""
    model_kind: Literal["mlflow", "custom"] = "mlflow"
    scoring_script: str | None = None
    input_type: str = "uri_file"
    mini_batch_size: int = 10
    concurrency: int = 1
    max_retries: int = 3
    timeout_s: float = 30.0
    error_threshold: int = -1
    logging_level: str = "info"
    output_action: Literal["append_row", "summary_only"] = "append_row"
    output_file_name: str = "predictions.csv"
    output: dict[str, str] | None = None

    @classmethod
    def from_json(cls, text: str, sql_url: str | None = None) -> BatchConfig:
        """``sql_url`` arrives in a variable of its own (``SQL_URL_VARIABLE``): it may hold a
        secret, revealed into this process's environment and kept out of the job's spec."""
        data: dict[str, Any] = json.loads(text)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if sql_url and known.get("output") is not None:
            known["output"] = {**known["output"], "sql_url": sql_url}
        return cls(**known)

    @property
    def verbose(self) -> bool:
        return self.logging_level == "debug"

    @property
    def quiet(self) -> bool:
        return self.logging_level in ("warning", "error", "critical")
