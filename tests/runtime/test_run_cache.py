"""Caching, resume after failure or SIGKILL, corrupt cache files, atomic sinks, run reports,
and where a run writes each output."""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import subprocess
import textwrap
import time
import warnings
from pathlib import Path

import polars as pl
import pytest

from glacier import Provider, pipeline
from glacier.config import LocalConfig
from glacier.errors import TaskFailed
from glacier.runtime.cache import CacheWarning, node_keys
from glacier.runtime.plan import plan_for
from glacier.runtime.report import (
    CorruptReport,
    CorruptReportWarning,
    ReportNotFound,
    format_report,
    format_runs,
    list_runs,
    load_report,
)
from glacier.runtime.run_cache import RunCache
from glacier.runtime.staging import OutputTarget, Staging
from tests._cli_support import glacier_command


@pytest.fixture
def provider(tmp_path: Path) -> Provider:
    p = Provider(config=LocalConfig(base_path=str(tmp_path / "data")))
    raw = p.bucket(bucket="raw", path="in.parquet")
    Path(raw.uri).parent.mkdir(parents=True)
    pl.DataFrame({"a": list(range(100))}).write_parquet(raw.uri)
    return p


def _counting(log: Path, name: str) -> None:
    with log.open("a") as f:
        f.write(name + "\n")


def test_rerun_after_failure_recomputes_only_the_failed_node(
    provider: Provider, tmp_path: Path
) -> None:
    raw = provider.bucket(bucket="raw", path="in.parquet")
    fn = provider.serverless()
    local = provider.local()
    log = tmp_path / "calls.log"
    broken = tmp_path / "broken"
    broken.touch()

    @fn.task()
    def prepare(source):  # type: ignore[no-untyped-def]
        _counting(log, "prepare")
        return source.scan().with_columns(b=pl.col("a") * 2)

    @local.task()
    def fragile(df: pl.LazyFrame) -> pl.LazyFrame:
        _counting(log, "fragile")
        if broken.exists():
            raise RuntimeError("not yet")
        return df.filter(pl.col("a") > 50)

    @pipeline(name="resume_after_failure")
    def resume() -> object:
        return fragile(prepare(raw))

    with pytest.raises(TaskFailed):
        resume.run()
    broken.unlink()
    result = resume.run()
    assert result.output.height == 49
    assert result.tasks["prepare"].cache_hit
    assert not result.tasks["fragile"].cache_hit
    assert log.read_text().split() == ["prepare", "fragile", "fragile"]

    again = resume.run()
    assert all(t.cache_hit for t in again.tasks.values())
    assert again.output.equals(result.output)
    assert resume.run(cache=False).tasks["prepare"].cache_hit is False


def test_changed_code_closure_or_input_misses_the_cache(provider: Provider) -> None:
    raw = provider.bucket(bucket="raw", path="in.parquet")
    fn = provider.serverless()

    def build(threshold: int) -> object:
        @fn.task()
        def keep(source):  # type: ignore[no-untyped-def]
            return source.scan().filter(pl.col("a") >= threshold)

        @pipeline(name="keyed")
        def keyed() -> object:
            return keep(raw)

        return keyed

    assert build(10).run().output.height == 90  # type: ignore[attr-defined]
    assert build(10).run().tasks["keep"].cache_hit  # type: ignore[attr-defined]
    changed = build(20).run()  # type: ignore[attr-defined]
    assert not changed.tasks["keep"].cache_hit and changed.output.height == 80
    time.sleep(0.01)
    pl.DataFrame({"a": list(range(30))}).write_parquet(raw.uri)
    fresh = build(20).run()  # type: ignore[attr-defined]
    assert not fresh.tasks["keep"].cache_hit and fresh.output.height == 10


def test_corrupt_cache_file_is_recomputed_not_returned(provider: Provider, tmp_path: Path) -> None:
    raw = provider.bucket(bucket="raw", path="in.parquet")
    fn = provider.serverless()
    log = tmp_path / "calls.log"

    @fn.task()
    def square(source):  # type: ignore[no-untyped-def]
        _counting(log, "square")
        return source.scan().with_columns(sq=pl.col("a") ** 2)

    @pipeline(name="corrupt")
    def corrupt() -> object:
        return square(raw)

    first = corrupt.run()
    cached = list((tmp_path / "data" / ".glacier" / "cache").glob("*.parquet"))
    assert len(cached) == 1
    data = bytearray(cached[0].read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of the file
    cached[0].write_bytes(bytes(data))

    second = corrupt.run()
    assert not second.tasks["square"].cache_hit
    assert second.output.equals(first.output)
    assert log.read_text().split() == ["square", "square"]
    assert corrupt.run().tasks["square"].cache_hit


RESUME_SCRIPT = """
import os, time
import polars as pl
from glacier import Provider, pipeline
from glacier.config import LocalConfig

provider = Provider(config=LocalConfig(base_path=os.environ["GLACIER_TEST_BASE"]))
raw = provider.bucket(bucket="raw", path="in.parquet")
out = provider.bucket(bucket="curated", path="out.parquet")
fn = provider.serverless()
local = provider.local()
MARKER = os.environ["GLACIER_TEST_MARKER"]

def stall(s):
    if os.environ.get("GLACIER_TEST_STALL"):
        open(MARKER, "w").close()
        time.sleep(120)
    return s

@fn.task()
def prepare(source):
    return source.scan().with_columns(b=pl.col("a") * 2)

@local.task()
def finish(df):
    return df.with_columns(c=pl.col("b").map_batches(stall, return_dtype=pl.Int64))

@pipeline(name="sigkill_resume")
def resume():
    out.write(finish(prepare(raw)))
"""


def test_sigkill_of_glacier_run_mid_sink_keeps_old_sink_and_rerun_resumes(tmp_path: Path) -> None:
    base = tmp_path / "data"
    (base / "raw").mkdir(parents=True)
    (base / "curated").mkdir()
    pl.DataFrame({"a": list(range(1000))}).write_parquet(base / "raw" / "in.parquet")
    old = pl.DataFrame({"old": ["previous version"]})
    old.write_parquet(base / "curated" / "out.parquet")
    script = tmp_path / "pipeline_script.py"
    script.write_text(textwrap.dedent(RESUME_SCRIPT))
    marker = tmp_path / "sinking"
    args = [*glacier_command(), "run", str(script)]
    env = {**os.environ, "GLACIER_TEST_BASE": str(base), "GLACIER_TEST_MARKER": str(marker)}

    run = subprocess.Popen(args, env={**env, "GLACIER_TEST_STALL": "1"})
    deadline = time.monotonic() + 60
    while not marker.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), "the sink never started"
    run.send_signal(signal.SIGKILL)
    run.wait()
    assert pl.read_parquet(base / "curated" / "out.parquet").equals(old)

    subprocess.run(args, env=env, capture_output=True, text=True, check=True, timeout=120)
    latest = list_runs(Provider(config=LocalConfig(base_path=base)), limit=1)[0]
    hits = {t["name"]: t["cache_hit"] for t in latest["tasks"]}
    assert hits == {"prepare": True, "finish": False, "write:curated/out.parquet": False}
    expected = pl.DataFrame({"a": list(range(1000))}).with_columns(
        b=pl.col("a") * 2, c=pl.col("a") * 2
    )
    assert pl.read_parquet(base / "curated" / "out.parquet").equals(expected)


def test_run_reports_are_listed_and_shown(provider: Provider) -> None:
    raw = provider.bucket(bucket="raw", path="in.parquet")
    fn = provider.serverless(name="fn")

    @fn.task()
    def total(source):  # type: ignore[no-untyped-def]
        return source.scan().select(pl.col("a").sum())

    @pipeline(name="reported")
    def reported() -> object:
        return total(raw)

    first = reported.run()
    second = reported.run()
    runs = list_runs(provider)
    assert [r["run_id"] for r in runs[:2]] == [second.run_id, first.run_id]
    report = load_report(provider, first.run_id)
    task = report["tasks"][0]
    assert task["name"] == "total" and task["backend"] == "process" and task["attempts"] == 1
    assert task["rows"] == 1 and task["bytes"] > 0 and task["peak_memory"] > 0
    assert task["cache_hit"] is False
    assert load_report(provider, second.run_id)["tasks"][0]["cache_hit"] is True
    assert first.run_id in format_runs(runs)
    assert "total" in format_report(report) and "process" in format_report(report)


def test_outputs_go_to_the_cache_when_keyed_and_to_the_run_otherwise(provider: Provider) -> None:
    ex = provider.local()
    shared = ex.task(name="shared")(lambda: pl.DataFrame({"a": [1]}))
    left = ex.task(name="left")(lambda df: df)
    right = ex.task(name="right")(lambda df: df)

    @pipeline(name="targets")
    def targets() -> object:
        data = shared()
        return left(data), right(data)

    plan = plan_for(targets)
    staging = Staging(provider, "run-1")
    keys = node_keys(targets.dag, {})
    keyed, unkeyed = RunCache(plan, keys), RunCache(plan, {})
    assert unkeyed.target(plan.units["shared"], staging) == OutputTarget(
        provider, ".glacier", "runs/run-1/shared.parquet"
    )
    assert unkeyed.target(plan.units["left"], staging).keep_collected is False
    staged = keyed.target(plan.units["shared"], staging)  # staged: the cache file is the hand-off
    assert (staged.key, staged.keep_collected) == (f"cache/{keys['shared']}.parquet", False)
    collected = keyed.target(plan.units["left"], staging)  # collected: also written, to reuse
    assert (collected.key, collected.keep_collected) == (f"cache/{keys['left']}.parquet", True)


def test_a_helper_changed_through_its_module_is_recomputed(
    provider: Provider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``import helper`` ... ``helper.transform(lf)``: editing helper.py must miss the cache."""
    (tmp_path / "helper_for_cache.py").write_text(
        "import polars as pl\n\ndef transform(lf):\n    return lf.with_columns(b=pl.lit(1))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    helper = importlib.import_module("helper_for_cache")
    raw = provider.bucket(bucket="raw", path="in.parquet")
    ex = provider.local()

    @ex.task()
    def shaped(source):  # type: ignore[no-untyped-def]
        return helper.transform(source.scan())

    @pipeline(name="through_module")
    def through_module() -> object:
        return shaped(raw)

    assert through_module.run().output["b"].unique().to_list() == [1]
    assert through_module.run().tasks["shaped"].cache_hit
    (tmp_path / "helper_for_cache.py").write_text(
        "import polars as pl\n\ndef transform(lf):\n    return lf.with_columns(b=pl.lit(2))\n"
    )
    importlib.reload(helper)  # what a new `glacier run` process imports
    rerun = through_module.run()
    assert not rerun.tasks["shaped"].cache_hit
    assert rerun.output["b"].unique().to_list() == [2]


def test_a_run_without_the_cache_neither_reads_nor_writes_it(
    provider: Provider, tmp_path: Path
) -> None:
    raw = provider.bucket(bucket="raw", path="in.parquet")
    ex = provider.local()
    log = tmp_path / "calls.log"

    @ex.task()
    def total(source):  # type: ignore[no-untyped-def]
        _counting(log, "total")
        return source.scan().select(pl.col("a").sum())

    @pipeline(name="untouched")
    def untouched() -> object:
        return total(raw)

    cache = Path(provider.store.uri(".glacier", "cache"))
    assert untouched.run(cache=False).output.item() == 4950
    assert not cache.exists() or not any(cache.iterdir())
    assert not untouched.run().tasks["total"].cache_hit
    assert not untouched.run(cache=False).tasks["total"].cache_hit  # computed, not read
    assert untouched.run().tasks["total"].cache_hit
    assert log.read_text().split() == ["total"] * 3


def test_a_corrupt_manifest_is_skipped_with_a_warning(provider: Provider) -> None:
    raw = provider.bucket(bucket="raw", path="in.parquet")
    ex = provider.local()

    @ex.task()
    def total(source):  # type: ignore[no-untyped-def]
        return source.scan().select(pl.col("a").sum())

    @pipeline(name="damaged")
    def damaged() -> object:
        return total(raw)

    damaged.run()
    (manifest,) = Path(provider.store.uri(".glacier", "cache")).glob("*.json")
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "rows": "lots"}))
    with pytest.warns(CacheWarning, match=r"Ignored cache manifest .*rows='lots'"):
        rerun = damaged.run()
    assert not rerun.tasks["total"].cache_hit and rerun.output.item() == 4950
    assert damaged.run().tasks["total"].cache_hit  # the rerun's commit replaced it


def test_corrupt_reports_are_skipped_when_listed_and_refused_when_shown(
    provider: Provider,
) -> None:
    raw = provider.bucket(bucket="raw", path="in.parquet")
    total = provider.local().task(name="total")(lambda s: s.scan().select(pl.col("a").sum()))

    @pipeline(name="listed")
    def listed() -> object:
        return total(raw)

    good = listed.run()
    broken = Path(provider.store.uri(".glacier", "runs/20000101T000000.000000-aaaaaa"))
    broken.mkdir(parents=True)
    (broken / "report.json").write_text("{}")
    with pytest.warns(CorruptReportWarning, match="not a readable run report"):
        runs = list_runs(provider)
    assert [r["run_id"] for r in runs] == [good.run_id]
    with pytest.raises(CorruptReport, match=re.escape("20000101T000000.000000-aaaaaa")):
        load_report(provider, "20000101T000000.000000-aaaaaa")


@pytest.mark.parametrize("run_id", ["../../etc", "a/b", "..", "/abs", ""])
def test_a_run_id_that_is_not_one_path_segment_is_refused(provider: Provider, run_id: str) -> None:
    with pytest.raises(ReportNotFound, match="is not a run id"):
        load_report(provider, run_id)


def test_an_output_the_cache_cannot_keep_is_not_looked_up_again(
    provider: Provider, tmp_path: Path
) -> None:
    """An int is never cached, so once a unit returned one, the next run in the process does
    not read its manifest (a failed read per unit on every run); the unit just runs."""
    ex = provider.local()
    log = tmp_path / "calls.log"

    @ex.task()
    def count() -> int:
        _counting(log, "count")
        return 7

    @pipeline(name="uncacheable")
    def uncacheable() -> object:
        return count()

    assert uncacheable.run().output == 7
    key = node_keys(uncacheable.dag, {})["count"]
    assert key is not None
    cache = Path(provider.store.uri(".glacier", "cache"))
    cache.mkdir(parents=True, exist_ok=True)
    (cache / f"{key}.json").write_text("not a manifest")  # a read of it would warn
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        rerun = uncacheable.run()
    assert rerun.output == 7 and not rerun.tasks["count"].cache_hit
    assert log.read_text().split() == ["count"] * 2
