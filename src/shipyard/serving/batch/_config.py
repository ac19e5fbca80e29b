"""The settings of one batch scoring job, as :mod:`shipyard.services.batch_jobs` writes them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CONFIG_VARIABLE", "BatchConfig"]

CONFIG_VARIABLE = "SHIPYARD_BATCH_CONFIG"


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
    def from_json(cls, text: str) -> BatchConfig:
        data: dict[str, Any] = json.loads(text)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def verbose(self) -> bool:
        return self.logging_level == "debug"

    @property
    def quiet(self) -> bool:
        return self.logging_level in ("warning", "error", "critical")
