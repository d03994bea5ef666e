"""Shared by the CLI and example tests: run ``glacier`` or a script as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"


def glacier_command() -> list[str]:
    """The installed console script, or the same entry point through this interpreter."""
    script = Path(sys.executable).with_name("glacier")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from glacier.cli import main; main()"]


def run_process(
    args: list[str], *, cwd: Path, base_path: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GLACIER_")}
    if base_path is not None:
        full_env["GLACIER_BASE_PATH"] = str(base_path)
    full_env.update(env or {})
    return subprocess.run(
        args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=180, check=False
    )


def run_glacier(
    *args: str, cwd: Path, base_path: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_process([*glacier_command(), *args], cwd=cwd, base_path=base_path, env=env)


def run_script(
    script: Path,
    *args: str,
    cwd: Path,
    base_path: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return run_process([sys.executable, str(script), *args], cwd=cwd, base_path=base_path, env=env)
