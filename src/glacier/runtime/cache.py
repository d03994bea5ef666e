"""Cache keys and cached outputs, so a rerun reuses what did not change.

A node's key hashes its task's code (bytecode, constants, closure values, defaults and the
plain-data globals and helper functions it names), its executor's kind and config, its constant
arguments and run parameters, and its inputs' keys; a bucket input contributes its objects'
fingerprint (version/ETag, or size and mtime). A task with ``cache=False``, or anything
downstream of one or of an unreadable source, has no key and always runs.

Outputs live in the staging area under ``cache/<key>.parquet`` with a JSON manifest holding
the file's checksum (``ObjectStore.checksum``: a CRC-32 locally, the version tag on object
stores); a hit is only returned after its checksum matches, so a corrupt file is recomputed,
never read. A sink's manifest records the fingerprint of the object it wrote;
the sink is skipped only while the bucket still holds exactly that object.
"""

from __future__ import annotations

import hashlib
import json
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from glacier.core.dag import ParamRef, Ref, SinkNode, SourceNode, TaskNode
from glacier.core.trace import resolve
from glacier.errors import GlacierError
from glacier.runtime.staging import StagedFrame, staging_bucket

if TYPE_CHECKING:
    from glacier.provider import Provider
    from glacier.resources.bucket import Bucket
    from glacier.resources.graph import Graph

CACHE_PREFIX = "cache"
_PLAIN = (int, float, str, bytes, bool, type(None))


def node_keys(dag: Graph, params: Mapping[str, Any]) -> dict[str, str | None]:
    """The cache key of every node, or None where its output cannot be reused."""
    keys: dict[str, str | None] = {}
    # Many nodes share a function and an executor: hash each once per run.
    code: dict[int, str] = {}
    configs: dict[int, str] = {}
    for node_id in dag.topological_order():
        node = dag[node_id]
        if isinstance(node, SourceNode):
            keys[node_id] = _source_key(node.bucket)
            continue
        inputs = [keys[p] for p in dag.predecessors(node_id)]
        if None in inputs or (isinstance(node, TaskNode) and not node.task.cache):
            keys[node_id] = None
            continue

        def lookup(ref: Ref | ParamRef) -> str:
            if isinstance(ref, ParamRef):
                return f"param:{value_digest(params[ref.name])}"
            return f"node:{keys[ref.node]}"

        parts: list[str] = [node.kind.value, *map(str, inputs)]
        parts.append(value_digest(resolve(node.args, lookup)))
        parts.append(value_digest(sorted(resolve(node.kwargs, lookup).items())))
        if isinstance(node, TaskNode):
            fn = node.task.fn
            if id(fn) not in code:
                code[id(fn)] = code_fingerprint(fn)
            parts.append(code[id(fn)])
        if isinstance(node, SinkNode):
            parts.append(node.bucket.address)
        executor = node.executor
        if id(executor) not in configs:
            config = executor.config
            configs[id(executor)] = _json(config.to_dict() if config else None)
        parts += [executor.kind.value, configs[id(executor)]]
        keys[node_id] = _digest("\0".join(parts))
    return keys


def _source_key(bucket: Bucket) -> str | None:
    try:
        return _digest(f"source\0{bucket.address}\0{bucket.metadata().fingerprint}")
    except GlacierError:
        return None  # missing input: the task that reads it runs and reports the real error


def code_fingerprint(fn: Callable[..., Any], _seen: set[int] | None = None) -> str:
    """A hash of what a function computes, stable across processes and runs."""
    seen = _seen if _seen is not None else set()
    if id(fn) in seen:
        return "recursive"
    seen.add(id(fn))
    if not isinstance(fn, types.FunctionType):
        return value_digest(fn)
    digest = hashlib.sha256()
    names: set[str] = set()
    _hash_code(fn.__code__, digest, names)
    for cell in fn.__closure__ or ():
        digest.update(_part(cell.cell_contents, seen).encode())
    digest.update(_part(fn.__defaults__, seen).encode())
    digest.update(_part(fn.__kwdefaults__, seen).encode())
    for name in sorted(names):
        value = fn.__globals__.get(name)
        if isinstance(value, (*_PLAIN, types.FunctionType)):
            digest.update(f"{name}={_part(value, seen)}".encode())
    return digest.hexdigest()


def _hash_code(code: types.CodeType, digest: Any, names: set[str]) -> None:
    digest.update(code.co_code)
    names.update(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _hash_code(const, digest, names)
        else:
            digest.update(repr(const).encode())


def _part(value: Any, seen: set[int]) -> str:
    if isinstance(value, types.FunctionType):
        return code_fingerprint(value, seen)
    return value_digest(value)


def value_digest(value: Any) -> str:
    """A hash of a constant argument, parameter or closure value."""
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
        if (
            manifest.get("checksum") is None
            or store.checksum(self.bucket, output) != manifest["checksum"]
        ):
            store.delete(self.bucket, self._manifest_key(key))
            return None
        rows, size = int(manifest["rows"]), manifest.get("bytes")
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
        try:
            data = json.loads(raw) if raw is not None else None
        except ValueError:
            return None
        return data if isinstance(data, dict) and data.get("key") == key else None

    def _write_manifest(self, key: str, fields: dict[str, Any]) -> None:
        text = _json({"key": key, **fields})
        self.provider.store.put_bytes(self.bucket, self._manifest_key(key), text.encode())
