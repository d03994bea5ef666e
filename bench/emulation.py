"""Benchmark local emulation: serverless invocation overhead and cross-executor hand-off cost.

Run: python bench/emulation.py [--rows 5000000] [--no-spark]. Prints tables; asserts nothing.

* fixed cost per run: ``run()`` of a 1-task pipeline per executor kind, cold (its workers,
  cluster or Spark session started by the run) and warm (the next run in the process reuses
  them); the cluster row needs PySpark and Java, and its cold cost is measured once;
* cold start: a fresh worker process (interpreter, Polars import) plus one no-op invocation;
* warm invocation: one no-op invocation round trip to a warm worker (serialize, pipe, run,
  staging bookkeeping, answer);
* hand-off: what a frame costs to cross executors (``OutputTarget.put``: atomic Parquet write, row
  count, size and SHA-256 for the cache, then a scan of it), against a bare ``sink_parquet`` +
  ``scan_parquet`` of the same frame.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from glacier import Provider, pipeline
from glacier.config import LocalConfig, SparkConfig, VmConfig
from glacier.resources.executor import Executor
from glacier.runtime.backends import warm
from glacier.runtime.backends.process import Worker
from glacier.runtime.invocation import BucketRef, Invocation, ProviderRef, encode
from glacier.runtime.staging import OutputTarget, staging_bucket
from glacier.runtime.units import Handoff
from glacier.runtime.worker import Step


def noop() -> int:
    return 1


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def invocation_overhead(
    provider: Provider, cold_runs: int, warm_runs: int
) -> list[tuple[str, ...]]:
    invocation = Invocation(
        run_id="bench",
        unit="noop",
        attempt=1,
        steps=(Step(node="noop", fn=noop),),
        sinks={},
        handoff=Handoff.STAGED,
        inputs={},
        params={},
        output=BucketRef(ProviderRef.of(provider), ".glacier", "bench/noop.parquet"),
    )
    payload = encode(invocation)

    def cold() -> None:
        worker = Worker({})
        worker.call(payload, None, None)
        worker.stop()

    cold_times = timed(cold, cold_runs)
    worker = Worker({})
    worker.call(payload, None, None)
    warm_times = timed(lambda: worker.call(payload, 1 << 40, None), warm_runs)
    encode_times = timed(lambda: encode(invocation), warm_runs)
    worker.stop()
    return [
        ("cold start + invocation", *_ms(cold_times), "<= 500"),
        ("warm invocation", *_ms(warm_times), "<= 5"),
        ("  of which encode", *_ms(encode_times), ""),
    ]


RUN_TARGETS_MS = {"local": 2, "serverless": 20, "vm": 50, "cluster": 300}


def one_task_run(executor: Executor, provider: Provider) -> Callable[[], object]:
    """A 1-task pipeline on ``executor``; a cluster task takes a 3-row Parquet frame."""
    if executor.kind == "cluster":
        source = provider.bucket("raw", "tiny.parquet")
        Path(source.uri).parent.mkdir(parents=True, exist_ok=True)
        pl.DataFrame({"a": [1, 2, 3]}).write_parquet(source.uri)

        @executor.task(name=f"one_{executor.kind}")
        def on_frame(df: pl.LazyFrame) -> pl.LazyFrame:
            return df

        @pipeline(name=f"fixed_{executor.kind}")
        def one() -> object:
            return on_frame(source)

    else:
        task = executor.task(name=f"one_{executor.kind}")(noop)

        @pipeline(name=f"fixed_{executor.kind}")
        def one() -> object:
            return task()

    return lambda: one.run(cache=False)


def run_cost(provider: Provider, repeat: int, spark: bool) -> list[tuple[str, ...]]:
    """Cold: every warm pool closed before the run (Spark: the first session); warm: reused."""
    executors = [
        provider.local(),
        provider.serverless(),
        provider.vm(config=VmConfig(cpus=1, memory=1024)),
    ]
    if spark:
        executors.append(provider.cluster(config=SparkConfig(master="local[2]")))
    rows = []
    for executor in executors:
        run = one_task_run(executor, provider)
        cold_repeat = 1 if executor.kind == "cluster" else max(1, repeat // 10)
        cold = []
        for _ in range(cold_repeat):
            warm.close_all()
            cold += timed(run, 1)
        warm_times = timed(run, repeat)
        target = RUN_TARGETS_MS[executor.kind]
        rows.append(
            (
                executor.kind,
                *_ms(warm_times),
                f"{statistics.median(cold) * 1000:.1f}",
                f"<= {target}",
            )
        )
    return rows


def handoff_cost(provider: Provider, rows: int, repeat: int) -> list[tuple[str, ...]]:
    frame = pl.DataFrame(
        {
            "id": pl.int_range(rows, eager=True),
            "amount": pl.int_range(rows, eager=True).cast(pl.Float64) * 0.5,
            "day": (pl.int_range(rows, eager=True) % 365).cast(pl.Int32),
        }
    )
    bare_path = Path(provider.store.uri("bare", "frame.parquet"))
    bare_path.parent.mkdir(parents=True, exist_ok=True)
    target = OutputTarget(provider, staging_bucket(provider), "bench/frame.parquet")

    def query(lf: pl.LazyFrame) -> None:
        lf.select(pl.col("amount").sum(), pl.len()).collect()

    def bare() -> None:
        frame.lazy().sink_parquet(bare_path)
        query(pl.scan_parquet(bare_path))

    def glacier() -> None:
        query(target.put(frame.lazy()).scan())

    bare(), glacier()  # warm the page cache and allocators
    bare_times, glacier_times = [], []
    for _ in range(repeat):  # interleave, so load on the machine hits both alike
        bare_times += timed(bare, 1)
        glacier_times += timed(glacier, 1)
    ratio = statistics.median(glacier_times) / statistics.median(bare_times)
    return [
        (f"bare sink+scan, {rows:,} rows", *_ms(bare_times), ""),
        ("glacier hand-off (put+scan)", *_ms(glacier_times), ""),
        ("ratio (median)", f"{ratio:.3f}", "", "", "<= 1.1"),
    ]


def _ms(times: list[float]) -> tuple[str, str, str]:
    ms = sorted(t * 1000 for t in times)
    return f"{statistics.median(ms):.2f}", f"{ms[0]:.2f}", f"{ms[-1]:.2f}"


def table(
    title: str,
    rows: list[tuple[str, ...]],
    header: tuple[str, ...] = ("measure", "median ms", "min ms", "max ms", "target"),
) -> str:
    rows = [header, *rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return f"## {title}\n" + "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-spark", action="store_true", help="skip the cluster row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        provider = Provider(config=LocalConfig(base_path=tmp))
        header = ("executor", "warm median ms", "min ms", "max ms", "cold ms", "warm target")
        fixed = run_cost(provider, 20, spark=not args.no_spark)
        print(table("fixed cost per run of a 1-task pipeline", fixed, header))
        print()
        print(table("serverless invocation", invocation_overhead(provider, 5, 300)))
        print()
        print(table("cross-executor hand-off", handoff_cost(provider, args.rows, args.repeat)))


if __name__ == "__main__":
    main()
