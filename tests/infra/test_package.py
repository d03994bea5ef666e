"""`glacier package`: what every cloud's function zips share (each cloud's layout is tested in
tests/clouds/<cloud>/test_package.py)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
from pathlib import Path

from glacier import version
from glacier.clouds.aws.package import layer_zip
from glacier.infra import artifacts
from glacier.infra.inventory import build_inventory
from glacier.infra.package import build, build_packages, code_digest, code_files, write_zip
from glacier.loader import load_pipeline
from tests.infra.conftest import EXAMPLES
from tests.infra.pipelines import PROVIDERS, portable, simple


def names(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as zf:
        return set(zf.namelist())


def test_zips_are_reproducible(tmp_path: Path) -> None:
    first = build(simple(PROVIDERS["aws"]), tmp_path / "a", dependencies=False)[0]
    second = build(simple(PROVIDERS["aws"]), tmp_path / "b", dependencies=False)[0]
    assert first.read_bytes() == second.read_bytes()


def test_the_manifest_says_what_was_built(tmp_path: Path) -> None:
    """Plain data for Terraform (the digest) and ``glacier emulate`` (packages, limits, env)."""
    inv = build_inventory(portable(PROVIDERS["aws"]))
    written = build_packages(inv, tmp_path, dependencies=False)
    path = tmp_path / artifacts.MANIFEST
    assert path in written
    manifest = json.loads(path.read_text())
    digest = code_digest(inv)
    assert digest.startswith("sha256:") and len(digest) == 7 + 64
    env = {
        "GLACIER_PIPELINE": "portable",
        "GLACIER_MODULE": "tests.infra.pipelines",
        "GLACIER_PROVIDER": "aws",
        "GLACIER_CODE_DIGEST": digest,
    }
    assert manifest == {
        "format": 1,
        "glacier": version.__version__,
        "cloud": "aws",
        "pipeline": "portable",
        "module": "tests.infra.pipelines",
        "digest": digest,
        "staging_bucket": "glacier-staging",
        "buckets": [b.name for b in inv.buckets],
        "functions": {
            name: {
                "package": f"build/{name}.zip",
                "memory": memory,
                "timeout": timeout,
                "layers": [],  # --no-deps builds no layer
                "environment": {**env, "GLACIER_EXECUTOR": name},
            }
            for name, memory, timeout in [("join", 2048, 600), ("parse", 512, 60)]
        },
        "vms": {
            "box": {
                "package": "build/vm-arm64.zip",
                "environment": {**env, "GLACIER_EXECUTOR": "box"},
            }
        },
        "clusters": {},  # this pipeline has none; tests/cloud_mode package cluster executors
        "images": {},  # nor an EMR Serverless image (tests/clouds/aws/test_package.py)
    }
    layer = tmp_path / layer_zip("arm64")  # a layer built earlier is what Terraform attaches
    write_zip(layer, {"python/x.py": b""})
    build_packages(inv, tmp_path, dependencies=False)
    again = json.loads(path.read_text())
    assert again["functions"]["parse"]["layers"] == [layer_zip("arm64")]


def test_the_digest_covers_exactly_the_packaged_code(tmp_path: Path) -> None:
    """Recomputed from the function zip's own entries, it is the laptop's: the same code."""
    inv = build_inventory(portable(PROVIDERS["gcp"]))
    code = build_packages(inv, tmp_path, dependencies=False)[0]
    with zipfile.ZipFile(code) as zf:
        inside = {n: zf.read(n) for n in zf.namelist() if n in code_files(inv)}
    assert sorted(inside) == sorted(code_files(inv))
    digest = hashlib.sha256()
    for name in sorted(inside):
        for part in (name.encode(), inside[name]):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    assert code_digest(inv) == f"sha256:{digest.hexdigest()}"
    assert code_digest(build_inventory(portable(PROVIDERS["azure"]))) == code_digest(inv)


def test_the_digest_changes_with_the_pipelines_code(tmp_path: Path) -> None:
    script = tmp_path / "digest_probe.py"
    source = (EXAMPLES / "cloud_agnostic_pipeline.py").read_text()
    script.write_text(source)
    before = code_digest(build_inventory(load_pipeline(str(script)), "aws"))
    script.write_text(source + "\n# an edit\n")
    assert code_digest(build_inventory(load_pipeline(str(script)), "aws")) != before


def test_a_script_run_as_main_is_packaged_and_imported_under_its_file_name(
    tmp_path: Path,
) -> None:
    inv = dataclasses.replace(build_inventory(portable(PROVIDERS["aws"])), module="__main__")
    assert inv.package_module == "pipelines"
    assert "pipelines.py" in code_files(inv)
    build_packages(inv, tmp_path, dependencies=False)
    manifest = json.loads((tmp_path / artifacts.MANIFEST).read_text())
    assert manifest["module"] == "pipelines"
    assert manifest["functions"]["parse"]["environment"]["GLACIER_MODULE"] == "pipelines"
    assert "pipelines.py" in names(tmp_path / artifacts.code_zip("parse"))


def test_the_report_names_every_archive_and_the_manifests_digest(tmp_path: Path) -> None:
    lines: list[str] = []
    inv = build_inventory(portable(PROVIDERS["aws"]))
    written = build_packages(inv, tmp_path, dependencies=False, report=lines.append)
    assert len(lines) == len(written)
    assert lines[-1] == f"{tmp_path / artifacts.MANIFEST}  (digest {code_digest(inv)})"
    assert all("unzipped)" in line for line in lines[:-1])
