"""What a pipeline needs from a cloud, read off its DAG: buckets, executors and who touches what.

The inventory is cloud-neutral in shape but resolved for one target cloud: portable configs are
mapped to that cloud's own configs by the cloud's ``from_portable``, so the renderers only ever
see native configs. It is saved as ``glacier.plan.json`` beside the Terraform, so a reviewer
(and a test) can check what was generated against what was asked for.
"""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glacier.clouds import Cloud, deployable, part
from glacier.config.base import Config
from glacier.config.provider import ProviderConfig
from glacier.config.storage import BucketConfig, validate_bucket_name
from glacier.core.dag import SinkNode, SourceNode, TaskNode
from glacier.core.kinds import ExecutorKind
from glacier.errors import ConfigError
from glacier.identifiers import UniqueIdentifiers
from glacier.provider import Provider
from glacier.resources.executor import Executor
from glacier.resources.graph import BoundPipeline as Pipeline

PLAN_VERSION = 1
LOG_RETENTION_DAYS = 365
STAGING_EXPIRY_DAYS = 7
"""Hand-offs between executors are re-creatable by a rerun, so staging objects expire."""


@dataclass(frozen=True)
class BucketPlan:
    """One bucket (a container, on some clouds): its native config and who uses it."""

    name: str
    tf_name: str
    config: BucketConfig
    paths: tuple[str, ...]
    readers: tuple[str, ...]
    writers: tuple[str, ...]
    staging: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tf_name": self.tf_name,
            "config": self.config.to_dict(),
            "paths": list(self.paths),
            "readers": list(self.readers),
            "writers": list(self.writers),
            "staging": self.staging,
        }


@dataclass(frozen=True)
class ExecutorPlan:
    """One executor: its native config, its tasks, and exactly the buckets it reads and writes.

    ``reads``/``writes`` include the staging bucket for every deployed executor, since hand-offs
    between executors go through it.
    """

    name: str
    tf_name: str
    kind: ExecutorKind
    config: Config | None
    tasks: tuple[str, ...]
    reads: tuple[str, ...]
    writes: tuple[str, ...]

    @property
    def deployed(self) -> bool:
        """Local executors run on the caller's machine with the caller's credentials."""
        return self.kind is not ExecutorKind.LOCAL

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tf_name": self.tf_name,
            "kind": self.kind.value,
            "deployed": self.deployed,
            "config": self.config.to_dict() if self.config is not None else None,
            "tasks": list(self.tasks),
            "reads": list(self.reads),
            "writes": list(self.writes),
        }


@dataclass(frozen=True)
class Inventory:
    """Everything the Terraform for one pipeline on one cloud is generated from."""

    pipeline: str
    module: str
    source_file: str | None
    cloud: Cloud
    provider: ProviderConfig | None
    """The pipeline's provider config when it is for ``cloud``; None when rendering elsewhere."""
    staging_bucket: str
    buckets: tuple[BucketPlan, ...]
    executors: tuple[ExecutorPlan, ...]
    log_retention_days: int = LOG_RETENTION_DAYS

    @property
    def deployed(self) -> tuple[ExecutorPlan, ...]:
        return tuple(e for e in self.executors if e.deployed)

    def of_kind(self, kind: ExecutorKind) -> tuple[ExecutorPlan, ...]:
        return tuple(e for e in self.executors if e.kind is kind)

    def bucket(self, name: str) -> BucketPlan:
        return next(b for b in self.buckets if b.name == name)

    @property
    def package_module(self) -> str:
        """The module a package imports the pipeline from (``GLACIER_MODULE``).

        A script run as ``__main__`` is packaged under its file's name, so a deployed executor
        imports it as that module (and never re-runs the script's ``__main__`` block).
        """
        if self.module.split(".")[0] == "__main__" and self.source_file is not None:
            return Path(self.source_file).stem
        return self.module

    def to_dict(self) -> dict[str, Any]:
        return {
            "glacier_plan": PLAN_VERSION,
            "pipeline": self.pipeline,
            "module": self.module,
            "cloud": self.cloud.value,
            "provider": self.provider.to_dict() if self.provider is not None else None,
            "staging_bucket": self.staging_bucket,
            "log_retention_days": self.log_retention_days,
            "buckets": [b.to_dict() for b in self.buckets],
            "executors": [e.to_dict() for e in self.executors],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"


def build_inventory(pipeline: Pipeline, cloud: Cloud | str | None = None) -> Inventory:
    """Read ``pipeline``'s DAG into an inventory for ``cloud`` (default: the provider's cloud)."""
    executors: dict[str, Executor] = {}
    bucket_paths: dict[str, set[str]] = {}
    bucket_configs: dict[str, list[tuple[str, BucketConfig]]] = {}
    reads: dict[str, set[str]] = {}
    writes: dict[str, set[str]] = {}
    tasks: dict[str, list[str]] = {}
    providers: dict[int, Provider] = {}
    dag = pipeline.dag
    for node in dag:
        if not isinstance(node, TaskNode):
            b = node.bucket
            providers[id(b.provider)] = b.provider
            bucket_paths.setdefault(b.bucket, set()).add(b.path)
            if b.config is not None:
                bucket_configs.setdefault(b.bucket, []).append((b.address, b.config))
        if not isinstance(node, SourceNode):
            ex = node.executor
            providers[id(ex.provider)] = ex.provider
            executors.setdefault(ex.name, ex)
        match node:
            case TaskNode(executor=ex):
                tasks.setdefault(ex.name, []).append(node.id)
            case SinkNode(executor=ex, bucket=b):
                writes.setdefault(ex.name, set()).add(b.bucket)
            case SourceNode(bucket=b):
                for succ in dag.successors(node.id):
                    consumer = dag[succ]
                    if not isinstance(consumer, SourceNode):
                        reads.setdefault(consumer.executor.name, set()).add(b.bucket)

    target = _target_cloud(
        pipeline.name, list(providers.values()), executors, bucket_configs, cloud
    )
    _check_clouds(pipeline.name, target, executors, bucket_configs)
    provider_configs = [p.config for p in providers.values() if p.config.cloud is target]
    staging_names = sorted({p.staging_bucket for p in providers.values()})
    if len(staging_names) != 1:
        raise ConfigError(
            f"Pipeline {pipeline.name!r} uses providers with different staging buckets "
            f"{staging_names}. Give every Provider the same staging_bucket."
        )
    staging = staging_names[0]
    validate_bucket_name(target, staging)

    executor_plans = []
    tf_names = UniqueIdentifiers()
    for name in sorted(executors):
        ex = executors[name]
        deployed = ex.kind is not ExecutorKind.LOCAL
        extra = {staging} if deployed else set()
        executor_plans.append(
            ExecutorPlan(
                name=name,
                tf_name=tf_names.take(name),
                kind=ex.kind,
                config=_native(ex.config, target, f"executor {name!r}"),
                tasks=tuple(tasks.get(name, ())),
                reads=tuple(sorted(reads.get(name, set()) | extra)),
                writes=tuple(sorted(writes.get(name, set()) | extra)),
            )
        )
    bucket_plans = []
    tf_names = UniqueIdentifiers()
    for name in sorted(bucket_paths.keys() | {staging}):
        validate_bucket_name(target, name)
        config = _merged_bucket_config(name, bucket_configs.get(name, []))
        bucket_plans.append(
            BucketPlan(
                name=name,
                tf_name=tf_names.take(name),
                config=_native(config, target, f"bucket {name!r}"),  # type: ignore[arg-type]
                paths=tuple(sorted(bucket_paths.get(name, ()))),
                readers=tuple(e.name for e in executor_plans if name in e.reads),
                writers=tuple(e.name for e in executor_plans if name in e.writes),
                staging=name == staging,
            )
        )
    return Inventory(
        pipeline=pipeline.name,
        module=pipeline.fn.__module__,
        source_file=inspect.getsourcefile(pipeline.fn),
        cloud=target,
        provider=provider_configs[0] if provider_configs else None,
        staging_bucket=staging,
        buckets=tuple(bucket_plans),
        executors=tuple(executor_plans),
    )


def _target_cloud(
    pipeline: str,
    providers: list[Provider],
    executors: dict[str, Executor],
    bucket_configs: dict[str, list[tuple[str, BucketConfig]]],
    requested: Cloud | str | None,
) -> Cloud:
    if requested is not None:
        try:
            target = Cloud(requested)
        except ValueError:
            target = Cloud.LOCAL
        if target not in deployable():
            raise ConfigError(
                f"Cannot render Terraform for {requested!r}. Choose one of {_choices(', ')}."
            )
        return target
    clouds: set[Cloud] = {p.cloud for p in providers if p.cloud is not Cloud.LOCAL}
    if not clouds:  # a LocalConfig pipeline: the cloud-specific configs may say which cloud
        configs = [e.config for e in executors.values() if e.config is not None]
        configs += [c for found in bucket_configs.values() for _, c in found]
        clouds = {cloud for c in configs if len(c.clouds) == 1 for cloud in c.clouds}
    if len(clouds) == 1:
        return next(iter(clouds))
    seen = ", ".join(sorted(c.value for c in clouds)) or "none (a LocalConfig provider)"
    raise ConfigError(
        f"Pipeline {pipeline!r}: cannot tell which cloud to render (clouds in the pipeline: "
        f"{seen}). Pass --provider {_choices('|')}."
    )


def _check_clouds(
    pipeline: str,
    target: Cloud,
    executors: dict[str, Executor],
    bucket_configs: dict[str, list[tuple[str, BucketConfig]]],
) -> None:
    """Collect every config made for another cloud, so one error names them all."""
    wrong = [
        f"executor {name!r} uses {type(ex.config).__name__}"
        for name, ex in sorted(executors.items())
        if ex.config is not None and target not in ex.config.clouds
    ]
    wrong += [
        f"bucket {address!r} uses {type(config).__name__}"
        for found in bucket_configs.values()
        for address, config in found
        if target not in config.clouds
    ]
    if wrong:
        raise ConfigError(
            f"Pipeline {pipeline!r} cannot be rendered for {target.value}: "
            f"{'; '.join(wrong)}, made for another cloud. Use the portable configs "
            f"(ServerlessConfig, VmConfig, ClusterConfig, BucketConfig) or render for the cloud "
            f"those configs are for."
        )


def _merged_bucket_config(name: str, found: list[tuple[str, BucketConfig]]) -> BucketConfig:
    """Several paths of one bucket may carry a config; they must agree, since it is one bucket."""
    distinct = {c for _, c in found}
    if len(distinct) > 1:
        listed = "; ".join(f"{address}: {config!r}" for address, config in found)
        raise ConfigError(
            f"Bucket {name!r} is given different configs ({listed}). A bucket has one config; "
            f"pass the same config for every path in it."
        )
    return found[0][1] if found else BucketConfig()


def _choices(sep: str) -> str:
    return sep.join(c.value for c in deployable())


def _native(config: Config | None, cloud: Cloud, what: str) -> Config | None:
    """The target cloud's own config for a portable one; cloud-specific configs pass through."""
    if config is None:
        return None
    try:
        native: Config = part(cloud, "from_portable")(config)
    except ConfigError as exc:
        raise ConfigError(f"{what}: {exc}") from None
    return native
