"""The certificates `glacier package` puts in the VM packages let only its own nodes join Dask."""

from __future__ import annotations

import asyncio
import json
import zipfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from distributed import Client, Scheduler, Worker
from distributed.security import Security

from glacier.infra import artifacts
from glacier.infra.inventory import build_inventory
from glacier.infra.package import build, code_digest
from glacier.infra.tls import CA_FILE, CERT_FILE, KEY_FILE, cluster_certificates
from tests.infra.pipelines import two_architectures


def security(directory: Path, pipeline: str) -> Security:
    for name, pem in cluster_certificates(pipeline).items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(pem)
    ca, cert, key = (str(directory / f) for f in (CA_FILE, CERT_FILE, KEY_FILE))
    return Security(
        tls_ca_file=ca,
        tls_scheduler_cert=cert,
        tls_scheduler_key=key,
        tls_worker_cert=cert,
        tls_worker_key=key,
        tls_client_cert=cert,
        tls_client_key=key,
        require_encryption=True,
    )


@pytest.mark.dask
def test_a_worker_joins_over_tls_and_a_foreign_certificate_does_not(tmp_path: Path) -> None:
    ours = security(tmp_path / "ours", "sales")
    theirs = security(tmp_path / "theirs", "sales")  # same pipeline, another package's CA

    async def main() -> tuple[str, int, bool]:
        async with Scheduler(host="127.0.0.1", protocol="tls", security=ours, dashboard=False) as s:
            async with (
                Worker(s.address, security=ours, nthreads=1),
                Client(s.address, security=ours, asynchronous=True) as client,
            ):
                doubled = await client.submit(lambda x: 2 * x, 21)
            try:
                await asyncio.wait_for(Worker(s.address, security=theirs, nthreads=1), 5)
            except (OSError, TimeoutError):
                return s.address, doubled, False
            return s.address, doubled, True

    address, doubled, foreign_joined = asyncio.run(main())
    assert address.startswith("tls://127.0.0.1:")
    assert doubled == 42
    assert not foreign_joined


def _tls_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in (CA_FILE, CERT_FILE, KEY_FILE)}


def test_every_vm_zip_of_one_package_run_holds_the_same_ca(tmp_path: Path) -> None:
    """VMs of two architectures boot from two zips: a worker from one and the scheduler from
    the other must trust each other, so one ``glacier package`` run makes one CA."""
    build(two_architectures(), tmp_path, dependencies=False)
    arm = _tls_of(tmp_path / artifacts.vm_zip("arm64"))
    intel = _tls_of(tmp_path / artifacts.vm_zip("x86_64"))
    assert arm == intel
    ca = x509.load_pem_x509_certificate(intel[CA_FILE])
    node = x509.load_pem_x509_certificate(arm[CERT_FILE])
    node.verify_directly_issued_by(ca)  # raises InvalidSignature for another CA's certificate
    assert node.public_key() == serialization.load_pem_private_key(arm[KEY_FILE], None).public_key()


def test_a_new_package_run_rotates_the_certificates_but_keeps_the_code_digest(
    tmp_path: Path,
) -> None:
    """The digest covers the code, not the freshly made keys: repackaging unchanged code must
    not look like other code to the runner."""
    build(two_architectures(), tmp_path / "a", dependencies=False)
    build(two_architectures(), tmp_path / "b", dependencies=False)
    first, second = (_tls_of(tmp_path / run / artifacts.vm_zip("arm64")) for run in ("a", "b"))
    assert first[CA_FILE] != second[CA_FILE]
    other_ca = x509.load_pem_x509_certificate(second[CA_FILE])
    with pytest.raises(InvalidSignature):
        x509.load_pem_x509_certificate(first[CERT_FILE]).verify_directly_issued_by(other_ca)
    digests = {
        json.loads((tmp_path / run / artifacts.MANIFEST).read_text())["digest"] for run in "ab"
    }
    assert digests == {code_digest(build_inventory(two_architectures()))}
