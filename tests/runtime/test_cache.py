"""Cache keys: which changes to a pipeline make a node's key (and so a rerun) differ, which not."""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import subprocess
import sys
import threading
import types
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from glacier import Pipeline, Provider, pipeline
from glacier.config import LocalConfig, ServerlessConfig, VmConfig
from glacier.core.dag import ParamRef, Ref
from glacier.core.trace import resolve
from glacier.runtime import cache as cache_module
from glacier.runtime.cache import CacheWarning, node_keys
from glacier.runtime.content_hash import MEMO_NAME, ContentHashes
from glacier.runtime.fingerprint import code_fingerprint, installed_version


def _double(df: Any) -> pl.LazyFrame:
    return df.scan().with_columns(b=pl.col("a") * 2)


def _triple(df: Any) -> pl.LazyFrame:
    return df.scan().with_columns(b=pl.col("a") * 3)


def _at_least(threshold: int, column: str = "a") -> Callable[..., pl.LazyFrame]:
    def keep(df: pl.LazyFrame, day: str, limit: int, column: str = column) -> pl.LazyFrame:
        return df.filter(pl.col(column) >= threshold).head(limit).with_columns(day=pl.lit(day))

    return keep


def _at_most(threshold: int, column: str = "a") -> Callable[..., pl.LazyFrame]:
    """The same signature and closure as :func:`_at_least`, other code."""

    def keep(df: pl.LazyFrame, day: str, limit: int, column: str = column) -> pl.LazyFrame:
        return df.filter(pl.col(column) <= threshold).head(limit).with_columns(day=pl.lit(day))

    return keep


_MOVED: dict[str, Any] = {}
exec(  # _double again, further down a file of its own and under a comment
    compile(
        "import polars as pl\n\n\n# the same function, moved\ndef _double(df):\n"
        "    return df.scan().with_columns(b=pl.col('a') * 2)\n",
        "moved.py",
        "exec",
    ),
    _MOVED,
)

_KEEP = _at_least(10)


@dataclasses.dataclass(frozen=True)
class World:
    """One version of a two-task pipeline: ``prepare(raw)`` feeds ``keep(..., day, limit=)``."""

    prepare: Callable[..., Any] = _double
    keep: Callable[..., Any] = _KEEP
    limit: int = 5
    day: str = "mon"
    unused: str = "x"
    executor: str = "serverless"
    memory: int = 512
    rows: int = 100
    keep_name: str = "keep"
    executor_name: str = "fn"
    retries: int = 0


def _pipeline(provider: Provider, world: World) -> Pipeline:
    raw = provider.bucket(bucket="raw", path="in.parquet")
    path = Path(raw.uri)
    if not path.exists() or pl.read_parquet(path).height != world.rows:
        path.parent.mkdir(parents=True, exist_ok=True)
        pl.DataFrame({"a": list(range(world.rows))}).write_parquet(path)
    if world.executor == "vm":
        ex = provider.vm(config=VmConfig(memory=world.memory), name=world.executor_name)
    else:
        config = ServerlessConfig(memory=world.memory)
        ex = provider.serverless(config=config, name=world.executor_name)
    prepare = ex.task(name="prepare")(world.prepare)
    keep = ex.task(name=world.keep_name, retries=world.retries)(world.keep)

    @pipeline(name="keyed")
    def keyed(day: str, unused: str) -> Any:
        return keep(prepare(raw), day, limit=world.limit)

    return keyed


def _key(base: Path, world: World) -> str | None:
    """The cache key of ``keep``, the node the pipeline returns (executors are named once per
    provider, so each world has a provider of its own on the same folder)."""
    p = _pipeline(Provider(config=LocalConfig(base_path=base)), world)
    assert isinstance(p.output, Ref)
    return node_keys(p.dag, {"day": world.day, "unused": world.unused})[p.output.node]


CHANGES_THE_KEY = {
    "code": World(keep=_at_most(10)),
    "closure value": World(keep=_at_least(20)),
    "default argument": World(keep=_at_least(10, column="b")),
    "constant argument": World(limit=6),
    "run parameter it reads": World(day="tue"),
    "executor config": World(memory=1024),
    "executor kind": World(executor="vm"),
    "upstream code (its input's key)": World(prepare=_triple),
    "source data (bucket fingerprint)": World(rows=50),
}

KEEPS_THE_KEY = {
    "the same code, defined again": World(keep=_at_least(10)),
    "the same code on other lines, with a comment": World(prepare=_MOVED["_double"]),
    "run parameter it does not read": World(unused="y"),
    "task name": World(keep_name="filter"),
    "executor name": World(executor_name="other"),
    "retries": World(retries=3),
}


@pytest.mark.parametrize("world", CHANGES_THE_KEY.values(), ids=CHANGES_THE_KEY.keys())
def test_a_change_to_what_a_node_computes_changes_its_key(tmp_path: Path, world: World) -> None:
    before = _key(tmp_path, World())
    after = _key(tmp_path, world)
    assert before is not None and after is not None
    assert after != before


@pytest.mark.parametrize("world", KEEPS_THE_KEY.values(), ids=KEEPS_THE_KEY.keys())
def test_a_change_that_computes_the_same_keeps_the_key(tmp_path: Path, world: World) -> None:
    before = _key(tmp_path, World())
    assert before is not None
    assert _key(tmp_path, world) == before


def test_uncacheable_tasks_and_unreadable_sources_have_no_key(provider: Provider) -> None:
    ex = provider.local()
    missing = provider.bucket(bucket="raw", path="missing.parquet")
    fresh = ex.task(name="fresh", cache=False)(lambda: 1)
    plus = ex.task(name="plus")(lambda x: x + 1)
    read = ex.task(name="read")(lambda src: src.scan())
    constant = ex.task(name="constant")(lambda: 2)

    @pipeline(name="unkeyed")
    def unkeyed() -> Any:
        return plus(fresh()), plus(read(missing)), plus(constant())

    keys = node_keys(unkeyed.dag, {})
    assert {n: keys[n] is None for n in keys} == {
        "fresh": True,
        "plus": True,  # downstream of an uncacheable task
        "read:raw/missing.parquet": True,
        "read": True,
        "plus_2": True,  # downstream of an unreadable source
        "constant": False,
        "plus_3": False,
    }


def test_a_sink_is_keyed_by_its_input_and_the_bucket_it_writes(provider: Provider) -> None:
    ex = provider.local()
    make = ex.task(name="make")(lambda: pl.DataFrame({"a": [1]}))

    def sink_key(path: str) -> str | None:
        out = provider.bucket(bucket="out", path=path)

        @pipeline(name="sunk")
        def sunk() -> None:
            out.write(make())

        return node_keys(sunk.dag, {})[f"write:out/{path}"]

    first = sink_key("a.parquet")
    assert first is not None
    assert sink_key("a.parquet") == first
    assert sink_key("b.parquet") != first


def test_code_fingerprints_are_the_same_in_another_process() -> None:
    here = code_fingerprint(_at_least(10))
    script = (
        "from tests.runtime.test_cache import _at_least\n"
        "from glacier.runtime.fingerprint import code_fingerprint\n"
        "print(code_fingerprint(_at_least(10)))\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == here


# --- what a task reaches beyond its own code ------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass(frozen=True)
class Limits:
    low: int
    names: tuple[str, ...] = ()


class Threshold:
    """A plain class of the user's own, with state and a method."""

    def __init__(self, low: int) -> None:
        self.low = low

    def apply(self, lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.filter(pl.col("a") >= self.low)


_BUCKETS = Provider(config=LocalConfig(base_path="unused"))


def _helper_module(body: str) -> types.ModuleType:
    """A module of the user's own (no installed file), as ``import helper`` would give."""
    module = types.ModuleType("helper")
    exec(compile(f"import polars as pl\n{body}", "helper.py", "exec"), module.__dict__)
    return module


def _with_global(value: object, code: str = "df.with_columns(x=pl.lit(len(repr(CONF))))") -> Any:
    """``keep`` with the same code each time, reading a global ``CONF`` bound to ``value``."""
    namespace: dict[str, Any] = {"CONF": value, "pl": pl}
    exec(f"def keep(df, day, limit):\n    return {code}\n", namespace)
    return namespace["keep"]


_TRANSFORM_A = "def transform(lf):\n    return lf.with_columns(y=pl.lit(1))\n"
_TRANSFORM_B = "def transform(lf):\n    return lf.with_columns(y=pl.lit(2))\n"
_CLEANER_A = "class Cleaner:\n    def run(self, lf):\n        return lf.head(1)\n"
_CLEANER_B = "class Cleaner:\n    def run(self, lf):\n        return lf.head(2)\n"
_VIA_MODULE = "helper.transform(df)"
_VIA_CLASS = "helper.Cleaner().run(df)"

GLOBALS_IN_THE_KEY: dict[str, tuple[Any, Callable[[], object], Callable[[], object]]] = {
    # name: (how keep is made (None: it reads CONF), CONF before, CONF after); each value is
    # built afresh on every call, so "equal" is tested on an equal value, not the same object
    "helper called through its module": (
        lambda: _with_global(None, _VIA_MODULE.replace("helper", "CONF")),
        lambda: _helper_module(_TRANSFORM_A),
        lambda: _helper_module(_TRANSFORM_B),
    ),
    "method of a class in a helper module": (
        lambda: _with_global(None, _VIA_CLASS.replace("helper", "CONF")),
        lambda: _helper_module(_CLEANER_A),
        lambda: _helper_module(_CLEANER_B),
    ),
    "dict": (None, lambda: {"a": 1, "b": [1, 2]}, lambda: {"a": 1, "b": [1, 3]}),
    "tuple": (None, lambda: (1, "x"), lambda: (1, "y")),
    "list": (None, lambda: [1, 2], lambda: [2, 1]),
    "set": (None, lambda: {"eu", "us"}, lambda: {"eu", "apac"}),
    "frozen dataclass": (None, lambda: Limits(1, ("a",)), lambda: Limits(1, ("b",))),
    "enum": (None, lambda: Color.RED, lambda: Color.BLUE),
    "date": (None, lambda: date(2024, 1, 31), lambda: date(2024, 2, 1)),
    "Decimal": (None, lambda: Decimal("1.10"), lambda: Decimal("1.1")),
    "Path": (None, lambda: Path("a/b"), lambda: Path("a/c")),
    "polars expression": (None, lambda: pl.col("a") > 1, lambda: pl.col("a") > 2),
    "instance of your own class": (None, lambda: Threshold(1), lambda: Threshold(2)),
    "a bucket it closes over": (
        None,
        lambda: _BUCKETS.bucket(bucket="out", path="a.parquet"),
        lambda: _BUCKETS.bucket(bucket="out", path="b.parquet"),
    ),
    "nested": (
        None,
        lambda: {"k": (Limits(1), {Color.RED})},
        lambda: {"k": (Limits(1), {Color.BLUE})},
    ),
}


def _global_key(base: Path, make: Any, value: object) -> str | None:
    keep = make() if make is not None else _with_global(value)
    keep.__globals__["CONF"] = value
    return _key(base, World(keep=keep))


@pytest.mark.parametrize(
    ("make", "before", "after"), GLOBALS_IN_THE_KEY.values(), ids=GLOBALS_IN_THE_KEY.keys()
)
def test_a_changed_global_changes_the_key_and_an_equal_one_keeps_it(
    tmp_path: Path, make: Any, before: Callable[[], object], after: Callable[[], object]
) -> None:
    first = _global_key(tmp_path, make, before())
    assert first is not None
    assert _global_key(tmp_path, make, before()) == first
    assert _global_key(tmp_path, make, after()) != first


def test_a_global_without_a_deterministic_hash_turns_the_cache_off_with_a_warning(
    tmp_path: Path,
) -> None:
    with pytest.warns(CacheWarning, match=r"Task 'keep' is not cached: it uses 'CONF'.*lock"):
        key = _key(tmp_path, World(keep=_with_global({"guard": threading.Lock()})))
    assert key is None


def test_a_global_that_contains_itself_turns_the_cache_off_with_a_warning(
    tmp_path: Path,
) -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.warns(CacheWarning, match=r"Task 'keep' is not cached"):
        assert _key(tmp_path, World(keep=_with_global(loop))) is None


def test_installed_code_is_keyed_by_its_version_not_followed() -> None:
    assert installed_version("polars.functions") == f"polars=={pl.__version__}"
    assert installed_version("json") == f"python=={sys.version_info.major}.{sys.version_info.minor}"
    assert installed_version(__name__) is None  # the user's own code is followed


def test_global_sets_hash_the_same_under_another_hash_seed() -> None:
    script = (
        "from tests.runtime.test_cache import _with_global\n"
        "from glacier.runtime.fingerprint import code_fingerprint\n"
        "print(code_fingerprint(_with_global({'eu', 'us', 'apac', 'latam'})))\n"
    )
    root = Path(__file__).resolve().parents[2]
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_every_key_is_salted_with_the_cache_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _key(tmp_path, World())
    monkeypatch.setattr(cache_module, "CACHE_FORMAT", cache_module.CACHE_FORMAT + 1)
    assert _key(tmp_path, World()) != before


# --- local inputs are keyed by content ----------------------------------------------------------


def _csv_source_key(provider: Provider) -> str | None:
    raw = provider.bucket(bucket="raw", path="in.csv")
    read = provider.local().task(name="read")(lambda src: src.scan())

    @pipeline(name="by_content")
    def by_content() -> Any:
        return read(raw)

    return node_keys(by_content.dag, {})["read:raw/in.csv"]


def test_a_rewrite_with_the_same_size_and_a_restored_mtime_changes_the_key(
    provider: Provider,
) -> None:
    path = Path(provider.bucket(bucket="raw", path="in.csv").uri)
    path.parent.mkdir(parents=True)
    path.write_text("a\n1\n")
    first = _csv_source_key(provider)
    stat = path.stat()
    path.write_text("a\n2\n")  # what `cp -p` or `rsync -a` of another version does
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    assert first is not None
    assert _csv_source_key(provider) != first


def test_a_file_is_hashed_once_while_its_stat_is_unchanged(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    data.write_text("a\n1\n")
    memo = tmp_path / ".glacier" / MEMO_NAME
    hashes = ContentHashes(memo)
    real = hashes.digest(data)
    hashes.save()
    saved = json.loads(memo.read_text())
    # Replace the remembered hash: a second digest that returns it did not read the file.
    saved["files"][str(data)][1] = "remembered"
    memo.write_text(json.dumps(saved))
    assert ContentHashes(memo).digest(data) == "remembered"
    data.write_text("a\n1\n")  # the same bytes, a new ctime: read again
    assert ContentHashes(memo).digest(data) == real


@pytest.mark.parametrize(
    "args",
    [
        (),
        (Ref("a"),),
        (Ref("a"), Ref("b")),
        (Ref("a"), Ref("b"), Ref("a")),
        (Ref("a", 0),),
        (Ref("a"), 3),
        ([Ref("a"), Ref("b")],),
        (ParamRef("day"), Ref("a")),
    ],
    ids=[
        "none",
        "one ref",
        "two refs",
        "three refs",
        "one output",
        "ref and constant",
        "nested",
        "param",
    ],
)
def test_the_fast_digest_of_arguments_is_the_generic_one(args: tuple[Any, ...]) -> None:
    """Keys must not change with the shortcut for plain references (entries stay hits)."""
    keys: dict[str, str | None] = {"a": "0a" * 32, "b": "fb" * 32}  # keys are hex digests

    def lookup(ref: Ref | ParamRef) -> str:
        if isinstance(ref, ParamRef):
            return f"param:{cache_module.value_digest('mon')}"
        output = "" if ref.output is None else f":{ref.output!r}"
        return f"node:{keys[ref.node]}{output}"

    generic = cache_module.value_digest(resolve(args, lookup))
    assert cache_module._args_digest(args, keys, lookup) == generic


SETTINGS = {"factor": 2}
"""A global a task reads: changed between two runs of one pipeline, its key must change."""


def _scaled(df: Any, factor: int) -> pl.LazyFrame:
    return df.scan().with_columns(b=pl.col("a") * SETTINGS["factor"] * factor)


class _Box:
    """A constant argument that is not plain data: it can change between runs."""

    def __init__(self, n: int) -> None:
        self.n = n


def test_the_keys_of_one_pipeline_follow_what_changed_since_its_last_run(
    provider: Provider,
) -> None:
    raw = provider.bucket(bucket="raw", path="in.parquet")
    Path(raw.uri).parent.mkdir(parents=True)
    pl.DataFrame({"a": [1, 2]}).write_parquet(raw.uri)
    scale = provider.local(name="ex").task(name="scale")(_scaled)

    @pipeline(name="again")
    def again(factor: int) -> Any:
        return scale(raw, factor)

    assert isinstance(again.output, Ref)
    node = again.output.node

    def key(factor: int = 1) -> str | None:
        return node_keys(again.dag, {"factor": factor})[node]

    def fresh(factor: int = 1) -> str | None:
        """The key worked out from scratch, not reused from an earlier run."""
        cache_module._KEYS.clear()
        return key(factor)

    first = key()
    assert first is not None and key() == first == fresh()
    assert key(3) not in (first, None) and key(3) == fresh(3)  # a run parameter
    assert key() == first
    SETTINGS["factor"] = 5  # a global the task reads
    try:
        assert key() not in (first, None) and key() == fresh()
    finally:
        SETTINGS["factor"] = 2
    assert key() == first
    pl.DataFrame({"a": [1, 3]}).write_parquet(raw.uri)  # the source's bytes
    changed = key()
    assert changed not in (first, None) and changed == fresh()
    scale.cache = False
    try:
        assert key() is None
    finally:
        scale.cache = True
    assert key() == changed


def test_a_constant_that_is_not_plain_data_is_hashed_on_every_run(provider: Provider) -> None:
    box = _Box(1)
    use = provider.local(name="ex").task(name="use")(lambda b: b.n)

    @pipeline(name="boxed")
    def boxed() -> Any:
        return use(box)

    assert isinstance(boxed.output, Ref)
    first = node_keys(boxed.dag, {})[boxed.output.node]
    box.n = 2
    assert node_keys(boxed.dag, {})[boxed.output.node] not in (first, None)
