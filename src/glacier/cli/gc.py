"""``glacier gc [TARGET]``: prune the staging area and remove what killed writes left behind.

With a TARGET it cleans the staging areas of that pipeline's providers and the leftovers in its
sink paths; without one, ``Provider.from_env()``'s staging area, or ``--base-path``'s.
"""

from __future__ import annotations

import re
from datetime import timedelta

import click

from glacier.cli.history import base_path_option, pipeline_providers, target_argument
from glacier.config import LocalConfig
from glacier.core.dag import SinkNode
from glacier.loader import load_pipeline
from glacier.provider import Provider
from glacier.runtime.gc import Freed, Retention, prune
from glacier.storage import dataset
from glacier.storage.paths import static_prefix

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(_ctx: click.Context, _param: click.Parameter, value: str) -> int | None:
    """``10GiB``, ``500MB``, ``0`` or ``none`` (no limit) as bytes."""
    if value.strip().lower() == "none":
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value)
    if not match or match.group(2).lower() not in _UNITS:
        raise click.BadParameter(f"{value!r} is not a size. Use e.g. 10GiB, 500MB, 0 or none.")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def parse_days(_ctx: click.Context, _param: click.Parameter, value: str) -> timedelta | None:
    if value.strip().lower() == "none":
        return None
    try:
        days = float(value)
    except ValueError:
        days = -1.0
    if not days > 0:
        raise click.BadParameter(f"{value!r} is not a positive number of days (or none).")
    return timedelta(days=days)


@click.command(name="gc")
@target_argument
@base_path_option
@click.option("--dry-run", is_flag=True, help="Print what would be deleted; delete nothing.")
@click.option(
    "--max-age",
    default="30",
    show_default=True,
    callback=parse_days,
    help="Delete run folders and cache entries older than this many days (none: any age).",
)
@click.option(
    "--max-size",
    default="10GiB",
    show_default=True,
    callback=parse_size,
    help="Then delete the oldest until the staging area is this small (none: no limit).",
)
@click.option("--verbose", "-v", is_flag=True, help="List every object deleted.")
def gc(
    target: str | None,
    base_path: str | None,
    dry_run: bool,
    max_age: timedelta | None,
    max_size: int | None,
    verbose: bool,
) -> None:
    """Delete old runs, cache entries past the retention, and leftovers of killed writes.

    Nothing changed in the last hour is touched: a running run may still need it.
    """
    retention = Retention(max_age=max_age, max_bytes=max_size)
    pipeline = load_pipeline(target) if target else None
    if base_path:
        providers = [Provider(config=LocalConfig(base_path=base_path))]
    elif pipeline is not None:
        providers = pipeline_providers(pipeline)
    else:
        providers = [Provider.from_env()]
    freed = Freed()
    for provider in providers:
        part = prune(provider, retention, dry_run=dry_run)
        freed.uris += part.uris
        freed.bytes += part.bytes
    if pipeline is not None:
        for node in pipeline.dag:
            if isinstance(node, SinkNode):
                bucket = node.bucket
                store = bucket.provider.store
                if bucket.is_glob:
                    root = static_prefix(bucket.path)
                    found = dataset.leftovers(store, bucket.bucket, root)
                else:
                    found = dataset.old_temporaries(store, bucket.bucket, bucket.path)
                if not dry_run:
                    store.delete_many(bucket.bucket, [o.key for o in found])
                freed.add(bucket.provider, bucket.bucket, found)
    if verbose or dry_run:
        for uri in freed.uris:
            click.echo(uri)
    verb = "Would free" if dry_run else "Freed"
    click.echo(f"{verb} {_human(freed.bytes)} in {len(freed.uris)} objects.")


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{value:.1f} TiB"
