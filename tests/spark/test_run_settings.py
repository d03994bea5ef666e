"""What a run asks of Spark: one session its cluster executors agree on, sized by their config.

No JVM needed: these are checked before any session starts.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from glacier import ConfigError, Provider, pipeline
from glacier.config import LocalConfig, SparkConfig
from glacier.runtime.backends.spark import settings_for
from glacier.spark.session import build_conf


@pytest.fixture
def provider(tmp_path: Path) -> Provider:
    return Provider(config=LocalConfig(base_path=tmp_path))


def test_cluster_executors_needing_different_sessions_are_refused_before_anything_runs(
    provider: Provider, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    wide = provider.cluster(
        name="wide", config=SparkConfig(conf={"spark.sql.shuffle.partitions": "8"})
    )
    narrow = provider.cluster(
        name="narrow", config=SparkConfig(conf={"spark.sql.shuffle.partitions": "2"})
    )

    @provider.local().task()
    def first() -> int:
        marker.write_text("yes")
        return 1

    @wide.task()
    def a(x: int) -> int:
        return x

    @narrow.task()
    def b(x: int) -> int:
        return x

    @pipeline(name="two_sessions")
    def flow() -> object:
        n = first()
        return a(n), b(n)

    with pytest.raises(ConfigError) as info:
        flow.run(cache=False)
    message = str(info.value)
    assert "'wide'" in message and "'narrow'" in message and "one Spark session" in message
    assert "spark.sql.shuffle.partitions" in message and "'8'" not in message  # keys only
    assert not marker.exists()


def test_cluster_executors_with_equal_configs_share_a_run(provider: Provider) -> None:
    one = provider.cluster(name="one", config=SparkConfig(master="local[2]"))
    two = provider.cluster(name="two", config=SparkConfig(master="local[2]"))
    assert settings_for(one) == settings_for(two)


def test_executor_size_reaches_a_cluster_master(provider: Provider) -> None:
    cluster = provider.cluster(
        config=SparkConfig(master="spark://10.0.0.1:7077", num_executors=5, executor_memory="4g")
    )
    conf = build_conf(settings_for(cluster))
    assert conf["spark.executor.instances"] == "5"
    assert conf["spark.executor.memory"] == "4g"


def test_conflicting_worker_aliases_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"num_executors: 5 disagrees with workers=2"):
        SparkConfig(workers=2, num_executors=5)
    assert SparkConfig(workers=3, num_executors=3).num_executors == 3
    assert SparkConfig(num_executors=5).workers == 5
    assert SparkConfig(workers=4).num_executors == 4
