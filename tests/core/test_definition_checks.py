"""Bad inputs are refused where they are written, with a ConfigError naming the argument."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from glacier import Provider, pipeline
from glacier.config import AwsConfig, AzureConfig, LocalConfig
from glacier.errors import ConfigError

BAD_TASK_OPTIONS = {
    "timeout=inf": ({"timeout": math.inf}, r"timeout=inf must be > 0 seconds \(a finite number\)"),
    "timeout=nan": ({"timeout": math.nan}, r"timeout=nan must be > 0 seconds"),
    "timeout='10'": ({"timeout": "10"}, r"timeout='10' must be > 0 seconds"),
    "timeout=True": ({"timeout": True}, r"timeout=True must be > 0 seconds"),
    "retry_delay=inf": ({"retry_delay": math.inf}, r"retry_delay=inf must be >= 0 seconds"),
    "retry_delay=nan": ({"retry_delay": math.nan}, r"retry_delay=nan must be >= 0 seconds"),
    "retry_delay='1'": ({"retry_delay": "1"}, r"retry_delay='1' must be >= 0 seconds"),
    "retries=True": ({"retries": True}, r"retries=True must be a whole number"),
    "retries=1.5": ({"retries": 1.5}, r"retries=1.5 must be a whole number"),
    "cache='no'": ({"cache": "no"}, r"cache='no' must be True or False"),
}


@pytest.mark.parametrize(("options", "message"), BAD_TASK_OPTIONS.values(), ids=BAD_TASK_OPTIONS)
def test_task_options_are_checked_at_decoration(
    provider: Provider, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        provider.local().task(name="t", **options)(lambda: 1)


def test_good_task_options_are_kept(provider: Provider) -> None:
    task = provider.local().task(timeout=2.5, retry_delay=0, retries=2)(lambda: 1)
    assert (task.timeout, task.retry_delay, task.retries) == (2.5, 0, 2)


async def _coroutine() -> int:
    return 1


async def _async_generator() -> Any:
    yield 1


@pytest.mark.parametrize("fn", [_coroutine, _async_generator])
def test_async_tasks_are_refused_at_decoration(provider: Provider, fn: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError, match=r"is an async function.*plain def"):
        provider.local().task()(fn)


def test_partition_by_a_single_string_is_one_column(provider: Provider) -> None:
    events = provider.bucket(bucket="out", path="events/**/*.parquet")
    events.write(pl.DataFrame({"day": ["mon", "tue"], "n": [1, 2]}), partition_by="day")
    folders = sorted(p.name for p in Path(provider.store.uri("out", "events")).iterdir())
    assert [f for f in folders if "=" in f] == ["day=mon", "day=tue"]
    assert events.read().sort("n")["day"].to_list() == ["mon", "tue"]


def test_partition_by_a_single_string_in_a_body_records_one_column(
    provider: Provider, name: str
) -> None:
    events = provider.bucket(bucket="out", path="events/**/*.parquet")
    make = provider.local().task(name="make")(lambda: pl.DataFrame({"day": ["mon"]}))

    @pipeline(name=name)
    def body() -> None:
        events.write(make(), partition_by="day")

    assert body.dag["write:out/events/**/*.parquet"].kwargs == {"partition_by": ["day"]}


@pytest.mark.parametrize("partition_by", [[1], [""], 5])
def test_partition_by_other_than_column_names_is_refused(
    provider: Provider, partition_by: Any
) -> None:
    events = provider.bucket(bucket="out", path="events/**/*.parquet")
    with pytest.raises(ConfigError, match=r"write\(partition_by="):
        events.write(pl.DataFrame({"day": ["mon"]}), partition_by=partition_by)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: AwsConfig(region="us-east-1", tags="x"), r"AwsConfig.tags: 'x' is not a mapping"),
        (
            lambda: AzureConfig(
                subscription_id="00000000-0000-0000-0000-000000000000",
                resource_group="rg",
                tags="x",
            ),
            r"AzureConfig.tags: 'x'",
        ),
        (lambda: LocalConfig(base_path=None), r"LocalConfig.base_path: None is not a folder"),
        (lambda: LocalConfig(base_path=""), r"LocalConfig.base_path: '' is not a folder"),
        (
            lambda: LocalConfig(staging_bucket="../../etc"),
            r"LocalConfig.staging_bucket: Bucket name '../../etc' is not valid",
        ),
        (
            lambda: AwsConfig(region="us-east-1", staging_bucket="Not_A_Bucket"),
            r"AwsConfig.staging_bucket: Bucket name 'Not_A_Bucket'",
        ),
    ],
    ids=["aws tags", "azure tags", "base_path None", "base_path empty", "local staging", "aws"],
)
def test_provider_configs_are_checked_at_construction(
    make: Callable[[], object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        make()
