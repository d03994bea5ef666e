"""The public surface: small, no legacy names, and cheap to import."""

from __future__ import annotations

import json
import subprocess
import sys

import glacier

HEAVY = ("obstore", "boto3", "botocore", "pyspark", "dask", "distributed", "click", "rich")


def test_all_lists_only_the_user_api() -> None:
    names = set(glacier.__all__)
    assert {"Provider", "pipeline", "Pipeline", "RunResult", "TaskFailed"} <= names
    assert "GlacierEnv" not in names
    assert not {n for n in names if n.endswith("Provider") and n != "Provider"}
    for legacy in ("GlacierEnv", "AWSProvider", "GCPProvider", "AzureProvider", "LocalProvider"):
        assert not hasattr(glacier, legacy)
    for name in glacier.__all__:
        assert hasattr(glacier, name), name


def test_one_provider_class() -> None:
    assert glacier.Provider.__subclasses__() == []


def test_import_glacier_loads_no_sdk_engine_or_cli_stack() -> None:
    code = (
        "import sys, json, glacier; "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == []
