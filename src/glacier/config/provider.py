"""Provider configs: the base every cloud's extends, and the local emulation's own.

Each cloud's provider config lives in ``glacier/clouds/<cloud>/config.py``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from glacier.clouds import Cloud
from glacier.config.base import Config, fail
from glacier.config.storage import validate_bucket_name
from glacier.errors import ConfigError

EnvFields = dict[str, tuple[tuple[str, ...], bool]]
"""What ``Provider.from_env`` reads for a cloud: field -> (variables, first set wins; required?)"""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProviderConfig(Config):
    """A config that selects a cloud; exactly one per :class:`~glacier.Provider`."""

    cloud: ClassVar[Cloud]
    """The cloud this config selects; each provider config sets its own."""
    staging_bucket: str | None = None
    """Bucket (a container, on some clouds) for hand-offs between executors; ``glacier-staging``."""
    bucket_names: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Pipeline bucket name -> the bucket's real name, where they differ: what the generated
    Terraform named it (``local.name_prefix``) and deployed code reads from ``GLACIER_BUCKETS``."""

    def __post_init__(self) -> None:
        # Here, not in validate(): every cloud's validate() replaces the base's.
        super().__post_init__()
        if self.staging_bucket is not None:
            try:
                validate_bucket_name(self.cloud, self.staging_bucket)
            except ConfigError as exc:
                raise ConfigError(f"{type(self).__name__}.staging_bucket: {exc}") from None


@dataclasses.dataclass(frozen=True, kw_only=True)
class LocalConfig(ProviderConfig):
    """This machine: buckets are folders under ``base_path``; executors are emulated."""

    cloud: ClassVar[Cloud] = Cloud.LOCAL
    base_path: str | Path = "./data"
    """Folder of every bucket (a subfolder each) and of the runs' records (``.glacier/``).

    From ``GLACIER_BASE_PATH`` with ``Provider.from_env()``.
    """

    def validate(self) -> None:
        if not isinstance(self.base_path, (str, Path)) or not str(self.base_path):
            raise fail(
                self,
                "base_path",
                f"{self.base_path!r} is not a folder path",
                "Use a path such as base_path='./data' (buckets become folders under it).",
            )


LOCAL_ENV: EnvFields = {"base_path": (("GLACIER_BASE_PATH",), False)}
