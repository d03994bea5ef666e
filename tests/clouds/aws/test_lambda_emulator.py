"""The Lambda emulator behind a real boto3 client, and the cloud-mode transport against it.

The function zips are built here by hand: a ``glacier_handler`` that echoes, raises, sleeps past
its timeout, allocates past its memory, kills itself, or reports what it sees, next to a copy of
this checkout's ``glacier`` (so the test proves the function imports the package's copy).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

import glacier
from glacier.clouds.aws import emulator
from glacier.clouds.aws import transport as aws_transport
from glacier.clouds.aws.config import AwsConfig
from glacier.clouds.aws.transport import LambdaTransport, open_transport
from glacier.config.provider import LocalConfig
from glacier.errors import DeploymentError, TaskCrashed, TaskOutOfMemory, TaskTimeout
from glacier.runtime.emulator import EmulatedFunction
from glacier.runtime.transport import Target

HANDLER = """
import os, signal, time

def handler(event, context):
    action = event["action"]
    if action == "echo":
        print("a log line, which must not reach the reply", flush=True)
        return {"echo": event["value"], "pid": os.getpid()}
    if action == "raise":
        raise ValueError("boom " + event["value"])
    if action == "sleep":
        if "pidfile" in event:
            with open(event["pidfile"], "w") as f:
                f.write(str(os.getpid()))
        time.sleep(event["seconds"])
        return {"slept": event["seconds"], "pid": os.getpid()}
    if action == "allocate":
        blob = b"x" * (event["mb"] * 1024 * 1024)
        time.sleep(0.5)
        return {"allocated": len(blob)}
    if action == "big":
        return {"big": "x" * event["bytes"]}
    if action == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "inspect":
        import glacier
        return {
            "environ": dict(os.environ),
            "cwd": os.getcwd(),
            "glacier": glacier.__file__,
            "function_name": context.function_name,
            "memory": context.memory_limit_in_mb,
            "request_id": context.aws_request_id,
            "arn": context.invoked_function_arn,
            "remaining_ms": context.get_remaining_time_in_millis(),
        }
    raise AssertionError(action)
"""
PLATFORM_VARIABLES = {
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_EXECUTION_ENV",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "_HANDLER",
    "TZ",
    "PATH",
    "LANG",
    "HOME",
    "TMPDIR",
    "PYTHONPATH",
    "PYTHONDONTWRITEBYTECODE",
}


def build_package(folder: Path) -> Path:
    """A function zip: the handler above and this checkout's ``glacier`` package."""
    archive = folder / "function.zip"
    source = Path(glacier.__file__).parent
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("glacier_handler.py", HANDLER)
        for path in source.rglob("*.py"):
            zf.write(path, f"glacier/{path.relative_to(source)}")
    return archive


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("lambda"))


@pytest.fixture(scope="module")
def lam(package: Path) -> Iterator[emulator.LambdaEmulator]:
    served = emulator.start(
        [
            EmulatedFunction("small", "glacier-test-small", package, {}, memory=128, timeout=1),
            EmulatedFunction("roomy", "glacier-test-roomy", package, {"GREETING": "hello"}),
        ]
    )
    yield served
    served.close()


def client(served: emulator.LambdaEmulator) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=served.endpoints["lambda"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


def raw_invoke(
    served: emulator.LambdaEmulator, name: str, event: dict[str, Any]
) -> tuple[Any, Any]:
    """(FunctionError header, decoded body) of a bare boto3 invoke."""
    reply = client(served).invoke(FunctionName=name, Payload=json.dumps(event))
    return reply.get("FunctionError"), json.loads(reply["Payload"].read())


def transport(
    served: emulator.LambdaEmulator,
    executor: str,
    *,
    timeout: float | None = None,
    memory: int | None = None,
) -> LambdaTransport:
    target = Target(
        executor=executor,
        kind="serverless",
        entry=served.functions[executor],
        provider=AwsConfig(region="us-east-1"),
        endpoints=served.endpoints,
        timeout=timeout,
        memory=memory,
    )
    return open_transport(target)


def test_functions_are_described_as_terraform_outputs_them(lam: emulator.LambdaEmulator) -> None:
    assert lam.functions["small"] == {
        "name": "glacier-test-small",
        "arn": "arn:aws:lambda:us-east-1:000000000000:function:glacier-test-small",
    }
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", lam.endpoints["lambda"])
    assert lam.secrets == {}


def test_transport_returns_the_handlers_reply_from_a_warm_container(
    lam: emulator.LambdaEmulator,
) -> None:
    small = transport(lam, "small")
    assert small.where == "lambda glacier-test-small"
    first = small.invoke({"action": "echo", "value": {"rows": [1, 2], "name": "é"}})
    second = small.invoke({"action": "echo", "value": 7})
    assert first["echo"] == {"rows": [1, 2], "name": "é"}
    assert second["echo"] == 7
    assert first["pid"] == second["pid"]  # reused, as Lambda reuses a warm environment
    small.close()


def test_the_function_is_invoked_by_name_or_arn(lam: emulator.LambdaEmulator) -> None:
    arn = lam.functions["small"]["arn"]
    for name in ("glacier-test-small", arn, f"{arn}:$LATEST"):
        error, body = raw_invoke(lam, name, {"action": "echo", "value": name})
        assert (error, body["echo"]) == (None, name)


def test_concurrent_calls_run_in_separate_containers(lam: emulator.LambdaEmulator) -> None:
    roomy = transport(lam, "roomy")
    replies: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda: replies.append(roomy.invoke({"action": "sleep", "seconds": 0.5}))
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r["slept"] for r in replies] == [0.5, 0.5]
    assert replies[0]["pid"] != replies[1]["pid"]


def test_only_the_functions_environment_and_its_own_glacier(lam: emulator.LambdaEmulator) -> None:
    seen = transport(lam, "roomy").invoke({"action": "inspect"})
    environ = seen["environ"]
    # polars (imported by glacier) sets its allocator's config in its own process on import
    assert set(environ) - {"_RJEM_MALLOC_CONF"} == PLATFORM_VARIABLES | {"GREETING"}
    assert environ["GREETING"] == "hello"
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == "glacier-test-roomy"
    assert environ["HOME"] != os.environ.get("HOME")
    root = environ["LAMBDA_TASK_ROOT"]
    assert seen["cwd"] == root
    assert seen["glacier"] == f"{root}/glacier/__init__.py"  # the package's copy, not the venv's
    assert seen["function_name"] == "glacier-test-roomy"
    assert seen["memory"] == str(emulator.MAX_MEMORY)
    assert seen["arn"] == lam.functions["roomy"]["arn"]
    assert re.fullmatch(r"[0-9a-f-]{36}", seen["request_id"])
    assert 0 < seen["remaining_ms"] <= emulator.MAX_TIMEOUT * 1000


def test_a_handler_exception_is_an_unhandled_function_error(lam: emulator.LambdaEmulator) -> None:
    error, body = raw_invoke(lam, "glacier-test-small", {"action": "raise", "value": "here"})
    assert error == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "boom here"
    assert any("glacier_handler.py" in line for line in body["stackTrace"])
    with pytest.raises(TaskCrashed, match=r"'glacier-test-small'.*ValueError: boom again"):
        transport(lam, "small").invoke({"action": "raise", "value": "again"})
    # the container survived its handler's exception, as on Lambda
    assert raw_invoke(lam, "glacier-test-small", {"action": "echo", "value": 1})[0] is None


def test_past_its_timeout_the_function_is_killed_and_reported_timed_out(
    lam: emulator.LambdaEmulator,
) -> None:
    before = transport(lam, "small").invoke({"action": "echo", "value": 0})["pid"]
    error, body = raw_invoke(lam, "glacier-test-small", {"action": "sleep", "seconds": 5})
    assert error == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(
        r"RequestId: \S+ Error: Task timed out after 1\.\d\d seconds", body["errorMessage"]
    )
    with pytest.raises(TaskTimeout, match=r"'glacier-test-small'.*timeout of 1 s.*timeout="):
        transport(lam, "small", timeout=1).invoke({"action": "sleep", "seconds": 5})
    with pytest.raises(ProcessLookupError):
        os.kill(before, 0)  # its container was killed, never reused
    assert transport(lam, "small").invoke({"action": "echo", "value": 1})["pid"] != before


def test_over_its_memory_the_function_is_killed_out_of_memory(lam: emulator.LambdaEmulator) -> None:
    error, body = raw_invoke(lam, "glacier-test-small", {"action": "allocate", "mb": 300})
    assert error == "Unhandled"
    assert body["errorType"] == "Runtime.OutOfMemory"
    assert body["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    with pytest.raises(TaskOutOfMemory, match=r"'glacier-test-small'.*128 MB.*memory="):
        transport(lam, "small", memory=128).invoke({"action": "allocate", "mb": 300})
    assert transport(lam, "small").invoke({"action": "allocate", "mb": 10}) == {
        "allocated": 10 << 20
    }


def test_a_function_that_dies_is_a_runtime_exit_error(lam: emulator.LambdaEmulator) -> None:
    error, body = raw_invoke(lam, "glacier-test-small", {"action": "sigkill"})
    assert (error, body["errorType"]) == ("Unhandled", "Runtime.ExitError")
    assert body["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    with pytest.raises(TaskCrashed, match=r"'glacier-test-small'.*Runtime\.ExitError"):
        transport(lam, "small").invoke({"action": "sigkill"})


def test_payloads_over_lambdas_quota_are_refused(lam: emulator.LambdaEmulator) -> None:
    error, body = raw_invoke(lam, "glacier-test-small", {"action": "big", "bytes": 7 << 20})
    assert (error, body["errorType"]) == ("Unhandled", "Function.ResponseSizeTooLarge")
    small = transport(lam, "small")
    with pytest.raises(TaskCrashed, match="ResponseSizeTooLarge"):
        small.invoke({"action": "big", "bytes": 7 << 20})
    lambdas = client(lam)
    with pytest.raises(lambdas.exceptions.RequestTooLargeException):
        lambdas.invoke(FunctionName="glacier-test-small", Payload=b"1" * (7 << 20))
    with pytest.raises(TaskCrashed, match="RequestTooLargeException"):
        small.invoke({"action": "echo", "value": "x" * (7 << 20)})
    assert small.invoke({"action": "big", "bytes": 5 << 20}) == {"big": "x" * (5 << 20)}


def test_an_unknown_function_is_not_found(lam: emulator.LambdaEmulator) -> None:
    lambdas = client(lam)
    with pytest.raises(lambdas.exceptions.ResourceNotFoundException, match="glacier-test-gone"):
        lambdas.invoke(FunctionName="glacier-test-gone", Payload=b"{}")
    gone = Target(
        executor="gone",
        kind="serverless",
        entry={
            "name": "glacier-test-gone",
            "arn": "arn:aws:lambda:us-east-1:000000000000:function:glacier-test-gone",
        },
        provider=AwsConfig(),
        endpoints=lam.endpoints,
    )
    with pytest.raises(
        DeploymentError, match=r"'glacier-test-gone'.*ResourceNotFoundException.*redeploy"
    ):
        open_transport(gone).invoke({"action": "echo", "value": 1})


def test_an_unreachable_endpoint_is_a_crash() -> None:
    target = Target(
        executor="x",
        kind="serverless",
        entry={"name": "f"},
        provider=AwsConfig(),
        endpoints={"lambda": "http://127.0.0.1:9"},
    )
    with pytest.raises(TaskCrashed, match=r"'f'.*could not be reached"):
        open_transport(target).invoke({})


def test_throttled_calls_are_answered_429_and_retried_by_the_transport(
    package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = emulator.start(
        [EmulatedFunction("one", "glacier-test-one", package, {}, timeout=10)], concurrency=1
    )
    try:
        one = transport(served, "one")
        slow = threading.Thread(target=one.invoke, args=({"action": "sleep", "seconds": 1.0},))
        slow.start()
        time.sleep(0.3)  # the slow call holds the only slot (its cold start takes ~50 ms)
        lambdas = client(served)
        with pytest.raises(lambdas.exceptions.TooManyRequestsException):
            lambdas.invoke(
                FunctionName="glacier-test-one", Payload=b'{"action": "echo", "value": 1}'
            )
        with monkeypatch.context() as patch:
            patch.setattr(aws_transport, "TRIES", 1)
            with pytest.raises(TaskCrashed, match=r"'glacier-test-one' .*throttled by Lambda 1 "):
                one.invoke({"action": "echo", "value": 2})
        # the backoff's waits add up to at least 1.55 s, past the slow call's end
        assert one.invoke({"action": "echo", "value": 3})["echo"] == 3
        slow.join()
    finally:
        served.close()


def test_a_handler_that_cannot_be_imported_fails_every_invocation(tmp_path: Path) -> None:
    archive = tmp_path / "broken.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("glacier_handler.py", "import glacier_missing_dependency\n")
    served = emulator.start([EmulatedFunction("broken", "glacier-test-broken", archive, {})])
    try:
        error, body = raw_invoke(served, "glacier-test-broken", {})
        assert (error, body["errorType"]) == ("Unhandled", "Runtime.ImportModuleError")
        assert body["errorMessage"] == (
            "Unable to import module 'glacier_handler': "
            "No module named 'glacier_missing_dependency'"
        )
        with pytest.raises(TaskCrashed, match="ImportModuleError"):
            transport(served, "broken").invoke({})
    finally:
        served.close()


def test_a_lambda_target_needs_the_aws_provider() -> None:
    target = Target(executor="x", kind="serverless", entry={"name": "f"}, provider=LocalConfig())
    with pytest.raises(DeploymentError, match="LocalConfig, not AwsConfig"):
        open_transport(target)


def test_close_leaves_no_function_process_behind(package: Path, tmp_path: Path) -> None:
    served = emulator.start([EmulatedFunction("f", "glacier-test-f", package, {})])
    f = transport(served, "f")
    root = Path(f.invoke({"action": "inspect"})["environ"]["LAMBDA_TASK_ROOT"]).parent
    pidfile = tmp_path / "busy.pid"
    outcome: list[BaseException] = []

    def busy() -> None:
        try:
            f.invoke({"action": "sleep", "seconds": 30, "pidfile": str(pidfile)})
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=busy)
    caller.start()
    while not pidfile.exists() or not pidfile.read_text():
        time.sleep(0.02)
    idle = f.invoke({"action": "echo", "value": 1})["pid"]  # a second container, now idle
    running = {idle, int(pidfile.read_text())}
    assert len(running) == 2
    served.close()
    caller.join(timeout=10)
    assert not caller.is_alive()
    assert isinstance(outcome[0], TaskCrashed)
    for pid in running:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not root.exists()
