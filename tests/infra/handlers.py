"""Calling a generated handler as its platform does: in a fresh process whose path starts with
the unzipped package, with only the environment the generated Terraform gives the function.

The event is a well-formed invocation from a runner with other code, which the real
``glacier.deployed.handle_event`` must answer (a JSON outcome refusing the digest) without
running anything; a second event is no invocation at all, which it must refuse as BadEvent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from glacier.runtime.wire import EVENT_FORMAT, OUTCOME_FORMAT

OTHER_CODE = "sha256:" + "0" * 64
NOT_AN_EVENT = {"body": "hello"}


def unpack(package: Path, into: Path) -> Path:
    with zipfile.ZipFile(package) as zf:
        zf.extractall(into)
    return into


def other_code_event(pipeline: str, module: str) -> dict[str, Any]:
    return {
        "format": EVENT_FORMAT,
        "pipeline": pipeline,
        "module": module,
        "digest": OTHER_CODE,
        "nodes": ["clean"],
    }


def call(
    script: str,
    code: Path,
    environment: Mapping[str, str],
    event: Mapping[str, Any],
    *,
    python: str = sys.executable,
    paths: Sequence[Path] = (),
) -> dict[str, Any]:
    """Run ``script`` (it gets the event as ``sys.argv[1]`` and prints one JSON line of what it
    saw) in ``code`` with only ``environment``; returns what it printed."""
    done = subprocess.run(
        [python, "-c", script, json.dumps(event)],
        cwd=code,
        env={
            **environment,
            "PATH": os.environ["PATH"],
            "PYTHONPATH": os.pathsep.join(str(p) for p in (code, *paths)),
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    assert Path(seen["glacier"]).is_relative_to(code), seen  # Glacier from the package
    return seen


def assert_refuses_other_code(reply: Mapping[str, Any], digest: str) -> None:
    """The handler answered the runner's event with a failed outcome naming both digests."""
    assert reply["format"] == OUTCOME_FORMAT, reply
    assert reply["ok"] is False
    assert reply["error"]["type"] == "DeploymentError"
    assert (
        f"({OTHER_CODE}) differs from this deployed package ({digest})"
        in (reply["error"]["message"])
    )
