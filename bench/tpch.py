"""Benchmark the TPC-H example: each query as a Glacier pipeline against the same query in Polars.

Run: python bench/tpch.py [--scale 1] [--queries q1,q5] [--variants one,heterogeneous,spark]
Prints tables; asserts nothing. The data is generated once with tpchgen-cli under
``bench/data/sf<scale>/tpch`` (git-ignored).

* variants: ``one`` (examples/tpch/queries.py, every step on one local executor),
  ``heterogeneous`` (serverless filters, local join, vm finish), ``spark`` (a Spark finish, for
  the queries with_spark.py defines);
* cold: the first run in a fresh process (imports done, executors not started), median over
  ``--cold-repeat`` processes per engine; warm: the median of ``--repeat`` runs in one more
  process, after a first run of each, the two engines alternating so that the load of a shared
  machine hits both. Glacier runs with ``cache=False``;
* ratio: Glacier's median over plain Polars' median (target, warm: one executor <= 1.05,
  heterogeneous <= 1.5 on the median query);
* hand-offs (heterogeneous): every frame the last warm run staged, with its bytes from the
  run's task records, and the seconds to write it as Parquet and read it back, timed on a copy
  of the file in the run's staging folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl

from glacier.loader import load_module

REPO = Path(__file__).resolve().parents[1]
TPCH = REPO / "examples" / "tpch"
MODULES = {"one": "queries", "heterogeneous": "heterogeneous", "spark": "with_spark"}
ENGINES = ("polars", "glacier")
TARGETS = {"one": "<= 1.05", "heterogeneous": "<= 1.5 median", "spark": ""}


def data_base(scale: float) -> Path:
    return REPO / "bench" / "data" / f"sf{scale:g}"


def ensure_data(scale: float) -> Path:
    base = data_base(scale)
    if not (base / "tpch" / "lineitem.parquet").exists():
        sys.path.insert(0, str(TPCH))
        from generate import generate  # noqa: PLC0415 - importable once examples/tpch is on the path

        print(f"generating TPC-H at scale factor {scale:g} in {base / 'tpch'} ...", flush=True)
        generate(scale, base / "tpch")
    return base


# --- in a worker process ------------------------------------------------------------------------


class Runs:
    """One query, both ways, in this process (GLACIER_BASE_PATH set): each call times one run."""

    def __init__(self, variant: str, query: str) -> None:
        module = load_module(str(TPCH / f"{MODULES[variant]}.py"))
        import tpch_polars  # noqa: PLC0415 - put on the path by loading the variant above

        self.query = tpch_polars.QUERIES[query]
        self.pipeline = module.PIPELINES[query]
        self.folder = Path(os.environ["GLACIER_BASE_PATH"]) / "tpch"
        self.reference = tpch_polars.reference
        self.result: Any = None
        """Glacier's last run, whose staged frames are kept until the next one."""

    def polars(self) -> float:
        start = time.perf_counter()
        self.reference(self.query, self.folder).collect()
        return time.perf_counter() - start

    def glacier(self) -> float:
        self.clean()  # the previous run's staged frames: keep the data folder small
        start = time.perf_counter()
        self.result = self.pipeline.run(cache=False)
        return time.perf_counter() - start

    def clean(self) -> None:
        if self.result is not None:
            shutil.rmtree(self.result.staging[0], ignore_errors=True)


def measure_cold(variant: str, query: str, engine: str) -> dict[str, Any]:
    """The first run of ``engine`` in this process."""
    runs = Runs(variant, query)
    seconds = runs.polars() if engine == "polars" else runs.glacier()
    runs.clean()
    return {"seconds": seconds}


def measure_warm(variant: str, query: str, repeat: int) -> dict[str, Any]:
    """After one run each, ``repeat`` runs each, alternating which goes first, so that the
    load of a shared machine hits both; then the last Glacier run's hand-offs."""
    runs = Runs(variant, query)
    runs.polars(), runs.glacier()
    times: dict[str, list[float]] = {"polars": [], "glacier": []}
    for i in range(repeat):
        for engine in ENGINES if i % 2 == 0 else ENGINES[::-1]:
            times[engine].append(runs.polars() if engine == "polars" else runs.glacier())
    handoffs = staged_handoffs(runs.result) if variant == "heterogeneous" else []
    runs.clean()
    return {**times, "handoffs": handoffs}


def staged_handoffs(result: Any) -> list[dict[str, Any]]:
    """What each staged frame of the run cost: its bytes, a Parquet write and a read of it."""
    out = []
    folder = Path(result.staging[0])
    with tempfile.TemporaryDirectory() as tmp:
        for name, task in result.tasks.items():
            if task.handoff != "staged":
                continue
            staged = folder / f"{name}.parquet"
            frame = pl.read_parquet(staged)
            copy = Path(tmp) / staged.name
            write_s = best_of(3, lambda f=frame, c=copy: f.write_parquet(c))
            read_s = best_of(3, lambda c=copy: pl.read_parquet(c))
            out.append(
                {
                    "task": name,
                    "executor": task.executor_kind,
                    "rows": task.rows,
                    "bytes": task.bytes,
                    "file_bytes": staged.stat().st_size,
                    "write_s": write_s,
                    "read_s": read_s,
                    "task_s": task.seconds,
                }
            )
    return out


def best_of(n: int, fn: Any) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


# --- the driver ---------------------------------------------------------------------------------


def spawn(base: Path, *worker: str, repeat: int = 0) -> dict[str, Any]:
    env = {**os.environ, "GLACIER_BASE_PATH": str(base)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), env.get("PYTHONPATH")) if p)
    args = [sys.executable, __file__, "--worker", *worker, "--repeat", str(repeat)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(worker)} failed:\n{done.stderr[-3000:]}")
    measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return measured


def bench(base: Path, variant: str, query: str, repeat: int, cold_repeat: int) -> dict[str, Any]:
    """Per engine its cold times (one process each, engines alternating) and warm times."""
    cold: dict[str, list[float]] = {"polars": [], "glacier": []}
    for i in range(cold_repeat):
        for engine in ENGINES if i % 2 == 0 else ENGINES[::-1]:
            cold[engine].append(spawn(base, "cold", variant, query, engine)["seconds"])
    warm = spawn(base, "warm", variant, query, repeat=repeat)
    return {
        "handoffs": warm["handoffs"],
        **{engine: {"cold": cold[engine], "warm": warm[engine]} for engine in ENGINES},
    }


def ms(seconds: float, digits: int = 0) -> str:
    return f"{seconds * 1e3:.{digits}f}"


def text_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    rows = [header, *rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def ratio_rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    warm_ratios = []
    for query, engines in results.items():
        p, g = engines["polars"], engines["glacier"]
        pc, gc = statistics.median(p["cold"]), statistics.median(g["cold"])
        pw, gw = statistics.median(p["warm"]), statistics.median(g["warm"])
        warm_ratios.append(gw / pw)
        rows.append((query, ms(pc), ms(gc), f"{gc / pc:.2f}", ms(pw), ms(gw), f"{gw / pw:.2f}"))
    if warm_ratios:
        rows.append(("median", "", "", "", "", "", f"{statistics.median(warm_ratios):.2f}"))
    return rows


def handoff_rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for query, engines in results.items():
        handoffs = engines["handoffs"]
        for h in handoffs:
            rows.append(
                (
                    query,
                    h["task"],
                    h["executor"],
                    f"{h['rows']:,}",
                    f"{(h['bytes'] or 0) / 1e6:.2f}",
                    f"{h['file_bytes'] / 1e6:.2f}",
                    ms(h["write_s"], 1),
                    ms(h["read_s"], 1),
                    "",
                )
            )
        write, read = (sum(h[k] for h in handoffs) for k in ("write_s", "read_s"))
        megabytes = sum(h["bytes"] or 0 for h in handoffs) / 1e6
        rest = statistics.median(engines["glacier"]["warm"]) - write - read
        rest -= statistics.median(engines["polars"]["warm"])
        total = (f"all {len(handoffs)}", "", "", f"{megabytes:.2f}", "")
        rows.append((query, *total, ms(write, 1), ms(read, 1), ms(rest)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--queries", default="all", help="e.g. q1,q3 (default: all 22)")
    parser.add_argument("--variants", default="one,heterogeneous,spark")
    parser.add_argument("--repeat", type=int, default=5, help="warm runs per query and engine")
    parser.add_argument("--cold-repeat", type=int, default=5, help="fresh processes per cold time")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:  # cold VARIANT QUERY ENGINE, or warm VARIANT QUERY
        mode, variant, query, *engine = args.worker
        measured = (
            measure_cold(variant, query, *engine)
            if mode == "cold"
            else measure_warm(variant, query, args.repeat)
        )
        print(json.dumps(measured))
        return
    base = ensure_data(args.scale)
    wanted = [f"q{n}" for n in range(1, 23)] if args.queries == "all" else args.queries.split(",")
    spark_queries = {"q1", "q3", "q13", "q18"}  # what examples/tpch/with_spark.py defines
    for variant in args.variants.split(","):
        queries = [q for q in wanted if variant != "spark" or q in spark_queries]
        results = {}
        for query in queries:
            results[query] = bench(base, variant, query, args.repeat, args.cold_repeat)
            print(f"  {variant} {query} done", file=sys.stderr, flush=True)
        print(
            f"\n## TPC-H sf{args.scale:g}, variant {variant}: ms, median of {args.cold_repeat} "
            f"cold / {args.repeat} warm (target, warm: {TARGETS[variant] or 'none'})"
        )
        columns = ("query", "polars cold", "glacier cold", "ratio", "polars warm", "glacier warm")
        print(text_table((*columns, "ratio"), ratio_rows(results)))
        if variant == "heterogeneous":
            print(f"\n## staged hand-offs, variant {variant} (last warm run)")
            header = ("query", "task", "on", "rows", "MB (record)", "MB (file)", "write ms")
            print(text_table((*header, "read ms", "rest ms"), handoff_rows(results)))
            print(
                "('all' lines: a query's hand-offs together; rest = glacier warm - polars warm - "
                "their write and read, what the executors cost beyond the hand-offs)"
            )


if __name__ == "__main__":
    main()
