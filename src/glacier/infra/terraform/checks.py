"""checkov skip comments: each cloud's renderer skips a few checks on purpose, with the reason.

Each cloud's ``terraform.py`` holds its ``SKIPS`` table (its registry part ``checkov_skips``);
the renderers write ``#checkov:skip=ID:reason`` from it, and ``docs/security.md`` lists the same
IDs and reasons (a test keeps the two in step through :func:`all_skips`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from glacier import clouds
from glacier.infra.hcl import Block, Comment


def skipper(reasons: Mapping[str, str]) -> Callable[..., Block]:
    """``skip(block, *ids)`` for one cloud's table of reasons."""

    def skip(block: Block, *ids: str) -> Block:
        """Put checkov skip comments for ``ids`` atop ``block``, where checkov reads them."""
        block.body[0:0] = [Comment(f"checkov:skip={i}:{reasons[i]}") for i in ids]
        return block

    return skip


def all_skips() -> dict[str, str]:
    """Every deployable cloud's skipped checks and reasons, in registry order."""
    merged: dict[str, str] = {}
    for cloud in clouds.deployable():
        merged.update(clouds.part(cloud, "checkov_skips"))
    return merged
