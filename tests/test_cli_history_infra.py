"""``glacier runs``, ``report``, ``terraform`` and ``package`` on a real pipeline file."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import polars as pl
import pytest

from tests.cloud.fixtures import unique_bucket_name
from tests.cloud.servers import S3Server
from tests.storage.backends import provider_for, use_test_aws_credentials
from tests.test_cli import PIPELINE, invoke, project  # noqa: F401  (the fixture)


def _run_id(out: str) -> str:
    found = re.search(r"run (\S+) ok", out)
    assert found is not None, out
    return found.group(1)


def test_runs_and_report_show_what_ran(project: Path) -> None:  # noqa: F811
    code, out, _ = invoke("run", str(project), "--param", "threshold=2")
    assert code == 0
    run_id = re.search(r"run (\S+) ok", out)
    assert run_id is not None, out
    base = str(project.parent / "data")

    code, out, _ = invoke("runs", "--base-path", base)
    assert code == 0
    assert run_id.group(1) in out
    assert "numbers" in out

    code, out, _ = invoke("report", run_id.group(1), "--base-path", base, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["run_id"] == run_id.group(1)
    tasks = {t["name"]: t for t in report["tasks"]}
    assert tasks["keep_big"]["executor_kind"] == "serverless"
    assert tasks["keep_big"]["rows"] == 3

    code, out, _ = invoke("report", run_id.group(1), "--base-path", base)
    assert code == 0
    assert "keep_big" in out


def test_runs_and_report_of_a_target_read_its_providers_staging_area(
    project: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run from another folder: `runs TARGET` reads the pipeline's base path, not ./data."""
    path = tmp_path / "two_flows.py"
    path.write_text(
        PIPELINE.format(base=str(tmp_path / "data"))
        + '\n\n@pipeline(name="again")\ndef other():\n    return load(raw)\n'
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, out, err = invoke("runs", f"{path}:numbers")
    assert code == 0, err
    assert out == f"No runs of pipeline 'numbers' recorded in {tmp_path}/data/.glacier/runs.\n"

    code, out, err = invoke("run", f"{path}:numbers", "-p", "threshold=2")
    assert code == 0, err
    numbers_run = _run_id(out)
    code, out, err = invoke("run", f"{path}:again")
    assert code == 0, err
    again_run = _run_id(out)

    code, out, err = invoke("runs", f"{path}:numbers")
    assert code == 0, err
    assert numbers_run in out and again_run not in out
    code, out, err = invoke("runs", f"{path}:again", "--limit", "5")
    assert code == 0, err
    assert again_run in out and numbers_run not in out
    code, out, _ = invoke("runs", "--base-path", str(tmp_path / "data"))  # the old way: all
    assert numbers_run in out and again_run in out
    code, out, _ = invoke("runs")  # ./data of this folder: nothing ran here
    assert code == 0
    assert out == f"No runs recorded in {elsewhere}/data/.glacier/runs.\n"

    code, out, err = invoke("report", numbers_run, f"{path}:numbers", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["pipeline"] == "numbers"
    assert {t["name"]: t["rows"] for t in report["tasks"]}["keep_big"] == 3
    code, out, err = invoke("report", numbers_run, f"{path}:numbers")
    assert code == 0, err
    assert f"Run {numbers_run} of pipeline 'numbers': ok" in out

    code, _, err = invoke("report", again_run, f"{path}:numbers")
    assert code == 2
    assert f"Run '{again_run}' is a run of pipeline 'again', not of 'numbers'" in err
    code, _, err = invoke("report", numbers_run)  # the old way looks in ./data
    assert code == 2
    assert f"No report for run '{numbers_run}' at {elsewhere}/data/.glacier/runs/" in err


CLOUD_PIPELINE = """
import polars as pl
from glacier import Provider, pipeline
from glacier.config import AwsConfig

provider = Provider(
    config=AwsConfig(region={region!r}, endpoint_url={endpoint!r}, staging_bucket={staging!r})
)
numbers = provider.bucket(bucket={raw!r}, path="numbers.parquet")
here = provider.local()


@here.task()
def total(src) -> pl.LazyFrame:
    return src.scan().select(pl.col("n").sum())


@pipeline(name="cloud_total")
def cloud_total():
    return total(numbers)
"""


@pytest.mark.cloud
def test_runs_and_report_of_a_cloud_target_read_its_staging_bucket(
    s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_test_aws_credentials()
    raw, staging = unique_bucket_name("raw"), unique_bucket_name("staging")
    s3_server.create_bucket(raw)
    s3_server.create_bucket(staging)
    path = tmp_path / "cloud_flow.py"
    path.write_text(
        CLOUD_PIPELINE.format(
            region=s3_server.region, endpoint=s3_server.endpoint, staging=staging, raw=raw
        )
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = invoke("runs", str(path))
    assert code == 0, err
    assert out == f"No runs of pipeline 'cloud_total' recorded in s3://{staging}/runs.\n"
    provider_for(s3_server).bucket(bucket=raw, path="numbers.parquet").write(
        pl.DataFrame({"n": [1, 2, 3]})
    )
    code, out, err = invoke("run", str(path))
    assert code == 0, err
    run_id = _run_id(out)

    code, out, err = invoke("runs", str(path))
    assert code == 0, err
    assert run_id in out and "cloud_total" in out
    code, out, err = invoke("report", run_id, str(path), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["run_id"] == run_id
    assert report["tasks"][0]["name"] == "total"
    assert report["tasks"][0]["rows"] == 1


def test_report_of_an_unknown_run_exits_2(tmp_path: Path) -> None:
    code, _, err = invoke("report", "20000101T000000-nope", "--base-path", str(tmp_path))
    assert code == 2
    assert "No report for run '20000101T000000-nope'" in err
    assert "Traceback" not in err


def test_terraform_and_package_write_what_they_list(project: Path, tmp_path: Path) -> None:  # noqa: F811
    out_dir = tmp_path / "deploy"
    code, out, _ = invoke("terraform", str(project), "--out", str(out_dir), "--provider", "aws")
    assert code == 0
    written = {Path(line).name for line in out.split()}
    assert {"versions.tf", "storage.tf", "functions.tf", "glacier.plan.json"} <= written
    assert 'source  = "hashicorp/aws"' in (out_dir / "versions.tf").read_text()
    plan = json.loads((out_dir / "glacier.plan.json").read_text())
    assert plan["pipeline"] == "numbers"

    code, out, _ = invoke(
        "package", str(project), "--out", str(out_dir), "--provider", "aws", "--no-deps"
    )
    assert code == 0
    archives = [Path(line) for line in out.split() if line.endswith(".zip")]
    assert archives
    with zipfile.ZipFile(archives[0]) as zf:
        assert "numbers_pipeline.py" in zf.namelist()


def test_terraform_refuses_an_unknown_cloud(project: Path, tmp_path: Path) -> None:  # noqa: F811
    code, _, err = invoke("terraform", str(project), "--out", str(tmp_path), "--provider", "ibm")
    assert code == 2
    assert "ibm" in err
