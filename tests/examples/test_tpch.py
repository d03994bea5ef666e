"""examples/tpch: every TPC-H query, in every variant, gives the answer plain Polars gives.

The data (scale factor 0.05; at 0.01 q17 selects no line) is generated once per session by
the example's own generator, through ``tpchgen-cli``. The reference is the same query logic run
as one plain Polars query (``tpch_polars.reference``), so each test checks what Glacier adds:
the placement of the steps, the hand-offs between executors, the staging and the collection of
the answer."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier import Pipeline, RunResult
from glacier.loader import load_module
from tests._cli_support import EXAMPLES, run_glacier, run_script

TPCH = EXAMPLES / "tpch"
SCALE = "0.05"
QUERY_NAMES = [f"q{n}" for n in range(1, 23)]
SPARK_QUERY_NAMES = ["q1", "q3", "q13", "q18"]
TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")
VARIANTS = ("queries", "heterogeneous", "with_spark")


def _has_tpchgen() -> bool:
    return Path(sys.executable).with_name("tpchgen-cli").exists() or bool(
        shutil.which("tpchgen-cli")
    )


pytestmark = pytest.mark.skipif(
    not _has_tpchgen(),
    reason="tpchgen-cli is missing: pip install 'glacier-pipelines[tpch]' to run the TPC-H tests",
)


@pytest.fixture(scope="session")
def tpch_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GLACIER_BASE_PATH holding the 8 tables, made by the example's generator."""
    base = tmp_path_factory.mktemp("tpch") / "data"
    done = run_script(TPCH / "generate.py", "--scale", SCALE, cwd=base.parent, base_path=base)
    assert done.returncode == 0, done.stderr
    assert {p.name for p in (base / "tpch").iterdir()} == {f"{t}.parquet" for t in TABLES}
    return base


@pytest.fixture(scope="session")
def variants(tpch_base: Path) -> dict[str, ModuleType]:
    """The three variant modules, their provider on ``tpch_base`` (read once, on import)."""
    old = os.environ.get("GLACIER_BASE_PATH")
    os.environ["GLACIER_BASE_PATH"] = str(tpch_base)
    try:
        return {name: load_module(str(TPCH / f"{name}.py")) for name in VARIANTS}
    finally:
        if old is None:
            del os.environ["GLACIER_BASE_PATH"]
        else:
            os.environ["GLACIER_BASE_PATH"] = old


@pytest.fixture(scope="session")
def logic(variants: dict[str, ModuleType]) -> ModuleType:
    """``tpch_polars``, importable once the variants put examples/tpch on the path."""
    import tpch_polars  # noqa: PLC0415 - importable once the variants put examples/tpch on the path

    return tpch_polars


@pytest.fixture(scope="session")
def expected(logic: ModuleType, tpch_base: Path) -> dict[str, pl.DataFrame]:
    return {
        name: logic.reference(query, tpch_base / "tpch").collect()
        for name, query in logic.QUERIES.items()
    }


def assert_same_answer(
    logic: ModuleType, query: str, got: pl.DataFrame, want: pl.DataFrame, **options: Any
) -> None:
    """Floats within 1e-9 relative (sums differ in the last bits from run to run); rows in
    the query's order where its ORDER BY is total, as a set where it is not."""
    assert want.height > 0, f"{query}: the reference answer is empty"
    assert_frame_equal(
        got,
        want,
        check_row_order=logic.QUERIES[query].total_order,
        rel_tol=1e-9,
        abs_tol=1e-9,
        **options,
    )


def staged_tasks(result: RunResult) -> dict[str, int]:
    """Bytes handed on through staging, per task that staged its output."""
    return {
        name: task.bytes or 0 for name, task in result.tasks.items() if task.handoff == "staged"
    }


# --- one local executor -------------------------------------------------------------------------


@pytest.mark.parametrize("query", QUERY_NAMES)
def test_one_executor_matches_plain_polars(
    variants: dict[str, ModuleType],
    logic: ModuleType,
    expected: dict[str, pl.DataFrame],
    query: str,
) -> None:
    pipe: Pipeline = variants["queries"].PIPELINES[query]
    result = pipe.run(cache=False)
    assert {t.executor_kind for t in result.tasks.values()} == {"local"}
    assert staged_tasks(result) == {}  # one executor: every frame is handed on in memory
    assert_same_answer(logic, query, result.output, expected[query])


def test_a_rerun_reuses_the_cached_answer(
    variants: dict[str, ModuleType], logic: ModuleType, expected: dict[str, pl.DataFrame]
) -> None:
    pipe: Pipeline = variants["queries"].PIPELINES["q22"]
    first, again = pipe.run(), pipe.run()
    assert not first.tasks["q22_finish"].cache_hit and again.tasks["q22_finish"].cache_hit
    assert_same_answer(logic, "q22", again.output, expected["q22"])


def test_glacier_run_prints_a_query_answer(
    tpch_base: Path, expected: dict[str, pl.DataFrame]
) -> None:
    done = run_glacier(
        "run", f"{TPCH / 'queries.py'}:q1", cwd=tpch_base.parent, base_path=tpch_base
    )
    assert done.returncode == 0, done.stderr
    assert "q1_finish" in done.stdout and " ok in " in done.stdout
    assert f"output: {expected['q1'].height} rows x {expected['q1'].width} columns" in done.stdout


# --- serverless filters, local join, vm finish --------------------------------------------------


@pytest.fixture(scope="module")
def heterogeneous_run(variants: dict[str, ModuleType]) -> RunResult:
    """All 22 queries in one run, so the local Dask cluster starts once."""
    pytest.importorskip("distributed", reason="pip install 'glacier-pipelines[dask]'")
    result: RunResult = variants["heterogeneous"].tpch_all_heterogeneous.run(cache=False)
    return result


@pytest.mark.dask
@pytest.mark.parametrize("query", QUERY_NAMES)
def test_heterogeneous_matches_plain_polars(
    logic: ModuleType,
    expected: dict[str, pl.DataFrame],
    heterogeneous_run: RunResult,
    query: str,
) -> None:
    assert_same_answer(logic, query, heterogeneous_run.output[query], expected[query])


@pytest.mark.dask
def test_heterogeneous_places_each_step_and_stages_every_crossing(
    logic: ModuleType, heterogeneous_run: RunResult
) -> None:
    tasks = heterogeneous_run.tasks
    staged = staged_tasks(heterogeneous_run)
    for name, query in logic.QUERIES.items():
        prefix = f"tpch_{name}_heterogeneous."
        for table, step in query.filters.items():
            filtered = tasks[prefix + step.__name__]
            assert (filtered.executor_kind, tasks[prefix + f"scan_{table}"].executor_kind) == (
                "serverless",
                "serverless",
            )
            assert staged[prefix + step.__name__] > 0
        if query.join is not None:
            assert tasks[prefix + query.join.__name__].executor_kind == "local"
            assert staged[prefix + query.join.__name__] > 0
        assert tasks[prefix + query.finish.__name__].executor_kind == "vm"
    assert all(t.status.value == "succeeded" for t in tasks.values())


def test_each_join_hands_its_finish_only_the_columns_the_finish_reads(
    logic: ModuleType, tpch_base: Path
) -> None:
    """Polars cannot push a finish's projection across a hand-off to another executor, so a
    join must select what its finish reads: every column it hands on is one the finish needs
    (dropping any of them breaks the finish's plan), and nothing is staged for nobody."""
    tables = logic.scan_folder(tpch_base / "tpch")
    for name, query in logic.QUERIES.items():
        if query.join is None:
            continue
        joined = query.join(
            **{t: query.filters.get(t, pl.LazyFrame.lazy)(tables[t]) for t in query.tables}
        )
        for column in joined.collect_schema().names():
            with pytest.raises(pl.exceptions.ColumnNotFoundError):
                query.finish(joined.drop(column)).collect_schema()
                pytest.fail(f"{name}: the join hands on {column!r}, which its finish never reads")


# --- a Spark finish -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark_run(variants: dict[str, ModuleType]) -> RunResult:
    """The Spark variant's queries in one run: one Spark session (10-15 s to start)."""
    pytest.importorskip("pyspark", reason="pip install 'glacier-pipelines[spark]'")
    from glacier.spark.errors import JavaNotFoundError  # noqa: PLC0415 - after the pyspark check
    from glacier.spark.session import check_java  # noqa: PLC0415 - after the pyspark check

    try:
        check_java()
    except JavaNotFoundError as exc:
        pytest.skip(str(exc))
    result: RunResult = variants["with_spark"].tpch_all_spark.run(cache=False)
    return result


@pytest.mark.slow
@pytest.mark.parametrize("query", SPARK_QUERY_NAMES)
def test_spark_finish_matches_plain_polars(
    logic: ModuleType, expected: dict[str, pl.DataFrame], spark_run: RunResult, query: str
) -> None:
    finish = logic.QUERIES[query].finish.__name__
    assert spark_run.tasks[f"tpch_{query}_spark.{finish}"].executor_kind == "cluster"
    got, want = spark_run.output[query], expected[query]
    # the Polars schema the task returned is restored from Spark's (issue 13, item 5)
    assert got.schema == want.schema
    assert_same_answer(logic, query, got, want)


def test_spark_variant_lists_its_queries(variants: dict[str, ModuleType]) -> None:
    assert sorted(variants["with_spark"].PIPELINES) == sorted(SPARK_QUERY_NAMES)


def test_the_bench_prints_ratios_and_the_hand_offs_of_a_heterogeneous_run(tpch_base: Path) -> None:
    """``bench/tpch.py`` as the closing notes run it, on one query: it must finish and weigh
    the staged hand-offs (it once read the files a successful run had already deleted)."""
    bench = TPCH.parents[1] / "bench" / "tpch.py"
    done = run_script(
        bench,
        *("--scale", SCALE, "--data", str(tpch_base), "--queries", "q6"),
        *("--variants", "one,heterogeneous", "--repeat", "1", "--cold-repeat", "0"),
        cwd=tpch_base.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    tables = done.stdout.split("## ")
    ratios = next(t for t in tables if t.startswith(f"TPC-H sf{SCALE}, variant heterogeneous"))
    assert any(line.split()[:1] == ["q6"] for line in ratios.splitlines())
    handoffs = next(t for t in tables if t.startswith("staged hand-offs"))
    staged = [line.split() for line in handoffs.splitlines() if line.split()[:1] == ["q6"]]
    assert staged and all(int(row[3].replace(",", "")) > 0 for row in staged if row[1] != "all"), (
        handoffs
    )
