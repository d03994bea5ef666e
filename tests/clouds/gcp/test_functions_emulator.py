"""Cloud Functions (2nd gen) in cloud mode: the real HTTP transport against the emulator, which
serves hand-built packages with Google's functions-framework in fresh processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, jwt

import glacier
from glacier.clouds.gcp import emulator
from glacier.clouds.gcp.config import GcpConfig
from glacier.clouds.gcp.transport import FunctionTransport, open_transport
from glacier.errors import DeploymentError, TaskCrashed, TaskOutOfMemory, TaskTimeout
from glacier.runtime.emulator import EmulatedFunction
from glacier.runtime.transport import Target

pytest.importorskip("functions_framework", reason="functions-framework is not installed")

HANDLER = """\
import os
import subprocess
import sys
import signal
import time

import functions_framework


@functions_framework.http
def handler(request):
    event = request.get_json()
    action = event["action"]
    if action == "echo":
        return {"echo": event["value"], "pid": os.getpid()}
    if action == "raise":
        raise ValueError("the handler refused the value")
    if action == "sleep":
        time.sleep(event["seconds"])
        return {"slept": event["seconds"], "pid": os.getpid()}
    if action == "allocate":
        block = b"x" * (event["mb"] * 1024 * 1024)
        time.sleep(2)
        return {"allocated": len(block)}
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if action == "env":
        import glacier

        return {"env": dict(os.environ), "glacier": glacier.__file__}
    return {"unknown": action}
"""
PROJECT = GcpConfig(project_id="glacier-test-1")
MAIN, SMALL = "main", "small"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A function zip: the handler above and the real ``glacier`` tree, as a package ships it."""
    path = tmp_path_factory.mktemp("build") / "fn.zip"
    source = Path(glacier.__file__).parent
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("main.py", HANDLER)
        for file in source.rglob("*.py"):
            zf.write(file, f"glacier/{file.relative_to(source)}")
    return path


def _function(package: Path, executor: str, **kw: Any) -> EmulatedFunction:
    env = {"GLACIER_FUNCTION_VAR": executor}
    return EmulatedFunction(executor, f"glacier-test-{executor}", package, env, **kw)


@pytest.fixture(scope="module")
def served(package: Path) -> Iterator[emulator.EmulatedFunctions]:
    running = emulator.start(
        [_function(package, MAIN, timeout=1.0), _function(package, SMALL, memory=128)]
    )
    yield running
    running.close()


def _transport(served: emulator.EmulatedFunctions, executor: str, **kw: Any) -> FunctionTransport:
    entry = served.functions[executor]
    return open_transport(Target(executor, "serverless", entry, PROJECT, **kw))


def _post(url: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=b"{}", method="POST", headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _gone(pids: set[int], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while any(Path(f"/proc/{pid}").exists() for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_functions_output_has_the_terraform_shape(served: emulator.EmulatedFunctions) -> None:
    assert set(served.functions) == {MAIN, SMALL}
    entry = served.functions[MAIN]
    assert entry["name"] == "glacier-test-main"
    assert entry["url"].startswith("http://127.0.0.1:")
    assert entry["url"] != served.functions[SMALL]["url"]
    assert served.endpoints == {} and served.secrets == {}


def test_echo_and_warm_instance_reused(served: emulator.EmulatedFunctions) -> None:
    transport = _transport(served, MAIN, timeout=1.0)
    first = transport.invoke({"action": "echo", "value": [1, "two", {"three": 3.0}]})
    second = transport.invoke({"action": "echo", "value": "again"})
    assert first["echo"] == [1, "two", {"three": 3.0}]
    assert second["echo"] == "again"
    assert first["pid"] == second["pid"], "the second call should reach the warm instance"
    assert transport.where == "cloud function glacier-test-main"


def test_function_sees_only_its_environment_and_its_packaged_glacier(
    served: emulator.EmulatedFunctions,
) -> None:
    reply = _transport(served, MAIN).invoke({"action": "env"})
    env, glacier_file = reply["env"], Path(reply["glacier"])
    code = Path(env["PYTHONPATH"].split(os.pathsep)[0])
    assert glacier_file == code / "glacier" / "__init__.py"
    assert code.name == "code" and code.parent.name.startswith("glacier-emulate-main-")
    assert env["GLACIER_FUNCTION_VAR"] == MAIN
    assert env["K_SERVICE"] == "glacier-test-main"
    assert env["K_REVISION"].startswith("glacier-test-main-")
    assert env["FUNCTION_TARGET"] == "handler"
    assert env["FUNCTION_SIGNATURE_TYPE"] == "http"
    assert served.functions[MAIN]["url"] != f"http://127.0.0.1:{env['PORT']}"
    assert "PYTEST_CURRENT_TEST" in os.environ
    set_in_process = {"WERKZEUG_SERVER_FD", "_RJEM_MALLOC_CONF"}  # by werkzeug, by polars
    assert set(env) - set_in_process == {
        *("PATH", "LANG", "HOME", "TMPDIR", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"),
        *("K_SERVICE", "K_REVISION", "K_CONFIGURATION", "PORT"),
        *("FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE", "GLACIER_FUNCTION_VAR"),
    }


def test_handler_exception_is_a_crash_naming_the_function(
    served: emulator.EmulatedFunctions,
) -> None:
    transport = _transport(served, MAIN, timeout=1.0)
    with pytest.raises(TaskCrashed, match=r"cloud function glacier-test-main .*HTTP 500"):
        transport.invoke({"action": "raise"})
    assert transport.invoke({"action": "echo", "value": 1})["echo"] == 1


def test_past_timeout_is_504_and_the_instance_is_replaced(
    served: emulator.EmulatedFunctions,
) -> None:
    transport = _transport(served, MAIN, timeout=1.0, memory=256)
    before = transport.invoke({"action": "echo", "value": 0})["pid"]
    with pytest.raises(TaskTimeout) as caught:
        transport.invoke({"action": "sleep", "seconds": 5})
    message = str(caught.value)
    assert "glacier-test-main (memory 256 MB, timeout 1 s)" in message
    assert "HTTP 504: upstream request timeout" in message
    assert "Raise timeout=" in message
    assert _gone({before})
    assert transport.invoke({"action": "echo", "value": 2})["pid"] != before


def test_over_memory_is_out_of_memory(served: emulator.EmulatedFunctions) -> None:
    transport = _transport(served, SMALL, memory=128)
    with pytest.raises(TaskOutOfMemory) as caught:
        transport.invoke({"action": "allocate", "mb": 300})
    message = str(caught.value)
    assert "glacier-test-small (memory 128 MB)" in message
    assert "Memory limit of 128 MiB exceeded with" in message
    assert "Raise memory=" in message
    assert transport.invoke({"action": "echo", "value": "after"})["echo"] == "after"


def test_killed_instance_is_a_crash_and_the_function_serves_again(
    served: emulator.EmulatedFunctions,
) -> None:
    transport = _transport(served, MAIN)
    with pytest.raises(TaskCrashed, match=r"glacier-test-main failed without a result \(HTTP 503"):
        transport.invoke({"action": "kill"})
    assert transport.invoke({"action": "echo", "value": 3})["echo"] == 3


def test_two_concurrent_calls_run_in_two_instances(served: emulator.EmulatedFunctions) -> None:
    transport = _transport(served, MAIN, timeout=1.0)
    replies: list[Mapping[str, Any]] = []
    threads = [
        threading.Thread(
            target=lambda: replies.append(transport.invoke({"action": "sleep", "seconds": 0.5}))
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r["slept"] for r in replies] == [0.5, 0.5]
    assert replies[0]["pid"] != replies[1]["pid"]


def test_a_request_without_a_bearer_token_is_refused(served: emulator.EmulatedFunctions) -> None:
    url = served.functions[MAIN]["url"]
    assert _post(url, {"Content-Type": "application/json"})[0] == 403
    assert _post(url, {"Authorization": "Bearer  "})[0] == 401
    assert _post(url, {"Authorization": "Basic dXNlcg=="})[0] == 401


def test_no_token_to_be_had_is_a_deployment_error(
    served: emulator.EmulatedFunctions, tmp_path: Path
) -> None:
    """A URL not on 127.0.0.1 needs a real ID token; user credentials cannot mint one."""
    key = tmp_path / "user.json"
    key.write_text(json.dumps({"type": "authorized_user", "client_id": "x"}))
    url = served.functions[MAIN]["url"].replace("127.0.0.1", "localhost")
    provider = GcpConfig(project_id="glacier-test-1", credentials_path=str(key))
    transport = open_transport(Target(MAIN, "serverless", {"name": "fn-a", "url": url}, provider))
    with pytest.raises(
        DeploymentError, match=r"ID token to call cloud function fn-a .*credentials_path"
    ):
        transport.invoke({"action": "echo", "value": 0})


def test_at_max_instances_429_is_retried_and_close_leaves_no_process(package: Path) -> None:
    running = emulator.start(
        [_function(package, MAIN, timeout=10.0)], max_instances=1, queue_seconds=0.1
    )
    try:
        transport = _transport(running, MAIN, timeout=10.0)
        warm = transport.invoke({"action": "echo", "value": 0})
        slow: list[Mapping[str, Any]] = []
        busy = threading.Thread(
            target=lambda: slow.append(transport.invoke({"action": "sleep", "seconds": 1.5}))
        )
        busy.start()
        time.sleep(0.3)
        url = running.functions[MAIN]["url"]
        status, _ = _post(url, {"Authorization": "Bearer t", "Content-Type": "application/json"})
        assert status == 429, "the one instance is busy: Cloud Run answers 429"
        assert transport.invoke({"action": "echo", "value": "queued"})["echo"] == "queued"
        busy.join()
        assert slow[0]["slept"] == 1.5 and slow[0]["pid"] == warm["pid"]
    finally:
        running.close()
    assert _gone({warm["pid"]})
    with pytest.raises(TaskCrashed, match="could not be reached"):
        transport.invoke({"action": "echo", "value": 0})


class _TokenServer(BaseHTTPRequestHandler):
    """Google's OAuth token endpoint as a service-account key's ``token_uri`` reaches it: a JWT
    grant in, an ID token for the asked audience out."""

    audiences: list[str]
    lifetime: int
    signer: Any

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        grant = jwt.decode(form["assertion"][0], verify=False)
        self.audiences.append(grant["target_audience"])
        now = int(time.time())
        claims = {"aud": grant["target_audience"], "iat": now, "exp": now + self.lifetime}
        body = json.dumps({"id_token": jwt.encode(self.signer, claims).decode()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize(("lifetime", "fetches"), [(3600, 1), (60, 2)])
def test_id_token_for_the_url_is_kept_until_it_nearly_expires(
    served: emulator.EmulatedFunctions, tmp_path: Path, lifetime: int, fetches: int
) -> None:
    """A service-account key's ID token, for the function's URL as audience: fetched once while
    valid; one that expires within google-auth's refresh margin is fetched again."""
    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    handler = type(
        "Tokens",
        (_TokenServer,),
        {"audiences": [], "lifetime": lifetime, "signer": crypt.RSASigner.from_string(pem)},
    )
    tokens = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=tokens.serve_forever, daemon=True).start()
    try:
        key = tmp_path / "sa.json"
        key.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "client_email": "runner@glacier-test-1.iam.gserviceaccount.com",
                    "private_key": pem,
                    "token_uri": f"http://127.0.0.1:{tokens.server_address[1]}/token",
                }
            )
        )
        url = served.functions[MAIN]["url"].replace("127.0.0.1", "localhost")
        provider = GcpConfig(project_id="glacier-test-1", credentials_path=str(key))
        target = Target(MAIN, "serverless", {"name": "fn-a", "url": url}, provider)
        transport = open_transport(target)
        assert transport.invoke({"action": "echo", "value": 1})["echo"] == 1
        assert transport.invoke({"action": "echo", "value": 2})["echo"] == 2
        assert handler.audiences == [url] * fetches
    finally:
        tokens.shutdown()
        tokens.server_close()


def test_calling_the_emulator_loads_no_google_auth(served: emulator.EmulatedFunctions) -> None:
    """google-auth is imported only to call a real function, never by ``import glacier``."""
    script = (
        "import sys\n"
        "from glacier.clouds.gcp.config import GcpConfig\n"
        "from glacier.clouds.gcp.transport import open_transport\n"
        "from glacier.runtime.transport import Target\n"
        f"entry = {dict(served.functions[MAIN])!r}\n"
        "target = Target('main', 'serverless', entry, GcpConfig(project_id='glacier-test-1'))\n"
        "reply = open_transport(target).invoke({'action': 'echo', 'value': 7})\n"
        "auth = [m for m in sys.modules if m.startswith(('google.auth', 'google.oauth2'))]\n"
        "print(reply['echo'], sorted(auth))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(glacier.__file__).parent.parent)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["7", "[]"]


def test_a_package_that_cannot_start_is_a_crash_showing_its_log(tmp_path: Path) -> None:
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as zf:
        zf.writestr("main.py", "raise RuntimeError('the package is missing its config')\n")
    running = emulator.start([_function(broken, MAIN)])
    try:
        with pytest.raises(TaskCrashed, match=r"main failed without a result \(HTTP 503") as caught:
            _transport(running, MAIN).invoke({"action": "echo", "value": 0})
        assert "RuntimeError: the package is missing its config" in str(caught.value)
    finally:
        running.close()


class _Answers(BaseHTTPRequestHandler):
    """Answers the status its path names: Cloud Run's refusals, which the emulator (one URL
    per function, every token accepted) has no occasion to give."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b"Error: the platform's page"
        self.send_response(int(self.path.strip("/")))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("status", "error", "says"),
    [
        (401, DeploymentError, "roles/run.invoker"),
        (403, DeploymentError, "roles/run.invoker"),
        (404, DeploymentError, "not deployed .*`glacier package` then `terraform apply`"),
        (408, TaskTimeout, "ran past its timeout"),
        (502, TaskCrashed, r"failed without a result \(HTTP 502"),
        (200, TaskCrashed, "not a JSON object"),
    ],
)
def test_platform_refusals_map_to_glacier_errors(
    status: int, error: type[Exception], says: str
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{status}"
        target = Target(MAIN, "serverless", {"name": "fn-a", "url": url}, PROJECT, memory=512)
        with pytest.raises(error, match=f"cloud function fn-a \\(memory 512 MB\\) .*{says}"):
            open_transport(target).invoke({"action": "echo", "value": 0})
    finally:
        server.shutdown()
        server.server_close()


def test_the_emulator_is_reached_directly_despite_an_http_proxy(
    served: emulator.EmulatedFunctions, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # the discard port: nothing answers
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert _transport(served, MAIN).invoke({"action": "echo", "value": 5})["echo"] == 5
