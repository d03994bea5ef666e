"""``glacier run TARGET``: run a pipeline locally with live progress and a summary."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import click
from rich.console import Console

from glacier.cli.display import Progress, print_output, print_summary
from glacier.cli.params import parse_args
from glacier.errors import TaskFailed
from glacier.loader import load_pipeline
from glacier.runtime.result import RunResult

EXIT_INTERRUPTED = 130
"""128 + SIGINT, what a shell reports for a command stopped by Ctrl-C."""


def split_params(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    """``KEY=VALUE`` pairs as text; the pipeline's annotations parse them once it is loaded."""
    params: dict[str, str] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise click.BadParameter(
                f"{item!r} is not KEY=VALUE with KEY a parameter name, e.g. --param day=2024-01-01"
            )
        params[key.strip()] = raw
    return params


@click.command()
@click.argument("target")
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    callback=split_params,
    help="A pipeline parameter; repeat for several. VALUE is parsed by the parameter's "
    "annotation: -p day=1995-03-15 for a date, -p regions=EU,US for a list[str] "
    "(`glacier inspect TARGET` lists them).",
)
@click.option("--no-cache", is_flag=True, help="Recompute every task instead of reusing outputs.")
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the run's hand-offs (its staged Parquet files), deleted after a successful run.",
)
@click.option(
    "--mode",
    type=click.Choice(["local", "cloud"]),
    default="local",
    show_default=True,
    help="local: emulate every executor here. cloud: send each task to its deployed executor "
    "(needs --deployment).",
)
@click.option(
    "--deployment",
    type=click.Path(exists=True, path_type=Path),
    help="With --mode cloud: the Terraform directory you applied, a saved `terraform output "
    "-json`, or the file `glacier emulate` wrote.",
)
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Show Glacier's log and the engines' own output (Spark's log4j lines); by default "
    "only the run's progress is shown.",
)
def run(
    target: str,
    params: dict[str, str],
    no_cache: bool,
    keep: bool,
    mode: str,
    deployment: Path | None,
    verbose: bool,
) -> None:
    """Run the pipeline TARGET (file.py[:NAME] or module[:NAME]) on this machine, or with
    --mode cloud on its deployed executors.

    NAME is a pipeline's name= (also of pipelines kept in a module-level dict or list, as
    when built in a loop) or its variable; it may be left out when there is only one.
    """
    if verbose:
        show_logs()
    pipeline = load_pipeline(target)
    values = parse_args(pipeline, params)
    pipeline.bind_params(values)  # an unknown name (even one of run()'s keywords) fails here
    if deployment is not None and mode != "cloud":
        raise click.UsageError("--deployment is for --mode cloud.")
    console = Console(highlight=False)
    try:
        with Progress(console, pipeline) as progress:
            result = pipeline.run(
                mode,
                cache=not no_cache,
                on_event=progress.on_event,
                keep_handoffs=keep,
                deployment=deployment,
                **values,
            )
    except KeyboardInterrupt:
        interrupted(console)
    except TaskFailed as exc:
        if isinstance(exc.result, RunResult):
            print_summary(console, exc.result)
        raise
    print_summary(console, result)
    print_output(console, result.output)


def interrupted(console: Console) -> None:
    """Ctrl-C: the run has stopped its workers and written its report; leave now.

    ``os._exit`` rather than ``sys.exit``: a local task cannot be stopped inside its thread,
    and a normal exit would wait for it to finish (the wait Ctrl-C is meant to skip).
    """
    console.print("[bold red]Interrupted[/]: the run was stopped and its workers killed.")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def show_logs() -> None:
    """``--verbose``: Glacier's INFO log on stderr; engines read it to show their own output
    (see :func:`glacier.spark.session.verbose`)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("glacier")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
