"""``glacier runs``, ``report``, ``terraform`` and ``package`` on a real pipeline file."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

from tests.test_cli import invoke, project  # noqa: F401  (the fixture)


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
