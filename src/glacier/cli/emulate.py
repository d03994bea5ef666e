"""``glacier emulate DIR``: serve the built packages on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import signal
from pathlib import Path

import click

from glacier.provider import Provider


def bucket_pairs(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        name, sep, real = item.partition("=")
        if not sep or not name or not real:
            raise click.BadParameter(f"{item!r} is not NAME=REAL, e.g. --bucket raw=my-raw-bucket")
        pairs[name] = real
    return pairs


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the deployment file [default: DIR/emulated-deployment.json].",
)
@click.option(
    "--bucket",
    "buckets",
    multiple=True,
    metavar="NAME=REAL",
    callback=bucket_pairs,
    help="Use storage bucket REAL for the pipeline's bucket NAME (default: the same name).",
)
def emulate(directory: Path, out: Path | None, buckets: dict[str, str]) -> None:
    """Serve the packages `glacier package` built in DIRECTORY behind the cloud's own
    protocols on 127.0.0.1, on the storage GLACIER_PROVIDER and the cloud's variables point
    at (moto, fake-gcs-server, Azurite), and write a deployment file for
    `glacier run --mode cloud --deployment FILE`.
    """
    from glacier.runtime.emulate import emulate as start  # noqa: PLC0415 - lazy: loads the runtime

    with start(directory, Provider.from_env(), out=out, bucket_names=buckets) as emulation:
        click.echo(
            f"Emulating the deployment in {directory}; deployment file: {emulation.deployment}"
        )
        functions = emulation.emulated.functions if emulation.emulated else {}
        for executor, entry in {
            **functions,
            **(emulation.vms.entries if emulation.vms else {}),
            **{k: v for c in emulation.clusters.values() for k, v in c.functions.items()},
        }.items():
            click.echo(f"  {executor}: {entry}")
        click.echo("Press Ctrl-C to stop.")
        try:
            signal.pause()
        except KeyboardInterrupt:
            click.echo("Stopped.")
