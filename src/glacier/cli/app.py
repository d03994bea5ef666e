"""The ``glacier`` command group: shared ``--debug`` flag and exit codes for every command.

Exit codes: 0 ok; 1 a task failed (:class:`~glacier.TaskFailed`); 2 a usage or definition
error (any other :class:`~glacier.GlacierError`, a bad target, a bad option). Errors print
their message; the traceback only with ``--debug``.
"""

from __future__ import annotations

import traceback
from typing import Any

import click

from glacier import __version__
from glacier.errors import GlacierError, TaskFailed

EXIT_TASK_FAILED = 1
EXIT_USAGE = 2
_DEBUG = "glacier.debug"


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_DEBUG] = True


def debug_option() -> click.Option:
    return click.Option(
        ["--debug"],
        is_flag=True,
        expose_value=False,
        callback=_set_debug,
        help="Show full tracebacks on errors.",
    )


class GlacierGroup(click.Group):
    """A group whose commands all accept ``--debug`` and map Glacier errors to exit codes.

    Add a command with ``cli.add_command(cmd)``; it needs nothing else to get both.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(debug_option())

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(p.name == "debug" for p in cmd.params):
            cmd.params.append(debug_option())
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GlacierError as exc:
            debug = bool(ctx.meta.get(_DEBUG))
            click.echo(error_text(exc, debug=debug), err=True)
            raise click.exceptions.Exit(exit_code(exc)) from None


def exit_code(exc: GlacierError) -> int:
    return EXIT_TASK_FAILED if isinstance(exc, TaskFailed) else EXIT_USAGE


def error_text(exc: GlacierError, *, debug: bool) -> str:
    """The message; a failed task's own traceback and Glacier's only with ``debug``."""
    if debug:
        return "".join(traceback.format_exception(exc)).rstrip()
    message = str(exc)
    if isinstance(exc, TaskFailed):
        message = message.splitlines()[0] + "\n(Run again with --debug for the task's traceback.)"
    return f"Error: {message}"


@click.group(cls=GlacierGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="glacier")
def cli() -> None:
    """Run, draw and inspect Glacier pipelines."""
