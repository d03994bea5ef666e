"""Pictures of a pipeline: Mermaid and Graphviz DOT text, images through Graphviz, and notebook
displays.

Both renderers draw the same model, a :class:`Picture`: the nodes in ranks by DAG level, drawn
left to right, so a picture reads in run order (every edge points right); each task filled in
its executor's colour, named in a legend, instead of boxed per executor (boxes pull an
executor's tasks together across levels and make the flow zig-zag); sources and sinks as
storage cylinders labelled with the bucket address; a dashed "staged" edge wherever a frame
crosses a process boundary as Parquet instead of staying a fused LazyFrame. Output is
deterministic: nodes follow the DAG's topological order and executors their first appearance.
"""

from __future__ import annotations

import html as html_lib
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from glacier.core.dag import SinkNode, SourceNode, TaskNode
from glacier.errors import ConfigError, GlacierError
from glacier.identifiers import UniqueIdentifiers
from glacier.resources.graph import BoundPipeline
from glacier.runtime.plan import flow_for

GraphFormat = Literal["mermaid", "dot"]
IMAGE_FORMATS = ("svg", "png", "pdf", "jpg", "jpeg", "gif", "webp")
"""What Graphviz writes from the DOT text (``dot -T<format>``), each its own file extension."""

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


class GraphvizMissing(GlacierError):
    """An image was asked for, and Graphviz's ``dot`` command is not installed."""


@dataclass(frozen=True)
class VizExecutor:
    id: str
    """``ex<i>``: the i-th executor to appear, its colour class in Mermaid and HTML."""
    name: str
    label: str
    fill: str
    stroke: str


@dataclass(frozen=True)
class VizNode:
    id: str
    """Sanitized: letters, digits and underscores only, unique within the picture."""
    label: str
    executor: VizExecutor | None
    """Where a task runs; None for a source or sink, which are storage, not compute."""

    @property
    def storage(self) -> bool:
        return self.executor is None


@dataclass(frozen=True)
class VizEdge:
    src: str
    dst: str
    staged: bool


@dataclass(frozen=True)
class Picture:
    """What every renderer draws; built once from a pipeline by :func:`picture`."""

    title: str
    executors: tuple[VizExecutor, ...]
    ranks: tuple[tuple[VizNode, ...], ...]
    """The nodes by DAG level: a node's inputs are all in earlier ranks."""
    edges: tuple[VizEdge, ...]

    @property
    def nodes(self) -> tuple[VizNode, ...]:
        return tuple(node for rank in self.ranks for node in rank)


def executor_styles(executors: Iterable[tuple[str, str]]) -> dict[str, VizExecutor]:
    """Colours for ``(name, label)`` pairs in order of first appearance, keyed by name: the one
    assignment of colours, so a run's page colours each executor as its pipeline's graph does."""
    styles: dict[str, VizExecutor] = {}
    for name, label in executors:
        if name not in styles:
            fill, stroke = PALETTE[len(styles) % len(PALETTE)]
            styles[name] = VizExecutor(f"ex{len(styles)}", name, label, fill, stroke)
    return styles


def picture(pipeline: BoundPipeline) -> Picture:
    dag = pipeline.dag
    # An edge stays in memory or is staged by the edges alone: no backend is asked.
    memory = flow_for(pipeline).memory
    styles = executor_styles(
        (node.executor.name, node.executor.label)
        for node_id in dag.topological_order()
        if isinstance(node := dag[node_id], TaskNode)
    )
    ids = UniqueIdentifiers()
    node_ids: dict[str, str] = {}
    ranks: list[tuple[VizNode, ...]] = []
    for level in dag.levels():
        rank = []
        for node_id in level:
            match node := dag[node_id]:
                case TaskNode(executor=executor):
                    viz_node = VizNode(ids.take("t_" + node_id), node.label, styles[executor.name])
                case SourceNode() | SinkNode():
                    prefix = "src_" if isinstance(node, SourceNode) else "sink_"
                    viz_node = VizNode(ids.take(prefix + node.label), node.label, None)
            node_ids[node_id] = viz_node.id
            rank.append(viz_node)
        ranks.append(tuple(rank))
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
    return Picture(pipeline.name, tuple(styles.values()), tuple(ranks), edges)


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
    """A flowchart whose nodes are declared rank by rank (Mermaid ranks by the edges itself),
    and a legend: one node per executor in its colour, apart from the flow."""
    lines = ["flowchart LR"]
    for node in pic.nodes:
        if node.executor is None:
            lines.append(f"    {node.id}[({mermaid_label(node.label)})]:::storage")
        else:
            lines.append(f"    {node.id}[{mermaid_label(node.label)}]:::{node.executor.id}")
    for edge in pic.edges:
        arrow = "-. staged .->" if edge.staged else "-->"
        lines.append(f"    {edge.src} {arrow} {edge.dst}")
    lines.append('    subgraph legend["executors"]')
    lines.append("        direction TB")
    lines.extend(
        f"        legend_{ex.id}[{mermaid_label(ex.label)}]:::{ex.id}" for ex in pic.executors
    )
    lines.append("    end")
    fill, stroke = STORAGE_STYLE
    lines.append(f"    classDef storage fill:{fill},stroke:{stroke}")
    lines.extend(f"    classDef {ex.id} fill:{ex.fill},stroke:{ex.stroke}" for ex in pic.executors)
    lines.append("    style legend fill:#ffffff,stroke:#cbd5e1")
    return "\n".join(lines) + "\n"


# --- Graphviz DOT -----------------------------------------------------------------------------


def dot_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def dot(pic: Picture) -> str:
    """Left to right with one ``rank=same`` group per DAG level, so Graphviz keeps every level
    in its own column; the title and the executors' legend are the graph's label."""
    fill, stroke = STORAGE_STYLE
    lines = [
        f"digraph {dot_string(pic.title)} {{",
        '    rankdir=LR; newrank=true; ranksep=0.6; fontname="Helvetica";',
        f"    label=<{_dot_legend(pic)}>; labelloc=b; labeljust=l;",
        '    node [fontname="Helvetica", style=filled];',
        '    edge [fontname="Helvetica", fontsize=10];',
    ]
    for rank in pic.ranks:
        lines.append("    { rank=same;")
        for node in rank:
            if node.executor is None:
                style = f'shape=cylinder, fillcolor="{fill}", color="{stroke}"'
            else:
                ex = node.executor
                style = f'shape=box, fillcolor="{ex.fill}", color="{ex.stroke}", penwidth=1.5'
            lines.append(f"        {node.id} [label={dot_string(node.label)}, {style}];")
        lines.append("    }")
    for edge in pic.edges:
        attrs = ' [style=dashed, label="staged"]' if edge.staged else ""
        lines.append(f"    {edge.src} -> {edge.dst}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_legend(pic: Picture) -> str:
    """An HTML-like table: the title, then one cell per executor in its colours."""
    cells = "".join(
        f'<td bgcolor="{ex.fill}" color="{ex.stroke}">{html_lib.escape(ex.label)}</td>'
        for ex in pic.executors
    )
    title = html_lib.escape(pic.title)
    span = max(len(pic.executors), 1)
    return (
        '<table border="0" cellborder="1" cellspacing="4" cellpadding="4">'
        f'<tr><td border="0" colspan="{span}" align="left"><b>{title}</b></td></tr>'
        f"<tr>{cells}</tr></table>"
    )


def image(dot_text: str, format: str) -> bytes:
    """``dot_text`` drawn by Graphviz as ``format`` (one of :data:`IMAGE_FORMATS`)."""
    if format not in IMAGE_FORMATS:
        raise ConfigError(
            f"Graphviz image format {format!r} is not supported. Use one of {IMAGE_FORMATS}."
        )
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissing(
            f"Writing a .{format} picture needs Graphviz's `dot` command, which is not on PATH. "
            "Install Graphviz (Debian/Ubuntu: `apt-get install graphviz`, macOS: "
            "`brew install graphviz`), or write the DOT text with `--out graph.dot`."
        )
    done = subprocess.run(
        [exe, f"-T{format}"], input=dot_text.encode(), capture_output=True, check=False
    )
    if done.returncode != 0:
        raise GlacierError(
            f"Graphviz could not draw the pipeline (`dot -T{format}` exited "
            f"{done.returncode}): {done.stderr.decode(errors='replace').strip()}"
        )
    return done.stdout


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
