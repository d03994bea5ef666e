"""What a Databricks cluster installs: the wheel `glacier package` builds, as a cluster library
from a workspace file, on every cloud."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from glacier import Provider, pipeline, version
from glacier.clouds.databricks import package
from glacier.config import SparkConfig
from glacier.infra.inventory import build_inventory
from glacier.infra.package import build, code_digest, code_files, runtime_requirements
from tests.clouds.databricks import existing_cluster
from tests.infra.deployed import blocks, parsed
from tests.infra.pipelines import CLOUDS, PROVIDERS, heterogeneous, portable


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_cluster_installs_the_wheel_the_package_builds(cloud: str, tmp_path: Path) -> None:
    pipeline = heterogeneous(cloud)
    written = build(pipeline, tmp_path, dependencies=False)
    wheel = tmp_path / package.wheel_path(build_inventory(pipeline))
    assert wheel in written
    files = parsed(pipeline, cloud)
    upload = blocks(files, "resource", "databricks_workspace_file")["glacier_wheel"]
    assert upload["source"] == f'"${{path.module}}/{package.wheel_path(build_inventory(pipeline))}"'
    assert upload["path"].startswith('"/Shared/glacier/${local.name_prefix}/')
    assert upload["path"].endswith(f'/{wheel.name}"')
    clusters = blocks(files, "resource", "databricks_cluster")  # Azure's Spark is one too
    assert clusters
    for label, cluster in clusters.items():
        assert cluster["cluster_name"].startswith('"${local.name_prefix}-'), label
        libraries = [lib["whl"] for lib in cluster["library"]]
        assert libraries == ["${databricks_workspace_file.glacier_wheel.workspace_path}"]


def test_the_wheel_installs_glacier_and_the_pipeline_with_its_requirements(
    tmp_path: Path,
) -> None:
    """pip takes it (name, RECORD), and what it installs is exactly the packaged code."""
    inv = build_inventory(heterogeneous("aws"))
    build(heterogeneous("aws"), tmp_path / "out", dependencies=False)
    wheel = tmp_path / "out" / package.wheel_path(inv)
    assert wheel.name == f"glacier_pipeline_heterogeneous-{version.__version__}-py3-none-any.whl"
    target = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(wheel)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name, source in code_files(inv).items():
        assert (target / name).read_bytes() == source.read_bytes(), name  # type: ignore[union-attr]
    info = target / f"glacier_pipeline_heterogeneous-{version.__version__}.dist-info"
    metadata = (info / "METADATA").read_text()
    assert [
        line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Requires-Dist")
    ] == runtime_requirements()
    assert code_digest(inv).startswith("sha256:")


def test_no_databricks_cluster_no_wheel(tmp_path: Path) -> None:
    written = build(portable(PROVIDERS["gcp"]), tmp_path, dependencies=False)
    assert not [p for p in written if p.suffix == ".whl"]


def test_an_existing_cluster_gets_the_wheel_as_a_library() -> None:
    files = parsed(existing_cluster.existing, "aws")
    (library,) = blocks(files, "resource", "databricks_library").values()
    assert library["cluster_id"] == "${data.databricks_cluster.dbx.cluster_id}"
    assert library["whl"] == "${databricks_workspace_file.glacier_wheel.workspace_path}"
    assert not blocks(files, "resource", "databricks_cluster")


def test_spark_on_azure_is_databricks_so_its_package_has_the_wheel(tmp_path: Path) -> None:
    """Azure renders a plain Spark cluster as a Databricks one, which names the wheel."""
    provider = Provider(config=PROVIDERS["azure"])
    raw = provider.bucket(bucket="raw", path="in.parquet")
    spark = provider.cluster(config=SparkConfig(), name="spark")

    @spark.task()
    def passthrough(df: pl.LazyFrame) -> pl.LazyFrame:
        return df

    @pipeline(name="spark-only")
    def spark_only() -> pl.LazyFrame:
        return passthrough(raw)

    written = build(spark_only, tmp_path, "azure", dependencies=False)
    inv = build_inventory(spark_only, "azure")
    assert tmp_path / package.wheel_path(inv) in written
    assert tmp_path / package.JOB_TEMPLATE_PATH in written
    assert blocks(parsed(spark_only, "azure"), "resource", "databricks_cluster")
