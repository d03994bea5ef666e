"""Every failure ends the run with a named error: nothing hangs, nothing escapes raw."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from glacier import Provider, TaskFailed, pipeline
from glacier.config import LocalConfig
from glacier.errors import PipelineDefinitionError

HANG_SECONDS = 60
"""Far longer than any of these runs takes; reaching it means the run hung."""


class KeywordOnly(Exception):
    """Pickles, but does not unpickle: ``__reduce__`` passes ``args`` positionally."""

    def __init__(self, *, code: int) -> None:
        super().__init__(f"code {code}")


class TwoArgs(Exception):
    def __init__(self, what: str, code: int) -> None:
        super().__init__(f"{what} {code}")


def finishes(run: Callable[[], Any]) -> Any:
    """``run()``'s result or error, or a test failure if it does not return in time."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = run()
        except BaseException as exc:  # the test looks at whatever came out
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(HANG_SECONDS)
    assert not thread.is_alive(), f"the run hung (no outcome after {HANG_SECONDS} s)"
    if "error" in box:
        raise box["error"]
    return box["result"]


@pytest.mark.parametrize("error", [KeywordOnly, TwoArgs])
def test_serverless_exception_that_does_not_unpickle_fails_the_task(
    provider: Provider, name: str, error: type[Exception]
) -> None:
    fn = provider.serverless(name="fn")

    @fn.task()
    def picky() -> int:
        raise error(code=3) if error is KeywordOnly else error("bad", 3)  # type: ignore[call-arg]

    @pipeline(name=name)
    def flow() -> object:
        return picky()

    with pytest.raises(TaskFailed) as info:
        finishes(lambda: flow.run(cache=False))
    message = str(info.value)
    assert info.value.task == "picky"
    assert "serverless executor 'fn'" in message and "could not be received" in message
    assert error.__name__ in info.value.traceback


@pytest.mark.parametrize("raised", [SystemExit(3), KeyboardInterrupt(), asyncio.CancelledError()])
@pytest.mark.parametrize("alone", [True, False])
def test_local_task_raising_a_base_exception_fails_the_task(
    provider: Provider, name: str, raised: BaseException, alone: bool
) -> None:
    ex = provider.local()

    @ex.task()
    def quits() -> int:
        raise raised

    @ex.task()
    def slow() -> int:
        time.sleep(0.5)
        return 1

    @pipeline(name=name)
    def flow() -> object:
        return quits() if alone else (quits(), slow())

    with pytest.raises(TaskFailed) as info:
        finishes(lambda: flow.run(cache=False))
    assert info.value.task == "quits"
    assert type(raised).__name__ in str(info.value)


def test_unpicklable_closure_is_refused_before_anything_runs(
    provider: Provider, name: str, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    lock = threading.Lock()

    @provider.local().task()
    def first() -> int:
        marker.write_text("yes")
        return 1

    @provider.serverless(name="fn").task()
    def guarded(x: int) -> int:
        with lock:
            return x

    @pipeline(name=name)
    def flow() -> object:
        return guarded(first())

    with pytest.raises(PipelineDefinitionError) as info:
        flow.run(cache=False)
    message = str(info.value)
    assert "Task 'guarded'" in message and "closure variable 'lock'" in message
    assert "lock" in message and "fn (serverless" in message
    assert not marker.exists()


@pytest.mark.parametrize("make", ["file", "sqlite"])
def test_unpicklable_argument_is_refused_naming_the_task(
    provider: Provider, name: str, tmp_path: Path, make: str
) -> None:
    value: Any = (
        open(tmp_path / "f.txt", "w")  # noqa: SIM115 - closed below
        if make == "file"
        else sqlite3.connect(tmp_path / "db.sqlite", check_same_thread=False)
    )

    @provider.serverless().task()
    def use(handle: object, n: int) -> int:
        return n

    @pipeline(name=name)
    def flow() -> object:
        return use(value, 2)

    try:
        with pytest.raises(PipelineDefinitionError, match=r"Task 'use'.*argument 1"):
            flow.run(cache=False)
    finally:
        value.close()


def test_report_that_cannot_be_written_never_replaces_the_task_failure(
    tmp_path: Path, name: str
) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    (tmp_path / ".glacier").mkdir()
    (tmp_path / ".glacier" / "runs").write_text("a file where the runs folder should be")
    ex = provider.local()

    @ex.task()
    def broken() -> int:
        raise ValueError("the real failure")

    @pipeline(name=name)
    def flow() -> object:
        return broken()

    with pytest.raises(TaskFailed, match="ValueError: the real failure"):
        flow.run(cache=False)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Make a folder read-only for real: a read-only bind mount as root (root ignores file
    modes), the folder's mode otherwise."""
    mounted: list[Path] = []

    def make(path: Path) -> None:
        if os.geteuid() != 0:
            for p in [path, *path.rglob("*")]:
                p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
            return
        for args in (["--bind", path, path], ["-o", "remount,bind,ro", path]):
            done = subprocess.run(["mount", *args], capture_output=True, check=False)
            if done.returncode != 0:
                pytest.skip(f"mount: cannot make a read-only bind mount here ({done.stderr!r})")
        mounted.append(path)

    yield make
    for path in mounted:
        subprocess.run(["umount", path], check=True)


def test_fully_cached_run_on_a_read_only_base_path_succeeds(
    tmp_path: Path, name: str, read_only: Callable[[Path], None]
) -> None:
    base = tmp_path / "base"
    base.mkdir()
    provider = Provider(config=LocalConfig(base_path=base))
    calls = tmp_path / "calls"

    @provider.local().task()
    def make() -> pl.DataFrame:
        with calls.open("a") as f:
            f.write("x")
        return pl.DataFrame({"n": [1, 2, 3]})

    @pipeline(name=name)
    def flow() -> object:
        return make()

    flow.run()
    read_only(base)
    with pytest.raises(OSError):  # the folder really is read-only
        (base / "probe").write_text("x")
    result = flow.run()
    assert result.output.to_dict(as_series=False) == {"n": [1, 2, 3]}
    assert result.tasks["make"].cache_hit and calls.read_text() == "x"


@pytest.mark.parametrize("kind", ["local", "serverless"])
def test_fused_chain_blames_the_task_whose_expression_failed(
    provider: Provider, name: str, kind: str
) -> None:
    ex = provider.local() if kind == "local" else provider.serverless()

    @ex.task()
    def make() -> pl.LazyFrame:
        return pl.LazyFrame({"a": [1, 2]})

    @ex.task()
    def wrong(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.with_columns(b=pl.col("missing") + 1)

    @ex.task()
    def fine(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.with_columns(c=pl.col("a") * 2)

    @pipeline(name=name)
    def flow() -> object:
        return fine(wrong(make()))

    with pytest.raises(TaskFailed, match=r"task 'wrong' failed.*ColumnNotFoundError") as info:
        flow.run(cache=False)
    assert info.value.task == "wrong"
    tasks = info.value.result.tasks  # type: ignore[attr-defined]
    assert [tasks[n].status for n in ("make", "wrong", "fine")] == [
        "succeeded",
        "failed",
        "skipped",
    ]
