"""The generated Terraform of three pipelines x three clouds parses, matches the providers'
schemas, and passes checkov except for the checks skipped inline on purpose."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import hcl2
import pytest

from glacier.infra.terraform.checks import all_skips

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "infra" / "fixtures"
SCHEMA = json.loads((FIXTURES / "terraform_schema.json").read_text())
SCHEMA_AWS_5 = json.loads((FIXTURES / "terraform_schema_aws_5.100.json").read_text())
"""hashicorp/aws 5.100.0, the oldest version the AWS output admits (and the one mirrored here)."""
META_ARGUMENTS = {"depends_on", "count", "for_each", "provider", "lifecycle"}
INSTALL_HINT = "Install it with scripts/install-checkov.sh (or set GLACIER_CHECKOV to a checkov)."


def parse(directory: Path) -> dict[str, dict[str, Any]]:
    return {tf.name: hcl2.loads(tf.read_text()) for tf in sorted(directory.glob("*.tf"))}


def unquote(key: str) -> str:
    return key.strip('"')


def is_block(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def schema_errors(where: str, body: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Unknown arguments/blocks, and required ones that are missing, in one block body."""
    errors = []
    present = {k for k in body if not k.startswith("__")}
    for key in sorted(present - META_ARGUMENTS):
        value = body[key]
        if key in schema["blocks"] and is_block(value):
            for i, inner in enumerate(value):
                errors += schema_errors(f"{where}.{key}[{i}]", inner, schema["blocks"][key])
        elif key not in schema["arguments"]:
            errors.append(f"{where}: unknown {'block' if is_block(value) else 'argument'} {key!r}")
    required = [k for k, req in schema["arguments"].items() if req and k != "id"]
    required += [k for k, b in schema["blocks"].items() if b["required"]]
    errors += [f"{where}: missing required {k!r}" for k in required if k not in present]
    return errors


def blocks_of(parsed: dict[str, Any], kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for entry in parsed.get(kind, []):
        for tf_type, named in entry.items():
            if kind == "provider":
                out.append((unquote(tf_type), "", named))
                continue
            for name, body in named.items():
                out.append((unquote(tf_type), unquote(name), body))
    return out


def test_every_file_parses_as_hcl(generated: dict[tuple[str, str], Path]) -> None:
    for directory in generated.values():
        parsed = parse(directory)
        assert {"versions.tf", "providers.tf", "variables.tf", "outputs.tf"} <= parsed.keys()
        assert any(blocks_of(p, "resource") for p in parsed.values())


def test_every_argument_exists_and_required_ones_are_set(
    generated: dict[tuple[str, str], Path],
) -> None:
    """Against both ends of every pinned range: the newest fixture, and AWS 5.100 as well."""
    errors = []
    checked_against_5 = 0
    for (cloud, shape), directory in generated.items():
        for name, parsed in parse(directory).items():
            for kind in ("resource", "data", "provider"):
                for tf_type, label, body in blocks_of(parsed, kind):
                    key = f"{kind}:{tf_type}"
                    where = f"{cloud}-{shape}/{name} {tf_type}.{label}"
                    for schema in (SCHEMA, SCHEMA_AWS_5):
                        provider = tf_type.split("_")[0]
                        if provider not in schema["provider_versions"]:
                            continue
                        assert key in schema["types"], f"{key} missing from a schema fixture"
                        errors += schema_errors(where, body, schema["types"][key])
                        checked_against_5 += schema is SCHEMA_AWS_5
    assert errors == []
    assert checked_against_5 > 50


def test_schema_check_catches_typos_and_missing_arguments() -> None:
    schema = SCHEMA["types"]["resource:aws_lambda_function"]
    body = hcl2.loads('resource "aws_lambda_function" "f" {\n  function_nam = "x"\n}\n')
    ((_, _, parsed),) = blocks_of(body, "resource")
    errors = schema_errors("f", parsed, schema)
    assert "f: unknown argument 'function_nam'" in errors
    assert "f: missing required 'function_name'" in errors
    assert "f: missing required 'role'" in errors


def terraform_binary() -> str:
    """GLACIER_TERRAFORM, else the terraform on PATH; skips only when there is none."""
    binary = os.environ.get("GLACIER_TERRAFORM") or shutil.which("terraform")
    if not binary:
        pytest.skip("no terraform binary (on PATH or in GLACIER_TERRAFORM): install Terraform")
    return binary


def checkov_binary() -> str:
    candidates = [os.environ.get("GLACIER_CHECKOV"), str(ROOT / ".cache/checkov-venv/bin/checkov")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail(f"checkov not found. {INSTALL_HINT}")


@pytest.fixture(scope="session")
def checkov_results(
    generated: dict[tuple[str, str], Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """One checkov run over the generated code, and over a copy without the skip comments."""
    binary = checkov_binary()
    stripped = tmp_path_factory.mktemp("stripped")
    for directory in generated.values():
        copy = stripped / directory.name
        shutil.copytree(directory, copy)
        for tf in copy.glob("*.tf"):
            tf.write_text(re.sub(r"(?m)^\s*#checkov:skip=.*\n", "", tf.read_text()))
    original = next(iter(generated.values())).parent
    results = {}
    for name, root in (("generated", original), ("stripped", stripped)):
        done = subprocess.run(
            [binary, "-d", str(root), "--framework", "terraform", "--skip-download", "-o", "json"],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        )
        assert done.returncode in (0, 1), done.stderr[-2000:]
        results[name] = json.loads(done.stdout)
    return results


def test_checkov_reports_no_failed_check(checkov_results: dict[str, dict[str, Any]]) -> None:
    report = checkov_results["generated"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["passed"] > 500


def test_every_skip_is_needed_and_documented(checkov_results: dict[str, dict[str, Any]]) -> None:
    skipped = {c["check_id"] for c in checkov_results["generated"]["results"]["skipped_checks"]}
    failing_without = {
        c["check_id"] for c in checkov_results["stripped"]["results"]["failed_checks"]
    }
    assert skipped == failing_without  # no skip hides a check that would pass anyway
    assert skipped == set(all_skips())  # and the table holds no unused reason
    docs = (ROOT / "docs" / "security.md").read_text()
    for check, reason in all_skips().items():
        assert f"`{check}`" in docs and reason in docs, f"{check} is not listed in security.md"


def test_terraform_fmt_accepts_the_output(generated: dict[tuple[str, str], Path]) -> None:
    """With the ``terraform`` on PATH (or GLACIER_TERRAFORM); fmt works offline."""
    binary = terraform_binary()
    root = next(iter(generated.values())).parent
    done = subprocess.run(
        [binary, "fmt", "-check", "-diff", "-recursive", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
