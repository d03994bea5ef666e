"""``glacier runs`` and ``glacier report``: past runs, read from the staging area's reports.

With a TARGET they read where that pipeline's runs are: the staging area of the providers its
executors use (a local base path's ``.glacier/runs``, or a cloud staging bucket), and show only
its runs. Without one they read the provider ``Provider.from_env()`` describes, or
``--base-path``, and show every pipeline's runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from glacier.config import LocalConfig
from glacier.core.dag import SourceNode
from glacier.loader import load_pipeline
from glacier.provider import Provider
from glacier.runtime.report import (
    ReportNotFound,
    format_report,
    format_runs,
    list_runs,
    load_report,
)
from glacier.runtime.staging import RUNS_PREFIX, staging_bucket
from glacier.viz.run_page import run_page

if TYPE_CHECKING:
    from glacier.pipelines import Pipeline

base_path_option = click.option(
    "--base-path",
    default=None,
    help="The LocalConfig base_path the pipelines ran with (default: TARGET's provider, or "
    "Provider.from_env()).",
)
target_argument = click.argument("target", required=False)


def _providers(target: str | None, base_path: str | None) -> tuple[list[Provider], str | None]:
    """Where to read reports, and the name of the pipeline whose runs to show (if one)."""
    pipeline = None if target is None else load_pipeline(target)
    name = None if pipeline is None else pipeline.name
    if base_path:
        return [Provider(config=LocalConfig(base_path=base_path))], name
    if pipeline is None:
        return [Provider.from_env()], None
    return pipeline_providers(pipeline), name


def pipeline_providers(pipeline: Pipeline) -> list[Provider]:
    """The providers of the pipeline's executors, in run order: a run reports to one of them."""
    providers: dict[int, Provider] = {}
    for node_id in pipeline.dag.topological_order():
        node = pipeline.dag[node_id]
        if not isinstance(node, SourceNode):
            providers.setdefault(id(node.executor.provider), node.executor.provider)
    return list(providers.values())


def _where(providers: list[Provider]) -> str:
    return " or ".join(p.store.uri(staging_bucket(p), RUNS_PREFIX) for p in providers)


@click.command()
@target_argument
@base_path_option
@click.option("--limit", default=20, show_default=True, help="How many runs to list.")
def runs(target: str | None, base_path: str | None, limit: int) -> None:
    """List recent runs, newest first: of the pipeline TARGET (file.py[:NAME]), or all."""
    providers, name = _providers(target, base_path)
    reports: dict[str, dict[str, Any]] = {}
    for provider in providers:
        # A pipeline's runs are picked out of every run in the staging area by name.
        for report in list_runs(provider, limit if name is None else sys.maxsize):
            if name is None or report.get("pipeline") == name:
                reports.setdefault(report["run_id"], report)
    newest = sorted(reports.values(), key=lambda r: r["run_id"], reverse=True)[:limit]
    if newest:
        click.echo(format_runs(newest))
    else:
        of = "" if name is None else f" of pipeline {name!r}"
        click.echo(f"No runs{of} recorded in {_where(providers)}.")


@click.command()
@click.argument("run_id")
@target_argument
@base_path_option
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON report.")
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write one self-contained HTML page: the graph by status, a timeline per executor.",
)
def report(
    run_id: str, target: str | None, base_path: str | None, as_json: bool, html_out: Path | None
) -> None:
    """Show the report of run RUN_ID (of the pipeline TARGET, if given): every task's executor,
    attempts, time, rows and errors."""
    providers, name = _providers(target, base_path)
    data = _load_report(providers, run_id)
    if name is not None and data.get("pipeline") != name:
        raise ReportNotFound(
            f"Run {run_id!r} is a run of pipeline {data.get('pipeline')!r}, not of {name!r} "
            f"({target}). List {name!r}'s runs with `glacier runs {target}`."
        )
    if html_out is not None:
        html_out.parent.mkdir(parents=True, exist_ok=True)
        html_out.write_text(run_page(data), encoding="utf-8")
        click.echo(f"wrote {html_out}", err=True)
        return
    click.echo(json.dumps(data, indent=2) if as_json else format_report(data))


def _load_report(providers: list[Provider], run_id: str) -> dict[str, Any]:
    """The report from the first provider that has it; else the first provider's error."""
    missing: ReportNotFound | None = None
    for provider in providers:
        try:
            return load_report(provider, run_id)
        except ReportNotFound as exc:
            missing = missing or exc
    assert missing is not None, "a pipeline has at least one executor"
    raise missing
