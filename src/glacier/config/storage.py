"""The portable bucket config, and bucket name checks that ask each cloud's rule.

Each cloud's own bucket config and naming rule live in ``glacier/clouds/<cloud>/config.py``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re

from glacier import clouds
from glacier.clouds import Cloud
from glacier.config.base import Config, check_range
from glacier.errors import ConfigError


@dataclasses.dataclass(frozen=True, kw_only=True)
class BucketConfig(Config):
    """Portable bucket settings. Buckets are always private and encrypted; these add to that."""

    versioning: bool = False
    """Keep every replaced version for good. Buckets are always versioned; without this, a
    replaced version is deleted after 30 days.
    """
    expire_noncurrent_after_days: int | None = None
    """Days an old version is kept, 1-36500; overrides the 30 days and ``versioning``."""

    def validate(self) -> None:
        if self.expire_noncurrent_after_days is not None:
            check_range(
                self,
                "expire_noncurrent_after_days",
                self.expire_noncurrent_after_days,
                1,
                36500,
                "days",
            )


# --- naming rules -----------------------------------------------------------------------------

PORTABLE_NAME = r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]"
"""A bucket name every cloud accepts: what local buckets must match, so pipelines stay portable."""


def portable_bucket_name_problem(name: str) -> str | None:
    """Why a local bucket name would not work on every cloud (None: it would)."""
    if not re.fullmatch(PORTABLE_NAME, name):
        return (
            "local bucket names follow the rule every cloud accepts, so the pipeline "
            "stays portable: 3-63 characters of a-z, 0-9 and single '-', starting and "
            "ending with a letter or digit"
        )
    return None


def validate_bucket_name(cloud: Cloud, name: str) -> None:
    """Reject a bucket name the cloud would refuse, at definition time rather than deploy time."""
    rule = clouds.part(cloud, "bucket_names")
    problem = rule(name if isinstance(name, str) else "")  # "" fails every rule, with its text
    if problem:
        raise ConfigError(
            f"Bucket name {name!r} is not valid on {cloud.value}: {problem}. Rename the bucket."
        )


def looks_like_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
