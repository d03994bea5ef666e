"""Session settings, dependency checks and laziness (most tests need no JVM)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from glacier.spark import JavaNotFoundError, SparkNotInstalledError, SparkTaskError
from glacier.spark import session as session_mod
from glacier.spark.session import (
    FAST_START_JAVA_OPTIONS,
    SparkSettings,
    build_conf,
    check_java,
    get_session,
    is_connect_master,
    is_local_master,
    java_version,
)


def test_master_kinds() -> None:
    assert is_local_master("local") and is_local_master("local[2]")
    assert is_local_master("local[*]") and is_local_master("local[4,2]")
    assert not is_local_master("spark://h:7077") and not is_local_master("sc://h:1")
    assert is_connect_master("sc://127.0.0.1:15002")
    assert SparkSettings(master="sc://x:1").session_platform is None


def test_a_platform_must_be_one_that_creates_sessions() -> None:
    with pytest.raises(SparkTaskError, match=r"platform='nowhere'.* use one of "):
        SparkSettings(platform="nowhere")
    with pytest.raises(SparkTaskError, match=r"no platform was chosen; set platform="):
        SparkSettings(master="sc://x:1", platform_options={"profile": "dev"})


def test_local_conf_binds_loopback_and_starts_fast() -> None:
    conf = build_conf(SparkSettings(master="local[2]"))
    assert conf["spark.master"] == "local[2]"
    assert conf["spark.driver.host"] == "127.0.0.1"
    assert conf["spark.driver.bindAddress"] == "127.0.0.1"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.driver.extraJavaOptions"] == FAST_START_JAVA_OPTIONS
    assert conf["spark.sql.shuffle.partitions"] == "2"
    assert build_conf(SparkSettings(master="local"))["spark.sql.shuffle.partitions"] == "1"
    star = build_conf(SparkSettings(master="local[*]"))["spark.sql.shuffle.partitions"]
    assert star == str(os.cpu_count() or 1)


def test_user_conf_wins_and_java_options_merge() -> None:
    conf = build_conf(
        SparkSettings(
            master="local[2]",
            shuffle_partitions=8,
            conf={"spark.ui.enabled": "true", "spark.driver.extraJavaOptions": "-Dx=1"},
        )
    )
    assert conf["spark.sql.shuffle.partitions"] == "8"
    assert conf["spark.ui.enabled"] == "true"
    assert conf["spark.driver.extraJavaOptions"] == f"{FAST_START_JAVA_OPTIONS} -Dx=1"


def test_cluster_and_connect_conf() -> None:
    conf = build_conf(
        SparkSettings(master="spark://10.0.0.1:7077", num_executors=4, executor_memory="4g")
    )
    assert conf["spark.executor.instances"] == "4"
    assert conf["spark.executor.memory"] == "4g"
    assert "spark.driver.host" not in conf  # executors must reach the driver
    connect = build_conf(SparkSettings(master="sc://127.0.0.1:15002", shuffle_partitions=3))
    assert "spark.master" not in connect
    assert connect["spark.sql.shuffle.partitions"] == "3"


def _fake_java(tmp_path: Path, version_line: str) -> Path:
    home = tmp_path / "jdk"
    (home / "bin").mkdir(parents=True)
    java = home / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(0o755)
    return home


@pytest.mark.parametrize(
    ("line", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_402"', 8),
        ('openjdk version "11.0.22" 2024-01-16', 11),
    ],
)
def test_java_version_parsing(tmp_path: Path, line: str, major: int) -> None:
    assert java_version(str(_fake_java(tmp_path, line) / "bin" / "java")) == major


@pytest.fixture
def no_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide the shared session so get_session tries to create a new one."""
    monkeypatch.setattr(session_mod._state, "current", None)


def test_old_java_is_rejected_before_the_jvm_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_session: None
) -> None:
    pytest.importorskip("pyspark")
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path, 'openjdk version "11.0.2"')))
    with pytest.raises(JavaNotFoundError, match=r"Java 17 or newer, found Java 11"):
        get_session(master="local[1]")
    assert session_mod._state.current is None


def test_missing_java(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(JavaNotFoundError, match=r"JAVA_HOME"):
        check_java()


def test_missing_pyspark(monkeypatch: pytest.MonkeyPatch, no_session: None) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(SparkNotInstalledError, match=r"glacier-pipelines\[spark\]"):
        get_session(master="local[1]")
    with pytest.raises(SparkNotInstalledError, match=r"glacier-pipelines\[spark\]"):
        get_session(master="sc://127.0.0.1:1")


def test_importing_glacier_spark_does_not_import_pyspark() -> None:
    code = (
        "import sys, glacier.spark, glacier.spark.session, glacier.spark.modes, "
        "glacier.spark.types, glacier.spark.errors\n"
        "assert not [m for m in sys.modules if m.startswith('pyspark')], 'pyspark imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.spark
def test_session_is_reused_and_local(spark: Any) -> None:
    assert get_session(SparkSettings(master="local[2]")) is spark
    assert spark.conf.get("spark.driver.host") == "127.0.0.1"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.sparkContext.uiWebUrl is None
    assert os.environ["SPARK_LOCAL_IP"] == "127.0.0.1"
