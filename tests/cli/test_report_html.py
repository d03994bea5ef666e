"""``glacier report RUN_ID --html``: one self-contained page, checked in the DOM that headless
Chromium builds from it (every task in its status colour, each edge, a timeline bar per task in
its executor's lane), and the start and end times in the run report that the timeline draws."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from glacier import Provider
from glacier.config import LocalConfig
from glacier.runtime.report import list_runs
from glacier.viz.run_page import report_picture, run_page
from tests.cli.browser import chromium, needs_chromium, rendered_dom
from tests.test_cli import invoke, project  # noqa: F401  (the fixture)


def runs(pipeline_file: Path) -> dict[str, dict[str, Any]]:
    """A successful run and one whose last task fails, of the numbers pipeline; by state."""
    assert invoke("run", str(pipeline_file))[0] == 0
    assert invoke("run", str(pipeline_file), "-p", "fail=true")[0] != 0
    reports = list_runs(Provider(config=LocalConfig(base_path=pipeline_file.parent / "data")))
    return {("ok" if r["ok"] else "failed"): r for r in reports}


def write_page(pipeline_file: Path, run_id: str) -> Path:
    out = pipeline_file.parent / "pages" / f"{run_id}.html"
    base = str(pipeline_file.parent / "data")
    code, _, err = invoke("report", run_id, "--base-path", base, "--html", str(out))
    assert code == 0, err
    assert f"wrote {out}" in err
    return out


def test_the_report_records_inputs_and_when_each_task_ran(project: Path) -> None:  # noqa: F811
    report = runs(project)["ok"]
    tasks = {t["name"]: t for t in report["tasks"]}
    assert tasks["load"]["inputs"] == ["read:raw/numbers.parquet"]
    assert tasks["keep_big"]["inputs"] == ["load"]
    assert tasks["write:curated/big.parquet"]["inputs"] == ["keep_big"]
    for task in tasks.values():
        assert 0 <= task["started"] <= task["ended"] <= report["seconds"] + 0.5
    # a consumer on another executor starts only once its producer's unit has ended
    assert tasks["load"]["ended"] <= tasks["keep_big"]["started"]
    assert tasks["keep_big"]["ended"] <= tasks["double"]["started"]


@needs_chromium
def test_the_page_renders_every_task_by_status_each_edge_and_a_timeline(
    project: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    for state, report in runs(project).items():
        page = write_page(project, report["run_id"])
        dom = rendered_dom(page, tmp_path / "profile")
        tasks = {t["name"]: t for t in report["tasks"]}
        assert report["run_id"] in dom.iter("h1")[0].all_text()

        # nothing is fetched: no script, stylesheet link, image or frame, inline CSS only
        assert not dom.iter("script") and not dom.iter("link") and not dom.iter("iframe")
        assert not [e for e in dom.iter() if "src" in e.attrs or "href" in e.attrs]
        assert dom.iter("style")

        (svg,) = dom.iter("svg", "dag")
        nodes = {g.attrs["data-node"]: g for g in svg.iter("g", "node")}
        assert set(nodes) == {*tasks, "read:raw/numbers.parquet"}
        for name, task in tasks.items():
            assert nodes[name].attrs["data-status"] == task["status"]
            (box,) = [r for r in nodes[name].iter("rect") if "box" in r.classes]
            assert f"status-{task['status']}" in box.classes
            assert name in nodes[name].all_text()
        edges = {(e.attrs["data-src"], e.attrs["data-dst"]): e for e in svg.iter("path", "edge")}
        assert set(edges) == {(i, n) for n, t in tasks.items() for i in t["inputs"]}
        for (src, _), edge in edges.items():
            staged = src in tasks and tasks[src]["handoff"] == "staged"
            assert ("staged" in edge.classes) is staged
        assert "staged" in edges[("keep_big", "double")].classes  # serverless -> local

        lanes = {s.attrs["data-executor"]: s for s in dom.iter("section", "lane")}
        assert set(lanes) == {t["executor"] for t in tasks.values()}
        span = max(report["seconds"], *(t["ended"] for t in tasks.values() if t["ended"]))
        for name, task in tasks.items():
            (row,) = [
                r
                for r in lanes[task["executor"]].iter("div", "row")
                if r.attrs["data-task"] == name
            ]
            bars = row.iter("div", "bar")
            if task["started"] is None:  # reused from the cache: no bar, and it says why
                assert not bars
                assert f"{task['status']}, not run" in row.all_text()
                continue
            (bar,) = bars
            assert f"status-{task['status']}" in bar.classes
            left = re.search(r"left:([\d.]+)%", bar.attrs["style"])
            assert left is not None
            assert float(left.group(1)) == pytest.approx(100 * task["started"] / span, abs=0.01)
        if state == "failed":  # the second run reused load and keep_big from the cache
            assert {n: t["status"] for n, t in tasks.items()} == {
                "load": "cached",
                "keep_big": "cached",
                "write:curated/big.parquet": "cached",
                "double": "failed",
            }
            assert "boom on purpose" in dom.all_text()
        else:
            assert {t["status"] for t in tasks.values()} == {"succeeded"}

        shot = tmp_path / f"{state}.png"
        chromium(page, tmp_path / "profile", "--window-size=1200,900", f"--screenshot={shot}")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_levels_run_left_to_right_and_an_old_report_still_draws() -> None:
    def task(name: str, inputs: list[str], **more: Any) -> dict[str, Any]:
        return {
            "name": name, "kind": "task", "executor": "here", "executor_kind": "local",
            "status": "succeeded", "attempts": 1, "seconds": 0.1, "rows": 1, "handoff": "staged",
            "inputs": inputs, "started": 0.0, "ended": 0.1, **more,
        }  # fmt: skip

    report = {
        "pipeline": "p", "run_id": "r", "ok": True, "started": "now", "seconds": 0.2,
        "error": None,
        "tasks": [task("a", ["read:x"]), task("b", ["a"]), task("c", ["a", "b"])],
    }  # fmt: skip
    # c reads a too, yet ranks after b: a node's rank is its longest path from a source
    ranks = [[n.label for n in rank] for rank in report_picture(report).ranks]
    assert ranks == [["read:x"], ["a"], ["b"], ["c"]]

    old = {**report, "tasks": [{k: v for k, v in t.items() if k not in ("inputs", "started",
           "ended")} for t in report["tasks"]]}  # fmt: skip
    page = run_page(old)
    assert "This report has no start times" in page
    assert page.count('class="node task"') == 3
