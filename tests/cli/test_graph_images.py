"""``glacier graph --out graph.svg``: images drawn by Graphviz, and the errors that name the fix."""

from __future__ import annotations

import shutil
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from glacier.cli import cli
from glacier.loader import load_pipeline
from tests._cli_support import EXAMPLES

EXAMPLE = str(EXAMPLES / "heterogeneous_pipeline.py")
SVG = "{http://www.w3.org/2000/svg}"
needs_graphviz = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's dot is not installed (scripts/install-browser-tools.sh installs it)",
)


def graph(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["graph", EXAMPLE, *args], catch_exceptions=False)
    return result.exit_code, result.stderr


@needs_graphviz
def test_out_svg_draws_every_node_and_edge(tmp_path: Path) -> None:
    out = tmp_path / "pictures" / "graph.svg"
    code, err = graph("--format", "dot", "--out", str(out))
    assert code == 0, err
    assert f"wrote {out}" in err
    root = ET.fromstring(out.read_bytes())
    assert root.tag == f"{SVG}svg"
    groups = root.iter(f"{SVG}g")
    by_class: dict[str, list[str]] = {}
    for g in groups:
        title = g.find(f"{SVG}title")
        if title is not None and title.text:
            by_class.setdefault(g.get("class", ""), []).append(title.text)
    dag = load_pipeline(EXAMPLE).dag
    labels = {text.text for text in root.iter(f"{SVG}text") if text.text is not None}
    assert {n.label for n in dag} <= labels
    assert len(by_class["node"]) == len(dag)
    assert len(by_class["edge"]) == len(dag.edges)
    # the legend names every executor
    assert {"local (local)", "vm (vm, VmConfig)", "cluster (cluster, ClusterConfig)"} <= labels


@needs_graphviz
def test_out_png_is_an_image_and_the_format_follows_the_extension(tmp_path: Path) -> None:
    out = tmp_path / "graph.PNG"
    code, err = graph("--out", str(out))  # no --format: an image is drawn from DOT
    assert code == 0, err
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width > height > 50  # left to right: wider than tall

    for name, first_line in [
        ("graph.dot", 'digraph "revenue_summary" {'),
        ("graph.gv", 'digraph "revenue_summary" {'),
        ("graph.mmd", "flowchart LR"),
    ]:
        assert graph("--out", str(tmp_path / name))[0] == 0
        assert (tmp_path / name).read_text().splitlines()[0] == first_line
    jpg = tmp_path / "graph.jpg"
    assert graph("--out", str(jpg))[0] == 0
    assert jpg.read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG, not text in a .jpg


def test_an_image_without_graphviz_names_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH on which there is no `dot`
    code, err = graph("--format", "dot", "--out", str(tmp_path / "graph.svg"))
    assert code == 2
    assert "needs Graphviz's `dot` command, which is not on PATH" in err
    assert "apt-get install graphviz" in err
    assert not (tmp_path / "graph.svg").exists()


def test_mermaid_cannot_be_an_image(tmp_path: Path) -> None:
    code, err = graph("--format", "mermaid", "--out", str(tmp_path / "graph.svg"))
    assert code == 2
    assert "use --format dot" in err
