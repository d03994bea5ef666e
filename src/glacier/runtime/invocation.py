"""The serializable form of one attempt of a unit, and the worker entry point that runs it.

A backend in another process (a local worker process, a Dask worker, later a cloud function)
receives an :class:`Invocation` as bytes and calls :func:`invoke`. What crosses the boundary:

* task functions, with cloudpickle (by value for ``__main__``, by reference for modules);
* frames, only as Parquet files in the staging area (``StagedRef``): never pickled DataFrames
  and never serialized LazyFrame plans, which embed storage credentials;
* buckets and providers as descriptions without secrets (``config.to_dict()`` drops fields
  hidden from repr); the worker resolves credentials itself when it opens the provider;
* the outcome, back, as a :class:`WireOutcome` (staged frames as ``StagedRef``, plain stats),
  which :func:`decode_outcome` opens into an :class:`~glacier.runtime.worker.Outcome`.
"""

from __future__ import annotations

import functools
import inspect
import json
import pickle
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import cloudpickle  # type: ignore[import-untyped]
import polars as pl

from glacier.config import ProviderConfig, config_class
from glacier.core.dag import SinkNode
from glacier.errors import PipelineDefinitionError, TaskError
from glacier.provider import Provider
from glacier.resources.bucket import Bucket
from glacier.runtime.backends.memory import peak_since_reset, reset_peak
from glacier.runtime.staging import OutputTarget, StagedFrame
from glacier.runtime.units import Handoff, Unit
from glacier.runtime.worker import NodeStats, Outcome, Step, on_each, run_unit, steps_of
from glacier.storage.commit import CommitToken

if TYPE_CHECKING:
    from glacier.provider import Provider
    from glacier.runtime.backends.base import Job


@dataclass(frozen=True)
class ProviderRef:
    """A provider by its config's public fields (JSON text, so it is hashable and cacheable)."""

    config: str

    @classmethod
    def of(cls, provider: Provider) -> ProviderRef:
        return cls(json.dumps(provider.config.to_dict(), sort_keys=True))

    def open(self) -> Provider:
        return _open_provider(self.config)


@functools.cache
def _open_provider(config_json: str) -> Provider:
    """One provider per description per process, so warm workers reuse clients."""
    fields = json.loads(config_json)
    config = config_class(fields.pop("type"))(**fields)
    assert isinstance(config, ProviderConfig), "ProviderRef.of wrote a provider"
    return Provider(config)


@dataclass(frozen=True)
class BucketRef:
    provider: ProviderRef
    bucket: str
    path: str

    @classmethod
    def of(cls, bucket: Bucket) -> BucketRef:
        return cls(ProviderRef.of(bucket.provider), bucket.bucket, bucket.path)

    def open(self, provider: Provider | None = None) -> Bucket:
        return Bucket(provider or self.provider.open(), self.bucket, self.path)


@dataclass(frozen=True)
class StagedRef:
    """A :class:`StagedFrame` without its provider object."""

    provider: ProviderRef
    uri: str
    rows: int
    bytes: int | None = None
    checksum: str | None = None
    schema: pl.Schema | None = None

    @classmethod
    def of(cls, frame: StagedFrame) -> StagedRef:
        return cls(
            ProviderRef.of(frame.provider),
            frame.uri,
            frame.rows,
            frame.bytes,
            frame.checksum,
            frame.schema,
        )

    def open(self, provider: Provider | None = None) -> StagedFrame:
        return StagedFrame(
            self.uri,
            self.rows,
            provider or self.provider.open(),
            self.bytes,
            self.checksum,
            self.schema,
        )


@dataclass(frozen=True)
class Invocation:
    """Which unit to run, with what, and where its output goes."""

    run_id: str
    unit: str
    attempt: int
    steps: tuple[Step, ...]
    sinks: Mapping[str, BucketRef]
    handoff: Handoff
    inputs: Mapping[str, Any]
    params: Mapping[str, Any]
    output: BucketRef
    """Staging bucket and key for the root's Parquet output."""
    keep_collected: bool = False
    token: CommitToken | None = None
    """The attempt's right to publish, which the scheduler revokes at a soft timeout."""


@dataclass(frozen=True)
class WireOutcome:
    """An :class:`Outcome` on its way back from a worker: frames as :class:`StagedRef`, stats
    as plain data. :meth:`open` makes the caller's Outcome, so no Outcome changes in transit."""

    ok: bool
    value: Any
    stats: dict[str, dict[str, Any]]
    """Per node: ``seconds``, ``rows``, ``bytes`` (JSON-able)."""
    failed_node: str | None
    error: BaseException | None
    traceback: str | None
    peak_memory: int | None
    kept: StagedRef | None

    @classmethod
    def of(cls, outcome: Outcome, peak_memory: int | None = None) -> WireOutcome:
        value = outcome.value
        return cls(
            ok=outcome.ok,
            value=on_each(value, lambda v: StagedRef.of(v) if isinstance(v, StagedFrame) else v),
            stats={node: vars(s).copy() for node, s in outcome.stats.items()},
            failed_node=outcome.failed_node,
            error=outcome.error,
            traceback=outcome.traceback,
            peak_memory=peak_memory if peak_memory is not None else outcome.peak_memory,
            kept=StagedRef.of(outcome.kept) if outcome.kept is not None else None,
        )

    def open(self, provider: Provider) -> Outcome:
        """The outcome in the caller's process, its staged frames bound to ``provider``."""
        value = self.value
        return Outcome(
            ok=self.ok,
            value=on_each(value, lambda v: v.open(provider) if isinstance(v, StagedRef) else v),
            stats={node: NodeStats(**s) for node, s in self.stats.items()},
            failed_node=self.failed_node,
            error=self.error,
            traceback=self.traceback,
            peak_memory=self.peak_memory,
            kept=self.kept.open(provider) if self.kept is not None else None,
        )


def describe(job: Job, run_id: str) -> Invocation:
    """The invocation for ``job``: everything a worker in another process needs."""
    target = job.target
    steps = tuple(replace(s, sink=None) for s in steps_of(job.unit))
    sinks = {n.id: BucketRef.of(n.bucket) for n in job.unit.nodes if isinstance(n, SinkNode)}
    return Invocation(
        run_id=run_id,
        unit=job.unit.id,
        attempt=job.attempt,
        steps=steps,
        sinks=sinks,
        handoff=job.handoff,
        inputs={k: on_each(v, _portable) for k, v in job.inputs.items()},
        params=dict(job.params),
        output=BucketRef(ProviderRef.of(target.provider), target.bucket, target.key),
        keep_collected=target.keep_collected,
        token=target.token,
    )


def check_portable(unit: Unit, params: Mapping[str, Any], where: str) -> None:
    """Refuse, before the run starts, a unit whose functions or arguments cannot be pickled
    for a worker in another process (a lock, an open file, a database connection), naming the
    task and the value; otherwise the first attempt would fail with a bare ``TypeError``."""
    for step in steps_of(unit):
        values: list[tuple[str, Any]] = [(f"argument {i + 1}", a) for i, a in enumerate(step.args)]
        values += [(f"argument {k}=", v) for k, v in step.kwargs.items()]
        if step.fn is not None:
            values.append(("function", step.fn))
        for what, value in values:
            if (problem := _unpicklable(value)) is None:
                continue
            culprit = (_culprit(value) if what == "function" else None) or (what, value, problem)
            name, bad, why = culprit
            raise PipelineDefinitionError(
                f"Task {step.node!r} runs on {where}, in another process, so it is pickled "
                f"there; its {name} ({type(bad).__name__} {_short(bad)}) cannot be pickled: "
                f"{why}. Create such an object inside the task, pass what it needs to be "
                f"recreated (a path, a URL), or run the task on a local executor."
            )
    for name, value in params.items():
        if (problem := _unpicklable(value)) is not None:
            raise PipelineDefinitionError(
                f"Pipeline parameter {name!r} ({type(value).__name__} {_short(value)}) cannot be "
                f"pickled for the tasks on {where}: {problem}. Pass plain data instead."
            )


def _unpicklable(value: Any) -> str | None:
    """Why ``value`` does not cloudpickle, or None when it does."""
    try:
        cloudpickle.dumps(value)
    except Exception as exc:  # pickling fails in many ways; each is the answer
        return f"{type(exc).__name__}: {exc}"
    return None


def _culprit(fn: Any) -> tuple[str, Any, str] | None:
    """The closure variable, global or default of ``fn`` that does not pickle, if one is."""
    try:
        found = inspect.getclosurevars(fn)
    except (TypeError, ValueError):
        return None
    defaults = {str(i): v for i, v in enumerate(getattr(fn, "__defaults__", None) or ())}
    named: list[tuple[str, Mapping[str, Any]]] = [
        ("closure variable", found.nonlocals),
        ("global", found.globals),
        ("default value", defaults),
    ]
    for kind, variables in named:
        for name, value in variables.items():
            if (problem := _unpicklable(value)) is not None:
                return f"{kind} {name!r}", value, problem
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _portable(value: Any) -> Any:
    if isinstance(value, Bucket):
        return BucketRef.of(value)
    if isinstance(value, StagedFrame):
        return StagedRef.of(value)
    return value


def execute(invocation: Invocation, deployed: Provider | None = None) -> WireOutcome:
    """Run an invocation in this process; its outcome comes back in wire form.

    ``deployed`` is the provider of a deployed executor, built from its own environment: it
    then replaces every provider the invocation describes, so nothing of the runner's config
    (profile, credentials file, endpoints) is used there.
    """
    output = invocation.output
    provider = deployed or output.provider.open()
    target = OutputTarget(
        provider, output.bucket, output.path, invocation.keep_collected, invocation.token
    )
    inputs = {
        k: on_each(v, lambda e: e.open(deployed) if isinstance(e, (BucketRef, StagedRef)) else e)
        for k, v in invocation.inputs.items()
    }
    steps = [
        replace(s, sink=invocation.sinks[s.node].open(deployed))
        if s.node in invocation.sinks
        else s
        for s in invocation.steps
    ]
    reset_peak()
    outcome = run_unit(steps, invocation.handoff, inputs, invocation.params, target)
    return WireOutcome.of(outcome, peak_memory=peak_since_reset())


def encode(invocation: Invocation) -> bytes:
    """Invocation bytes: an envelope (plain pickle) around the cloudpickled invocation.

    The envelope carries the caller's import path, so that functions pickled by reference
    (defined in importable modules) can be imported before the invocation is unpickled.
    """
    envelope = {
        "sys_path": list(sys.path),
        "root": invocation.steps[-1].node,
        "invocation": cloudpickle.dumps(invocation),
    }
    return pickle.dumps(envelope)


def invoke(payload: bytes, deployed: Provider | None = None) -> bytes:
    """The entry point of every out-of-process worker: invocation bytes in, outcome bytes out.

    A deployed executor passes its own provider (``deployed``) and ignores the caller's import
    path: its package holds the pipeline's modules.
    """
    envelope = pickle.loads(payload)
    for entry in envelope["sys_path"] if deployed is None else ():
        if entry not in sys.path:
            sys.path.append(entry)
    root = envelope["root"]
    try:
        invocation: Invocation = cloudpickle.loads(envelope["invocation"])
    except Exception as exc:
        return _failed(
            root,
            f"Task {root!r}: the worker could not load the task ({type(exc).__name__}: {exc}). "
            f"Define tasks in the pipeline script or in a module importable where it runs.",
            traceback.format_exc(),
        )
    outcome = execute(invocation, deployed)
    try:
        return bytes(cloudpickle.dumps(outcome))
    except Exception as exc:  # a returned value or an exception that does not pickle
        node = outcome.failed_node or root
        return _failed(
            node,
            f"Task {node!r}: its result cannot be sent back from the worker process ({exc}). "
            f"Return a polars frame or plain data, and raise picklable exceptions.",
            outcome.traceback or traceback.format_exc(),
        )


def _failed(node: str, message: str, trace: str) -> bytes:
    outcome = Outcome.failure(node, TaskError(message), trace=trace)
    return bytes(cloudpickle.dumps(WireOutcome.of(outcome)))


def decode_outcome(data: bytes, provider: Provider) -> Outcome:
    """An outcome from a worker, with its staged frames bound to this process's provider."""
    wire: WireOutcome = cloudpickle.loads(data)
    return wire.open(provider)
