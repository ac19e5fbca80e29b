"""Which datasets the runs of some experiments logged, and in what context (MLflow's
``experiments/search-datasets``, the dataset filter of its web UI's run list).

A dataset is stored once per experiment (name + digest) and linked to each run that logged
it with the input's tags; the summary is one row per dataset and ``mlflow.data.context``
value (``training``, ``eval``…, or none), read in one query over those links.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from shipyard.domain.context import RequestContext
from shipyard.errors import InvalidArgument
from shipyard.services.ports import Database, RepositoryKey
from shipyard.services.tracking import TrackingService

__all__ = [
    "CONTEXT_TAG",
    "DATASET_SUMMARIES",
    "MAX_EXPERIMENTS",
    "MAX_SUMMARIES",
    "DatasetSummary",
    "DatasetSummaryRepository",
    "DatasetSummaryService",
]

CONTEXT_TAG = "mlflow.data.context"
# MLflow's limits: 20 experiments per request, 1,000 summaries per answer.
MAX_EXPERIMENTS = 20
MAX_SUMMARIES = 1000


@dataclass(frozen=True, slots=True)
class DatasetSummary:
    experiment_id: str
    name: str
    digest: str
    context: str | None


class DatasetSummaryRepository(ABC):
    @abstractmethod
    def of_experiments(self, experiment_ids: Sequence[str], limit: int) -> list[DatasetSummary]:
        """Distinct (experiment, name, digest, context) of the datasets runs logged, by
        experiment, name and digest; experiments not named are never read."""


DATASET_SUMMARIES: RepositoryKey[DatasetSummaryRepository] = RepositoryKey("dataset_summaries")


class DatasetSummaryService:
    def __init__(self, db: Database) -> None:
        self.db = db

    def search(self, ctx: RequestContext, experiment_ids: Sequence[str]) -> list[DatasetSummary]:
        if not experiment_ids:
            raise InvalidArgument("SearchDatasets request must specify at least one experiment_id.")
        if len(experiment_ids) > MAX_EXPERIMENTS:
            raise InvalidArgument(
                f"SearchDatasets request cannot specify more than {MAX_EXPERIMENTS} experiment_ids."
                f" Received {len(experiment_ids)} experiment_ids."
            )
        with self.db.read() as uow:
            ids = [TrackingService._experiment(uow, ctx, e).id for e in dict.fromkeys(experiment_ids)]
            return uow[DATASET_SUMMARIES].of_experiments(ids, MAX_SUMMARIES)
