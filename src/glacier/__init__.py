"""Glacier: write a Polars pipeline once, run it locally, provision it on AWS, GCP or Azure.

The public API is small: a :class:`Provider` makes buckets and executors, ``@executor.task()``
binds functions to compute, and ``@pipeline`` traces a body into a DAG you can ``run()``.
"""

from glacier.core.kinds import ExecutorKind
from glacier.core.task import Task
from glacier.errors import (
    ConfigError,
    DagCycleError,
    GlacierError,
    ParameterError,
    PipelineDefinitionError,
    StorageError,
    TaskCrashed,
    TaskError,
    TaskFailed,
    TaskOutOfMemory,
    TaskTimeout,
)
from glacier.pipelines import Pipeline, pipeline
from glacier.provider import Provider
from glacier.resources.bucket import Bucket, BucketMetadata
from glacier.resources.executor import Executor
from glacier.runtime.events import RunEvent, Status
from glacier.runtime.result import RunResult, TaskRun
from glacier.version import __version__ as __version__

__all__ = [
    "Bucket",
    "BucketMetadata",
    "ConfigError",
    "DagCycleError",
    "Executor",
    "ExecutorKind",
    "GlacierError",
    "ParameterError",
    "Pipeline",
    "PipelineDefinitionError",
    "Provider",
    "RunEvent",
    "RunResult",
    "Status",
    "StorageError",
    "Task",
    "TaskCrashed",
    "TaskError",
    "TaskFailed",
    "TaskOutOfMemory",
    "TaskRun",
    "TaskTimeout",
    "pipeline",
]
