"""What crosses the network in cloud mode: a task invocation *by name*, and its outcome, as JSON.

A deployed function never executes code it receives. The event names the pipeline, its module
and the code digest of the package, the unit's nodes (tasks of that pipeline), the attempt, the
hand-off, the inputs (staged Parquet URIs, or "the source bucket of node X"), the parameters and
where the output goes; the deployed handler imports the tasks from its own package and refuses
an event for other code. No pickle is read on either side: values travel in a small tagged JSON
form (:func:`to_json` / :func:`from_json`) that knows frames only as staged files.

The runner builds events with :func:`event_for` and reads replies with :func:`outcome_from`; a
deployed executor answers with :func:`execute_event`. Both ends share this module, so the
format has one definition.
"""

from __future__ import annotations

import base64
import builtins
import dataclasses
import datetime as dt
import enum
import importlib
import io
import traceback
from collections.abc import Mapping
from decimal import Decimal
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import polars as pl

from glacier import errors
from glacier.core.dag import SinkNode, SourceNode, TaskNode
from glacier.errors import DeploymentError, GlacierError, TaskError
from glacier.resources.bucket import Bucket
from glacier.runtime.backends.memory import peak_since_reset, reset_peak
from glacier.runtime.staging import OutputTarget, StagedFrame
from glacier.runtime.units import Handoff, Unit
from glacier.runtime.worker import IN_PROCESS, NodeStats, Outcome, StepRunner, run_unit, steps_of
from glacier.storage.commit import CommitToken, Notice, remote_copy

if TYPE_CHECKING:
    from glacier.provider import Provider
    from glacier.resources.graph import BoundPipeline
    from glacier.runtime.backends.base import Job

EVENT_FORMAT = "glacier.invocation/1"
OUTCOME_FORMAT = "glacier.outcome/1"

JSON = Any
"""A value ``json.dumps`` takes."""


class BadEvent(GlacierError, ValueError):
    """A deployed executor received an event that is not a Glacier invocation it may run."""


class NotPortable(GlacierError, TypeError):
    """A value cannot travel to or from a deployed executor as JSON."""


@dataclasses.dataclass(frozen=True)
class Code:
    """What a deployed package holds, as the event names it."""

    pipeline: str
    module: str
    digest: str


# --- values ----------------------------------------------------------------------------------


def to_json(value: Any) -> JSON:
    """``value`` in wire form: JSON scalars, lists and string-keyed dicts as they are, anything
    else tagged (``{"$date": ...}``); a staged frame as its URI and stats, never its rows."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, StagedFrame):
        return {"$staged": _staged(value)}
    if isinstance(value, Bucket):
        return {"$bucket": {"bucket": value.bucket, "path": value.path}}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: to_json(v) for k, v in value.items()}
        return {"$dict": [[to_json(k), to_json(v)] for k, v in value.items()]}
    if (isinstance(value, tuple) and hasattr(value, "_fields")) or _is_user_dataclass(value):
        fields = {str(k): to_json(v) for k, v in _fields(value).items()}
        return {"$record": {"class": _class_ref(type(value)), "fields": fields}}
    if isinstance(value, tuple):
        return {"$tuple": [to_json(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"$set": sorted((to_json(v) for v in value), key=repr)}
    if isinstance(value, pl.DataFrame):
        buffer = io.BytesIO()
        value.write_ipc(buffer)
        return {"$frame": base64.b64encode(buffer.getvalue()).decode("ascii")}
    if isinstance(value, dt.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$timedelta": value.total_seconds()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, PurePath):
        return {"$path": str(value)}
    if isinstance(value, enum.Enum):
        return {"$enum": {"class": _class_ref(type(value)), "name": value.name}}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    raise NotPortable(
        f"A {type(value).__name__} value cannot be sent to or from a deployed executor: cloud "
        f"mode sends plain data (numbers, strings, dates, lists, dicts, tuples, enums) and "
        f"frames. Return a frame or plain data, or pass what is needed to rebuild the object."
    )


def from_json(data: JSON, provider: Provider, module: str | None = None) -> Any:
    """A wire value back; staged frames and buckets are bound to ``provider``. ``module`` is
    the pipeline's module in this process, for records and enums defined there."""
    if isinstance(data, list):
        return [from_json(v, provider, module) for v in data]
    if not isinstance(data, dict):
        return data
    if len(data) != 1 or not next(iter(data)).startswith("$"):
        return {k: from_json(v, provider, module) for k, v in data.items()}
    tag, body = next(iter(data.items()))
    match tag:
        case "$staged":
            return _open_staged(body, provider)
        case "$bucket":
            return Bucket(provider, body["bucket"], body["path"])
        case "$dict":
            return {from_json(k, provider, module): from_json(v, provider, module) for k, v in body}
        case "$record":
            cls = _class(body["class"], module)
            fields = {k: from_json(v, provider, module) for k, v in body["fields"].items()}
            return cls(**fields)
        case "$tuple":
            return tuple(from_json(v, provider, module) for v in body)
        case "$set":
            return {from_json(v, provider, module) for v in body}
        case "$frame":
            return pl.read_ipc(io.BytesIO(base64.b64decode(body)))
        case "$datetime":
            return dt.datetime.fromisoformat(body)
        case "$date":
            return dt.date.fromisoformat(body)
        case "$timedelta":
            return dt.timedelta(seconds=body)
        case "$decimal":
            return Decimal(body)
        case "$path":
            return PurePath(body)
        case "$enum":
            return _class(body["class"], module)[body["name"]]
        case "$bytes":
            return base64.b64decode(body)
    raise BadEvent(f"Unknown value tag {tag!r} in a Glacier invocation or outcome.")


def _is_user_dataclass(value: Any) -> bool:
    cls = type(value)
    return dataclasses.is_dataclass(cls) and not cls.__module__.startswith("glacier.")


def _fields(value: Any) -> dict[str, Any]:
    if isinstance(value, tuple):
        return dict(value._asdict())  # type: ignore[attr-defined]  # a NamedTuple
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def _class_ref(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _class(ref: str, module: str | None) -> Any:
    """A class named by ``module:qualname``; a script's ``__main__`` and the package's module
    are the same file, so either name finds it in this process's pipeline module."""
    name, _, qualname = ref.partition(":")
    candidates = [name]
    if module is not None and name in ("__main__", module):
        candidates = [module, "__main__"]
    for candidate in candidates:
        try:
            found: Any = importlib.import_module(candidate)
        except ImportError:
            continue
        for part in qualname.split("."):
            found = getattr(found, part, None)
        if isinstance(found, type):
            return found
    raise BadEvent(f"Class {ref!r} of a value in the invocation is not importable here.")


def _staged(frame: StagedFrame) -> dict[str, Any]:
    schema = None
    if frame.schema is not None:
        buffer = io.BytesIO()
        pl.DataFrame(schema=frame.schema).write_ipc(buffer)
        schema = base64.b64encode(buffer.getvalue()).decode("ascii")
    return {
        "uri": frame.uri,
        "rows": frame.rows,
        "bytes": frame.bytes,
        "checksum": frame.checksum,
        "schema": schema,
    }


def _open_staged(body: Mapping[str, Any], provider: Provider) -> StagedFrame:
    schema = None
    if body.get("schema"):
        schema = pl.read_ipc(io.BytesIO(base64.b64decode(body["schema"]))).schema
    return StagedFrame(
        body["uri"], body["rows"], provider, body.get("bytes"), body.get("checksum"), schema
    )


# --- the runner's side -----------------------------------------------------------------------


def event_for(job: Job, run_id: str, code: Code) -> dict[str, Any]:
    """The event that asks a deployed executor to run ``job``: names and plain data only."""
    unit = job.unit
    target = job.target
    return {
        "format": EVENT_FORMAT,
        "pipeline": code.pipeline,
        "module": code.module,
        "digest": code.digest,
        "executor": unit.executor.name,
        "run_id": run_id,
        "unit": unit.id,
        "nodes": [n.id for n in unit.nodes],
        "attempt": job.attempt,
        "handoff": job.handoff.value,
        "inputs": {k: _input(v) for k, v in job.inputs.items()},
        "params": {k: to_json(v) for k, v in job.params.items()},
        "output": {
            "bucket": target.bucket,
            "key": target.key,
            "keep_collected": target.keep_collected,
        },
        "token": _token(target.token),
    }


def _input(value: Any) -> JSON:
    """A source bucket travels as a mark: the handler takes the bucket from its own pipeline,
    so an event cannot point a function at a bucket its pipeline does not read."""
    return {"$source": True} if isinstance(value, Bucket) else to_json(value)


def _token(token: CommitToken | None) -> JSON:
    if token is None:
        return None
    notice = token.notice
    where = None if notice is None else {"bucket": notice.bucket, "key": notice.key}
    return {"label": token.label, "notice": where, "revoked": token.revoked}


def outcome_from(reply: Mapping[str, Any], provider: Provider, module: str) -> Outcome:
    """The outcome a deployed executor answered, its staged frames bound to ``provider``."""
    if not isinstance(reply, Mapping) or reply.get("format") != OUTCOME_FORMAT:
        shown = repr(reply)[:200]
        raise TaskError(
            f"The deployed executor answered something that is not a Glacier outcome: {shown}. "
            f"Its package may be from another version of Glacier: redeploy it "
            f"(`glacier package`, then `terraform apply`)."
        )
    kept = reply.get("kept")
    error = reply.get("error")
    return Outcome(
        ok=bool(reply["ok"]),
        value=from_json(reply.get("value"), provider, module),
        stats={node: NodeStats(**s) for node, s in (reply.get("stats") or {}).items()},
        failed_node=reply.get("failed_node"),
        error=_error(error) if error else None,
        traceback=reply.get("traceback"),
        peak_memory=reply.get("peak_memory"),
        kept=_open_staged(kept, provider) if kept else None,
    )


class RemoteTaskError(TaskError):
    """A task raised an exception of its own type in a deployed executor (named in
    :attr:`type_name`); the original traceback is in the run's failure."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name


def _error(error: Mapping[str, Any]) -> BaseException:
    """The error a deployed task raised: Glacier's and Python's own types come back as
    themselves; any other is a :class:`RemoteTaskError` naming it (no code is imported)."""
    module, name, message = error.get("module"), str(error.get("type")), str(error.get("message"))
    if module == "builtins":
        cls = getattr(builtins, name, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            try:
                return cls(message)
            except Exception:  # an exception type whose constructor wants more
                pass
    if module == errors.__name__:
        cls = getattr(errors, name, None)
        if isinstance(cls, type) and issubclass(cls, GlacierError):
            try:
                return cls(message)
            except TypeError:
                pass
    return RemoteTaskError(f"{module}.{name}" if module else name, message)


# --- the deployed executor's side ------------------------------------------------------------


def execute_event(
    event: Mapping[str, Any],
    pipeline: BoundPipeline,
    executor: str,
    code: Code,
    provider: Provider,
    runner: StepRunner = IN_PROCESS,
) -> dict[str, Any]:
    """Run the unit ``event`` names, from this package's ``pipeline``, on ``provider`` (built
    from this executor's environment), its steps with ``runner`` (a cluster job's: on Spark);
    answer its outcome. A task's failure is an outcome, an event this executor may not run is
    :class:`BadEvent`."""
    if not isinstance(event, Mapping) or event.get("format") != EVENT_FORMAT:
        keys = sorted(event)[:5] if isinstance(event, Mapping) else type(event).__name__
        raise BadEvent(
            f"The event is not a Glacier invocation (keys {keys}): a Glacier function runs only "
            f"tasks named by its pipeline's runner (format {EVENT_FORMAT!r}), never code or "
            f"pickled payloads sent to it."
        )
    nodes = event.get("nodes") or []
    root = str(nodes[-1]) if nodes else "?"
    try:
        _check_code(event, code)
        unit = _unit(event, pipeline, executor)
        inputs = {
            k: _open_input(k, v, pipeline, provider, code.module)
            for k, v in event["inputs"].items()
        }
        params = {k: from_json(v, provider, code.module) for k, v in event["params"].items()}
        output = event["output"]
        target = OutputTarget(
            provider,
            output["bucket"],
            output["key"],
            bool(output.get("keep_collected")),
            _open_token(event.get("token"), provider),
        )
        handoff = Handoff(event["handoff"])
    except GlacierError as exc:
        return outcome_json(Outcome.failure(root, exc))
    steps = [
        dataclasses.replace(s, sink=_rebind(s.sink, provider)) if s.sink is not None else s
        for s in steps_of(unit)
    ]
    reset_peak()
    outcome = run_unit(steps, handoff, inputs, params, target, runner)
    return outcome_json(outcome, peak_since_reset())


def _check_code(event: Mapping[str, Any], code: Code) -> None:
    if event.get("pipeline") != code.pipeline:
        raise DeploymentError(
            f"This function runs pipeline {code.pipeline!r}, not {event.get('pipeline')!r}: "
            f"the deployment file points the runner at another pipeline's functions."
        )
    if event.get("digest") != code.digest:
        raise DeploymentError(
            f"The runner's code of pipeline {code.pipeline!r} ({event.get('digest')}) differs "
            f"from this deployed package ({code.digest}). Redeploy: `glacier package`, then "
            f"`terraform apply`."
        )


def _unit(event: Mapping[str, Any], pipeline: BoundPipeline, executor: str) -> Unit:
    """The unit of the pipeline's own nodes, each bound to this executor."""
    known = pipeline.dag.nodes
    nodes = []
    for node_id in event["nodes"]:
        node = known.get(node_id)
        if not isinstance(node, (TaskNode, SinkNode)) or node.executor.name != executor:
            raise BadEvent(
                f"Node {node_id!r} is not a task of pipeline {pipeline.name!r} on executor "
                f"{executor!r}; this function runs only that executor's tasks."
            )
        nodes.append(node)
    if not nodes:
        raise BadEvent("The invocation names no node to run.")
    return Unit(str(event["unit"]), nodes[-1].executor, nodes)


def _open_input(
    node_id: str, data: JSON, pipeline: BoundPipeline, provider: Provider, module: str
) -> Any:
    if data == {"$source": True}:
        node = pipeline.dag.nodes.get(node_id)
        if not isinstance(node, SourceNode):
            raise BadEvent(f"Input {node_id!r} is not a source bucket of the pipeline.")
        return _rebind(node.bucket, provider)
    return from_json(data, provider, module)


def _rebind(bucket: Bucket, provider: Provider) -> Bucket:
    """The pipeline's bucket on this executor's provider (its environment's names, its role)."""
    return Bucket(provider, bucket.bucket, bucket.path, bucket.config)


def _open_token(data: JSON, provider: Provider) -> CommitToken | None:
    if not data:
        return None
    where = data.get("notice")
    notice = Notice(provider.store, where["bucket"], where["key"]) if where else None
    return remote_copy(str(data.get("label", "")), notice, bool(data.get("revoked")))


def outcome_json(outcome: Outcome, peak_memory: int | None = None) -> dict[str, Any]:
    """The reply of a deployed executor: JSON only; an output that is not plain data fails."""
    try:
        value = to_json(outcome.value)
    except NotPortable as exc:
        node = outcome.failed_node or next(reversed(outcome.stats), "?")
        return outcome_json(Outcome.failure(node, exc, stats=outcome.stats))
    error = outcome.error
    return {
        "format": OUTCOME_FORMAT,
        "ok": outcome.ok,
        "value": value,
        "stats": {node: dataclasses.asdict(s) for node, s in outcome.stats.items()},
        "failed_node": outcome.failed_node,
        "error": None
        if error is None
        else {
            "module": type(error).__module__,
            "type": type(error).__qualname__,
            "message": str(error),
        },
        "traceback": outcome.traceback
        or ("".join(traceback.format_exception(error)) if error else None),
        "peak_memory": peak_memory if peak_memory is not None else outcome.peak_memory,
        "kept": _staged(outcome.kept) if outcome.kept is not None else None,
    }
