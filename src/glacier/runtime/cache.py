"""Cache keys and cached outputs, so a rerun reuses what did not change.

A node's key hashes the cache format (:data:`CACHE_FORMAT`), its task's code fingerprint
(:mod:`glacier.runtime.fingerprint`: code, defaults, closure values, and the globals, helper
modules, functions and classes it reaches, with installed packages by version), its
executor's kind and config, its constant arguments and run parameters, and its inputs' keys.
A bucket input contributes its objects' fingerprint: the sha256 of each local file's bytes
(:mod:`glacier.runtime.content_hash`), the version or ETag of each cloud object. A task with
``cache=False``, one whose globals cannot be hashed (a warning names the global), or anything
downstream of one or of an unreadable source, has no key and always runs.

Outputs live in the staging area under ``cache/<key>.parquet`` with a JSON manifest holding
the file's checksum (``ObjectStore.checksum``: a CRC-32 locally, the version tag on object
stores); a hit is only returned after its checksum matches, so a corrupt file is recomputed,
never read. A sink's manifest records the fingerprint of the object it wrote;
the sink is skipped only while the bucket still holds exactly that object. A manifest that is
not one (edited, truncated) is skipped with a warning and the output recomputed.
"""

from __future__ import annotations

import hashlib
import json
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glacier.config.base import Cloud
from glacier.core.dag import ParamRef, Ref, SinkNode, SourceNode, TaskNode
from glacier.core.trace import iter_refs, resolve
from glacier.errors import GlacierError
from glacier.runtime.content_hash import MEMO_NAME, ContentHashes
from glacier.runtime.fingerprint import Uncacheable, code_fingerprint
from glacier.runtime.staging import StagedFrame, staging_bucket

if TYPE_CHECKING:
    from glacier.provider import Provider
    from glacier.resources.bucket import Bucket
    from glacier.resources.executor import Executor
    from glacier.resources.graph import BoundTask, Graph

CACHE_PREFIX = "cache"
CACHE_FORMAT = 2
"""Salted into every key: bump it when what a key covers or how an entry is stored changes, so
entries written by an older Glacier are never read as hits."""
_PLAIN = (int, float, str, bytes, bool, type(None))


class CacheWarning(UserWarning):
    """Something made the cache skip a node or an entry; the run itself is unaffected."""


def node_keys(dag: Graph, params: Mapping[str, Any]) -> dict[str, str | None]:
    """The cache key of every node, or None where its output cannot be reused.

    Keys are a function of the DAG and of what :func:`_run_inputs` gathers (sources' content,
    code fingerprints, executor configs, run parameters), worked out on every run. When those
    equal the last run's, the last run's keys are returned instead of hashed again node by
    node; a DAG with a constant argument that is not plain data is hashed every time.
    """
    shape = _shape(dag)
    gathered, fingerprints, configs, sources = _run_inputs(shape, params)
    last = _KEYS.get(dag)
    if last is not None and last[0] == gathered:
        return dict(last[1])
    keys = _hash_nodes(dag, params, fingerprints, configs, sources)
    if shape.reusable and None not in fingerprints.values():  # an uncacheable task warns anew
        _KEYS[dag] = (gathered, dict(keys))
    return keys


@dataclass(frozen=True)
class _Shape:
    """What a DAG's keys read besides the DAG itself, gathered once per DAG."""

    sources: tuple[SourceNode[Bucket], ...]
    tasks: tuple[BoundTask, ...]
    executors: tuple[Executor, ...]
    params: tuple[str, ...]
    sinks: tuple[SinkNode[Bucket, Executor], ...]
    size: int
    """Nodes in the DAG when this was gathered (a defined pipeline's DAG no longer changes)."""
    reusable: bool
    """Every constant argument is plain data (scalars, and containers of them), which nothing
    can change between runs: the keys depend on what :func:`_run_inputs` gathers alone."""


def _shape(dag: Graph) -> _Shape:
    shape = _SHAPES.get(dag)
    if shape is None or shape.size != len(dag):
        nodes = [dag[n] for n in dag.topological_order()]
        work = [n for n in nodes if not isinstance(n, SourceNode)]
        tasks = {id(n.task): n.task for n in work if isinstance(n, TaskNode)}
        refs = [r for n in work for r in iter_refs((n.args, n.kwargs))]
        shape = _SHAPES[dag] = _Shape(
            sources=tuple(n for n in nodes if isinstance(n, SourceNode)),
            tasks=tuple(tasks.values()),
            executors=tuple({id(n.executor): n.executor for n in work}.values()),
            params=tuple(dict.fromkeys(r.name for r in refs if isinstance(r, ParamRef))),
            sinks=tuple(n for n in work if isinstance(n, SinkNode)),
            size=len(nodes),
            reusable=all(_constant(n.args) and _constant(n.kwargs) for n in work),
        )
    return shape


def _constant(value: Any) -> bool:
    """Whether ``value`` (captured arguments) holds only references and plain data."""
    if isinstance(value, (Ref, ParamRef)) or type(value) in _PLAIN:
        return True
    if isinstance(value, (tuple, list)):
        return all(map(_constant, value))
    if isinstance(value, dict):
        return all(type(k) in _PLAIN for k in value) and all(map(_constant, value.values()))
    return False


_SHAPES: weakref.WeakKeyDictionary[Graph, _Shape] = weakref.WeakKeyDictionary()
_KEYS: weakref.WeakKeyDictionary[Graph, tuple[tuple[Any, ...], dict[str, str | None]]] = (
    weakref.WeakKeyDictionary()
)
"""A DAG's keys and what they were worked out from, as of its last run."""


def _run_inputs(
    shape: _Shape, params: Mapping[str, Any]
) -> tuple[tuple[Any, ...], dict[int, str | None], dict[int, str], dict[str, str | None]]:
    """What this run's keys are worked out from, as one comparable tuple, and its parts: the
    code fingerprint of each cached task's function (None: it has none), each executor's
    part of a key, each source's key."""
    hashes: dict[int, ContentHashes] = {}
    sources = {n.id: _source_key(n.bucket, hashes) for n in shape.sources}
    for memo in hashes.values():
        memo.save()
    fingerprints: dict[int, str | None] = {}
    for task in shape.tasks:
        if task.cache and id(task.fn) not in fingerprints:
            fingerprints[id(task.fn)] = _fingerprint(task.fn)
    configs = {id(e): _config(e) for e in shape.executors}
    missing = object()
    gathered = (
        shape.size,
        tuple(sources.values()),
        tuple(fingerprints.values()),
        tuple(t.cache for t in shape.tasks),
        tuple(configs.values()),
        tuple(value_digest(params.get(name, missing)) for name in shape.params),
        tuple(n.bucket.address for n in shape.sinks),
    )
    return gathered, fingerprints, configs, sources


def _hash_nodes(
    dag: Graph,
    params: Mapping[str, Any],
    fingerprints: Mapping[int, str | None],
    configs: Mapping[int, str],
    sources: Mapping[str, str | None],
) -> dict[str, str | None]:
    """Every node's key, in topological order: a node's key hashes its inputs' keys."""
    keys: dict[str, str | None] = {}
    warned: set[int] = set()  # a function that cannot be hashed warns once a run

    def lookup(ref: Ref | ParamRef) -> str:
        if isinstance(ref, ParamRef):
            return f"param:{value_digest(params[ref.name])}"
        output = "" if ref.output is None else f":{ref.output!r}"  # which of several
        return f"node:{keys[ref.node]}{output}"

    for node_id in dag.topological_order():
        node = dag[node_id]
        if isinstance(node, SourceNode):
            keys[node_id] = sources[node_id]
            continue
        inputs = [keys[p] for p in dag.predecessors(node_id)]
        if None in inputs or (isinstance(node, TaskNode) and not node.task.cache):
            keys[node_id] = None
            continue
        parts: list[str] = [_FORMAT_PART, str(node.kind), *inputs]  # type: ignore[list-item]
        parts.append(_args_digest(node.args, keys, lookup))
        # kwargs are digested as their sorted items; no kwargs is the sorted empty list, "[]"
        kwargs = node.kwargs
        parts.append(value_digest(sorted(resolve(kwargs, lookup).items())) if kwargs else "[]")
        if isinstance(node, TaskNode):
            fingerprint = fingerprints[id(node.task.fn)]
            if fingerprint is None:
                if id(node.task.fn) not in warned:
                    warned.add(id(node.task.fn))
                    _warn_uncacheable(node.task)
                keys[node_id] = None
                continue
            parts.append(fingerprint)
        if isinstance(node, SinkNode):
            parts.append(node.bucket.address)
        parts.append(configs[id(node.executor)])
        keys[node_id] = _digest("\0".join(parts))
    return keys


_FORMAT_PART = f"format:{CACHE_FORMAT}"


def _args_digest(
    args: tuple[Any, ...], keys: Mapping[str, str | None], lookup: Callable[[Ref | ParamRef], str]
) -> str:
    """``value_digest`` of the positional arguments with references resolved by ``lookup``.

    Most arguments are whole outputs of other nodes: their resolved form is a tuple of
    ``node:<key>`` strings, whose digest is its repr. Keys are hex digests, which repr quotes
    as they are, so that repr is written here directly (``repr`` of a tuple costs 4x more).
    """
    quoted = [f"'node:{keys[a.node]}'" for a in args if type(a) is Ref and a.output is None]
    if len(quoted) != len(args):
        return value_digest(resolve(args, lookup))
    return f"({quoted[0]},)" if len(quoted) == 1 else f"({', '.join(quoted)})"


def _config(executor: Executor) -> str:
    """The executor's part of a key: its kind and its config."""
    return f"{executor.kind}\0{_json(executor.config.to_dict() if executor.config else None)}"


def _fingerprint(fn: Callable[..., Any]) -> str | None:
    """``fn``'s code fingerprint, or None if it has none (see :func:`_warn_uncacheable`)."""
    try:
        return code_fingerprint(fn)
    except Uncacheable:
        return None


def _warn_uncacheable(task: BoundTask) -> None:
    """Say which value keeps ``task`` from being cached."""
    try:
        code_fingerprint(task.fn)
    except Uncacheable as exc:
        code = getattr(task.fn, "__code__", None)
        warnings.warn_explicit(
            f"Task {task.name!r} is not cached: it uses {exc.name!r}, whose value "
            f"(a {exc.value_type}) has no deterministic hash, so a change to it could not be seen. "
            f"Pass it as an argument or make it plain data, or set cache=False to silence this.",
            CacheWarning,
            filename=code.co_filename if code else "<unknown>",
            lineno=code.co_firstlineno if code else 0,
        )


def _source_key(bucket: Bucket, hashes: dict[int, ContentHashes]) -> str | None:
    try:
        if bucket.provider.cloud is Cloud.LOCAL:
            content = _local_content(bucket, hashes)
        else:
            content = bucket.metadata().fingerprint
    except (GlacierError, OSError):
        return None  # missing input: the task that reads it runs and reports the real error
    return _digest(f"format:{CACHE_FORMAT}\0source\0{bucket.address}\0{content}")


def _local_content(bucket: Bucket, hashes: dict[int, ContentHashes]) -> str:
    """A hash of the names and bytes of every file the bucket path names (mtime is no proof)."""
    provider = bucket.provider
    store = provider.store
    if id(provider) not in hashes:
        hashes[id(provider)] = ContentHashes(Path(store.uri(staging_bucket(provider), MEMO_NAME)))
    memo = hashes[id(provider)]
    objects = bucket.objects()
    if not objects:
        bucket.metadata()  # raises the missing-input StorageError
    digest = hashlib.sha256()
    for obj in sorted(objects, key=lambda o: o.key):
        path = Path(store.uri(bucket.bucket, obj.key))
        digest.update(f"{obj.key}\0{memo.digest(path)}\n".encode())
    return digest.hexdigest()


def value_digest(value: Any) -> str:
    """A hash of a constant argument or a parameter."""
    if _is_plain(value):
        return repr(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not hasattr(value, "schema"):  # a Glacier resource, not a frame
        return _digest(_json(to_dict()))
    try:
        # lazy: most arguments are plain, and a run of in-process tasks never needs cloudpickle
        import cloudpickle  # type: ignore[import-untyped]  # noqa: PLC0415

        return hashlib.sha256(cloudpickle.dumps(value)).hexdigest()
    except Exception:  # a value that does not pickle
        return _digest(repr(value))


def _is_plain(value: Any) -> bool:
    """Scalars, and tuples/lists of them: their repr is already a stable digest."""
    if isinstance(value, (tuple, list)):
        return all(_is_plain(v) for v in value)
    return isinstance(value, _PLAIN)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Cache:
    """Cached outputs in one provider's staging area."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.bucket = staging_bucket(provider)

    def output_key(self, key: str) -> str:
        return f"{CACHE_PREFIX}/{key}.parquet"

    def _manifest_key(self, key: str) -> str:
        return f"{CACHE_PREFIX}/{key}.json"

    def lookup(self, key: str) -> StagedFrame | None:
        """The cached frame for ``key`` if present and intact; a corrupt one is dropped."""
        manifest = self._read_manifest(key)
        if manifest is None:
            return None
        store = self.provider.store
        output = self.output_key(key)
        rows, size, checksum = manifest.get("rows"), manifest.get("bytes"), manifest.get("checksum")
        if not _count(rows) or not (size is None or _count(size)) or not isinstance(checksum, str):
            self._skip(key, f"rows={rows!r}, bytes={size!r}, checksum={checksum!r}")
            return None
        if store.checksum(self.bucket, output) != checksum:
            store.delete(self.bucket, self._manifest_key(key))
            return None
        assert isinstance(rows, int), "checked by _count above"
        return StagedFrame(store.uri(self.bucket, output), rows, self.provider, size)

    def commit(self, key: str, node: str, frame: StagedFrame) -> None:
        """Record an output written at :meth:`output_key`, after the file itself is committed."""
        if frame.checksum is not None:
            self._write_manifest(
                key,
                {
                    "node": node,
                    "rows": frame.rows,
                    "bytes": frame.bytes,
                    "checksum": frame.checksum,
                },
            )

    def sink_done(self, key: str, bucket: Bucket) -> bool:
        """Whether ``bucket`` still holds exactly what the sink with ``key`` wrote."""
        manifest = self._read_manifest(key)
        if manifest is None:
            return False
        try:
            return bool(bucket.metadata().fingerprint == manifest.get("fingerprint"))
        except GlacierError:
            return False

    def commit_sink(self, key: str, node: str, bucket: Bucket) -> None:
        self._write_manifest(key, {"node": node, "fingerprint": bucket.metadata().fingerprint})

    def _read_manifest(self, key: str) -> dict[str, Any] | None:
        raw = self.provider.store.get_bytes(self.bucket, self._manifest_key(key))
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict) or data.get("key") != key:
            self._skip(key, "not a JSON manifest of this key")
            return None
        return data

    def _skip(self, key: str, problem: str) -> None:
        """A damaged manifest is a miss: the node runs again and its commit replaces it."""
        where = self.provider.store.uri(self.bucket, self._manifest_key(key))
        warnings.warn(
            f"Ignored cache manifest {where} ({problem}); the task runs again.",
            CacheWarning,
            stacklevel=3,
        )

    def _write_manifest(self, key: str, fields: dict[str, Any]) -> None:
        text = _json({"key": key, **fields})
        self.provider.store.put_bytes(self.bucket, self._manifest_key(key), text.encode())
