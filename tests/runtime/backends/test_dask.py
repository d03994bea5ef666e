"""VM executors on a local Dask cluster, and frames crossing local, serverless and VM tasks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import polars as pl
import pytest

from glacier import Provider, pipeline
from glacier.config import LambdaConfig, LocalConfig, VmConfig
from glacier.errors import TaskFailed

pytest.importorskip("distributed")


def _double(df: pl.LazyFrame) -> pl.LazyFrame:
    return df.with_columns(b=pl.col("a") * 2)


def _positive(df: pl.LazyFrame) -> pl.LazyFrame:
    return df.filter(pl.col("a") % 3 != 0)


def _by_group(df: pl.LazyFrame) -> pl.LazyFrame:
    return df.group_by("g").agg(pl.col("b").sum(), pl.len().alias("n"))


def _join(left: pl.LazyFrame, right: pl.LazyFrame) -> pl.LazyFrame:
    return left.join(right, on="g").sort("g")


@pytest.mark.dask
def test_heterogeneous_pipeline_equals_plain_polars(tmp_path: Path) -> None:
    provider = Provider(config=LocalConfig(base_path=str(tmp_path / "data")))
    raw = provider.bucket(bucket="raw", path="in.parquet")
    Path(raw.uri).parent.mkdir(parents=True)
    frame = pl.DataFrame({"a": list(range(5000)), "g": [i % 7 for i in range(5000)]})
    frame.write_parquet(raw.uri)
    local = provider.local()
    fn = provider.serverless(config=LambdaConfig(memory=1024, timeout=60))
    vm = provider.vm(config=VmConfig(cpus=1, memory=1024))
    pids: dict[str, int] = {}

    @local.task()
    def load(source):  # type: ignore[no-untyped-def]
        return source.scan()

    @fn.task()
    def double(df: pl.LazyFrame) -> pl.LazyFrame:
        return _double(df)

    @vm.task()
    def positive(df: pl.LazyFrame) -> pl.LazyFrame:
        return _positive(df)

    @vm.task()
    def by_group(df: pl.LazyFrame) -> pl.LazyFrame:
        return _by_group(df)

    @fn.task()
    def where() -> int:
        return os.getpid()

    @local.task()
    def join(left: pl.LazyFrame, right: pl.LazyFrame, pid: int) -> pl.LazyFrame:
        pids["fn"] = pid
        return _join(left, right)

    @local.task()
    def by_group_all(df: pl.LazyFrame) -> pl.LazyFrame:
        return _by_group(df).rename({"b": "b_all", "n": "n_all"})

    @pipeline(name="heterogeneous")
    def heterogeneous() -> object:
        doubled = double(load(raw))
        return join(by_group(positive(doubled)), by_group_all(doubled), where())

    result = heterogeneous.run(cache=False)
    doubled = _double(frame.lazy())
    expected = _join(
        _by_group(_positive(doubled)),
        _by_group(doubled).rename({"b": "b_all", "n": "n_all"}),
    ).collect()
    assert result.output.equals(expected)
    assert pids["fn"] != os.getpid()
    backends = {name: t.backend for name, t in result.tasks.items()}
    assert backends == {
        "load": "thread",
        "double": "process",
        "positive": "dask",
        "by_group": "dask",
        "where": "process",
        "by_group_all": "thread",
        "join": "thread",
    }
    assert result.tasks["double"].handoff == "staged"


@pytest.mark.dask
def test_vm_task_failure_comes_back_with_its_error(tmp_path: Path) -> None:
    provider = Provider(config=LocalConfig(base_path=str(tmp_path / "data")))
    vm = provider.vm()

    @vm.task()
    def refuse() -> int:
        raise KeyError("missing column")

    @pipeline(name="vm_failure")
    def vm_failure() -> object:
        return refuse()

    with pytest.raises(TaskFailed, match=r"task 'refuse' failed on executor vm .*KeyError"):
        vm_failure.run(cache=False)


def test_without_dask_a_vm_task_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)
    provider = Provider(config=LocalConfig(base_path=str(tmp_path / "data")))
    vm = provider.vm()

    @vm.task()
    def anything() -> int:
        return 1

    @pipeline(name="no_dask")
    def no_dask() -> object:
        return anything()

    with pytest.raises(TaskFailed, match=r"pip install 'glacier-pipelines\[dask\]'"):
        no_dask.run(cache=False)
