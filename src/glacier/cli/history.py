"""``glacier runs`` and ``glacier report``: past runs, read from the staging area's reports."""

from __future__ import annotations

import json

import click

from glacier.provider import Provider

base_path_option = click.option(
    "--base-path",
    default=None,
    help="The LocalConfig base_path the pipelines ran with (default: Provider.from_env()).",
)


def _provider(base_path: str | None) -> Provider:
    from glacier.config import LocalConfig

    return Provider(config=LocalConfig(base_path=base_path)) if base_path else Provider.from_env()


@click.command()
@base_path_option
@click.option("--limit", default=20, show_default=True, help="How many runs to list.")
def runs(base_path: str | None, limit: int) -> None:
    """List recent runs, newest first."""
    from glacier.runtime.report import format_runs, list_runs

    click.echo(format_runs(list_runs(_provider(base_path), limit)))


@click.command()
@click.argument("run_id")
@base_path_option
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON report.")
def report(run_id: str, base_path: str | None, as_json: bool) -> None:
    """Show the report of run RUN_ID: every task's executor, attempts, time, rows and errors."""
    from glacier.runtime.report import format_report, load_report

    data = load_report(_provider(base_path), run_id)
    click.echo(json.dumps(data, indent=2) if as_json else format_report(data))
