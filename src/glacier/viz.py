"""Pictures of a pipeline: Mermaid and Graphviz DOT text, and notebook displays.

Both renderers draw the same model: one group (subgraph / cluster) per executor, coloured per
executor; sources and sinks as storage cylinders labelled with the bucket address, outside the
groups because buckets are storage, not compute; a dashed "staged" edge wherever a frame crosses
a process boundary as Parquet instead of staying a fused LazyFrame. Output is deterministic:
nodes follow the DAG's topological order and executors their first appearance.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from glacier.core.dag import SinkNode, SourceNode, TaskNode
from glacier.errors import ConfigError
from glacier.identifiers import UniqueIdentifiers
from glacier.resources.executor import Executor
from glacier.resources.graph import BoundPipeline
from glacier.runtime.plan import flow_for

GraphFormat = Literal["mermaid", "dot"]

# (fill, stroke) per executor, in order of first appearance; wraps around after the last one.
PALETTE: tuple[tuple[str, str], ...] = (
    ("#dbeafe", "#1d4ed8"),
    ("#dcfce7", "#15803d"),
    ("#fef3c7", "#b45309"),
    ("#fce7f3", "#be185d"),
    ("#ede9fe", "#6d28d9"),
    ("#cffafe", "#0e7490"),
    ("#fee2e2", "#b91c1c"),
    ("#e2e8f0", "#334155"),
)
STORAGE_STYLE = ("#f8fafc", "#475569")
MERMAID_MODULE = "https://cdn.jsdelivr.net/npm/mermaid@11/dist/mermaid.esm.min.mjs"


@dataclass(frozen=True)
class VizNode:
    id: str
    """Sanitized: letters, digits and underscores only, unique within the picture."""
    label: str
    storage: bool


@dataclass(frozen=True)
class VizGroup:
    id: str
    label: str
    fill: str
    stroke: str
    nodes: tuple[VizNode, ...]


@dataclass(frozen=True)
class VizEdge:
    src: str
    dst: str
    staged: bool


@dataclass(frozen=True)
class Picture:
    """What both renderers draw; built once from a pipeline by :func:`picture`."""

    title: str
    groups: tuple[VizGroup, ...]
    storage: tuple[VizNode, ...]
    edges: tuple[VizEdge, ...]


def picture(pipeline: BoundPipeline) -> Picture:
    dag = pipeline.dag
    # An edge stays in memory or is staged by the edges alone: no backend is asked.
    memory = flow_for(pipeline).memory
    ids = UniqueIdentifiers()
    node_ids: dict[str, str] = {}
    storage: list[VizNode] = []
    members: dict[str, list[VizNode]] = {}
    executors: dict[str, Executor] = {}
    for node_id in dag.topological_order():
        match node := dag[node_id]:
            case TaskNode(executor=executor):
                viz_node = VizNode(ids.take("t_" + node_id), node.label, storage=False)
                executors.setdefault(executor.name, executor)
                members.setdefault(executor.name, []).append(viz_node)
            case SourceNode() | SinkNode():
                prefix = "src_" if isinstance(node, SourceNode) else "sink_"
                viz_node = VizNode(ids.take(prefix + node.label), node.label, storage=True)
                storage.append(viz_node)
        node_ids[node_id] = viz_node.id
    groups = tuple(
        VizGroup(
            id=ids.take("ex_" + name),
            label=executor.label,
            fill=PALETTE[i % len(PALETTE)][0],
            stroke=PALETTE[i % len(PALETTE)][1],
            nodes=tuple(members[name]),
        )
        for i, (name, executor) in enumerate(executors.items())
    )
    edges = tuple(
        VizEdge(
            node_ids[src],
            node_ids[dst],
            staged=isinstance(dag[src], TaskNode)
            and src not in memory
            and not isinstance(dag[dst], SinkNode),
        )
        for src, dst in _ordered_edges(pipeline)
    )
    return Picture(pipeline.name, groups, tuple(storage), edges)


def render(pipeline: BoundPipeline, format: GraphFormat = "mermaid") -> str:
    """The pipeline as ``"mermaid"`` or ``"dot"`` text."""
    renderers: dict[str, Callable[[Picture], str]] = {"mermaid": mermaid, "dot": dot}
    if format not in renderers:
        raise ConfigError(
            f"Graph format {format!r} is not supported. Use one of {sorted(renderers)}."
        )
    return renderers[format](picture(pipeline))


# --- Mermaid ----------------------------------------------------------------------------------

# Mermaid reads "#code;" entities in labels; these characters would end a label early or be
# taken for markup. A line break would end the statement.
_MERMAID_ESCAPES = {c: f"#{ord(c)};" for c in '#"[](){}<>|`'} | {"\n": " ", "\r": " "}


def mermaid_label(text: str) -> str:
    return '"' + "".join(_MERMAID_ESCAPES.get(c, c) for c in text) + '"'


def mermaid(pic: Picture) -> str:
    lines = ["flowchart LR"]
    for node in pic.storage:
        lines.append(f"    {node.id}[({mermaid_label(node.label)})]:::storage")
    for i, group in enumerate(pic.groups):
        lines.append(f"    subgraph {group.id}[{mermaid_label(group.label)}]")
        lines.extend(f"        {n.id}[{mermaid_label(n.label)}]:::ex{i}" for n in group.nodes)
        lines.append("    end")
    for edge in pic.edges:
        arrow = "-. staged .->" if edge.staged else "-->"
        lines.append(f"    {edge.src} {arrow} {edge.dst}")
    fill, stroke = STORAGE_STYLE
    lines.append(f"    classDef storage fill:{fill},stroke:{stroke}")
    for i, group in enumerate(pic.groups):
        lines.append(f"    classDef ex{i} fill:{group.fill},stroke:{group.stroke}")
        lines.append(f"    style {group.id} fill:{group.fill}40,stroke:{group.stroke}")
    return "\n".join(lines) + "\n"


# --- Graphviz DOT -----------------------------------------------------------------------------


def dot_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def dot(pic: Picture) -> str:
    fill, stroke = STORAGE_STYLE
    lines = [
        f"digraph {dot_string(pic.title)} {{",
        "    rankdir=LR;",
        f"    label={dot_string(pic.title)};",
        '    node [fontname="Helvetica", style=filled];',
        '    edge [fontname="Helvetica"];',
    ]
    for node in pic.storage:
        lines.append(
            f"    {node.id} [label={dot_string(node.label)}, shape=cylinder, "
            f'fillcolor="{fill}", color="{stroke}"];'
        )
    for group in pic.groups:
        lines.append(f"    subgraph cluster_{group.id} {{")
        lines.append(f"        label={dot_string(group.label)};")
        lines.append(f'        style=filled; fillcolor="{group.fill}40"; color="{group.stroke}";')
        lines.extend(
            f"        {n.id} [label={dot_string(n.label)}, shape=box, "
            f'fillcolor="{group.fill}", color="{group.stroke}"];'
            for n in group.nodes
        )
        lines.append("    }")
    for edge in pic.edges:
        attrs = ' [style=dashed, label="staged"]' if edge.staged else ""
        lines.append(f"    {edge.src} -> {edge.dst}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- notebooks --------------------------------------------------------------------------------


def html(pipeline: BoundPipeline) -> str:
    """Mermaid drawn in the browser; where scripts do not run, the Mermaid text stays readable."""
    text = render(pipeline, "mermaid")
    return (
        '<div class="glacier-pipeline">'
        f'<pre class="mermaid glacier-mermaid">{html_lib.escape(text)}</pre>'
        '<script type="module">'
        f'import mermaid from "{MERMAID_MODULE}";'
        'mermaid.initialize({startOnLoad: false, securityLevel: "strict"});'
        'await mermaid.run({querySelector: "pre.glacier-mermaid:not([data-processed])"});'
        "</script></div>"
    )


def mimebundle(pipeline: BoundPipeline) -> dict[str, Any]:
    """Every representation a notebook may pick: text, Markdown with Mermaid, and HTML."""
    return {
        "text/plain": repr(pipeline),
        "text/markdown": f"```mermaid\n{render(pipeline, 'mermaid')}```\n",
        "text/html": html(pipeline),
    }


# --- helpers ----------------------------------------------------------------------------------


def _ordered_edges(pipeline: BoundPipeline) -> list[tuple[str, str]]:
    """Edges grouped by consumer in topological order, so the text does not depend on tracing."""
    dag = pipeline.dag
    return [(src, dst) for dst in dag.topological_order() for src in dag.predecessors(dst)]
