"""The CLI refuses bad run parameters and run ids cleanly, and shows what the cache skipped."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests._cli_support import run_glacier

PIPELINE = textwrap.dedent(
    """
    import threading

    import polars as pl
    from glacier import Provider, pipeline
    from glacier.config import LocalConfig

    provider = Provider(config=LocalConfig(base_path="data"))
    ex = provider.local()
    GUARD = {"lock": threading.Lock()}

    @ex.task()
    def make(day: str) -> pl.DataFrame:
        with GUARD["lock"]:
            return pl.DataFrame({"day": [day]})

    @pipeline(name="checked")
    def checked(day: str = "mon"):
        return make(day)
    """
)


def _write(tmp_path: Path) -> Path:
    path = tmp_path / "checked.py"
    path.write_text(PIPELINE)
    return path


def test_a_param_named_like_a_run_keyword_is_a_usage_error(tmp_path: Path) -> None:
    target = _write(tmp_path)
    for name in ("cache", "mode", "on_event"):
        out = run_glacier("run", str(target), "-p", f"{name}=1", cwd=tmp_path)
        assert out.returncode == 2, out.stderr
        assert f"unexpected keyword argument {name!r}" in out.stderr + out.stdout
        assert "Traceback" not in out.stderr


def test_a_task_the_cache_cannot_key_is_named_in_the_run_output(tmp_path: Path) -> None:
    out = run_glacier("run", str(_write(tmp_path)), "-p", "day=tue", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "Task 'make' is not cached: it uses 'GUARD'" in out.stderr
    assert "tue" in out.stdout


def test_report_refuses_a_run_id_that_is_a_path(tmp_path: Path) -> None:
    for run_id in ("../../etc", "a/b", ".."):
        out = run_glacier("report", run_id, "--base-path", str(tmp_path), cwd=tmp_path)
        assert out.returncode == 2, out.stderr
        assert "is not a run id" in out.stderr + out.stdout


def test_runs_skips_a_corrupt_report_with_a_warning(tmp_path: Path) -> None:
    target = _write(tmp_path)
    assert run_glacier("run", str(target), cwd=tmp_path).returncode == 0
    broken = tmp_path / "data" / ".glacier" / "runs" / "20000101T000000.000000-aaaaaa"
    broken.mkdir(parents=True)
    (broken / "report.json").write_text("{}")
    out = run_glacier("runs", str(target), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "not a readable run report" in out.stderr
    assert "checked" in out.stdout and "20000101" not in out.stdout
