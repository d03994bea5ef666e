"""Every error Glacier raises on purpose derives from :class:`GlacierError`.

Messages name the thing that is wrong, the cause, and the fix, so a user can act on them
without reading Glacier's source.
"""

from __future__ import annotations


class GlacierError(Exception):
    """Base class of all errors Glacier raises deliberately."""


class ConfigError(GlacierError, ValueError):
    """A provider, storage or compute config is invalid or does not fit the provider."""


class StorageError(GlacierError):
    """A bucket could not be read or written, or its path is unsafe."""


class PipelineDefinitionError(GlacierError):
    """A pipeline body cannot be traced into a DAG."""


class DagCycleError(PipelineDefinitionError):
    """A hand-built DAG contains a cycle."""


class ParameterError(GlacierError, TypeError):
    """`Pipeline.run` was given parameters that do not match the pipeline function."""


class TaskError(GlacierError):
    """One attempt of a task failed; the scheduler decides whether to retry it."""


class TaskTimeout(TaskError):
    """A task attempt ran longer than its timeout."""


class TaskOutOfMemory(TaskError):
    """A task attempt used more memory than its executor allows."""


class TaskCrashed(TaskError):
    """The process running a task attempt died without reporting a result."""


class DeploymentError(GlacierError):
    """A deployed pipeline cannot be reached or does not match the code being run."""


class TaskFailed(GlacierError):
    """A task failed after all its attempts; the run stopped.

    ``result`` holds the partial :class:`~glacier.RunResult` (what ran, what was skipped).
    """

    def __init__(
        self,
        message: str,
        *,
        pipeline: str,
        task: str,
        executor: str,
        attempts: int,
        traceback: str,
        result: object = None,
    ) -> None:
        super().__init__(message)
        self.pipeline = pipeline
        self.task = task
        self.executor = executor
        self.attempts = attempts
        self.traceback = traceback
        self.result = result
