"""``glacier`` on the command line. Only this package imports click and rich.

Each command lives in its own module and is registered below; a new one (``runs``, ``report``,
``terraform``, ``package``...) is a module with a click command plus one ``add_command`` line.
Commands that take a pipeline load it with :func:`glacier.loader.load_pipeline`.
"""

from __future__ import annotations

from glacier.cli.app import cli
from glacier.cli.describe import graph, inspect_pipeline
from glacier.cli.emulate import emulate
from glacier.cli.gc import gc
from glacier.cli.history import report, runs
from glacier.cli.infra import package, terraform
from glacier.cli.run import run

for command in (run, graph, inspect_pipeline, runs, report, terraform, package, emulate, gc):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point (``glacier = "glacier.cli:main"``)."""
    cli(prog_name="glacier")


__all__ = ["cli", "main"]
