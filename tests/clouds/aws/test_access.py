"""The runtime's storage code paths stay within ``storage/access.py``, which IAM is derived from.

Real reads and writes against the moto S3 server; its request log says which S3 operations
they used. Were a write to need an operation the declaration lacks, a deployed executor's role
would refuse it: this test fails first.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import polars as pl
import pytest

from glacier import Provider
from glacier.config import AwsConfig
from glacier.storage.access import OPERATIONS, Access, Operation
from tests.cloud.fixtures import new_bucket
from tests.cloud.servers import S3Server

_REQUEST = re.compile(r'"(GET|HEAD|PUT|POST|DELETE) /([^/? ]+)(/[^? ]*)?(\?\S*)? HTTP')

pytestmark = pytest.mark.cloud


def operation(method: str, key: str, query: str) -> Operation:
    """The storage operation of one S3 request (path-style), as IAM sees it."""
    if not key:
        if method == "GET":
            return Operation.LIST  # ListObjectsV2
        if method == "POST" and "delete" in query:
            return Operation.DELETE  # DeleteObjects
    elif method in ("GET", "HEAD"):
        return Operation.GET
    elif method in ("PUT", "POST") or (method == "DELETE" and "uploadId" in query):
        return Operation.PUT  # incl. multipart upload parts, completion and abort
    elif method == "DELETE":
        return Operation.DELETE
    raise AssertionError(f"unmapped S3 request {method} /{key}{query}")


def operations_of(server: S3Server, bucket: str, action: Callable[[], object]) -> set[Operation]:
    log = server.processes[0].log_path
    start = log.stat().st_size
    action()
    time.sleep(0.2)  # the server logs after it answers
    with log.open() as f:
        f.seek(start)
        lines = f.read().splitlines()
    found = set()
    for line in lines:
        match = _REQUEST.search(line)
        if match and match.group(2) == bucket:
            method, _, key, query = match.groups()
            found.add(operation(method, (key or "").lstrip("/"), query or ""))
    return found


@pytest.fixture
def provider(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Provider:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.access_key)
    return Provider(config=AwsConfig(region=s3_server.region, endpoint_url=s3_server.endpoint))


def test_writes_and_reads_use_only_the_declared_operations(
    provider: Provider, s3_server: S3Server
) -> None:
    bucket = new_bucket(s3_server, "access").name
    frame = pl.DataFrame({"day": [1, 1, 2], "amount": [1.0, 2.0, 3.0]})
    single = provider.bucket(bucket=bucket, path="report.parquet")
    dataset = provider.bucket(bucket=bucket, path="events/**/*.parquet")

    def write() -> None:
        assert single.write(frame.lazy()) == 3  # a LazyFrame's rows are read back
        assert single.write(frame) == 3  # replaces the file
        dataset.write(frame, partition_by=["day"])
        dataset.write(frame.head(1), partition_by=["day"])  # replaces the parts

    def read() -> None:
        assert single.read().equals(frame)
        assert dataset.read().height == 1
        assert single.exists() and dataset.metadata().files >= 1

    written = operations_of(s3_server, bucket, write)
    read_ops = operations_of(s3_server, bucket, read)
    assert written <= OPERATIONS[Access.WRITE]
    assert {Operation.PUT, Operation.GET} <= written  # a write reads back what it wrote
    assert read_ops <= OPERATIONS[Access.READ]
    assert Operation.GET in read_ops


def test_the_request_mapping_knows_what_each_call_is() -> None:
    assert operation("GET", "", "?list-type=2&prefix=a") is Operation.LIST
    assert operation("HEAD", "a.parquet", "") is Operation.GET
    assert operation("POST", "a.parquet", "?uploads") is Operation.PUT
    assert operation("DELETE", "a.parquet", "?uploadId=1") is Operation.PUT
    assert operation("POST", "", "?delete") is Operation.DELETE
    with pytest.raises(AssertionError, match="unmapped"):
        operation("PUT", "", "?acl")
