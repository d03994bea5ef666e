"""Cloud mode's dispatch overhead, and a fan-out's wall time on emulated functions.

Part 1: the AWS transport against a bare boto3 ``invoke``.

Both call the same emulated Lambda function (``glacier emulate``'s Lambda emulator, a warm
container whose handler echoes its event) with the same event, sequentially, N times each, in
alternating rounds so that load on the machine hits both alike. "bare boto3" is what any caller
must do at least: ``invoke`` with the JSON event, read and decode the JSON reply.
``open_transport(...).invoke`` adds Glacier's error mapping and throttling retries on top; the
ratio of the two is the overhead (target <= 1.2x). The function's own time (the emulator's HTTP
server, the pipe to the container, the handler) is in both columns.

Part 2: ``bench/cloud_fanout.py`` (20 independent serverless tasks of ``--seconds`` each, joined
by a local task) run with ``mode="cloud"`` against ``glacier emulate``'s Lambda emulator on a
moto S3 server, beside the same pipeline in local mode (worker processes): wall time, the
ideal for the backend's concurrency bound, and the sum of the tasks' own seconds.

    python bench/cloud.py [-n 200] [--seconds 0.5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import polars as pl
from botocore.config import Config

from glacier.clouds.aws import emulator
from glacier.clouds.aws.config import AwsConfig
from glacier.clouds.aws.transport import open_transport
from glacier.infra.package import build
from glacier.loader import load_pipeline
from glacier.provider import Provider
from glacier.runtime.backends.remote import CONCURRENCY
from glacier.runtime.deployment import Deployment
from glacier.runtime.emulate import emulate
from glacier.runtime.emulator import EmulatedFunction
from glacier.runtime.transport import Target

ROOT = Path(__file__).resolve().parents[1]
N = 200
ROUNDS = 10
WARMUP = 10
TARGET_RATIO = 1.2
WIDTHS = (5, 10, 9, 8, 6)
HANDLER = "def handler(event, context):\n    return {'status': 'ok', 'echo': event}\n"
EVENT = {  # about the size of a cloud-mode invocation event
    "pipeline": "examples.sales.pipeline",
    "node": "clean_orders",
    "digest": "0" * 64,
    "attempt": 1,
    "inputs": {"orders": "s3://glacier-staging/runs/r1/orders.parquet"},
    "output": "s3://glacier-staging/runs/r1/clean_orders.parquet",
    "params": {"day": "2026-12-01", "limit": 1000},
}


def echo_package(folder: Path) -> Path:
    archive = folder / "echo.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("glacier_handler.py", HANDLER)
    return archive


def timed(call: Callable[[], Any], times: int) -> list[float]:
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return seconds


def dispatch_overhead(n: int) -> list[tuple[str, list[float]]]:
    """Seconds per invocation of the transport and of bare boto3, against one emulated echo."""
    with tempfile.TemporaryDirectory() as folder:
        function = EmulatedFunction("echo", "glacier-bench-echo", echo_package(Path(folder)), {})
        served = emulator.start([function], concurrency=1)  # one warm container for both
        try:
            entry = served.functions["echo"]
            target = Target(
                executor="echo",
                kind="serverless",
                entry=entry,
                provider=AwsConfig(region="us-east-1"),
                endpoints=served.endpoints,
            )
            transport = open_transport(target)
            client = boto3.client(
                "lambda",
                endpoint_url=served.endpoints["lambda"],
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"total_max_attempts": 1}),
            )

            def bare() -> Any:
                reply = client.invoke(
                    FunctionName=entry["arn"],
                    InvocationType="RequestResponse",
                    Payload=json.dumps(EVENT).encode(),
                )
                return json.loads(reply["Payload"].read())

            def glacier() -> Any:
                return transport.invoke(EVENT)

            assert bare() == glacier() == {"status": "ok", "echo": EVENT}
            timed(bare, WARMUP)
            timed(glacier, WARMUP)
            samples: dict[str, list[float]] = {"bare boto3 invoke": [], "glacier transport": []}
            per_round = max(1, n // ROUNDS)
            for _ in range(ROUNDS):
                samples["bare boto3 invoke"] += timed(bare, per_round)
                samples["glacier transport"] += timed(glacier, per_round)
            transport.close()
            return list(samples.items())
        finally:
            served.close()


def print_dispatch(rows: list[tuple[str, list[float]]]) -> float:
    """The table; returns the ratio of the transport's median to bare boto3's."""
    base = statistics.median(rows[0][1])
    header = ("n", "median ms", "mean ms", "p95 ms", "ratio")
    columns = " ".join(f"{h:>{w}}" for h, w in zip(header, WIDTHS, strict=True))
    print(f"{'dispatch (sequential)':<22} {columns}")
    for name, seconds in rows:
        median = statistics.median(seconds)
        p95 = statistics.quantiles(seconds, n=20)[-1]
        print(
            f"{name:<22} {len(seconds):>5} {median * 1e3:>10.2f} "
            f"{statistics.fmean(seconds) * 1e3:>9.2f} {p95 * 1e3:>8.2f} {median / base:>5.2f}x"
        )
    ratio = statistics.median(rows[1][1]) / base
    verdict = "within" if ratio <= TARGET_RATIO else "over"
    print(f"transport / bare boto3: {ratio:.2f}x ({verdict} the {TARGET_RATIO}x target)")
    return ratio


def fan_out(seconds: float) -> list[tuple[str, float, float]]:
    """(mode, wall seconds, sum of task seconds) of the fan-out, cloud mode then local mode."""
    sys.path.insert(0, str(ROOT))
    from tests.cloud.servers import start_s3  # noqa: PLC0415 - the tests' moto starter

    server = start_s3()
    try:
        os.environ.update(
            {
                "GLACIER_PROVIDER": "aws",
                "AWS_REGION": "us-east-1",
                "AWS_ENDPOINT_URL_S3": server.endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_ALLOW_HTTP": "true",
            }
        )
        pipeline = load_pipeline(str(Path(__file__).with_name("cloud_fanout.py")))
        provider = Provider.from_env()
        with tempfile.TemporaryDirectory() as folder:
            build(pipeline, folder, dependencies=False)
            manifest = json.loads((Path(folder) / "build" / "manifest.json").read_text())
            for name in {*manifest["buckets"], manifest["staging_bucket"]}:
                server.create_bucket(name)
            with emulate(folder, provider) as emulation:
                deployment = Deployment.load(emulation.deployment)
                module = sys.modules["cloud_fanout"]
                module.provider.use_deployment(deployment.buckets, deployment.staging_bucket)
                module.seed.write(pl.DataFrame({"x": [1, 2, 3]}))
                rows = []
                for mode in ("cloud", "local"):
                    pipeline.run(mode, deployment=deployment if mode == "cloud" else None,
                                 seconds=0.0, cache=False)  # fmt: skip  # warm containers/workers
                    started = time.perf_counter()
                    result = pipeline.run(
                        mode,
                        deployment=deployment if mode == "cloud" else None,
                        seconds=seconds,
                        cache=False,
                    )
                    wall = time.perf_counter() - started
                    busy = sum(
                        t.seconds or 0.0 for n, t in result.tasks.items() if n.startswith("work")
                    )
                    rows.append((mode, wall, busy))
                return rows
    finally:
        server.stop()


def print_fan_out(rows: list[tuple[str, float, float]], seconds: float) -> None:
    width = cloud_fanout_width()
    ideal = -(-width // CONCURRENCY) * seconds
    print(
        f"\nfan-out of {width} tasks x {seconds:g} s, at most {CONCURRENCY} in flight per function"
    )
    print(f"{'mode':<8} {'wall s':>8} {'ideal s':>8} {'tasks sum s':>12} {'wall/ideal':>10}")
    for mode, wall, busy in rows:
        print(f"{mode:<8} {wall:>8.2f} {ideal:>8.2f} {busy:>12.2f} {wall / ideal:>9.2f}x")


def cloud_fanout_width() -> int:
    return int(sys.modules["cloud_fanout"].WIDTH)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=N, help="invocations of each kind")
    parser.add_argument("--seconds", type=float, default=0.5, help="each fanned-out task's wait")
    args = parser.parse_args()
    print_dispatch(dispatch_overhead(args.n))
    print_fan_out(fan_out(args.seconds), args.seconds)


if __name__ == "__main__":
    main()
