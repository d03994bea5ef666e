"""The Azure Functions emulator and transport: a real HTTP client against a real host process.

The package is built by hand with the generated handler's decorator shape; its handler echoes,
raises, sleeps, allocates or kills itself on request, and reports its environment and where
``glacier`` was imported from (the package, never the venv's editable install).
"""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import glacier
from glacier.clouds.azure import emulator as azure_emulator
from glacier.clouds.azure import package as package_module
from glacier.clouds.azure.transport import (
    SCOPE_VARIABLE,
    THROTTLE_CAP,
    FunctionTransport,
    _backoff,
    open_transport,
)
from glacier.config.provider import LocalConfig
from glacier.errors import DeploymentError, TaskCrashed, TaskOutOfMemory, TaskTimeout
from glacier.runtime.emulator import EmulatedFunction
from glacier.runtime.transport import Target

HANDLER = """\
import os

ENVIRONMENT = dict(os.environ)  # before any import: polars sets variables of its own

import json
import signal
import time

import azure.functions as func

import glacier
import vendored_probe

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="run", methods=["POST"])
def run(req: func.HttpRequest) -> func.HttpResponse:
    event = req.get_json()
    action = event.get("action")
    if action == "raise":
        raise ValueError("bad input 42")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "allocate":
        block = b"x" * (400 * 1024 * 1024)
        time.sleep(5)
        return func.HttpResponse(str(len(block)))
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    reply = {
        "echo": event,
        "pid": os.getpid(),
        "env": ENVIRONMENT,
        "glacier": glacier.__file__,
        "probe": vendored_probe.__file__,
        "headers": sorted(k.lower() for k in req.headers),
    }
    return func.HttpResponse(json.dumps(reply), mimetype="application/json")
"""
FUNCTION_ENV = {"GLACIER_TEST_VARIABLE": "from-terraform"}
PLATFORM = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_SITE_NAME",
    "WEBSITE_HOSTNAME",
    "WEBSITE_INSTANCE_ID",
    "AzureWebJobsScriptRoot",
}
BASE = {"PATH", "LANG", "HOME", "TMPDIR", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}


def build_package(path: Path, handler: str = HANDLER) -> Path:
    """A function app zip: the handler, a vendored module, and the real ``glacier`` tree."""
    source = Path(glacier.__file__).parent
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("function_app.py", handler)
        zf.writestr("host.json", '{"version": "2.0"}')
        zf.writestr(".python_packages/lib/site-packages/vendored_probe.py", "")
        for file in source.rglob("*.py"):
            zf.write(file, f"glacier/{file.relative_to(source)}")
    return path


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("azure-fn") / "probe.zip")


@pytest.fixture(scope="module")
def emulated(package: Path) -> Iterator[azure_emulator.AzureFunctionsEmulator]:
    running = azure_emulator.start(
        [
            EmulatedFunction("clean", "glacier-clean", package, FUNCTION_ENV, 512, 1.0),
            EmulatedFunction("small", "glacier-small", package, {}, 128, 10.0),
        ]
    )
    yield running
    running.close()


def transport(
    emulated: azure_emulator.AzureFunctionsEmulator, executor: str, **change: Any
) -> FunctionTransport:
    function = {"clean": (512, 1.0), "small": (128, 10.0)}[executor]
    fields: dict[str, Any] = {
        "executor": executor,
        "kind": "serverless",
        "entry": emulated.functions[executor],
        "provider": LocalConfig(),
        "secret": emulated.secrets[executor],
        "memory": function[0],
        "timeout": function[1],
        **change,
    }
    return open_transport(Target(**fields))


def test_outputs_have_terraforms_shape(emulated: azure_emulator.AzureFunctionsEmulator) -> None:
    functions = emulated.functions
    assert set(functions) == {"clean", "small"}
    assert functions["clean"]["name"] == "glacier-clean"
    assert functions["clean"]["url"].startswith("http://127.0.0.1:")
    assert functions["clean"]["url"].endswith("/api/run")
    assert functions["clean"]["url"] != functions["small"]["url"]
    assert emulated.endpoints == {}
    keys = emulated.secrets
    assert set(keys) == {"clean", "small"} and keys["clean"] != keys["small"]
    assert len(keys["clean"]) >= 32
    assert keys["clean"] not in repr(emulated) and keys["clean"] not in repr(
        transport(emulated, "clean")
    )


def test_echo_runs_in_the_package_with_only_its_environment(
    emulated: azure_emulator.AzureFunctionsEmulator,
) -> None:
    client = transport(emulated, "clean")
    assert client.where == "azure function glacier-clean"
    reply = client.invoke({"action": "echo", "rows": [1, 2, 3]})
    assert reply["echo"] == {"action": "echo", "rows": [1, 2, 3]}
    env: Mapping[str, str] = reply["env"]
    assert set(env) == BASE | PLATFORM | set(FUNCTION_ENV)
    assert env["GLACIER_TEST_VARIABLE"] == "from-terraform"
    assert env["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert env["WEBSITE_SITE_NAME"] == "glacier-clean"
    root = Path(env["AzureWebJobsScriptRoot"])
    assert Path(reply["glacier"]) == root / "glacier" / "__init__.py"
    assert Path(reply["probe"]) == root / ".python_packages/lib/site-packages/vendored_probe.py"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(root)
    assert emulated.secrets["clean"] not in str(env)
    assert "x-functions-key" not in reply["headers"]


def test_warm_instance_is_reused(emulated: azure_emulator.AzureFunctionsEmulator) -> None:
    client = transport(emulated, "clean")
    first = client.invoke({"action": "echo"})["pid"]
    assert client.invoke({"action": "echo"})["pid"] == first


def test_concurrent_calls_run_in_two_instances(
    emulated: azure_emulator.AzureFunctionsEmulator,
) -> None:
    client = transport(emulated, "clean")
    start = threading.Barrier(2)
    pids: list[int] = []

    def call() -> None:
        start.wait()
        pids.append(client.invoke({"action": "sleep", "seconds": 0.5})["pid"])

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(pids)) == 2


def test_handler_that_raises_is_a_crash(emulated: azure_emulator.AzureFunctionsEmulator) -> None:
    with pytest.raises(TaskCrashed, match=r"glacier-clean.*HTTP 500.*ValueError\('bad input 42'\)"):
        transport(emulated, "clean").invoke({"action": "raise"})


def test_past_the_timeout_is_a_timeout(emulated: azure_emulator.AzureFunctionsEmulator) -> None:
    with pytest.raises(TaskTimeout, match=r"glacier-clean.*timeout of 1 s.*Raise timeout="):
        transport(emulated, "clean").invoke({"action": "sleep", "seconds": 5})


def test_over_memory_is_out_of_memory(emulated: azure_emulator.AzureFunctionsEmulator) -> None:
    with pytest.raises(TaskOutOfMemory, match=r"glacier-small.*128 MB.*code 137.*Raise memory="):
        transport(emulated, "small").invoke({"action": "allocate"})
    assert transport(emulated, "small").invoke({"action": "echo"})["echo"] == {"action": "echo"}


def test_killed_process_is_a_crash(emulated: azure_emulator.AzureFunctionsEmulator) -> None:
    with pytest.raises(TaskCrashed, match=r"glacier-clean.*python exited with code 137"):
        transport(emulated, "clean").invoke({"action": "kill"})


def test_wrong_key_is_a_deployment_error(emulated: azure_emulator.AzureFunctionsEmulator) -> None:
    wrong = "not-the-key-" + "x" * 30
    with pytest.raises(DeploymentError, match=r"glacier-clean.*401.*function_keys") as caught:
        transport(emulated, "clean", secret=wrong).invoke({"action": "echo"})
    assert wrong not in str(caught.value)
    assert emulated.secrets["clean"] not in str(caught.value)


def test_without_a_key_the_caller_needs_an_entra_id_token(
    emulated: azure_emulator.AzureFunctionsEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert transport(emulated, "clean", secret=None).scope == "api://glacier-clean/.default"
    monkeypatch.setenv(SCOPE_VARIABLE, "api://glacier-probe/.default")
    for variable in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"):
        monkeypatch.delenv(variable, raising=False)
    client = transport(emulated, "clean", secret=None)
    # no identity here gives a token; one that did would be refused by the key-checking host
    with pytest.raises(DeploymentError, match=r"glacier-clean.*'api://glacier-probe/\.default'"):
        client.invoke({"action": "echo"})


def test_key_is_required_in_header_or_query(
    emulated: azure_emulator.AzureFunctionsEmulator,
) -> None:
    url, key = emulated.functions["clean"]["url"], emulated.secrets["clean"]
    body = b'{"action": "echo"}'
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=30)
    assert caught.value.code == 401
    with urllib.request.urlopen(
        urllib.request.Request(f"{url}?code={key}", data=body, method="POST"), timeout=30
    ) as response:
        assert response.status == 200


def test_unknown_route_is_a_deployment_error(
    emulated: azure_emulator.AzureFunctionsEmulator,
) -> None:
    entry = {**emulated.functions["clean"]}
    entry["url"] = entry["url"].replace("/api/run", "/api/gone")
    with pytest.raises(DeploymentError, match=r"glacier-clean.*not deployed.*terraform apply"):
        transport(emulated, "clean", entry=entry).invoke({"action": "echo"})


def test_the_generated_handler_is_served_at_its_route(tmp_path: Path) -> None:
    generated = build_package(tmp_path / "generated.zip", package_module.HANDLER)
    running = azure_emulator.start([EmulatedFunction("gen", "glacier-gen", generated, {})])
    try:
        url = running.functions["gen"]["url"]
        assert url.endswith(f"/api/{package_module.FUNCTION_ROUTE}")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(urllib.request.Request(url, data=b"{}"), timeout=30)
        assert caught.value.code == 401
    finally:
        running.close()


def test_close_leaves_no_process(package: Path) -> None:
    running = azure_emulator.start([EmulatedFunction("solo", "glacier-solo", package, {})])
    function = running.functions["solo"]
    client = open_transport(
        Target("solo", "serverless", function, LocalConfig(), secret=running.secrets["solo"])
    )
    assert client.invoke({"action": "echo"})["echo"] == {"action": "echo"}
    pids = running.pids()
    roots = [app.unpacked.root for app in running._apps.values()]
    assert pids
    running.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert roots and not any(root.exists() for root in roots)
    with pytest.raises(TaskCrashed, match="glacier-solo"):
        client.invoke({"action": "echo"})


def test_at_the_instance_limit_calls_are_throttled_and_retried(package: Path) -> None:
    running = azure_emulator.start(
        [EmulatedFunction("solo", "glacier-solo", package, {})], max_instances=1
    )
    try:
        url, key = running.functions["solo"]["url"], running.secrets["solo"]
        target = Target("solo", "serverless", running.functions["solo"], LocalConfig(), secret=key)
        client = open_transport(target)
        busy = threading.Thread(
            target=client.invoke, args=({"action": "sleep", "seconds": 1.5},), daemon=True
        )
        busy.start()
        request = urllib.request.Request(
            url, data=b'{"action": "echo"}', headers={"x-functions-key": key}, method="POST"
        )
        throttled = False
        while busy.is_alive() and not throttled:  # until the busy call holds the one instance
            try:
                urllib.request.urlopen(request, timeout=30).close()
            except urllib.error.HTTPError as exc:
                throttled = exc.code == 429
        assert throttled
        pids = {client.invoke({"action": "echo"})["pid"] for _ in range(2)}  # 429s, retried
        busy.join()
        assert len(pids) == 1 and set(running.pids()) == pids
    finally:
        running.close()


def test_throttling_backoff_is_jittered_and_bounded() -> None:
    waits = [_backoff(attempt, None) for attempt in range(12) for _ in range(20)]
    assert all(0 <= w <= THROTTLE_CAP for w in waits)
    assert len(set(waits)) > 100
    assert _backoff(0, "3") == 3.0
    assert _backoff(0, "600") == THROTTLE_CAP
