"""Benchmark the TPC-H example: each query as a Glacier pipeline against the same query in Polars.

Run: python bench/tpch.py [--scale 1] [--queries q1,q5] [--variants one,heterogeneous,spark]
[--data DIR] [--baseline SRC]. Prints tables; asserts nothing. The data is generated once with
tpchgen-cli under ``DIR/tpch`` (default ``bench/data/sf<scale>``, git-ignored).

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
  of the file in the run's staging folder;
* ``--baseline SRC``: every measurement again with the Glacier of another checkout's ``src``
  folder (``git archive <commit> src | tar -x -C /tmp/base``), the two trees alternating per
  query, then a table of both trees' warm ratios side by side: a change measured against its
  parent under the same load.
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


def ensure_data(scale: float, base: Path | None) -> Path:
    base = base or REPO / "bench" / "data" / f"sf{scale:g}"
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
        """Glacier's last run; its staged frames are there only when it kept them."""

    def polars(self) -> float:
        start = time.perf_counter()
        self.reference(self.query, self.folder).collect()
        return time.perf_counter() - start

    def glacier(self, keep_handoffs: bool = False) -> float:
        """One run as a user runs it; ``keep_handoffs`` keeps its staged frames, to weigh them."""
        self.clean()  # a kept run's staged frames: keep the data folder small
        start = time.perf_counter()
        self.result = self.pipeline.run(cache=False, keep_handoffs=keep_handoffs)
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
    load of a shared machine hits both; then one more Glacier run, untimed, that keeps its
    hand-offs (a run deletes them when it succeeds) so that they can be weighed."""
    runs = Runs(variant, query)
    runs.polars(), runs.glacier()
    times: dict[str, list[float]] = {"polars": [], "glacier": []}
    for i in range(repeat):
        for engine in ENGINES if i % 2 == 0 else ENGINES[::-1]:
            times[engine].append(runs.polars() if engine == "polars" else runs.glacier())
    handoffs = []
    if variant == "heterogeneous":
        runs.glacier(keep_handoffs=True)
        handoffs = staged_handoffs(runs.result)
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


def spawn(base: Path, src: Path, *worker: str, repeat: int = 0) -> dict[str, Any]:
    """Run ``worker`` in a fresh process importing Glacier from ``src``."""
    env = {**os.environ, "GLACIER_BASE_PATH": str(base)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH")) if p)
    args = [sys.executable, __file__, "--worker", *worker, "--repeat", str(repeat)]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(worker)} failed:\n{done.stderr[-3000:]}")
    measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return measured


def bench(
    base: Path, src: Path, variant: str, query: str, repeat: int, cold_repeat: int
) -> dict[str, Any]:
    """Per engine its cold times (one process each, engines alternating) and warm times, with
    Glacier from ``src``."""
    cold: dict[str, list[float]] = {"polars": [], "glacier": []}
    for i in range(cold_repeat):
        for engine in ENGINES if i % 2 == 0 else ENGINES[::-1]:
            cold[engine].append(spawn(base, src, "cold", variant, query, engine)["seconds"])
    warm = spawn(base, src, "warm", variant, query, repeat=repeat)
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


def warm_ratio(engines: dict[str, Any]) -> float:
    return float(
        statistics.median(engines["glacier"]["warm"]) / statistics.median(engines["polars"]["warm"])
    )


def compare_rows(trees: dict[str, dict[str, dict[str, Any]]]) -> list[tuple[str, ...]]:
    """Per query each tree's warm ratio, then the median query's."""
    queries = next(iter(trees.values()))
    rows = [(q, *(f"{warm_ratio(t[q]):.2f}" for t in trees.values())) for q in queries]
    medians = (statistics.median(warm_ratio(e) for e in t.values()) for t in trees.values())
    return [*rows, ("median", *(f"{m:.2f}" for m in medians))]


def ratio_rows(results: dict[str, dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    warm_ratios = []
    for query, engines in results.items():
        p, g = engines["polars"], engines["glacier"]
        pw, gw = statistics.median(p["warm"]), statistics.median(g["warm"])
        warm_ratios.append(warm_ratio(engines))
        cold: tuple[str, ...] = ("-", "-", "-")  # --cold-repeat 0
        if p["cold"]:
            pc, gc = statistics.median(p["cold"]), statistics.median(g["cold"])
            cold = (ms(pc), ms(gc), f"{gc / pc:.2f}")
        rows.append((query, *cold, ms(pw), ms(gw), f"{gw / pw:.2f}"))
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
    parser.add_argument(
        "--cold-repeat", type=int, default=5, help="fresh processes per cold time (0: none)"
    )
    parser.add_argument("--data", type=Path, help="data folder (default: bench/data/sf<scale>)")
    parser.add_argument("--baseline", type=Path, help="another checkout's src/, measured alike")
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
    base = ensure_data(args.scale, args.data)
    srcs = {"baseline": args.baseline.resolve()} if args.baseline else {}
    srcs["this tree"] = REPO / "src"
    wanted = [f"q{n}" for n in range(1, 23)] if args.queries == "all" else args.queries.split(",")
    spark_queries = {"q1", "q3", "q13", "q18"}  # what examples/tpch/with_spark.py defines
    for variant in args.variants.split(","):
        queries = [q for q in wanted if variant != "spark" or q in spark_queries]
        trees: dict[str, dict[str, dict[str, Any]]] = {tree: {} for tree in srcs}
        for n, query in enumerate(queries):
            for tree in list(srcs)[:: 1 if n % 2 == 0 else -1]:  # each tree goes first in turn
                measured = bench(base, srcs[tree], variant, query, args.repeat, args.cold_repeat)
                trees[tree][query] = measured
            print(f"  {variant} {query} done", file=sys.stderr, flush=True)
        results = trees["this tree"]
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
        if args.baseline:
            print(f"\n## warm ratios, variant {variant}: baseline {args.baseline} vs this tree")
            print(text_table(("query", *srcs), compare_rows(trees)))


if __name__ == "__main__":
    main()
