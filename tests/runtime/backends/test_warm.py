"""Emulated executors stay warm across runs in one process, per kind, and die with the process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from glacier import Provider, pipeline
from glacier.config import LocalConfig, ServerlessConfig, SparkConfig, VmConfig
from glacier.resources.executor import Executor


@pytest.fixture
def provider(tmp_path: Path) -> Provider:
    return Provider(config=LocalConfig(base_path=str(tmp_path / "data")))


def pid_of(executor: Executor, name: str) -> int:
    """Run a one-task pipeline on ``executor``; the pid of the process its task ran in."""

    @executor.task(name=name)
    def where() -> int:
        return os.getpid()

    @pipeline(name=f"where_{name}")
    def one() -> object:
        return where()

    pid = one.run(cache=False).output
    assert isinstance(pid, int)
    return pid


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_serverless_runs_reuse_the_worker_and_configs_never_share(provider: Provider) -> None:
    fn = provider.serverless(config=ServerlessConfig(memory=512, timeout=60), name="a")
    same = provider.serverless(config=ServerlessConfig(memory=512, timeout=60), name="b")
    other = provider.serverless(config=ServerlessConfig(memory=1024, timeout=60), name="c")
    first = pid_of(fn, "first")
    assert first != os.getpid() and alive(first)  # kept running after the run
    assert pid_of(fn, "again") == first
    assert pid_of(same, "same_config") == first
    assert pid_of(other, "other_config") not in (first, os.getpid())


def test_a_dead_serverless_worker_is_replaced(provider: Provider) -> None:
    fn = provider.serverless(config=ServerlessConfig(memory=640, timeout=60))
    first = pid_of(fn, "before")
    os.kill(first, signal.SIGKILL)
    while alive(first):
        time.sleep(0.01)
    second = pid_of(fn, "after")
    assert second != first and alive(second)


@pytest.mark.dask
def test_vm_runs_reuse_the_cluster_and_a_crashed_cluster_is_rebuilt(provider: Provider) -> None:
    pytest.importorskip("distributed")
    vm = provider.vm(config=VmConfig(cpus=1, memory=1024), name="vm")
    other = provider.vm(config=VmConfig(cpus=2, memory=1024), name="vm2")
    first = pid_of(vm, "vm_first")
    assert pid_of(vm, "vm_again") == first
    assert pid_of(other, "vm_other") != first
    scheduler = _scheduler_of(vm)
    scheduler.send_signal(signal.SIGKILL)
    while alive(scheduler.pid):
        time.sleep(0.01)
    rebuilt = pid_of(vm, "vm_rebuilt")
    assert rebuilt != first


def _scheduler_of(vm: Executor) -> Any:
    """The scheduler process of ``vm``'s warm cluster."""
    from glacier.runtime.backends import warm  # noqa: PLC0415 - only this test looks inside

    pool = warm._pools[warm.pool_key(vm)]
    return pool.cluster.scheduler.process  # type: ignore[attr-defined]


def test_cluster_runs_reuse_the_spark_session(provider: Provider, tmp_path: Path) -> None:
    pytest.importorskip("pyspark", reason="pip install 'glacier-pipelines[spark]'")
    from glacier.spark import session  # noqa: PLC0415 - needs pyspark
    from glacier.spark.errors import JavaNotFoundError  # noqa: PLC0415 - needs pyspark

    try:
        session.check_java()
    except JavaNotFoundError as exc:
        pytest.skip(str(exc))
    (tmp_path / "data" / "raw").mkdir(parents=True)
    pl.DataFrame({"a": [1, 2, 3]}).write_parquet(tmp_path / "data" / "raw" / "a.parquet")
    source = provider.bucket("raw", "a.parquet")
    cluster = provider.cluster(config=SparkConfig(master="local[2]"))

    @cluster.task()
    def double(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.with_columns(b=pl.col("a") * 2)

    @pipeline(name="on_spark")
    def on_spark() -> object:
        return double(source)

    sessions = []
    for _ in range(2):
        assert on_spark.run(cache=False).output["b"].to_list() == [2, 4, 6]
        current = session._state.current
        assert current is not None and not session._is_stopped(current[1])
        sessions.append(current[1])
    assert sessions[0] is sessions[1]


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_nothing_survives_the_interpreter(tmp_path: Path, ending: str) -> None:
    """A script that runs serverless and VM tasks and exits leaves no worker behind, nor does
    one killed, which runs no exit hook (a notebook kernel restarted, an xdist worker ending)."""
    pytest.importorskip("distributed")
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os, signal
            from glacier import Provider, pipeline
            from glacier.config import LocalConfig, VmConfig

            provider = Provider(config=LocalConfig(base_path={str(tmp_path / "data")!r}))
            fn = provider.serverless()
            vm = provider.vm(config=VmConfig(cpus=1, memory=1024))

            @fn.task()
            def on_fn() -> int:
                return os.getpid()

            @vm.task()
            def on_vm() -> int:
                return os.getpid()

            @pipeline(name="both")
            def both() -> object:
                return [on_fn(), on_vm()]

            print(*both.run(cache=False).output)
            from glacier.runtime.backends import warm  # the cluster's own processes too
            for pool in warm._pools.values():
                cluster = getattr(pool, "cluster", None)
                if cluster is not None:
                    for part in [cluster.scheduler, *cluster.workers.values()]:
                        print(part.process.pid)
            if {ending == "sigkill"}:
                import sys
                sys.stdout.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            """
        )
    )
    # files, not pipes: a surviving worker would hold a pipe open and the call would time out
    # instead of failing on the assertion below
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        done = subprocess.run(
            [sys.executable, str(script)], stdout=stdout, stderr=stderr, timeout=300, check=False
        )
    assert done.returncode == (-signal.SIGKILL if ending == "sigkill" else 0), err.read_text()
    pids = [int(p) for p in out.read_text().split()]
    assert len(pids) == 4  # serverless worker, Dask worker, scheduler, nanny
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if alive(p)]
