"""Tracing: running a pipeline body once with placeholders to record its DAG.

While a body is traced, calling a task records a node and returns a :class:`Placeholder`
standing for the task's future output (like Flyte promises or Dask ``delayed``). A placeholder
has no value yet, so using it in Python logic is an error that says what to do instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import typing
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, NoReturn

import polars as pl

from glacier.core.dag import DAG, ParamRef, Ref, SinkNode, SourceNode, TaskNode
from glacier.core.specs import ExecutorSpec, SourceSpec, TaskSpec, is_source
from glacier.errors import PipelineDefinitionError

TracedDAG = DAG[SourceSpec, TaskSpec, ExecutorSpec]
"""A traced graph as core sees it: its nodes hold whatever implements the specs."""

_CURRENT: ContextVar[Tracer | None] = ContextVar("glacier_tracer", default=None)


def current_tracer() -> Tracer | None:
    """The tracer of the pipeline body being defined in this context, if any."""
    return _CURRENT.get()


class Placeholder:
    """The future output of a task (or a pipeline parameter) inside a pipeline body."""

    __slots__ = ("_glacier_outputs", "_glacier_ref", "_glacier_tracer")

    def __init__(
        self, tracer: Tracer, ref: Ref | ParamRef, outputs: tuple[int | str, ...] | None = None
    ) -> None:
        self._glacier_tracer = tracer
        self._glacier_ref = ref
        self._glacier_outputs = outputs
        """The elements of a task with several outputs (see :func:`outputs_of`), else None."""

    def __repr__(self) -> str:
        return f"<{self._describe()}>"  # for debugging only: formatting refuses (below)

    def __str__(self) -> str:  # noqa: PLE0307 - it never returns: text of a placeholder is a bug
        self._misuse_text("str() or '%s' formatting of")

    def __format__(self, spec: str) -> str:
        self._misuse_text("an f-string or str.format() of")

    def _describe(self) -> str:
        ref = self._glacier_ref
        if isinstance(ref, ParamRef):
            return f"pipeline parameter {ref.name!r}"
        return f"output of task {output_label(ref)!r}"

    def _element(self, key: int | str) -> Placeholder:
        """The placeholder of one output of a task with several outputs."""
        assert isinstance(self._glacier_ref, Ref) and self._glacier_outputs is not None
        return Placeholder(self._glacier_tracer, Ref(self._glacier_ref.node, key))

    def _several(self, action: str) -> tuple[int | str, ...]:
        """The task's outputs, or a refusal that also says how to declare several."""
        if self._glacier_outputs is None:
            ref = self._glacier_ref
            if isinstance(ref, Ref) and ref.output is None:
                self._misuse(
                    action,
                    " A task with several outputs declares them in its return annotation, e.g. "
                    "-> tuple[pl.LazyFrame, pl.LazyFrame], or returns a NamedTuple or a "
                    "dataclass of frames; then `a, b = task(...)`, `out[0]` and `out.field` "
                    "work in the body.",
                )
            self._misuse(action)
        return self._glacier_outputs

    def _misuse(self, action: str, hint: str = "") -> NoReturn:
        raise PipelineDefinitionError(
            f"Pipeline {self._glacier_tracer.pipeline!r}: {action} the {self._describe()} while "
            f"defining the pipeline. Its value exists only when the pipeline runs, so the body "
            f"cannot branch on it, loop over it or call its methods. Move this logic into a task "
            f"(a function decorated with @executor.task()) and pass the value to it.{hint}"
        )

    def _misuse_text(self, action: str) -> NoReturn:
        """Text made from a placeholder would name the placeholder, not the value, and could
        become a file name or a filter value: refuse it rather than leak ``<pipeline ...>``."""
        raise PipelineDefinitionError(
            f"Pipeline {self._glacier_tracer.pipeline!r}: {action} the {self._describe()} while "
            f"defining the pipeline. Its value exists only when the pipeline runs, so text made "
            f"from it here would hold a placeholder, not the value. Pass the value to a task "
            f'and build the text there (e.g. f"day={{day}}" inside the task).'
        )

    def __getattr__(self, name: str) -> Placeholder:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)  # protocol probes (copy, pickle, hasattr) stay quiet
        if self._glacier_outputs is not None and name in self._glacier_outputs:
            return self._element(name)
        self._misuse(f"accessing .{name} on")

    def __bool__(self) -> bool:  # noqa: PLE0304
        self._misuse("using in an if/while/and/or")

    def __len__(self) -> int:  # noqa: PLE0303
        self._misuse("calling len() on")

    def __iter__(self) -> Iterator[Placeholder]:
        return iter([self._element(key) for key in self._several("unpacking or iterating over")])

    def __contains__(self, item: object) -> bool:
        self._misuse("using 'in' with")

    def __getitem__(self, key: object) -> Placeholder:
        outputs = self._several("indexing")
        if (
            isinstance(key, int)
            and not isinstance(key, bool)
            and -len(outputs) <= key < len(outputs)
        ):
            return self._element(outputs[key])
        if isinstance(key, str) and key in outputs:
            return self._element(key)
        fields = [k for k in outputs if isinstance(k, str)]
        named = f" or the fields {', '.join(fields)}" if fields else ""
        raise PipelineDefinitionError(
            f"Pipeline {self._glacier_tracer.pipeline!r}: the {self._describe()} has no output "
            f"{key!r}. Its task declares {len(outputs)} outputs: use a position "
            f"0-{len(outputs) - 1}{named}."
        )

    def __call__(self, *args: object, **kwargs: object) -> NoReturn:
        self._misuse("calling")

    def __eq__(self, other: object) -> bool:
        self._misuse("comparing (==)")

    def __ne__(self, other: object) -> bool:
        self._misuse("comparing (!=)")

    def __lt__(self, other: object) -> bool:
        self._misuse("comparing (<)")

    def __le__(self, other: object) -> bool:
        self._misuse("comparing (<=)")

    def __gt__(self, other: object) -> bool:
        self._misuse("comparing (>)")

    def __ge__(self, other: object) -> bool:
        self._misuse("comparing (>=)")

    def __hash__(self) -> int:  # noqa: PLE0309
        self._misuse("using as a dict key or set member")

    def __index__(self) -> int:  # noqa: PLE0305
        self._misuse("using as an integer")

    def __float__(self) -> float:
        self._misuse("converting to float")

    def __add__(self, other: object) -> NoReturn:
        self._misuse("doing arithmetic (+) with")

    __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __add__
    __and__ = __or__ = __invert__ = __add__


class Tracer:
    """Records the DAG of one pipeline body (and of pipelines inlined into it)."""

    def __init__(self, pipeline: str) -> None:
        self.pipeline = pipeline
        self.dag = TracedDAG()
        self._scopes: list[str] = []
        self._sources: dict[int, str] = {}
        self._counts: dict[str, int] = {}

    @contextlib.contextmanager
    def active(self) -> Iterator[Tracer]:
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)

    @contextlib.contextmanager
    def scope(self, name: str) -> Iterator[None]:
        """Prefix node ids of an inlined pipeline with its name."""
        self._scopes.append(name)
        try:
            yield
        finally:
            self._scopes.pop()

    def param(self, name: str) -> Placeholder:
        return Placeholder(self, ParamRef(name))

    def record_task(
        self, task: TaskSpec, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Placeholder:
        """Check the call against the task's signature, then add a task node."""
        try:
            task.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise PipelineDefinitionError(
                f"Pipeline {self.pipeline!r}: task {task.name!r} was called with arguments that "
                f"do not fit its signature {task.name}{task.signature}: {exc}. Fix the call in "
                f"the pipeline body."
            ) from None
        node = self.dag.add_node(
            TaskNode(
                id=self._unique(".".join([*self._scopes, task.name])),
                task=task,
                executor=task.executor,
                args=tuple(self._capture(a, f"task {task.name!r}") for a in args),
                kwargs={k: self._capture(v, f"task {task.name!r}") for k, v in kwargs.items()},
            )
        )
        self._connect(node)
        return Placeholder(self, Ref(node.id), outputs_of(task))

    def record_sink(
        self, bucket: SourceSpec, value: object, partition_by: Sequence[str] | None = None
    ) -> None:
        """``bucket.write(placeholder)`` in a body: a sink run where the producer ran."""
        if not isinstance(value, Placeholder) or not isinstance(value._glacier_ref, Ref):
            raise PipelineDefinitionError(
                f"Pipeline {self.pipeline!r}: {bucket.address}.write() was given "
                f"{_kind_of(value)}. Inside a pipeline, write() takes a task's output; to write "
                f"a fixed frame, return it from a task and write that task's output."
            )
        self._check_own(value, f"{bucket.address}.write()")
        producer = self.dag[value._glacier_ref.node]
        assert isinstance(producer, TaskNode), "a placeholder's Ref names the task it stands for"
        node_id = f"write:{bucket.address}"
        if node_id in self.dag:
            raise PipelineDefinitionError(
                f"Pipeline {self.pipeline!r} writes {bucket.address} twice (second time from "
                f"{producer.id!r}). Each run may write a bucket path once; write to another path."
            )
        node = self.dag.add_node(
            SinkNode(
                id=node_id,
                bucket=bucket,
                executor=producer.executor,
                args=(value._glacier_ref,),  # the one output written, of several too
                kwargs={"partition_by": list(partition_by)} if partition_by else {},
            )
        )
        self._connect(node)

    def capture_output(self, value: object) -> object:
        """The body's return value with placeholders replaced by references."""
        return self._capture(value, "the pipeline's return value")

    def _capture(self, value: object, where: str) -> object:
        if isinstance(value, Placeholder):
            self._check_own(value, where)
            return value._glacier_ref
        if is_source(value):
            return Ref(self._source(value))
        if isinstance(value, (pl.DataFrame, pl.LazyFrame)):
            raise PipelineDefinitionError(
                f"Pipeline {self.pipeline!r}: {where} was given a polars {type(value).__name__} "
                f"built in the pipeline body. The body runs once, when the pipeline is defined, "
                f"so that frame would be read once and cached without its data. Pass the bucket "
                f"itself to a task and call bucket.scan() (or pl.scan_parquet) inside the task."
            )
        if isinstance(value, (list, tuple)):
            return type(value)(self._capture(v, where) for v in value)
        if isinstance(value, dict):
            return {k: self._capture(v, where) for k, v in value.items()}
        if inspect.isgenerator(value):
            raise PipelineDefinitionError(
                f"Pipeline {self.pipeline!r}: a generator was passed "
                f"to {where}; pass a list instead."
            )
        return value

    def _check_own(self, value: Placeholder, where: str) -> None:
        if value._glacier_tracer is not self:
            raise PipelineDefinitionError(
                f"Pipeline {self.pipeline!r}: {where} received the {value._describe()} from "
                f"pipeline {value._glacier_tracer.pipeline!r}. Placeholders cannot cross "
                f"pipelines; call the other pipeline inside this one to inline it."
            )

    def _source(self, bucket: SourceSpec) -> str:
        key = id(bucket)
        if key not in self._sources:
            node = self.dag.add_node(
                SourceNode(id=self._unique(f"read:{bucket.address}"), bucket=bucket)
            )
            self._sources[key] = node.id
        return self._sources[key]

    def _connect(
        self, node: TaskNode[TaskSpec, ExecutorSpec] | SinkNode[SourceSpec, ExecutorSpec]
    ) -> None:
        for ref in iter_refs((node.args, node.kwargs)):
            if isinstance(ref, Ref):
                self.dag.add_edge(ref.node, node.id)

    def _unique(self, base: str) -> str:
        n = self._counts.get(base, 0)
        candidate = base
        while candidate in self.dag:
            n += 1
            candidate = f"{base}_{n + 1}"
        self._counts[base] = n
        return candidate


def outputs_of(task: TaskSpec) -> tuple[int | str, ...] | None:
    """The outputs a task declares by its return annotation: positions of a fixed-length
    ``tuple[...]`` (fields, when it is a NamedTuple or a dataclass), or None for one output.

    An annotation that does not evaluate (a name only imported for type checking) is one
    output: unpacking it then says to annotate, instead of failing the definition.
    """
    hint = returned_type(task)
    if isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields"):
        return tuple(hint._fields) or None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return tuple(f.name for f in dataclasses.fields(hint)) or None
    if typing.get_origin(hint) is tuple:
        elements = typing.get_args(hint)
        if elements and Ellipsis not in elements and elements != ((),):
            return tuple(range(len(elements)))
    return None


def returned_type(task: TaskSpec) -> Any:
    """The task's evaluated return annotation; None when it has none or it does not evaluate."""
    try:
        return typing.get_type_hints(task.fn).get("return")
    except Exception:  # any failure to evaluate means "not declared"
        return None


def rebuild_outputs(task: TaskSpec, elements: dict[int | str, Any]) -> Any:
    """The value of a task with several outputs made from its elements (cached ones), in the
    type its annotation declares, so a consumer of the whole value sees what the task returned."""
    cls = returned_type(task)
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        return cls(**{str(k): v for k, v in elements.items()})
    values = list(elements.values())
    return cls(*values) if isinstance(cls, type) and hasattr(cls, "_fields") else tuple(values)


def output_label(ref: Ref) -> str:
    """How one output is named in messages and reports: ``split``, ``split[0]``, ``split.left``."""
    match ref.output:
        case None:
            return ref.node
        case int(index):
            return f"{ref.node}[{index}]"
        case name:
            return f"{ref.node}.{name}"


def iter_refs(value: object) -> Iterator[Ref | ParamRef]:
    """Every reference inside a captured argument structure, in order."""
    if isinstance(value, (Ref, ParamRef)):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from iter_refs(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from iter_refs(v)


def resolve(value: object, lookup: Callable[[Ref | ParamRef], object]) -> Any:
    """The captured structure with every reference replaced by ``lookup(ref)``."""
    if isinstance(value, (Ref, ParamRef)):
        return lookup(value)
    if isinstance(value, (list, tuple)):
        return type(value)(resolve(v, lookup) for v in value)
    if isinstance(value, dict):
        return {k: resolve(v, lookup) for k, v in value.items()}
    return value


def _kind_of(value: object) -> str:
    if isinstance(value, Placeholder):
        return f"the {value._describe()}"
    return f"a {type(value).__name__}"
