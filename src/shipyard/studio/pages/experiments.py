"""Experiments, and an experiment's runs table: sorted, paged, filtered with the API's search
grammar, its columns chosen from params, metrics and tags. The view lives in the URL
(``?filter=&order=&cols=&page=``), so a bookmark or a pasted link is a saved view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from shipyard.client import _convert
from shipyard.domain.tracking import Experiment, Run
from shipyard.studio.api import ApiError, StudioApi
from shipyard.studio.render import page, render

__all__ = ["Column", "experiments_page", "router", "run_cell"]

router = APIRouter()

PAGE_SIZES = (25, 50, 100, 250, 1000)
_DEFAULT_KEYS = 6  # metric and param columns shown when the URL chooses none


@dataclass(frozen=True, slots=True)
class Column:
    """``metrics.acc``, ``params.lr`` or ``tags.mlflow.source.git.commit``: the API's own
    names for a run's fields, so a column is also what a filter or an ordering names."""

    kind: str  # metrics, params, tags, attributes
    key: str

    @property
    def name(self) -> str:
        return f"{self.kind}.{self.key}"

    @staticmethod
    def parse(text: str) -> Column | None:
        kind, _, key = text.strip().partition(".")
        if kind in ("metrics", "params", "tags") and key:
            return Column(kind, key)
        return None


def run_cell(run: Run, column: Column) -> Any:
    if column.kind == "metrics":
        found = run.metrics.get(column.key)
        return None if found is None else found.value
    if column.kind == "params":
        return run.params.get(column.key)
    return run.tags.get(column.key)


@router.get("/studio/experiments")
@page
async def experiments_page(request: Request, page_token: str | None = None) -> Response:
    api = StudioApi(request)
    answer = await api.get("/api/v1/experiments", max_results=200, page_token=page_token)
    found = [_convert.experiment(e) for e in answer["experiments"]]
    return render(
        request, "experiments.html", api=api, title="Experiments", experiments=found,
        next_page_token=answer.get("next_page_token"),
    )  # fmt: skip


def _default_columns(runs: list[Run]) -> list[Column]:
    metrics = sorted({k for r in runs for k in r.metrics})[:_DEFAULT_KEYS]
    params = sorted({k for r in runs for k in r.params})[:_DEFAULT_KEYS]
    return [Column("metrics", k) for k in metrics] + [Column("params", k) for k in params]


def _order_clause(order: str | None) -> list[str]:
    if not order:
        return []
    return [part.strip() for part in order.split(",") if part.strip()]


@router.get("/studio/experiments/{experiment_id}")
@page
async def experiment_page(
    request: Request,
    experiment_id: str,
    filter: str | None = Query(None, max_length=4000),  # noqa: A002 - the API's own word
    order: str | None = Query(None, max_length=500),
    cols: str | None = Query(None, max_length=4000),
    size: int = Query(100),
    page_token: str | None = Query(None, max_length=2000),
    view: str = Query("active"),
) -> Response:
    api = StudioApi(request)
    experiment: Experiment = _convert.experiment(await api.get(f"/api/v1/experiments/{experiment_id}"))
    size = size if size in PAGE_SIZES else 100
    view = view if view in ("active", "deleted", "all") else "active"
    search_error: ApiError | None = None
    runs: list[Run] = []
    next_token = None
    try:
        answer = await api.post(
            "/api/v1/runs/search",
            {
                "experiment_ids": [experiment.id],
                "filter": filter or None,
                "order_by": _order_clause(order),
                "max_results": size,
                "page_token": page_token,
                "view": view,
            },
        )
        runs = [_convert.run(r) for r in answer["runs"]]
        next_token = answer.get("next_page_token")
    except ApiError as error:
        if error.status != 400:
            raise
        search_error = error  # a filter the grammar refuses: shown beside the box, table empty
    chosen = [c for c in (Column.parse(t) for t in (cols or "").split(",")) if c is not None]
    columns = chosen or _default_columns(runs)
    available = sorted(
        {f"metrics.{k}" for r in runs for k in r.metrics}
        | {f"params.{k}" for r in runs for k in r.params}
        | {f"tags.{k}" for r in runs for k in r.tags if not k.startswith("mlflow.log-model")}
    )
    state = {
        "filter": filter,
        "order": order,
        "cols": cols,
        "size": size if size != 100 else None,
        "view": view if view != "active" else None,
    }

    def link(**changes: Any) -> str:
        """This view's URL with ``changes``: sorting, paging and columns keep the rest."""
        merged = {k: v for k, v in {**state, **changes}.items() if v not in (None, "")}
        return f"/studio/experiments/{experiment.id}" + (f"?{urlencode(merged)}" if merged else "")

    def sort_link(column: str) -> str:
        current = _order_clause(order)
        descending = f"{column} DESC"
        return link(order=f"{column} ASC" if current[:1] == [descending] else descending, page_token=None)

    template = "runs_table.html" if request.headers.get("hx-request") else "experiment.html"
    return render(
        request, template, api=api, title=experiment.name, experiment=experiment, runs=runs,
        columns=columns, available=available, filter=filter or "", order=order or "",
        cols=",".join(c.name for c in chosen), size=size, sizes=PAGE_SIZES, view=view,
        page_token=page_token, next_page_token=next_token, search_error=search_error,
        cell=run_cell, link=link, sort_link=sort_link,
    )  # fmt: skip
