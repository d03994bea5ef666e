"""``glacier graph`` and ``glacier inspect``: what a pipeline is made of, without running it."""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from glacier.cli.params import param_infos
from glacier.core.dag import SourceNode, TaskNode
from glacier.errors import GlacierError
from glacier.loader import load_pipeline
from glacier.viz import IMAGE_FORMATS, image, render

if TYPE_CHECKING:
    from glacier.config.base import Config
    from glacier.pipelines import Pipeline
    from glacier.resources.bucket import Bucket
    from glacier.resources.executor import Executor


@click.command()
@click.argument("target")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot"]),
    default=None,
    help="The text to draw  [default: from --out's extension (.dot, .gv and images: dot), "
    "else mermaid]",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file; a .svg, .png, .pdf, .jpg, .gif or .webp file is drawn by "
    "Graphviz from the DOT.",
)
def graph(target: str, fmt: str | None, out: Path | None) -> None:
    """Draw the pipeline TARGET as Mermaid or Graphviz DOT, levels left to right in run order,
    each task in its executor's colour."""
    kind = out.suffix.lower().lstrip(".") if out is not None else ""
    if kind in IMAGE_FORMATS and fmt == "mermaid":
        raise click.UsageError(
            f"{out} is an image, which Glacier draws from DOT with Graphviz: use --format dot "
            "(or write Mermaid text to a .mmd file)."
        )
    dot_out = kind in (*IMAGE_FORMATS, "dot", "gv")
    text = render(
        load_pipeline(target), "dot" if fmt == "dot" or (fmt is None and dot_out) else "mermaid"
    )
    if out is None:
        click.echo(text, nl=False)
        return
    data = image(text, kind) if kind in IMAGE_FORMATS else text.encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    click.echo(f"wrote {out}", err=True)


@click.command(name="inspect")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def inspect_pipeline(target: str, as_json: bool) -> None:
    """List the parameters (as -p arguments), buckets, executors, tasks, edges and levels of
    the pipeline TARGET."""
    info = describe(load_pipeline(target))
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    console = Console(highlight=False)
    console.print(f"pipeline {info['pipeline']}", markup=False)
    if info["cli_params"]:
        console.print("params (glacier run TARGET -p NAME=VALUE)", style="bold")
        for line in _param_lines(info["cli_params"]):
            console.print(f"  {line}", markup=False)
    _print_table(console, "buckets", info["buckets"], ("address", "roles", "uri", "config"))
    _print_table(console, "executors", info["executors"], ("name", "kind", "config"))
    columns = ("id", "function", "executor", "retries", "timeout", "cache")
    _print_table(console, "tasks", info["tasks"], columns)
    console.print("edges", style="bold")
    for src, dst in info["edges"]:
        console.print(f"  {src} -> {dst}", markup=False)
    console.print("levels", style="bold")
    for i, level in enumerate(info["levels"]):
        console.print(f"  {i}: {', '.join(level)}", markup=False)


def describe(pipeline: Pipeline) -> dict[str, Any]:
    """A JSON-friendly inventory of the pipeline's resources and graph."""
    dag = pipeline.dag
    order = [dag[n] for n in dag.topological_order()]
    buckets: dict[int, tuple[Bucket, list[str]]] = {}
    executors: dict[str, Executor] = {}
    for node in order:
        if not isinstance(node, TaskNode):
            buckets.setdefault(id(node.bucket), (node.bucket, []))[1].append(node.kind.value)
        if not isinstance(node, SourceNode):
            executors.setdefault(node.executor.name, node.executor)
    return {
        "pipeline": pipeline.name,
        "params": {
            name: None if p.default is p.empty else p.default for name, p in pipeline.params.items()
        },
        "cli_params": [asdict(info) for info in param_infos(pipeline)],
        "buckets": [_bucket(b, roles) for b, roles in buckets.values()],
        "executors": [
            {"name": e.name, "kind": e.kind.value, "config": _config(e.config)}
            for e in executors.values()
        ],
        "tasks": [
            {
                "id": n.id,
                "function": n.task.qualified_name,
                "executor": n.task.executor.name,
                "retries": n.task.retries,
                "retry_delay": n.task.retry_delay,
                "timeout": n.task.timeout,
                "cache": n.task.cache,
            }
            for n in order
            if isinstance(n, TaskNode)
        ],
        "edges": [list(edge) for edge in dag.edges],
        "levels": dag.levels(),
    }


def _param_lines(params: list[dict[str, Any]]) -> list[str]:
    """``-p day=1995-03-15  date``: each default as it would be typed, then the type."""
    rows = [_param_row(p) for p in params]
    width = max(len(left) for left, _ in rows)
    return [f"{left.ljust(width)}  {right}" for left, right in rows]


def _param_row(param: dict[str, Any]) -> tuple[str, str]:
    name, kind = param["name"], param["type"]
    if param["arg"] is not None:
        return f"-p {shlex.quote(param['arg'])}", kind
    if param["error"] is not None:
        return name, f"{kind}: not settable with -p: {param['error']}"
    sample = f"e.g. -p {shlex.quote(param['example'])}"
    if param["required"]:
        return f"-p {name}=...", f"{kind}, required ({sample})"
    return f"-p {name}=...", f"{kind}, its default cannot be written as -p text ({sample})"


def _bucket(bucket: Bucket, roles: list[str]) -> dict[str, Any]:
    try:
        uri: str | None = bucket.uri
    except GlacierError:
        uri = None  # the cloud's storage client is not available here; inspect still works
    return {
        "address": bucket.address,
        "roles": roles,
        "uri": uri,
        "format": bucket.format.value,
        "cloud": bucket.provider.cloud.value,
        "config": _config(bucket.config),
    }


def _config(config: Config | None) -> dict[str, Any] | None:
    return None if config is None else config.to_dict()


def _print_table(
    console: Console, title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]
) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(Text(_cell(row.get(c))) for c in columns))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        kind = value.get("type", "")
        fields = ", ".join(f"{k}={v!r}" for k, v in value.items() if k != "type")
        return f"{kind}({fields})"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)
