"""Cache keys: which changes to a pipeline make a node's key (and so a rerun) differ, which not."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from glacier import Pipeline, Provider, pipeline
from glacier.config import LocalConfig, ServerlessConfig, VmConfig
from glacier.core.dag import Ref
from glacier.runtime.cache import code_fingerprint, node_keys


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
        "from glacier.runtime.cache import code_fingerprint\n"
        "print(code_fingerprint(_at_least(10)))\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == here
