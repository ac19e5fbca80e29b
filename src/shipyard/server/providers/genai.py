"""MLflow 3's GenAI entities: evaluation datasets, scorers, issues, the AI gateway's
configuration (whose secrets go through the access services' cipher)."""

from __future__ import annotations

from shipyard.server.wiring import Wiring
from shipyard.services.eval_datasets import EvalDatasetService
from shipyard.services.gateway import GatewayService
from shipyard.services.issues import IssueService
from shipyard.services.scorers import ScorerService

__all__ = ["eval_datasets", "gateway", "issues", "scorers"]


def eval_datasets(wiring: Wiring) -> EvalDatasetService:
    return EvalDatasetService(wiring.database)


def scorers(wiring: Wiring) -> ScorerService:
    return ScorerService(wiring.database)


def issues(wiring: Wiring) -> IssueService:
    return IssueService(wiring.database)


def gateway(wiring: Wiring) -> GatewayService:
    return GatewayService(wiring.database, wiring.access.secrets.cipher)
