"""A partitioned job through a Spark Connect server started on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier import Provider, pipeline
from glacier.config import LocalConfig, SparkConfig
from glacier.spark.modes import run_partitioned, run_spark_task
from glacier.spark.session import (
    FAST_START_JAVA_OPTIONS,
    SparkSettings,
    get_session,
    stop_session,
)

pytestmark = [pytest.mark.spark, pytest.mark.spark_connect]

START_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def connect_url() -> Iterator[str]:
    pyspark = pytest.importorskip("pyspark")
    from glacier.spark.errors import JavaNotFoundError  # noqa: PLC0415 - after the check that pyspark exists
    from glacier.spark.session import check_java  # noqa: PLC0415 - after the check that pyspark exists

    try:
        check_java()
    except JavaNotFoundError as exc:
        pytest.skip(str(exc))
    # A databricks-connect environment bundles a client-only PySpark 3.5: point these at an
    # OSS PySpark 4 installation (its pyspark directory and a Python that has it) to serve.
    spark_home = Path(os.environ.get("GLACIER_TEST_SPARK_HOME") or Path(pyspark.__file__).parent)
    server_python = os.environ.get("GLACIER_TEST_SPARK_PYTHON") or sys.executable
    # Not under pytest's basetemp: other pytest runs on the machine may prune it.
    run_dir = Path(tempfile.mkdtemp(prefix="glacier-spark-connect-"))
    port = _free_port()
    env = {
        **os.environ,
        "SPARK_HOME": str(spark_home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": server_python,
        "SPARK_PID_DIR": str(run_dir),
        "SPARK_LOG_DIR": str(run_dir),
        "SPARK_IDENT_STRING": f"glacier-test-{os.getpid()}",
    }
    conf = {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "2",
        "spark.sql.session.timeZone": "UTC",
    }
    cmd = [
        str(spark_home / "sbin" / "start-connect-server.sh"),
        "--master",
        "local[2]",
        "--driver-java-options",
        FAST_START_JAVA_OPTIONS,
    ]
    for key, value in conf.items():
        cmd += ["--conf", f"{key}={value}"]
    # Files, not pipes: the daemonized JVM inherits the launcher's stdout and stderr.
    with (run_dir / "launcher.log").open("wb") as launcher_log:
        subprocess.run(
            cmd,
            env=env,
            check=True,
            stdout=launcher_log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
    pid_files = list(run_dir.glob("*.pid"))
    pid = int(pid_files[0].read_text().strip()) if pid_files else None
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _port_open(port):
            if time.monotonic() > deadline or (pid is not None and not _pid_alive(pid)):
                logs = "\n".join(p.read_text()[-3000:] for p in run_dir.glob("*.*"))
                pytest.fail(f"Spark Connect server did not open port {port}:\n{logs}")
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        # Close the client first: its threads retry a vanished server for minutes.
        stop_session()
        stop = spark_home / "sbin" / "stop-connect-server.sh"
        subprocess.run(
            [str(stop)],
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        if pid is not None:
            deadline = time.monotonic() + 20
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(run_dir, ignore_errors=True)


def connect_task(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.filter(pl.col("v") % 3 != 0).with_columns(
        w=pl.col("v").cast(pl.UInt32) * 2, name=pl.format("n{}", pl.col("v"))
    )


def test_partitioned_over_spark_connect(connect_url: str, tmp_path: Path) -> None:
    df = pl.DataFrame({"v": list(range(1000))})
    df.write_parquet(tmp_path / "in.parquet")
    session: Any = get_session(SparkSettings(master=connect_url))
    assert type(session).__module__.startswith("pyspark.sql.connect")
    written = run_partitioned(session, connect_task, tmp_path / "in.parquet", tmp_path / "out")
    expected = connect_task(df.lazy()).collect().with_columns(pl.col("w").cast(pl.Int64))
    assert written.rows == expected.height
    actual = pl.read_parquet(tmp_path / "out" / "*.parquet").sort("v")
    assert_frame_equal(actual, expected.sort("v"))


def test_grouped_and_whole_frame_over_spark_connect(connect_url: str, tmp_path: Path) -> None:
    df = pl.DataFrame({"v": list(range(1000)), "k": [i % 7 for i in range(1000)]})
    df.write_parquet(tmp_path / "in.parquet")
    session: Any = get_session(SparkSettings(master=connect_url))

    def per_group(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.group_by("k").agg(n=pl.len(), total=pl.col("v").sum())

    assert (
        run_spark_task(session, per_group, tmp_path / "in.parquet", tmp_path / "g", by=["k"]).rows
        == 7
    )
    grouped = pl.read_parquet(tmp_path / "g" / "*.parquet").sort("k")
    expected = per_group(df.lazy()).collect().sort("k").with_columns(pl.col("n").cast(pl.Int64))
    assert_frame_equal(grouped, expected)

    def ranked(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.sort("v").with_columns(running=pl.col("v").cum_sum()).tail(10)

    assert run_spark_task(session, ranked, tmp_path / "in.parquet", tmp_path / "w").rows == 10
    whole = pl.read_parquet(tmp_path / "w" / "*.parquet").sort("v")
    assert_frame_equal(whole, ranked(df.lazy()).collect())


def test_databricks_connect_client(connect_url: str, tmp_path: Path) -> None:
    """databricks-connect's DatabricksSession against the OSS server (offline Databricks path).

    Runs only where databricks-connect is installed (a separate environment: it bundles its
    own PySpark), e.g. ``GLACIER_TEST_SPARK_HOME=... GLACIER_TEST_SPARK_PYTHON=... pytest
    tests/spark/test_connect.py -k databricks``.
    """
    pytest.importorskip("databricks.connect")
    df = pl.DataFrame({"v": list(range(300)), "k": [i % 4 for i in range(300)]})
    df.write_parquet(tmp_path / "in.parquet")
    session: Any = get_session(SparkSettings(master=connect_url, platform="databricks"))
    src = tmp_path / "in.parquet"
    assert run_spark_task(session, connect_task, src, tmp_path / "p", partitioned=True).rows == 200

    def per_group(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.group_by("k").agg(n=pl.len())

    assert run_spark_task(session, per_group, src, tmp_path / "g", by=["k"]).rows == 4
    assert run_spark_task(session, lambda lf: lf.tail(3), src, tmp_path / "w").rows == 3


def test_pipeline_runs_through_spark_connect(connect_url: str, tmp_path: Path) -> None:
    """A whole pipeline, local -> cluster (SparkConfig(master="sc://...")) -> local."""

    df = pl.DataFrame({"v": list(range(600))})
    (tmp_path / "raw").mkdir()
    df.write_parquet(tmp_path / "raw" / "v.parquet")
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    source = provider.bucket("raw", "v.parquet")
    here = provider.local()
    remote = provider.cluster(config=SparkConfig(master=connect_url))

    @here.task()
    def load(src: Any) -> pl.LazyFrame:
        return src.scan()

    spread = remote.task(partitioned=True)(connect_task)

    @here.task()
    def total(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.select(pl.col("w").sum())

    @pipeline(name="through_connect")
    def through_connect() -> pl.LazyFrame:
        return total(spread(load(source)))

    result = through_connect.run()
    expected = connect_task(df.lazy()).select(pl.col("w").sum()).collect()  # u32, as locally
    assert_frame_equal(result.output, expected)
    assert result.tasks["connect_task"].backend == "spark"
