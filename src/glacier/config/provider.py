"""Provider configs: the base every cloud's extends, and the local emulation's own.

Each cloud's provider config lives in ``glacier/clouds/<cloud>/config.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from glacier.clouds import Cloud
from glacier.config.base import Config

EnvFields = dict[str, tuple[tuple[str, ...], bool]]
"""What ``Provider.from_env`` reads for a cloud: field -> (variables, first set wins; required?)"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProviderConfig(Config):
    """A config that selects a cloud; exactly one per :class:`~glacier.Provider`."""

    cloud: ClassVar[Cloud]
    staging_bucket: str | None = None
    """Bucket (a container, on some clouds) for hand-offs between executors; ``glacier-staging``."""
    bucket_names: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Pipeline bucket name -> the bucket's real name, where they differ: what the generated
    Terraform named it (``local.name_prefix``) and deployed code reads from ``GLACIER_BUCKETS``."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class LocalConfig(ProviderConfig):
    """This machine: buckets are folders under ``base_path``; executors are emulated."""

    cloud: ClassVar[Cloud] = Cloud.LOCAL
    base_path: str | Path = "./data"


LOCAL_ENV: EnvFields = {"base_path": (("GLACIER_BASE_PATH",), False)}
