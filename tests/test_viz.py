"""Pictures of pipelines: every node and edge drawn, one group per executor, labels escaped."""

from __future__ import annotations

import html
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from glacier import Pipeline, Provider, pipeline, viz
from glacier.config import ClusterConfig, LocalConfig, ServerlessConfig
from glacier.core.dag import TaskNode
from glacier.errors import ConfigError
from glacier.loader import load_pipeline
from tests._cli_support import EXAMPLES

needs_graphviz = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's dot is not installed (scripts/install-browser-tools.sh installs it)",
)

ODD = 'odd "name" [x] {y} (z) <w> |v| #1'


def build(base: Path) -> Pipeline:
    """Source -> load (local) -> clean (serverless) fans out to two cluster tasks -> fan-in."""
    provider = Provider(config=LocalConfig(base_path=base))
    raw = provider.bucket(bucket="raw", path="sales/*.parquet")
    out = provider.bucket(bucket="curated", path='we "ird" [out].parquet')
    here = provider.local()
    fn = provider.serverless(config=ServerlessConfig(memory=512))
    spark = provider.cluster(config=ClusterConfig(workers=2), name=ODD)

    @here.task()
    def load(src: object) -> pl.LazyFrame:
        return pl.LazyFrame()

    @here.task()
    def prepare(df: pl.LazyFrame) -> pl.LazyFrame:
        return df

    @fn.task(name=ODD)
    def clean(df: pl.LazyFrame) -> pl.LazyFrame:
        return df

    @spark.task()
    def left(df: pl.LazyFrame) -> pl.LazyFrame:
        return df

    @spark.task()
    def right(df: pl.LazyFrame) -> pl.LazyFrame:
        return df

    @here.task()
    def join(a: pl.LazyFrame, b: pl.LazyFrame) -> pl.LazyFrame:
        return a

    @pipeline(name="viz_demo")
    def demo() -> pl.LazyFrame:
        cleaned = clean(prepare(load(raw)))
        joined = join(left(cleaned), right(cleaned))
        out.write(joined)
        return joined

    return demo


@pytest.fixture
def demo(tmp_path: Path) -> Pipeline:
    return build(tmp_path)


def unescape_mermaid(text: str) -> str:
    return re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), text)


MERMAID_NODE = re.compile(r'^\s+(\w+)(\[\(|\[)"([^"]*)"(\)\]|\]):::(\w+)$')
MERMAID_GROUP = re.compile(r'^\s+subgraph (\w+)\["([^"]*)"\]$')
MERMAID_EDGE = re.compile(r"^\s+(\w+) (-->|-\. staged \.->) (\w+)$")


def parse_mermaid(text: str) -> dict[str, Any]:
    """Nodes (id -> label, shape, class, group), groups, edges and classDefs (class -> fill);
    fails on any unknown line."""
    nodes: dict[str, tuple[str, str, str, str | None]] = {}
    groups: dict[str, str] = {}
    edges: list[tuple[str, str, bool]] = []
    classes: dict[str, str] = {}
    group: str | None = None
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    for line in lines[1:]:
        if m := MERMAID_NODE.match(line):
            shape = "cylinder" if m.group(2) == "[(" else "box"
            nodes[m.group(1)] = (unescape_mermaid(m.group(3)), shape, m.group(5), group)
        elif m := MERMAID_GROUP.match(line):
            group = m.group(1)
            groups[group] = unescape_mermaid(m.group(2))
        elif line.strip() == "end":
            group = None
        elif m := MERMAID_EDGE.match(line):
            edges.append((m.group(1), m.group(3), "staged" in m.group(2)))
        elif m := re.fullmatch(r"\s+classDef (\w+) fill:(#\w+),stroke:#\w+", line):
            classes[m.group(1)] = m.group(2)
        elif line.strip() in ("direction TB", "style legend fill:#ffffff,stroke:#cbd5e1"):
            pass
        else:
            raise AssertionError(f"unexpected Mermaid line: {line!r}")
    return {"nodes": nodes, "groups": groups, "edges": edges, "classes": classes}


def test_mermaid_draws_every_node_and_edge_coloured_by_executor_with_a_legend(
    demo: Pipeline,
) -> None:
    parsed = parse_mermaid(viz.render(demo, "mermaid"))
    dag = demo.dag
    # the flow is not boxed per executor: the one group is the legend, outside the flow
    assert parsed["groups"] == {"legend": "executors"}
    flow = {nid: n for nid, n in parsed["nodes"].items() if n[3] is None}
    legend = {n[0]: n[2] for n in parsed["nodes"].values() if n[3] == "legend"}
    assert len(flow) == len(dag)
    assert {label for label, *_ in flow.values()} == {n.label for n in dag}

    by_label = {label: (shape, cls) for label, shape, cls, _ in flow.values()}
    executors = {n.executor.label for n in dag if isinstance(n, TaskNode)}
    assert set(legend) == executors  # every executor named once, in its colour class
    for node in dag:
        shape, cls = by_label[node.label]
        if isinstance(node, TaskNode):
            assert (shape, cls) == ("box", legend[node.executor.label])
        else:
            assert (shape, cls) == ("cylinder", "storage")
    fills = [parsed["classes"][cls] for cls in legend.values()]
    assert len(set(fills)) == len(executors)  # one distinct colour per executor

    id_of = {label: nid for nid, (label, *_) in flow.items()}
    edges = parsed["edges"]
    assert {(s, d) for s, d, _ in edges} == {
        (id_of[dag[s].label], id_of[dag[d].label]) for s, d in dag.edges
    }
    assert len(edges) == len(dag.edges)


def test_mermaid_declares_nodes_level_by_level(demo: Pipeline) -> None:
    parsed = parse_mermaid(viz.render(demo, "mermaid"))
    declared = [label for label, _, _, group in parsed["nodes"].values() if group is None]
    dag = demo.dag
    assert declared == [dag[n].label for level in dag.levels() for n in level]


def test_staged_edges_mark_frames_that_leave_their_process(demo: Pipeline) -> None:
    parsed = parse_mermaid(viz.render(demo, "mermaid"))
    nodes = parsed["nodes"]
    assert isinstance(nodes, dict)
    label = {nid: lab for nid, (lab, *_) in nodes.items()}
    staged = {(label[s], label[d]) for s, d, st in parsed["edges"] if st}
    # load -> prepare is a same-executor chain (fused in memory); clean fans out to two tasks
    # on another executor; left/right cross into the local executor for the join.
    assert staged == {
        ("prepare", ODD),
        (ODD, "left"),
        (ODD, "right"),
        ("left", "join"),
        ("right", "join"),
    }


def test_mermaid_labels_are_escaped(demo: Pipeline) -> None:
    text = viz.render(demo, "mermaid")
    for line in text.splitlines():
        for label in re.findall(r'"([^"]*)"', line):
            assert not set(label) & set('"[](){}<>|'), line
    assert viz.mermaid_label('a "b" [c]') == '"a #34;b#34; #91;c#93;"'
    assert viz.mermaid_label("two\nlines") == '"two lines"'
    assert unescape_mermaid(viz.mermaid_label(ODD)[1:-1]) == ODD


def test_ids_are_sanitized_and_unique(demo: Pipeline) -> None:
    parsed = parse_mermaid(viz.render(demo, "mermaid"))
    ids = [*parsed["nodes"], *parsed["groups"]]
    assert all(re.fullmatch(r"[A-Za-z_]\w*", i, flags=re.ASCII) for i in ids)
    assert len(ids) == len(set(ids))


DOT_NODE = re.compile(r'^\s+(\w+) \[label="((?:[^"\\]|\\.)*)", shape=(\w+), fillcolor="(#\w+)"')
DOT_EDGE = re.compile(r"^\s+(\w+) -> (\w+)( \[style=dashed, label=\"staged\"\])?;$")


def dot_ranks(text: str) -> list[list[str]]:
    """The labels in each ``{ rank=same; ... }`` block, in order."""
    blocks = re.findall(r"\{ rank=same;\n(.*?)\n    \}", text, flags=re.S)
    return [
        [m.group(2).replace('\\"', '"') for line in b.splitlines() if (m := DOT_NODE.match(line))]
        for b in blocks
    ]


def test_dot_ranks_nodes_by_level_coloured_by_executor(demo: Pipeline) -> None:
    text = viz.render(demo, "dot")
    dag = demo.dag
    assert "subgraph" not in text  # no box per executor: boxes pull the levels apart
    assert dot_ranks(text) == [[dag[n].label for n in level] for level in dag.levels()]
    nodes = {
        m.group(2).replace('\\"', '"'): m for ln in text.splitlines() if (m := DOT_NODE.match(ln))
    }
    assert set(nodes) == {n.label for n in dag}
    fill_of: dict[str, str] = {}
    for node in dag:
        shape, fill = nodes[node.label].group(3, 4)
        if isinstance(node, TaskNode):
            assert shape == "box"
            assert fill_of.setdefault(node.executor.label, fill) == fill
        else:
            assert (shape, fill) == ("cylinder", viz.STORAGE_STYLE[0])
    assert len(set(fill_of.values())) == len(fill_of) == 3
    # the legend names every executor on its fill colour
    for label, fill in fill_of.items():
        assert f'<td bgcolor="{fill}" color="#' in text
        assert f">{html.escape(label)}</td>" in text
    edges = [m.groups() for line in text.splitlines() if (m := DOT_EDGE.match(line))]
    assert len(edges) == len(dag.edges)
    assert sum(1 for *_, staged in edges if staged) == 5


def plain_layout(dot_text: str) -> tuple[dict[str, float], list[tuple[str, str]]]:
    """Graphviz's own layout (``dot -Tplain``): each node's centre x, and the edges."""
    done = subprocess.run(
        ["dot", "-Tplain"], input=dot_text, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    x: dict[str, float] = {}
    edges = []
    for line in done.stdout.splitlines():
        fields = shlex.split(line)
        if fields[0] == "node":
            x[fields[1]] = float(fields[2])
        elif fields[0] == "edge":
            edges.append((fields[1], fields[2]))
    return x, edges


def heterogeneous() -> Pipeline:
    """The example whose executor boxes used to draw ``load`` to the right of ``clean``."""
    return load_pipeline(str(EXAMPLES / "heterogeneous_pipeline.py"))


@needs_graphviz
@pytest.mark.parametrize("make", [build, lambda _: heterogeneous()], ids=["demo", "example"])
def test_graphviz_lays_every_edge_left_to_right_and_each_level_in_one_column(
    make: Callable[[Path], Pipeline], tmp_path: Path
) -> None:
    pipe = make(tmp_path)
    text = viz.render(pipe, "dot")
    x, edges = plain_layout(text)
    assert len(x) == len(pipe.dag)
    assert len(edges) == len(pipe.dag.edges)
    backwards = [(s, d) for s, d in edges if not x[s] < x[d]]
    assert backwards == []
    pic = viz.picture(pipe)
    columns = [{x[n.id] for n in rank} for rank in pic.ranks]
    assert all(len(c) == 1 for c in columns)
    assert [c.pop() for c in columns] == sorted(x[r[0].id] for r in pic.ranks)


@needs_graphviz
def test_graphviz_parses_the_dot_and_keeps_labels(demo: Pipeline) -> None:
    done = subprocess.run(
        ["dot", "-Tplain"],
        input=viz.render(demo, "dot"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    node_lines = [line for line in done.stdout.splitlines() if line.startswith("node ")]
    assert len(node_lines) == len(demo.dag)
    assert any('"odd \\"name\\" [x] {y} (z) <w> |v| #1"' in line for line in node_lines)


def test_rendering_is_deterministic(tmp_path: Path) -> None:
    first = build(tmp_path)
    texts = [viz.render(first, "mermaid"), viz.render(first, "dot")]
    again = build(tmp_path)  # a fresh definition of the same pipeline
    assert [viz.render(again, "mermaid"), viz.render(again, "dot")] == texts
    assert first.graph() == texts[0]
    assert first.graph("dot") == texts[1]


def test_notebook_representations(demo: Pipeline) -> None:
    bundle = demo._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/markdown", "text/html"}
    assert bundle["text/plain"] == repr(demo)
    mermaid = viz.render(demo, "mermaid")
    assert bundle["text/markdown"] == f"```mermaid\n{mermaid}```\n"
    page = demo._repr_html_()
    assert page == bundle["text/html"]
    pre = re.search(r'<pre class="mermaid glacier-mermaid">(.*?)</pre>', page, re.S)
    assert pre is not None
    assert html.unescape(pre.group(1)) == mermaid  # readable even where scripts do not run
    assert "<w>" not in page
    assert 'import mermaid from "https://' in page


def test_unknown_format_is_a_clear_error(demo: Pipeline) -> None:
    with pytest.raises(ConfigError, match=r"'svg'.*mermaid"):
        viz.render(demo, "svg")  # type: ignore[arg-type]
