"""The pipeline model as the layers above see it: nodes holding Glacier's own resources.

:mod:`glacier.core` types its graph through Protocols; these aliases fix them to the
:class:`Bucket`, :class:`Task` and :class:`Executor` a body actually calls, so the runtime,
the infrastructure generator and the CLI reach their fields with full types.
"""

from typing import Any, TypeAlias

from glacier.core.dag import DAG, Node, SinkNode, TaskNode
from glacier.core.pipeline import PipelineDefinition
from glacier.core.task import Task
from glacier.resources.bucket import Bucket
from glacier.resources.executor import Executor

BoundTask: TypeAlias = Task[..., Any]
Graph: TypeAlias = DAG[Bucket, BoundTask, Executor]
GraphNode: TypeAlias = Node[Bucket, BoundTask, Executor]
TaskCall: TypeAlias = TaskNode[BoundTask, Executor]
WorkNode: TypeAlias = TaskCall | SinkNode[Bucket, Executor]
"""A node that runs on an executor: what units are made of."""
BoundPipeline: TypeAlias = PipelineDefinition[Bucket, BoundTask, Executor]
"""A pipeline definition as the runtime and the generators receive it."""
