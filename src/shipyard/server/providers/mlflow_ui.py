"""What MLflow's web UI reads beyond the tracking services: dataset summaries."""

from __future__ import annotations

from shipyard.server.wiring import Wiring
from shipyard.services.dataset_summaries import DatasetSummaryService

__all__ = ["dataset_summaries"]


def dataset_summaries(wiring: Wiring) -> DatasetSummaryService:
    return DatasetSummaryService(wiring.database)
