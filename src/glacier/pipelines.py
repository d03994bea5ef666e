"""The public :class:`Pipeline`: a traced definition that can also run and draw itself.

The definition (tracing, parameters) lives in :mod:`glacier.core.pipeline`; running belongs to
:mod:`glacier.runtime` and pictures to :mod:`glacier.viz`. This module sits above all three and
joins them, so none of them imports another layer's upper half.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

from glacier.core.pipeline import PipelineDefinition
from glacier.resources.bucket import Bucket
from glacier.resources.executor import Executor
from glacier.resources.graph import BoundTask

if TYPE_CHECKING:
    from glacier.runtime.deployment import CloudRun, Deployment
    from glacier.runtime.events import RunEvent
    from glacier.runtime.gc import Retention
    from glacier.runtime.result import RunResult
    from glacier.viz import GraphFormat


class Pipeline(PipelineDefinition[Bucket, BoundTask, Executor]):
    """A traced pipeline: its DAG, its parameters and how to run it.

    Parameters of the decorated function are run parameters: ``pipeline.run(day="2024-01-01")``.
    """

    reserved = frozenset({"mode", "cache", "on_event", "keep_handoffs", "retention", "deployment"})

    def run(
        self,
        mode: str = "local",
        *,
        cache: bool = True,
        on_event: Callable[[RunEvent], None] | None = None,
        keep_handoffs: bool = False,
        retention: Retention | None = None,
        deployment: str | Path | Deployment | None = None,
        **params: Any,
    ) -> RunResult:
        """Run every node; return outputs and per-task records, or raise ``TaskFailed``.

        With ``cache=True`` a node whose code, config and inputs are unchanged since an
        earlier run reuses that run's output (checksummed in the staging area); a rerun after
        a failure recomputes only the failed node and what depends on it. ``cache=False``
        recomputes everything and neither reads nor writes the cache.

        A successful run deletes its hand-offs (``keep_handoffs=True`` keeps them, to inspect);
        then the staging area is pruned by ``retention`` (default ``Retention()``: 30 days,
        10 GiB; `glacier gc` prunes by hand).

        ``mode="cloud"`` sends each task to its deployed executor, named in ``deployment`` (the
        Terraform directory, a saved ``terraform output -json``, or what ``glacier emulate``
        wrote); local executors run here, on the deployed buckets.
        """
        # The scheduler and its backends load on the first run, not on `import glacier`.
        from glacier.runtime.scheduler import run_pipeline  # noqa: PLC0415

        return run_pipeline(
            self,
            mode=mode,
            cache=cache,
            on_event=on_event,
            params=params,
            keep_handoffs=keep_handoffs,
            retention=retention,
            cloud=self._cloud_run(deployment) if mode == "cloud" else None,
        )

    def _cloud_run(self, deployment: str | Path | Deployment | None) -> CloudRun:
        """Bind the pipeline to ``deployment``, after checking it runs this very code."""
        from glacier.cloud_mode import prepare  # noqa: PLC0415 - lazy: loads the inventory

        return prepare(self, deployment)

    @overload
    def graph(self, format: Literal["mermaid"] = "mermaid") -> str: ...
    @overload
    def graph(self, format: Literal["dot"]) -> str: ...
    def graph(self, format: GraphFormat = "mermaid") -> str:
        """The DAG as Mermaid or Graphviz DOT text, levels left to right, coloured by executor."""
        # Pictures (and the planner they ask) load on the first drawing, not on `import glacier`.
        from glacier import viz  # noqa: PLC0415

        return viz.render(self, format)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from glacier import viz  # noqa: PLC0415 - loads on first drawing, as in graph()

        return viz.mimebundle(self)

    def _repr_html_(self) -> str:
        from glacier import viz  # noqa: PLC0415 - loads on first drawing, as in graph()

        return viz.html(self)


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...
@overload
def pipeline(*, name: str | None = None) -> Callable[[Callable[..., Any]], Pipeline]: ...
def pipeline(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Turn a function into a :class:`Pipeline` by tracing its body once.

    Use as ``@pipeline`` or ``@pipeline(name="daily_revenue")``.
    """
    if fn is not None:
        return Pipeline(fn)

    def decorate(f: Callable[..., Any]) -> Pipeline:
        return Pipeline(f, name=name)

    return decorate
