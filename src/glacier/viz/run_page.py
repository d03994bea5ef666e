"""One run as one self-contained HTML page: the DAG coloured by status, and a timeline of the
tasks per executor.

Drawn from the run's ``report.json`` alone (each task records its inputs and when its unit
started and ended), so ``glacier report RUN_ID --html`` needs neither the pipeline's code nor
Graphviz, and the page loads nothing: the CSS and the SVG are inline and there is no script.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

from glacier.identifiers import UniqueIdentifiers
from glacier.viz import STORAGE_STYLE, Picture, VizEdge, VizNode, executor_styles

STATUSES = ("succeeded", "failed", "cached", "skipped", "retrying", "running", "pending")
"""Every task status, each with its ``status-<name>`` colour class on the page."""

# The DAG's geometry, in SVG pixels.
CHAR_WIDTH, NODE_HEIGHT, NODE_PAD = 7.4, 40, 28
ROW_GAP, COLUMN_GAP, MARGIN, STRIPE = 16, 64, 16, 6

CSS = (
    """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  color: #0f172a; margin: 24px; background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.meta { color: #475569; margin: 0; } .error { color: #b91c1c; white-space: pre-wrap; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 14px; margin: 8px 0; font-size: 12px; }
.legend span { display: inline-flex; align-items: center; gap: 5px; }
.swatch { width: 12px; height: 12px; border-radius: 3px; border: 1px solid #64748b; }
svg.dag { max-width: 100%; height: auto; }
svg.dag text { font: 13px system-ui, Helvetica, Arial, sans-serif; fill: #0f172a; }
svg.dag text.sub { font-size: 10px; fill: #475569; }
svg.dag .edge { fill: none; stroke: #64748b; stroke-width: 1.4; }
svg.dag .edge.staged { stroke-dasharray: 5 4; }
svg.dag .node rect.box { stroke: #334155; stroke-width: 1; }
.status-succeeded { fill: #bbf7d0; background: #22c55e; }
.status-failed { fill: #fecaca; background: #ef4444; }
.status-cached { fill: #bae6fd; background: #38bdf8; }
.status-skipped { fill: #e2e8f0; background: #94a3b8; }
.status-retrying, .status-running, .status-pending { fill: #fef08a; background: #eab308; }
.timeline { border-top: 1px solid #e2e8f0; }
.lane { border-bottom: 1px solid #e2e8f0; padding: 6px 0; }
.lane h3 { font-size: 13px; margin: 0 0 4px; display: flex; align-items: center; gap: 6px; }
.row { display: grid; grid-template-columns: 220px 1fr; align-items: center; height: 24px; }
.row .name { font-size: 12px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  padding-right: 8px; }
.track { position: relative; height: 16px; background: #f8fafc; border-radius: 3px; }
.bar { position: absolute; top: 0; height: 16px; min-width: 3px; border-radius: 3px; }
.bar-label { position: absolute; top: 0; font-size: 11px; line-height: 16px; color: #334155;
  padding-left: 4px; white-space: nowrap; }
.axis { position: relative; height: 18px; margin-left: 220px; font-size: 11px; color: #64748b; }
.axis span { position: absolute; transform: translateX(-50%); }
.note { font-size: 12px; color: #64748b; }
table { border-collapse: collapse; font-size: 12px; }
td, th { border-bottom: 1px solid #e2e8f0; padding: 3px 10px 3px 0; text-align: left; }
"""
    + f"svg.dag rect.source {{ fill: {STORAGE_STYLE[0]}; stroke: {STORAGE_STYLE[1]}; }}\n"
)


def run_page(report: Mapping[str, Any]) -> str:
    """The page for one run's report (as :func:`glacier.runtime.report.load_report` reads it)."""
    tasks: list[Mapping[str, Any]] = report["tasks"]
    pic = report_picture(report)
    state = "ok" if report["ok"] else "failed"
    error = report.get("error")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(report['pipeline'])} run {_e(report['run_id'])}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{_e(report['pipeline'])}: run {_e(report['run_id'])}</h1>",
        f'<p class="meta">{state} in {report["seconds"]:.2f} s, started {_e(report["started"])}'
        f", {len(tasks)} tasks</p>",
        f'<p class="error">{_e(error)}</p>' if error else "",
        "<h2>Graph</h2>",
        _legend(pic, tasks),
        svg(pic, report),
        "<h2>Timeline</h2>",
        '<p class="note">A bar runs from when the task\'s unit was submitted to when its result '
        "came back, worker start and hand-off included; the graph gives each task's own "
        "seconds. Tasks fused into one unit share its bar.</p>",
        _timeline(pic, report),
        "<h2>Tasks</h2>",
        _table(tasks),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def report_picture(report: Mapping[str, Any]) -> Picture:
    """The run's graph as a :class:`Picture`: its tasks and sinks, and the sources they read
    (the inputs without a record), ranked by level; an edge is staged where its producer's
    output was."""
    tasks = {t["name"]: t for t in report["tasks"]}
    styles = executor_styles((t["executor"], _executor_label(t)) for t in tasks.values())
    ids = UniqueIdentifiers()
    node_ids: dict[str, str] = {}
    level: dict[str, int] = {}
    nodes: dict[str, VizNode] = {}
    for name in (i for t in tasks.values() for i in t.get("inputs", ()) if i not in tasks):
        if name not in nodes:
            nodes[name] = VizNode(node_ids.setdefault(name, ids.take("src_" + name)), name, None)
            level[name] = 0
    for name, task in tasks.items():
        node_ids[name] = ids.take(("sink_" if task["kind"] == "sink" else "t_") + name)
        executor = None if task["kind"] == "sink" else styles[task["executor"]]
        nodes[name] = VizNode(node_ids[name], name, executor)
        level[name] = 1 + max((level[i] for i in task.get("inputs", ())), default=-1)
    ranks: list[list[str]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for name in nodes:
        ranks[level[name]].append(name)
    _order_by_inputs(ranks, tasks)
    edges = tuple(
        VizEdge(node_ids[src], node_ids[name], staged=tasks.get(src, {}).get("handoff") == "staged")
        for name, task in tasks.items()
        for src in task.get("inputs", ())
    )
    return Picture(
        report["pipeline"],
        tuple(styles.values()),
        tuple(tuple(nodes[n] for n in rank) for rank in ranks),
        edges,
    )


def svg(pic: Picture, report: Mapping[str, Any]) -> str:
    """The picture as an inline SVG: rank ``i`` in column ``i``; a task filled by its status,
    with a stripe in its executor's colour; each edge a curve from left to right."""
    records = {t["name"]: t for t in report["tasks"]}
    by_id = {n.id: n for n in pic.nodes}
    widths = [max((_node_width(n.label) for n in rank), default=0.0) for rank in pic.ranks]
    height = max((len(rank) for rank in pic.ranks), default=0) * (NODE_HEIGHT + ROW_GAP)
    where: dict[str, tuple[float, float, float]] = {}  # node id -> x, y, width
    x: float = MARGIN
    for rank, width in zip(pic.ranks, widths, strict=True):
        top = MARGIN + (height - len(rank) * (NODE_HEIGHT + ROW_GAP)) / 2
        for i, node in enumerate(rank):
            where[node.id] = (x, top + i * (NODE_HEIGHT + ROW_GAP), width)
        x += width + COLUMN_GAP
    total_w, total_h = x - COLUMN_GAP + MARGIN, height - ROW_GAP + 2 * MARGIN
    out = [
        f'<svg class="dag" xmlns="http://www.w3.org/2000/svg" width="{total_w:.0f}" '
        f'height="{total_h:.0f}" viewBox="0 0 {total_w:.0f} {total_h:.0f}" role="img" '
        f'aria-label="{_e(pic.title)}">'
    ]
    for edge in pic.edges:
        (x1, y1, w1), (x2, y2, _) = where[edge.src], where[edge.dst]
        sx, sy, ex, ey = x1 + w1, y1 + NODE_HEIGHT / 2, x2, y2 + NODE_HEIGHT / 2
        mid = (sx + ex) / 2
        out.append(
            f'<path class="edge{" staged" if edge.staged else ""}" '
            f'data-src="{_e(by_id[edge.src].label)}" data-dst="{_e(by_id[edge.dst].label)}" '
            f'd="M{sx:.1f},{sy:.1f} C{mid:.1f},{sy:.1f} {mid:.1f},{ey:.1f} {ex - 7:.1f},{ey:.1f}"/>'
            f'<path d="M{ex - 8:.1f},{ey - 4:.1f} L{ex:.1f},{ey:.1f} L{ex - 8:.1f},{ey + 4:.1f} z" '
            'fill="#64748b"/>'
        )
    for node in pic.nodes:
        nx, ny, width = where[node.id]
        record = records.get(node.label)
        out.append(_svg_node(node, record, nx, ny, width))
    out.append("</svg>")
    return "".join(out)


def _svg_node(
    node: VizNode, record: Mapping[str, Any] | None, x: float, y: float, width: float
) -> str:
    status = None if record is None else str(record["status"])
    classes = ["node", "storage" if node.storage else "task"]
    box = "box source" if status is None else f"box status-{status}"
    sub = "source" if record is None else _node_summary(record)
    tip = node.label if record is None else f"{node.label}: {_summary_line(record)}"
    parts = [
        f'<g class="{" ".join(classes)}" data-node="{_e(node.label)}"'
        f"{f' data-status={_q(status)}' if status else ''}>",
        f"<title>{_e(tip)}</title>",
        f'<rect class="{box}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
        f'height="{NODE_HEIGHT}" rx="{14 if node.storage else 5}"/>',
    ]
    if node.executor is not None:
        parts.append(
            f'<rect class="stripe {node.executor.id}" x="{x:.1f}" y="{y:.1f}" width="{STRIPE}" '
            f'height="{NODE_HEIGHT}" rx="2" fill="{node.executor.stroke}"/>'
        )
    tx = x + STRIPE + 8
    parts.append(f'<text x="{tx:.1f}" y="{y + 17:.1f}">{_e(node.label)}</text>')
    parts.append(f'<text class="sub" x="{tx:.1f}" y="{y + 31:.1f}">{_e(sub)}</text></g>')
    return "".join(parts)


def _timeline(pic: Picture, report: Mapping[str, Any]) -> str:
    """One lane per executor, one row per task in it: a bar from when its unit started to when
    it ended, in the task's status colour, on one time axis for the whole run."""
    tasks: list[Mapping[str, Any]] = report["tasks"]
    if not any("started" in t for t in tasks):
        return '<p class="note">This report has no start times (written by an older Glacier).</p>'
    ends = [t["ended"] for t in tasks if t.get("ended") is not None]
    span = max([report["seconds"], *ends]) or 1.0
    out = ['<div class="timeline">', _axis(span)]
    for executor in pic.executors:
        out.append(
            f'<section class="lane" data-executor="{_e(executor.name)}"><h3>'
            f'<span class="swatch" style="background:{executor.stroke}"></span>'
            f"{_e(executor.label)}</h3>"
        )
        for task in (t for t in tasks if t["executor"] == executor.name):
            out.append(_timeline_row(task, span))
        out.append("</section>")
    out.append("</div>")
    return "".join(out)


def _timeline_row(task: Mapping[str, Any], span: float) -> str:
    name, status = task["name"], str(task["status"])
    row = f'<div class="row" data-task="{_e(name)}"><span class="name" title="{_e(name)}">'
    row += f'{_e(name)}</span><div class="track">'
    start, end = task.get("started"), task.get("ended")
    if start is None:
        label = "cached, not run" if status == "cached" else f"{status}, not run"
        return row + f'<span class="bar-label">{label}</span></div></div>'
    end = start if end is None else end
    left, width = 100 * start / span, 100 * max(end - start, 0.0) / span
    tip = f"{name}: {status}, {start:.3f} s to {end:.3f} s"
    return row + (
        f'<div class="bar status-{status}" data-start="{start}" data-end="{end}" '
        f'style="left:{left:.3f}%;width:{width:.3f}%" title="{_e(tip)}"></div>'
        f'<span class="bar-label" style="{_label_place(left, width)}">'
        f"{end - start:.2f} s</span></div></div>"
    )


def _label_place(left: float, width: float) -> str:
    """After the bar, or before it when the bar ends near the right edge."""
    if left + width <= 85:
        return f"left:{left + width:.3f}%"
    return f"right:{100 - left:.3f}%;padding-right:4px"


def _axis(span: float) -> str:
    step = _nice_step(span / 5)
    ticks = []
    t = 0.0
    while t <= span + 1e-9:
        ticks.append(f'<span style="left:{100 * t / span:.3f}%">{t:g} s</span>')
        t = round(t + step, 9)
    return f'<div class="axis">{"".join(ticks)}</div>'


def _nice_step(raw: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``raw``."""
    power = 10.0 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _legend(pic: Picture, tasks: list[Mapping[str, Any]]) -> str:
    present = [s for s in STATUSES if any(str(t["status"]) == s for t in tasks)]
    items = [
        f'<span><span class="swatch" style="background:{ex.stroke}"></span>{_e(ex.label)}</span>'
        for ex in pic.executors
    ] + [f'<span><span class="swatch status-{s}"></span>{s}</span>' for s in present]
    return f'<div class="legend">{"".join(items)}</div>'


def _table(tasks: list[Mapping[str, Any]]) -> str:
    head = ("task", "executor", "status", "attempts", "seconds", "rows", "error")
    rows = [
        "<tr>"
        + "".join(f"<td>{_e(_cell(t.get(c if c != 'task' else 'name')))}</td>" for c in head)
        + "</tr>"
        for t in tasks
    ]
    header = "".join(f"<th>{c}</th>" for c in head)
    return f'<table class="tasks"><tr>{header}</tr>{"".join(rows)}</table>'


def _order_by_inputs(ranks: list[list[str]], tasks: Mapping[str, Mapping[str, Any]]) -> None:
    """Sort each rank by the mean row of its nodes' inputs, so edges cross less."""
    row: dict[str, int] = {}
    for rank in ranks:
        order = {name: i for i, name in enumerate(rank)}

        def mean_input_row(name: str, order: dict[str, int] = order) -> float:
            inputs = [row[i] for i in tasks.get(name, {}).get("inputs", ()) if i in row]
            return sum(inputs) / len(inputs) if inputs else order[name]

        rank.sort(key=mean_input_row)
        row.update((name, i) for i, name in enumerate(rank))


def _executor_label(task: Mapping[str, Any]) -> str:
    return f"{task['executor']} ({task['executor_kind']})"


def _node_summary(record: Mapping[str, Any]) -> str:
    status = str(record["status"])
    if record.get("started") is None:
        return status
    return f"{status} · {record['seconds']:.2f} s"


def _summary_line(record: Mapping[str, Any]) -> str:
    rows = record.get("rows")
    text = f"{record['status']} on {_executor_label(record)}, {record['attempts']} attempt(s)"
    text += f", {record['seconds']:.3f} s" + (f", {rows} rows" if rows is not None else "")
    return text + (f"; {record['error']}" if record.get("error") else "")


def _node_width(label: str) -> float:
    return max(len(label), 12) * CHAR_WIDTH + NODE_PAD + STRIPE


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _e(text: object) -> str:
    return html.escape(str(text))


def _q(text: str) -> str:
    return f'"{_e(text)}"'
