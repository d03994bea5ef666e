"""`glacier package` on AWS: the function zip, the Lambda size check, the Polars layer."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from glacier.clouds.aws.package import (
    LAMBDA_GLIBC,
    LAMBDA_UNZIPPED_LIMIT,
    build_layer,
    check_lambda_size,
)
from glacier.infra import artifacts
from glacier.infra.package import PackageError, build, pip_install, platform_tags, write_zip
from tests.infra.pipelines import PROVIDERS, portable
from tests.infra.test_package import names


def test_aws_zip_holds_the_pipeline_module_glacier_and_the_handler(tmp_path: Path) -> None:
    written = build(portable(PROVIDERS["aws"]), tmp_path, dependencies=False)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        artifacts.code_zip("join"),
        artifacts.code_zip("parse"),
    ]
    content = names(written[0])
    assert {
        "tests/infra/pipelines.py",
        "glacier_handler.py",
        "glacier/__init__.py",
        "glacier/py.typed",
    } <= content
    assert "glacier/infra/package.py" in content
    assert not any("__pycache__" in n for n in content)


def test_lambda_size_check_refuses_packages_over_the_limit(tmp_path: Path) -> None:
    code, layer = tmp_path / "code.zip", tmp_path / "layer.zip"
    write_zip(code, {"a.py": b"x" * 600})
    write_zip(layer, {"python/b.so": b"\0" * 500})
    assert check_lambda_size(code, [layer], limit=1100) == 1100
    with pytest.raises(PackageError, match=r"1,100 bytes unzipped.*allows 1,000"):
        check_lambda_size(code, [layer], limit=1000)
    assert LAMBDA_UNZIPPED_LIMIT == 262_144_000


def test_wheels_of_every_manylinux_tag_lambdas_glibc_runs_are_accepted() -> None:
    tags = platform_tags("arm64", LAMBDA_GLIBC)
    # obstore ships only manylinux_2_24_aarch64 / manylinux_2_17_x86_64 wheels
    assert {"manylinux_2_34_aarch64", "manylinux_2_24_aarch64", "manylinux_2_17_aarch64"} <= {*tags}
    assert "manylinux2014_aarch64" in tags
    assert not any(t.startswith("manylinux_2_35") for t in tags)
    assert "manylinux_2_17_x86_64" in platform_tags("x86_64", LAMBDA_GLIBC)


@pytest.mark.network
def test_a_package_without_a_wheel_for_the_platform_is_named(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"No wheel of polars==0\.0\.1 exists for Linux arm64"):
        pip_install(["polars==0.0.1"], tmp_path, "arm64", glibc=LAMBDA_GLIBC)


@pytest.mark.network
@pytest.mark.slow
def test_polars_layer_for_arm64_fits_lambda(tmp_path: Path) -> None:
    """Downloads Polars, cloudpickle and obstore for Lambda's arm64 (~50 MB) from PyPI."""
    layer = build_layer(tmp_path / "layer.zip", "arm64")
    content = names(layer)
    assert "python/polars/__init__.py" in content
    assert f"python/polars-{metadata.version('polars')}.dist-info/METADATA" in content
    assert f"python/obstore-{metadata.version('obstore')}.dist-info/METADATA" in content
    assert any(n.endswith(".so") for n in content)
    code = tmp_path / "code.zip"
    write_zip(code, {"glacier_handler.py": b"def handler(e, c): pass\n"})
    assert check_lambda_size(code, [layer]) < LAMBDA_UNZIPPED_LIMIT
