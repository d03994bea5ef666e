"""The one Provider class: the config's class decides the cloud; factories make resources."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping

from glacier import clouds
from glacier.clouds import Cloud
from glacier.config import config_classes
from glacier.config.base import Config
from glacier.config.compute import ClusterConfig, ServerlessConfig, VmConfig
from glacier.config.env import provider_config_from_env
from glacier.config.provider import ProviderConfig
from glacier.config.storage import BucketConfig, validate_bucket_name
from glacier.core.kinds import ExecutorKind
from glacier.errors import ConfigError
from glacier.resources.bucket import Bucket
from glacier.resources.executor import Executor
from glacier.storage import store_for
from glacier.storage.base import ObjectStore
from glacier.storage.paths import split_uri

DEFAULT_STAGING_BUCKET = "glacier-staging"


class Provider:
    """Storage and compute on one cloud, or emulated on this machine with ``LocalConfig``.

    >>> provider = Provider(config=LocalConfig(base_path="./data"))
    >>> sales = provider.bucket(bucket="raw", path="sales/*.parquet")
    >>> fn = provider.serverless(config=ServerlessConfig(memory=1024))
    """

    def __init__(self, config: ProviderConfig) -> None:
        if not isinstance(config, ProviderConfig):
            names = [clouds.name_of(clouds.CLOUDS[c].provider_config) for c in clouds.deployable()]
            local = clouds.name_of(clouds.CLOUDS[Cloud.LOCAL].provider_config)
            raise ConfigError(
                f"Provider(config=...) takes {', '.join(names)} or {local}, "
                f"got {type(config).__name__}."
            )
        self.config = config
        self._executors: dict[str, Executor] = {}
        self._buckets: list[Bucket] = []

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Provider:
        """Build from ``GLACIER_PROVIDER`` and the cloud's usual variables (see ``config.env``)."""
        return cls(provider_config_from_env(os.environ if environ is None else environ))

    def __repr__(self) -> str:
        return f"Provider(config={self.config!r})"

    @property
    def cloud(self) -> Cloud:
        """The cloud the config selects (``Cloud.LOCAL`` for ``LocalConfig``)."""
        return self.config.cloud

    @functools.cached_property
    def store(self) -> ObjectStore:
        """The object store behind this provider's buckets, opened on first use."""
        return store_for(self.config)

    @property
    def staging_bucket(self) -> str:
        """Where hand-offs between executors go: the config's, else ``glacier-staging``."""
        return self.config.staging_bucket or DEFAULT_STAGING_BUCKET

    def use_deployment(self, buckets: Mapping[str, str], staging_bucket: str) -> None:
        """Point this provider's buckets at a deployment's real names (cloud mode does, as the
        deployed executors' environment does for them)."""
        config = dataclasses.replace(
            self.config,
            bucket_names={**self.config.bucket_names, **buckets},
            staging_bucket=staging_bucket,
        )
        if config != self.config:
            self.config = config
            self.__dict__.pop("store", None)  # the next use opens it with the new names

    @property
    def executors(self) -> list[Executor]:
        """The executors made so far, in order."""
        return list(self._executors.values())

    @property
    def buckets(self) -> list[Bucket]:
        """The buckets made so far, in order."""
        return list(self._buckets)

    # --- storage ----------------------------------------------------------------------------

    def bucket(self, bucket: str, path: str, config: BucketConfig | None = None) -> Bucket:
        """A file or glob ``path`` inside ``bucket``; ``config`` adds versioning, class...

        ``bucket`` may also be a URI of this provider's scheme (``<scheme>://raw``).
        """
        bucket, path = split_uri(self.cloud, bucket, path)
        validate_bucket_name(self.cloud, bucket)
        if config is not None:
            self._check_config(config, BucketConfig, "bucket")
        made = Bucket(self, bucket, path, config)
        self._buckets.append(made)
        return made

    # --- compute ----------------------------------------------------------------------------

    def local(self, name: str | None = None) -> Executor:
        """This machine, in the calling process (threads)."""
        return self._executor(ExecutorKind.LOCAL, None, name)

    def serverless(
        self, config: ServerlessConfig | None = None, name: str | None = None
    ) -> Executor:
        """A function on the provider's serverless service, with memory and time limits."""
        return self._executor(ExecutorKind.SERVERLESS, config or ServerlessConfig(), name)

    def cluster(self, config: ClusterConfig | None = None, name: str | None = None) -> Executor:
        """A Spark cluster: a local session, Spark Connect, or the cloud's managed Spark."""
        return self._executor(ExecutorKind.CLUSTER, config or ClusterConfig(), name)

    def vm(self, config: VmConfig | None = None, name: str | None = None) -> Executor:
        """A virtual machine of the provider's cloud running a worker."""
        return self._executor(ExecutorKind.VM, config or VmConfig(), name)

    def _executor(self, kind: ExecutorKind, config: Config | None, name: str | None) -> Executor:
        if config is not None:
            portable = clouds.KINDS[kind].config
            assert portable is not None, f"{kind.value} executors take no config"
            self._check_config(config, clouds.load(portable), kind.value)
        if name is None:
            name, n = kind.value, 1
            while name in self._executors:
                n += 1
                name = f"{kind.value}-{n}"
        elif name in self._executors:
            raise ConfigError(
                f"This provider already has an executor named {name!r}. Give each "
                f"executor a distinct name=."
            )
        executor = Executor(self, kind, config, name)
        self._executors[name] = executor
        return executor

    def _check_config(self, config: Config, expected: type[Config], factory: str) -> None:
        """Right kind of config for the factory, and made for this provider's cloud."""
        if not isinstance(config, expected):
            raise ConfigError(
                f"provider.{factory}(config=...) takes a {expected.__name__} (or a cloud-specific "
                f"subclass such as {_example_subclass(expected)}), got {type(config).__name__}."
            )
        if self.cloud is Cloud.LOCAL or self.cloud in config.clouds:
            return
        clouds = "/".join(sorted(c.value for c in config.clouds))
        portable = config.portable_base().__name__
        native = [
            c.__name__
            for c in config_classes()
            if issubclass(c, config.portable_base()) and c.clouds == frozenset({self.cloud})
        ]
        alternative = f" or the {self.cloud.value} config {native[0]}" if native else ""
        raise ConfigError(
            f"{type(config).__name__} is for {clouds}, but this Provider uses "
            f"{type(self.config).__name__} ({self.cloud.value}). Use the portable {portable}"
            f"{alternative}."
        )


def _example_subclass(cls: type[Config]) -> str:
    subs = [c for c in config_classes() if issubclass(c, cls) and c is not cls]
    return subs[0].__name__ if subs else cls.__name__
