"""Orchestration overhead per task: trace and run 1,000-node graphs of trivial int tasks.

Shapes:
  chain            t0 -> t1 -> ... -> t999 on one executor (fused into one unit)
  chain, 2 execs   the same chain alternating between two executors (1,000 units)
  fan-out/fan-in   one source -> 998 independent tasks -> one join (1,000 units)

"run us/task" is the whole ``Pipeline.run`` wall time divided by the number of tasks; the tasks
only add ints, so this is essentially all orchestration. "net us/task" subtracts the tasks' own
time as the run records it (``TaskRun.seconds``, which includes the worker's per-node
bookkeeping). "trace us/task" is the time to define the pipeline (trace the body into a DAG).
"first run" is a pipeline's first run, which also plans its units; "run" is a later run of the
same pipeline, as when a defined pipeline runs on a schedule. "hamilton us/task" runs the same
shape with Apache Hamilton (``pip install sf-hamilton``; the columns are left out without it): a
built driver's ``execute``, the counterpart of "run"; "x hamilton" is "run" over it.
Median of 5 runs each; target <= 8 us per task (issue 13). The "floor" rows time the same number of
trivial calls handed to a thread pool and back without Glacier: units on other threads cannot be
cheaper than that.

    python bench/overhead.py [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import os
import pstats
import queue
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from glacier import Pipeline, Provider, pipeline
from glacier.config import LocalConfig

N = 1000
REPEATS = 5
TARGET_US = 8.0
_names = itertools.count()


def _chain(provider: Provider, executors: int) -> Callable[[], Pipeline]:
    exs = [provider.local(name=f"chain{executors}-{k}") for k in range(executors)]
    steps = [ex.task(name="step")(lambda x: x + 1) for ex in exs]

    def define() -> Pipeline:
        def body() -> Any:
            value = 0
            for i in range(N):
                value = steps[i % executors](value)
            return value

        return pipeline(name=f"chain_{next(_names)}")(body)

    return define


def _fan(provider: Provider) -> Callable[[], Pipeline]:
    ex = provider.local(name="fan")
    source = ex.task(name="source")(lambda: 1)
    middle = ex.task(name="middle")(lambda x, i: x + i)
    join = ex.task(name="join")(lambda *xs: sum(xs))

    def define() -> Pipeline:
        def body() -> Any:
            s = source()
            return join(*[middle(s, i) for i in range(N - 2)])

        return pipeline(name=f"fan_{next(_names)}")(body)

    return define


def _measure(define: Callable[[], Pipeline], expected: int) -> tuple[float, float, float, float]:
    """(trace, first run, run, net) in us per task; "run" reruns the same pipeline."""
    traces, firsts, runs, nets = [], [], [], []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        p = define()
        traces.append(time.perf_counter() - t0)
        for attempt in range(2):  # the first run also plans the pipeline's units
            t0 = time.perf_counter()
            result = p.run()
            (firsts if attempt == 0 else runs).append(time.perf_counter() - t0)
            if result.output != expected:
                raise RuntimeError(f"wrong output {result.output!r}, expected {expected!r}")
        nets.append(runs[-1] - sum(t.seconds for t in result.tasks.values()))
    per = 1e6 / N
    return tuple(statistics.median(xs) * per for xs in (traces, firsts, runs, nets))  # type: ignore[return-value]


def _hamilton_module(shape: str) -> tuple[types.ModuleType, str]:
    """The shape as a Hamilton module (a node per function, wired by parameter names) and the
    node whose value is the output."""
    module = types.ModuleType(f"hamilton_{shape}")
    if shape == "fan":
        code = ["def source() -> int:\n    return 1"]
        code += [f"def m{i}(source: int) -> int:\n    return source + {i}" for i in range(N - 2)]
        params = ", ".join(f"m{i}: int" for i in range(N - 2))
        code.append(f"def join({params}) -> int:\n    return sum(locals().values())")
        last = "join"
    else:
        code = ["def t0() -> int:\n    return 1"]
        code += [f"def t{i}(t{i - 1}: int) -> int:\n    return t{i - 1} + 1" for i in range(1, N)]
        last = f"t{N - 1}"
    exec("\n".join(code), module.__dict__)  # the bench's own generated source
    sys.modules[module.__name__] = module  # Hamilton finds a module's functions through it
    return module, last


def _hamilton(shape: str, expected: int) -> float | None:
    """us per task of Hamilton's ``execute`` on ``shape``; None without Hamilton."""
    try:
        from hamilton import driver  # noqa: PLC0415 - optional: the column needs sf-hamilton
    except ImportError:
        return None
    module, last = _hamilton_module(shape)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * N))  # Hamilton recurses per node
    built = driver.Builder().with_modules(module).build()
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        output = built.execute([last])[last]
        times.append(time.perf_counter() - t0)
        if output != expected:
            raise RuntimeError(f"Hamilton: wrong output {output!r}, expected {expected!r}")
    return statistics.median(times) * 1e6 / N


def _thread_floor(sequential: bool) -> float:
    """What handing N trivial calls to a thread pool and back costs on this machine."""
    results: queue.SimpleQueue[int] = queue.SimpleQueue()

    def call(i: int) -> None:
        results.put(i + 1)

    times = []
    with ThreadPoolExecutor(max_workers=min(32, (os.cpu_count() or 1) + 4)) as pool:
        for _ in range(REPEATS):
            t0 = time.perf_counter()
            for i in range(N):
                pool.submit(call, i)
                if sequential:
                    results.get()
            for _ in range(0 if sequential else N):
                results.get()
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6 / N


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", metavar="SHAPE", help="cProfile a later run of SHAPE instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        provider = Provider(config=LocalConfig(base_path=tmp))
        fan = sum(1 + i for i in range(N - 2))
        shapes = {
            "chain": (_chain(provider, 1), N),
            "chain, 2 execs": (_chain(provider, 2), N),
            "fan-out/fan-in": (_fan(provider), fan),
        }
        hamilton = {"chain": _hamilton("chain", N), "fan-out/fan-in": _hamilton("fan", fan)}
        if args.profile:
            define, _ = shapes[args.profile]
            p = define()
            p.run()  # planned: profile a later run, what "run us/task" measures
            profiler = cProfile.Profile()
            profiler.runcall(p.run)
            pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)
            return
        print(f"{N} trivial int tasks, median of {REPEATS} runs (target <= {TARGET_US:g} us/task)")
        head = ("shape", "trace us/task", "first run", "run us/task", "net us/task")
        side = (
            "  hamilton us/task  x hamilton"
            if any(v is not None for v in hamilton.values())
            else ""
        )
        print(
            f"{head[0]:<16} {head[1]:>14} {head[2]:>10} {head[3]:>12} {head[4]:>12}  target{side}"
        )
        for label, (define, expected) in shapes.items():
            trace, first, run, net = _measure(define, expected)
            verdict = "met" if run <= TARGET_US else "missed"
            theirs = hamilton.get(label)
            other = f"  {theirs:>16.1f}  {run / theirs:>10.2f}" if side and theirs else ""
            print(
                f"{label:<16} {trace:>14.1f} {first:>10.1f} {run:>12.1f} {net:>12.1f}  "
                f"{verdict:<6}{other}"
            )
        print("\nfloor: a bare ThreadPoolExecutor + queue round trip, no Glacier (us/task)")
        for label, sequential in (("one after another", True), ("all at once", False)):
            print(f"{label:<18} {_thread_floor(sequential):>8.1f}")


if __name__ == "__main__":
    main()
