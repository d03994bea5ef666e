"""The certificates `glacier package` puts in a VM package let only its own nodes join Dask."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from distributed import Client, Scheduler, Worker
from distributed.security import Security

from glacier.infra.tls import CA_FILE, CERT_FILE, KEY_FILE, cluster_certificates


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
