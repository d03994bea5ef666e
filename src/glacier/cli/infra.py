"""``glacier terraform`` and ``glacier package``: what it takes to run a pipeline in a cloud.

Use the same ``--out`` for both: the generated Terraform uploads ``build/...`` relative to it.
"""

from __future__ import annotations

from pathlib import Path

import click

from glacier.clouds import deployable
from glacier.loader import load_pipeline

out_option = click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write into.",
)
provider_option = click.option(
    "--provider",
    "cloud",
    type=click.Choice([c.value for c in deployable()]),
    default=None,
    help="Render for another cloud than the pipeline's provider config.",
)


@click.command()
@click.argument("target")
@out_option
@provider_option
def terraform(target: str, out_dir: Path, cloud: str | None) -> None:
    """Write Terraform, glacier.plan.json and a README for the pipeline TARGET."""
    from glacier.infra.terraform import generate  # noqa: PLC0415 - lazy: `glacier run` never loads the renderers

    for path in generate(load_pipeline(target), out_dir, cloud=cloud):
        click.echo(path)


@click.command()
@click.argument("target")
@out_option
@provider_option
@click.option(
    "--no-deps",
    is_flag=True,
    help="Skip PyPI downloads (function layers and vendored packages).",
)
def package(target: str, out_dir: Path, cloud: str | None, no_deps: bool) -> None:
    """Build the archives the generated Terraform uploads, into OUT/build/."""
    from glacier.infra.package import build  # noqa: PLC0415 - lazy: other commands never load the packager

    build(load_pipeline(target), out_dir, cloud=cloud, dependencies=not no_deps, report=click.echo)
