"""Every example runs as ``python examples/X.py`` and as ``glacier run examples/X.py``.

Each one's output is checked against the same logic written in plain Polars.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier.loader import load_pipeline
from tests._cli_support import EXAMPLES, run_glacier, run_script

GENERATOR = EXAMPLES / "generate_sample_data.py"


def raw_sales(base: Path) -> pl.DataFrame:
    return pl.read_parquet(base / "raw" / "sales" / "*.parquet")


def expected_daily(raw: pl.DataFrame) -> dict[str, pl.DataFrame]:
    daily = (
        raw.filter(pl.col("amount") > 0)
        .group_by("day")
        .agg(revenue=pl.col("amount").sum().round(2), sales=pl.len())
        .sort("day")
    )
    return {"daily_revenue.parquet": daily}


def expected_store(raw: pl.DataFrame, min_amount: float = 0.0) -> dict[str, pl.DataFrame]:
    stores = (
        raw.filter(pl.col("amount") > min_amount)
        .group_by("store")
        .agg(revenue=pl.col("amount").sum().round(2), sales=pl.len().cast(pl.Int64))
        .sort("store")
    )
    return {"store_revenue.parquet": stores}


def expected_summary(raw: pl.DataFrame) -> dict[str, pl.DataFrame]:
    clean = raw.filter(pl.col("amount") > 0)

    def revenue_by(column: str) -> pl.DataFrame:
        return clean.group_by(column).agg(revenue=pl.col("amount").sum().round(2)).sort(column)

    stores, products = revenue_by("store"), revenue_by("product")
    summary = pl.concat(
        [
            stores.select(dimension=pl.lit("store"), key="store", revenue="revenue"),
            products.select(dimension=pl.lit("product"), key="product", revenue="revenue"),
        ]
    ).sort(["dimension", "revenue"], descending=[False, True])
    return {"revenue_by_store.parquet": stores, "revenue_summary.parquet": summary}


EXAMPLE_CASES: list[tuple[str, Callable[[pl.DataFrame], dict[str, pl.DataFrame]]]] = [
    ("simple_pipeline.py", expected_daily),
    ("cloud_agnostic_pipeline.py", expected_store),
    ("heterogeneous_pipeline.py", expected_summary),
]


def check_outputs(base: Path, expected: dict[str, pl.DataFrame]) -> None:
    for name, frame in expected.items():
        written = pl.read_parquet(base / "curated" / name)
        assert_frame_equal(written, frame, check_exact=False)


@pytest.fixture(scope="module")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("sample")
    done = run_script(GENERATOR, "--rows", "3000", "--parts", "3", cwd=base, base_path=base)
    assert done.returncode == 0, done.stderr
    return base / "raw"


@pytest.fixture
def base(tmp_path: Path, sample_data: Path) -> Path:
    """A fresh GLACIER_BASE_PATH holding the sample data."""
    shutil.copytree(sample_data, tmp_path / "data" / "raw")
    return tmp_path / "data"


# --- the generator ------------------------------------------------------------------------------


def test_sample_data_is_deterministic_and_has_work_for_the_cleaners(tmp_path: Path) -> None:
    frames = []
    for name in ("a", "b"):
        out = tmp_path / name
        done = run_script(
            GENERATOR, "--rows", "2000", "--parts", "3", "--out", str(out), cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        assert sorted(p.name for p in out.iterdir()) == [
            "part-000.parquet",
            "part-001.parquet",
            "part-002.parquet",
        ]
        frames.append(pl.read_parquet(out / "*.parquet"))
    assert_frame_equal(frames[0], frames[1])
    sales = frames[0]
    assert sales.schema == pl.Schema(
        {"day": pl.Date, "store": pl.String, "product": pl.String, "amount": pl.Float64}
    )
    assert sales.height == 2000
    assert sales["amount"].null_count() > 0
    assert (sales["amount"] < 0).sum() > 0
    assert sales["day"].n_unique() == 30


def test_sample_data_goes_under_the_base_path_by_default(tmp_path: Path) -> None:
    done = run_script(GENERATOR, "--rows", "10", cwd=tmp_path, base_path=tmp_path / "elsewhere")
    assert done.returncode == 0, done.stderr
    assert raw_sales(tmp_path / "elsewhere").height == 10


# --- every example, both ways -------------------------------------------------------------------


@pytest.mark.parametrize(("script", "expected"), EXAMPLE_CASES)
def test_example_as_a_script_makes_its_data_and_runs(
    tmp_path: Path, script: str, expected: Callable[[pl.DataFrame], dict[str, pl.DataFrame]]
) -> None:
    base = tmp_path / "data"  # empty: the script generates the sample data itself
    done = run_script(EXAMPLES / script, cwd=tmp_path, base_path=base)
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout
    check_outputs(base, expected(raw_sales(base)))


@pytest.mark.parametrize(("script", "expected"), EXAMPLE_CASES)
def test_example_with_glacier_run(
    base: Path, script: str, expected: Callable[[pl.DataFrame], dict[str, pl.DataFrame]]
) -> None:
    done = run_glacier("run", str(EXAMPLES / script), cwd=base.parent, base_path=base)
    assert done.returncode == 0, done.stderr
    assert " ok in " in done.stdout
    check_outputs(base, expected(raw_sales(base)))


def test_cloud_agnostic_takes_its_parameter(base: Path) -> None:
    target = f"{EXAMPLES / 'cloud_agnostic_pipeline.py'}:store_revenue"
    done = run_glacier("run", target, "-p", "min_amount=50", cwd=base.parent, base_path=base)
    assert done.returncode == 0, done.stderr
    check_outputs(base, expected_store(raw_sales(base), min_amount=50))


def test_heterogeneous_uses_four_executor_kinds_and_stages_the_fan_out(
    base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLACIER_BASE_PATH", str(base))
    result = load_pipeline(str(EXAMPLES / "heterogeneous_pipeline.py")).run()
    tasks = result.tasks
    assert {t.executor_kind for t in tasks.values()} == {"local", "serverless", "cluster", "vm"}
    assert tasks["clean"].handoff == "staged"  # one output, two consumers on other executors
    assert tasks["by_store"].handoff == "staged"
    assert tasks["by_product"].handoff == "staged"
    assert all(t.status.value == "succeeded" for t in tasks.values())
    expected = expected_summary(raw_sales(base))["revenue_summary.parquet"]
    assert_frame_equal(result.output, expected, check_exact=False)


# --- one pipeline, any cloud --------------------------------------------------------------------

CLOUD_ENV = {
    "local": {},
    "aws": {"AWS_REGION": "eu-west-1"},
    "gcp": {"GOOGLE_CLOUD_PROJECT": "demo-project"},
    "azure": {
        "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
        "AZURE_RESOURCE_GROUP": "demo",
    },
}


def test_cloud_agnostic_pipeline_is_the_same_on_every_cloud(tmp_path: Path) -> None:
    described = {}
    for cloud, env in CLOUD_ENV.items():
        done = run_glacier(
            "inspect",
            str(EXAMPLES / "cloud_agnostic_pipeline.py"),
            "--json",
            cwd=tmp_path,
            base_path=tmp_path / "data",
            env={"GLACIER_PROVIDER": cloud, **env},
        )
        assert done.returncode == 0, done.stderr
        info = json.loads(done.stdout)
        assert {b["cloud"] for b in info["buckets"]} == {cloud}
        described[cloud] = info
    portable = {"BucketConfig", "ServerlessConfig", "ClusterConfig"}
    for info in described.values():
        configs = [b["config"] for b in info["buckets"]] + [e["config"] for e in info["executors"]]
        assert {c["type"] for c in configs if c} == portable
        for key in ("executors", "tasks", "edges", "levels"):
            assert info[key] == described["local"][key]


def test_cloud_agnostic_script_picks_the_provider_by_flag(tmp_path: Path) -> None:
    script = EXAMPLES / "cloud_agnostic_pipeline.py"
    aws = run_script(script, "--provider", "aws", cwd=tmp_path, env={"AWS_REGION": "eu-west-1"})
    assert aws.returncode == 0, aws.stderr
    assert "Pipeline 'store_revenue' on aws:" in aws.stdout
    assert "flowchart LR" in aws.stdout
    missing = run_script(script, "--provider", "aws", cwd=tmp_path)
    assert missing.returncode != 0
    assert "needs AWS_REGION or AWS_DEFAULT_REGION" in missing.stderr
