"""Bucket vs bare Polars: a 128 MB write and read on local disk, S3, GCS and Azure.

Starts the local test servers itself (tests/cloud/servers.py: moto, fake-gcs-server + shim,
Azurite), so it needs the test dependencies. Each cell is the median of ``--repeat`` runs;
the ratio is Bucket time / bare Polars time on the same server (target <= 1.1).

    python bench/storage.py [--mb 128] [--repeat 3] [--backends local,s3,gcs,azure]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.cloud.fixtures import unique_bucket_name
from tests.cloud.servers import STARTERS, CloudServer
from tests.storage.backends import provider_for

from glacier import Provider
from glacier.config.provider import LocalConfig


def payload(mb: int) -> pl.DataFrame:
    """An int64 and an incompressible uint64 column, ``mb`` MiB in memory."""
    rows = mb * 1024 * 1024 // 16
    return pl.select(i=pl.int_range(rows), v=pl.int_range(rows).hash(seed=7))


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure(
    name: str, provider: Provider, bucket: str, df: pl.DataFrame, repeat: int
) -> dict[str, float]:
    ours = provider.bucket(bucket=bucket, path="bench/glacier.parquet")
    bare_uri = provider.store.uri(bucket, "bench/bare.parquet")
    options = provider.store.storage_options()
    kwargs = {"storage_options": options} if options else {}
    times: dict[str, list[float]] = {k: [] for k in ("bare w", "ours w", "bare r", "ours r")}
    for _ in range(repeat):
        times["bare w"].append(timed(lambda: df.write_parquet(bare_uri, **kwargs)))
        times["ours w"].append(timed(lambda: ours.write(df)))
        times["bare r"].append(timed(lambda: pl.read_parquet(bare_uri, **kwargs)))
        times["ours r"].append(timed(ours.read))
    assert ours.read().equals(df), f"{name}: read back differs"
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", default="local,s3,gcs,azure")
    args = parser.parse_args()
    df = payload(args.mb)
    rows: list[tuple[str, dict[str, float]]] = []
    for name in args.backends.split(","):
        server: CloudServer | None = None
        try:
            if name == "local":
                folder = tempfile.mkdtemp(prefix="glacier-bench-")
                provider, bucket = Provider(config=LocalConfig(base_path=folder)), "bench"
                (Path(folder) / bucket / "bench").mkdir(parents=True)
            else:
                server = STARTERS[name]()
                bucket = unique_bucket_name("bench")
                server.create_bucket(bucket)
                provider = provider_for(server)
            rows.append((name, measure(name, provider, bucket, df, args.repeat)))
        finally:
            if server is not None:
                server.stop()
    print(f"\n{args.mb} MiB Parquet, median of {args.repeat} (seconds; ratio = Bucket / Polars)")
    header = ["backend", "polars write", "Bucket write", "ratio", "polars read", "Bucket read"]
    print("| " + " | ".join([*header, "ratio"]) + " |")
    print("|" + "---|" * (len(header) + 1))
    for name, t in rows:
        cells = [
            f"{t['bare w']:.2f}",
            f"{t['ours w']:.2f}",
            f"{t['ours w'] / t['bare w']:.2f}",
            f"{t['bare r']:.2f}",
            f"{t['ours r']:.2f}",
            f"{t['ours r'] / t['bare r']:.2f}",
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
