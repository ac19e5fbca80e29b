"""A model card: one version's lineage, metrics and parameters, its evaluation against a
baseline, its approvals and its alias history — as one self-contained HTML page (inline CSS,
printable, no script) or as Markdown for a pull request.

Pure data in, text out: ``shipyard model card`` (through the SDK) and the studio's card page
(through the API, as the caller) gather the same answers into a :class:`CardData` and render
it here. The evaluation is ``ci compare``'s table (:mod:`shipyard.domain.run_compare`).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from shipyard.domain.lineage import KINDS, Graph, Node, to_mermaid, to_svg
from shipyard.domain.registry import ModelEvent, ModelVersion
from shipyard.domain.run_compare import DASH, Side, fmt_value, metric_rows, side_from_run
from shipyard.domain.tracking import Run

__all__ = ["ALIAS_ACTIONS", "CardData", "baseline_of", "to_html", "to_markdown"]

ALIAS_ACTIONS = ("alias_set", "alias_deleted")
CHAMPION = "champion"


@dataclass(frozen=True, slots=True)
class CardData:
    version: ModelVersion
    server_url: str
    run: Run | None = None
    graph: Graph | None = None
    events: list[ModelEvent] = field(default_factory=list)
    """The model's history, oldest first."""
    baseline: ModelVersion | None = None
    baseline_run: Run | None = None
    baseline_reason: str = ""
    notes: list[str] = field(default_factory=list)
    """What could not be read (a section the caller may not see, say)."""


def baseline_of(
    version: ModelVersion, aliases: dict[str, int], events: Sequence[ModelEvent], numbers: Sequence[int]
) -> tuple[int | None, str]:
    """The version to evaluate ``version`` against, and why: the one ``champion`` pointed at
    before this version took it; else the champion now, when it is another version; else the
    previous version of the model."""
    for event in reversed(events):
        if (
            event.action == "alias_set"
            and event.version == version.version
            and event.detail.get("alias") == CHAMPION
            and event.detail.get("previous_version") not in (None, version.version)
        ):
            before = int(event.detail["previous_version"])
            return before, f"version {before}, @{CHAMPION} before version {version.version} took it"
    champion = aliases.get(CHAMPION)
    if champion is not None and champion != version.version:
        return champion, f"version {champion}, the current @{CHAMPION}"
    older = [n for n in numbers if n < version.version]
    if older:
        return max(older), f"version {max(older)}, the previous version"
    return None, "none: this is the model's first version and no other holds @champion"


def _when(ms: int | None) -> str:
    if not ms:
        return DASH
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _sides(card: CardData) -> tuple[Side, Side, list[str]] | None:
    if card.run is None or card.baseline_run is None or card.baseline is None:
        return None
    candidate = side_from_run(f"v{card.version.version}", "candidate", card.run, card.server_url)
    baseline = side_from_run(
        f"v{card.baseline.version} (baseline)", "baseline", card.baseline_run, card.server_url
    )
    metrics = sorted(set(candidate.metrics) | set(baseline.metrics))
    return candidate, baseline, metrics


def _event_text(event: ModelEvent) -> str:
    detail = {k: v for k, v in event.detail.items() if v not in (None, "", {}, [])}
    parts = [f"{k}={v}" for k, v in sorted(detail.items())]
    return ", ".join(parts)


def _approvals(card: CardData) -> list[ModelEvent]:
    return [e for e in card.events if e.action.startswith("promotion_")]


def _alias_events(card: CardData) -> list[ModelEvent]:
    return [e for e in card.events if e.action in ALIAS_ACTIONS]


def _facts(card: CardData) -> list[tuple[str, str]]:
    v = card.version
    facts = [
        ("Model", f"{v.name} version {v.version}"),
        ("Status", v.status),
        ("Stage", v.stage),
        ("Aliases", ", ".join(f"@{a}" for a in v.aliases) or DASH),
        ("Source", v.source),
        ("Run", v.run_id or DASH),
        ("Registered", f"{_when(v.created_at)} by {v.created_by}"),
    ]
    if card.run is not None:
        commit = card.run.tags.get("mlflow.source.git.commit") or card.run.tags.get(
            "shipyard.source.git.commit"
        )
        facts.append(("Git commit", commit or DASH))
    return facts


def _lineage_rows(graph: Graph) -> list[Node]:
    order = {kind: i for i, kind in enumerate(KINDS)}
    return sorted(graph.nodes, key=lambda n: (order.get(n.kind, 99), n.id))


def _node_facts(node: Node) -> str:
    if node.unresolved:
        return "unresolved: not held on this server"
    keys = ("status", "state", "code_digest", "environment_hash", "git_commit", "content_hash", "target")
    return ", ".join(f"{k}={node.attrs[k]}" for k in keys if node.attrs.get(k))


# -- Markdown ----------------------------------------------------------------------------------


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(_md(h) for h in head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(_md(c) for c in row) + " |" for row in rows),
        "",
    ]


def to_markdown(card: CardData) -> str:
    v = card.version
    lines = [f"# Model card: {v.name} version {v.version}", ""]
    if v.description:
        lines += [v.description, ""]
    lines += _md_table(["", ""], [[k, val] for k, val in _facts(card)])
    lines += ["## Lineage", ""]
    if card.graph is not None:
        lines += ["```mermaid", to_mermaid(card.graph).rstrip(), "```", ""]
        lines += _md_table(
            ["Node", "Kind", "Facts"], [[n.id, n.kind, _node_facts(n)] for n in _lineage_rows(card.graph)]
        )
    else:
        lines += ["Not available.", ""]
    lines += _md_metrics(card)
    lines += ["## Evaluation against the baseline", "", f"Baseline: {card.baseline_reason}", ""]
    sides = _sides(card)
    if sides is not None:
        candidate, baseline, metrics = sides
        lines += _md_table(
            ["Category", "Run ID", "SHA", *metrics, "Runtime"], metric_rows(candidate, baseline, metrics)
        )
    lines += ["## Approvals", ""]
    approvals = _approvals(card)
    lines += (
        _md_table(
            ["When", "Action", "Version", "Actor", "Detail"],
            [[_when(e.at), e.action, str(e.version or DASH), e.actor, _event_text(e)] for e in approvals],
        )
        if approvals
        else ["No approval recorded.", ""]
    )
    lines += ["## Alias history", ""]
    aliases = _alias_events(card)
    lines += (
        _md_table(
            ["When", "Action", "Version", "Actor", "Detail"],
            [[_when(e.at), e.action, str(e.version or DASH), e.actor, _event_text(e)] for e in aliases],
        )
        if aliases
        else ["No alias was ever set.", ""]
    )
    lines += [f"- {note}" for note in card.notes]
    return "\n".join(lines).rstrip() + "\n"


def _md_metrics(card: CardData) -> list[str]:
    lines = ["## Metrics and parameters", ""]
    if card.run is None:
        return [*lines, "No run: this version was not registered from a run this server holds.", ""]
    metrics = [[k, fmt_value(m.value)] for k, m in sorted(card.run.metrics.items())]
    params = [[k, val] for k, val in sorted(card.run.params.items())]
    lines += _md_table(["Metric", "Value"], metrics) if metrics else ["No metrics.", ""]
    lines += _md_table(["Parameter", "Value"], params) if params else ["No parameters.", ""]
    return lines


# -- HTML ----------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#111;margin:2rem auto;max-width:64rem;
padding:0 1rem;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}
h2{font-size:1.15rem;border-bottom:1px solid #ccd;padding-bottom:.2rem;margin-top:1.8rem}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:.9rem}th,td{border:1px solid #d6d9e0;
padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f3f4f7}
td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.85em}
.muted{color:#667}.graph{overflow-x:auto;border:1px solid #e1e4ea;padding:.4rem;margin:.4rem 0}
footer{margin-top:2rem;font-size:.8rem;color:#667}
@media print{body{margin:0;max-width:none}a{color:inherit;text-decoration:none}h2{break-after:avoid}
.graph{overflow:visible}.graph svg{max-width:100%;height:auto}
table,svg{break-inside:avoid}}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _html_table(
    head: list[str], rows: list[list[str]], *, numeric_from: int | None = None, id_: str = ""
) -> str:
    cells = "".join(f"<th scope='col'>{_e(h)}</th>" for h in head)
    body = []
    for row in rows:
        tds = "".join(
            f"<td class='num'>{_e(c)}</td>"
            if numeric_from is not None and i >= numeric_from
            else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{tds}</tr>")
    ident = f" id='{_e(id_)}'" if id_ else ""
    return f"<table{ident}><thead><tr>{cells}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _events_html(events: list[ModelEvent], empty: str, id_: str) -> str:
    if not events:
        return f"<p class='muted' id='{id_}'>{_e(empty)}</p>"
    rows = [[_when(e.at), e.action, str(e.version or DASH), e.actor, _event_text(e)] for e in events]
    return _html_table(["When", "Action", "Version", "Actor", "Detail"], rows, id_=id_)


def to_html(card: CardData) -> str:
    """One printable page; links point at the studio of ``card.server_url``."""
    v = card.version
    base = card.server_url.rstrip("/")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Model card: {_e(v.name)} v{v.version}</title><style>{_CSS}</style></head><body>",
        f"<h1>Model card: {_e(v.name)} <span class='muted'>version {v.version}</span></h1>",
        f"<p>{_e(v.description)}</p>" if v.description else "",
        "<table id='facts'><tbody>",
        *(f"<tr><th scope='row'>{_e(k)}</th><td>{_e(val)}</td></tr>" for k, val in _facts(card)),
        "</tbody></table>",
        "<h2 id='lineage'>Lineage</h2>",
    ]
    if card.graph is not None:
        parts.append(f"<div class='graph'>{to_svg(card.graph, base=base)}</div>")
        rows = [[n.id, n.kind, _node_facts(n)] for n in _lineage_rows(card.graph)]
        parts.append(_html_table(["Node", "Kind", "Facts"], rows, id_="lineage-nodes"))
    else:
        parts.append("<p class='muted'>Not available.</p>")
    parts.append("<h2 id='metrics'>Metrics and parameters</h2>")
    if card.run is None:
        parts.append(
            "<p class='muted'>No run: this version was not registered from a run this server holds.</p>"
        )
    else:
        metrics = [[k, fmt_value(m.value)] for k, m in sorted(card.run.metrics.items())]
        params = [[k, val] for k, val in sorted(card.run.params.items())]
        parts.append(
            _html_table(["Metric", "Value"], metrics, numeric_from=1, id_="run-metrics")
            if metrics
            else "<p class='muted'>No metrics.</p>"
        )
        parts.append(
            _html_table(["Parameter", "Value"], params, id_="run-params")
            if params
            else "<p class='muted'>No parameters.</p>"
        )
    parts.append(
        f"<h2 id='evaluation'>Evaluation against the baseline</h2><p>Baseline: {_e(card.baseline_reason)}</p>"
    )
    sides = _sides(card)
    if sides is not None:
        candidate, baseline, compared = sides
        parts.append(
            _html_table(
                ["Category", "Run ID", "SHA", *compared, "Runtime"],
                metric_rows(candidate, baseline, compared),
                numeric_from=3,
                id_="evaluation-table",
            )
        )
    parts.append("<h2 id='approvals'>Approvals</h2>")
    parts.append(_events_html(_approvals(card), "No approval recorded.", "approval-events"))
    parts.append("<h2 id='aliases'>Alias history</h2>")
    parts.append(_events_html(_alias_events(card), "No alias was ever set.", "alias-events"))
    parts += [f"<p class='muted'>{_e(note)}</p>" for note in card.notes]
    page = f"{base}/studio/models/{quote(v.name, safe='')}/versions/{v.version}"
    parts.append(f"<footer>Shipyard model card · <a href='{_e(page)}'>{_e(page)}</a></footer></body></html>")
    return "".join(parts) + "\n"
