"""Get or create the Spark session Glacier runs cluster tasks on.

Three kinds of session, chosen by ``SparkSettings.master``:

* classic (``local[2]``, ``spark://...``, ``yarn``, ``k8s://...``): a JVM driver in this
  process. Needs Java 17 or newer, which is checked before the JVM starts. ``local`` masters
  are bound to 127.0.0.1, run without the web UI and use fast-start JVM options.
* Spark Connect (``sc://host:port``): a thin gRPC client; no local Java needed.
* a platform's (``platform="<name>"``, or ``master="<name>"``): a platform that hosts Spark
  creates the session with its own client, through the Spark session factory the registry
  names for it (``glacier.clouds.PLATFORMS``), configured from ``platform_options``, the
  client's own profile/environment, or an ``sc://`` connection string given as ``master``.

One session is kept per process and reused while the settings are the same (across runs: a
notebook re-running a pipeline pays the JVM start once); asking for different settings stops the
current session first, and the interpreter's exit stops it. :func:`start_in_background` starts
it early, at a low CPU priority, so a run's other tasks are not starved while the JVM boots.
PySpark is imported lazily, inside the functions, so importing this module never needs PySpark.

Quiet by default: a classic session's JVM (log4j's banner, WARN lines, its Python workers'
warnings) writes to a log file in the temp folder instead of the terminal, so a run shows only
Glacier's progress. When the ``glacier`` logger is enabled for INFO (``glacier run --verbose``)
Spark writes to stderr as it would on its own. If Spark fails to start, the error quotes the
end of the log.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from glacier import clouds
from glacier.spark.errors import (
    JavaNotFoundError,
    SparkNotInstalledError,
    SparkTaskError,
)

__all__ = [
    "FAST_START_JAVA_OPTIONS",
    "MIN_JAVA_VERSION",
    "SparkSettings",
    "build_conf",
    "check_java",
    "get_session",
    "is_connect_master",
    "is_local_master",
    "java_version",
    "start_in_background",
    "stop_session",
]

log = logging.getLogger(__name__)

MIN_JAVA_VERSION = 17
FAST_START_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
LOOPBACK = "127.0.0.1"
SPARK_INSTALL_HINT = "pip install 'glacier-pipelines[spark]'"


@functools.cache
def _session_factories() -> dict[str, str]:
    """Platform name -> reference of its Spark session factory, for the platforms that have one."""
    return {
        name: parts.spark_session
        for name, parts in clouds.PLATFORMS.items()
        if parts.spark_session is not None
    }


@dataclass(frozen=True)
class SparkSettings:
    """How to reach Spark.

    Attributes:
        master: ``local[N]``, ``local[*]``, ``spark://host:port``, ``yarn``, ``k8s://...``,
            ``sc://host:port`` (Spark Connect) or a platform's name (see ``platform``).
        app_name: Spark application name.
        num_executors: ``spark.executor.instances`` (classic cluster masters only).
        executor_memory: ``spark.executor.memory``, e.g. ``"4g"`` (classic masters only).
        driver_memory: ``spark.driver.memory`` (classic masters only; must be set before
            the JVM starts).
        shuffle_partitions: ``spark.sql.shuffle.partitions``. Default: the number of local
            threads for ``local`` masters, Spark's own default elsewhere.
        conf: extra Spark configuration; it wins over everything computed here.
        platform: a platform in the registry whose Spark session factory creates the
            session (``master`` may then be its ``sc://`` connection string).
        platform_options: options of that factory, e.g. the profile or cluster to use.
    """

    master: str = "local[2]"
    app_name: str = "glacier"
    num_executors: int | None = None
    executor_memory: str | None = None
    driver_memory: str | None = None
    shuffle_partitions: int | None = None
    conf: Mapping[str, str] = field(default_factory=dict)
    platform: str | None = None
    platform_options: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.platform is not None and self.platform not in _session_factories():
            raise SparkTaskError(
                f"SparkSettings(platform={self.platform!r}) names no platform that creates "
                f"Spark sessions; use one of {', '.join(_session_factories())}, or None for "
                f"classic Spark and Spark Connect"
            )
        if self.platform_options and self.session_platform is None:
            raise SparkTaskError(
                "SparkSettings(platform_options=...) are options of a platform's session "
                "factory, but no platform was chosen; set platform= too"
            )

    @property
    def session_platform(self) -> str | None:
        """The platform whose factory creates the session: ``platform``, or the one
        ``master`` names."""
        if self.platform is not None:
            return self.platform
        master = self.master.strip().lower()
        return master if master in _session_factories() else None


def is_local_master(master: str) -> bool:
    """True for ``local``, ``local[N]``, ``local[*]`` and ``local[N,F]`` masters."""
    return re.fullmatch(r"local(\[[^\]]*\])?", master.strip()) is not None


def is_connect_master(master: str) -> bool:
    """True for Spark Connect URLs (``sc://...``)."""
    return master.strip().startswith("sc://")


def _local_threads(master: str) -> int:
    m = re.fullmatch(r"local(?:\[([^\],]*)(?:,[^\]]*)?\])?", master.strip())
    if m is None or m.group(1) is None:
        return 1
    if m.group(1) == "*":
        return os.cpu_count() or 1
    try:
        return max(1, int(m.group(1)))
    except ValueError:
        return 1


def build_conf(settings: SparkSettings) -> dict[str, str]:
    """The Spark configuration Glacier sets for ``settings`` (pure; does not start Spark)."""
    conf: dict[str, str] = {
        "spark.sql.session.timeZone": "UTC",
        # Spark's default INT96 loses the UTC flag; readers such as Polars then see naive
        # timestamps. TIMESTAMP_MICROS writes a proper Parquet timestamp logical type.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    }
    master = settings.master.strip()
    if not is_connect_master(master) and settings.session_platform is None:
        conf["spark.master"] = master
        conf["spark.app.name"] = settings.app_name
        conf["spark.sql.execution.arrow.pyspark.enabled"] = "true"
        if settings.num_executors is not None:
            conf["spark.executor.instances"] = str(settings.num_executors)
        if settings.executor_memory is not None:
            conf["spark.executor.memory"] = settings.executor_memory
        if settings.driver_memory is not None:
            conf["spark.driver.memory"] = settings.driver_memory
    if is_local_master(master):
        conf.update(
            {
                "spark.driver.host": LOOPBACK,
                "spark.driver.bindAddress": LOOPBACK,
                "spark.ui.enabled": "false",
                "spark.ui.showConsoleProgress": "false",
                "spark.driver.extraJavaOptions": FAST_START_JAVA_OPTIONS,
                "spark.sql.shuffle.partitions": str(_local_threads(master)),
                "spark.log.level": "WARN",
            }
        )
    if settings.shuffle_partitions is not None:
        conf["spark.sql.shuffle.partitions"] = str(settings.shuffle_partitions)
    user = dict(settings.conf)
    java_opts = user.pop("spark.driver.extraJavaOptions", None)
    if java_opts and "spark.driver.extraJavaOptions" in conf:
        conf["spark.driver.extraJavaOptions"] = (
            f"{conf['spark.driver.extraJavaOptions']} {java_opts}"
        )
    elif java_opts:
        conf["spark.driver.extraJavaOptions"] = java_opts
    conf.update(user)
    return conf


def _java_executable() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = os.path.join(java_home, "bin", "java")
        return candidate if os.access(candidate, os.X_OK) else None
    return shutil.which("java")


def java_version(java: str | None = None) -> int:
    """The major version of the Java runtime Spark would use (``$JAVA_HOME`` or ``PATH``).

    Raises:
        JavaNotFoundError: no Java runtime, or its version cannot be read.
    """
    exe = java or _java_executable()
    if exe is None:
        where = "$JAVA_HOME/bin/java" if os.environ.get("JAVA_HOME") else "java on PATH"
        raise JavaNotFoundError(
            f"Spark needs Java {MIN_JAVA_VERSION} or newer, but no {where} was found; "
            f"install a JDK (e.g. apt-get install openjdk-{MIN_JAVA_VERSION}-jre-headless) "
            f"or set JAVA_HOME"
        )
    try:
        proc = subprocess.run(
            [exe, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JavaNotFoundError(f"could not run {exe!r} -version: {exc}") from exc
    output = proc.stderr + proc.stdout
    m = re.search(r'version "(\d+)(?:\.(\d+))?', output)
    if m is None:
        raise JavaNotFoundError(f"could not read the Java version from {exe!r}: {output!r}")
    major = int(m.group(1))
    if major == 1 and m.group(2) is not None:  # "1.8.0_402" means Java 8
        major = int(m.group(2))
    return major


def check_java(minimum: int = MIN_JAVA_VERSION) -> int:
    """Raise ``JavaNotFoundError`` unless Java ``minimum`` or newer is available."""
    major = java_version()
    if major < minimum:
        raise JavaNotFoundError(
            f"Spark 4 needs Java {minimum} or newer, found Java {major} "
            f"({_java_executable()}); install a newer JDK or point JAVA_HOME at one"
        )
    return major


def _require_pyspark(connect: bool) -> None:
    try:
        import pyspark  # noqa: PLC0415 - pyspark is optional
    except ImportError as exc:
        raise SparkNotInstalledError(
            f"the Spark executor needs PySpark 4: {SPARK_INSTALL_HINT}"
        ) from exc
    if connect:
        try:
            import pyspark.sql.connect.session  # noqa: F401, PLC0415 - checks grpc, pandas, ...
        except ImportError as exc:
            raise SparkNotInstalledError(
                f"Spark Connect needs PySpark's connect extras ({exc}): {SPARK_INSTALL_HINT}"
            ) from exc


# PySpark sets SPARK_CONNECT_MODE_ENABLED when a Connect session is created and never unsets
# it; while it is set, pyspark.sql.functions builds Connect columns even for classic sessions.
_CONNECT_ENV = "SPARK_CONNECT_MODE_ENABLED"


class _SessionState:
    """The process-wide session and what is needed to clean up after it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.current: tuple[SparkSettings, Any] | None = None
        self.connect_env_set_by_us = False


_state = _SessionState()


def _is_stopped(session: Any) -> bool:
    stopped = getattr(session, "is_stopped", None)  # Spark Connect sessions
    if isinstance(stopped, bool):
        return stopped
    sc = getattr(session, "_sc", None)
    return sc is not None and getattr(sc, "_jsc", None) is None


def verbose() -> bool:
    """Whether Spark's own output is shown: the ``glacier`` logger is enabled for INFO."""
    return logging.getLogger("glacier").isEnabledFor(logging.INFO)


def jvm_log_path() -> Path:
    """Where a quiet classic session's JVM writes its output, one file per process."""
    return Path(tempfile.gettempdir()) / f"glacier-spark-{os.getpid()}.log"


@contextmanager
def _jvm_output() -> Iterator[Path | None]:
    """While the JVM starts, point this process's stderr at the Spark log (unless verbose),
    so the JVM and the workers it starts inherit the log instead of the terminal."""
    if verbose():
        yield None
        return
    path = jvm_log_path()
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(path, "ab") as log_file:
            os.dup2(log_file.fileno(), 2)
        yield path
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _log_tail(path: Path | None, lines: int = 20) -> str:
    if path is None:
        return ""
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return f"\nThe end of Spark's log ({path}):\n" + "\n".join(tail) if tail else ""


def _create_classic(settings: SparkSettings) -> Any:
    _require_pyspark(connect=False)
    check_java()
    if is_local_master(settings.master):
        os.environ["SPARK_LOCAL_IP"] = LOOPBACK
    # The Python workers must run the same interpreter (and polars) as this process.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    if not verbose():  # pyspark's own note on the pandas version, every time it loads
        warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
    from pyspark.sql import SparkSession  # noqa: PLC0415 - pyspark is optional

    builder = SparkSession.builder
    for key, value in build_conf(settings).items():
        builder = builder.config(key, value)
    with _jvm_output() as log_path:
        try:
            return builder.getOrCreate()
        except Exception as exc:
            raise SparkTaskError(
                f"Spark failed to start with master {settings.master!r}: {exc}{_log_tail(log_path)}"
            ) from exc


def _create_connect(settings: SparkSettings) -> Any:
    _require_pyspark(connect=True)
    _state.connect_env_set_by_us = _CONNECT_ENV not in os.environ
    from pyspark.sql import SparkSession  # noqa: PLC0415 - pyspark is optional

    builder = SparkSession.builder.remote(settings.master.strip())
    for key, value in build_conf(settings).items():
        builder = builder.config(key, value)  # static keys are ignored by the server
    return builder.getOrCreate()


def _create_on_platform(settings: SparkSettings, platform: str) -> Any:
    """A session from the platform's own factory, loaded from the registry on first use."""
    return clouds.load(_session_factories()[platform])(settings)


def get_session(settings: SparkSettings | None = None, **overrides: Any) -> Any:
    """Return the process-wide Spark session for ``settings``, creating it if needed.

    Keyword ``overrides`` replace fields of ``settings`` (or of the defaults), e.g.
    ``get_session(master="sc://127.0.0.1:15002")``.

    Raises:
        SparkNotInstalledError: PySpark (or its Connect dependencies) is missing.
        SparkTaskError: a platform's session was asked for without its client (the
            platform's own subclass, re-exported by ``glacier.spark``).
        JavaNotFoundError: classic Spark without Java 17+ (checked before the JVM starts).
        SparkTaskError: Spark failed to start.
    """
    wanted = replace(settings or SparkSettings(), **overrides)
    with _state.lock:
        if _state.current is not None:
            current_settings, session = _state.current
            if current_settings == wanted and not _is_stopped(session):
                return session
            stop_session()
        started = time.perf_counter()
        platform = wanted.session_platform
        if platform is not None:
            session = _create_on_platform(wanted, platform)
        elif is_connect_master(wanted.master):
            session = _create_connect(wanted)
        else:
            session = _create_classic(wanted)
        log.info(
            "Spark session for %s ready in %.1f s", wanted.master, time.perf_counter() - started
        )
        _state.current = (wanted, session)
        return session


def is_active(settings: SparkSettings) -> bool:
    """Whether ``get_session(settings)`` would return a session that is already running."""
    with _state.lock:
        current = _state.current
        return current is not None and current[0] == settings and not _is_stopped(current[1])


def stop_session() -> None:
    """Stop the session created by ``get_session`` (no-op when there is none)."""
    with _state.lock:
        if _state.current is None:
            return
        _, session = _state.current
        _state.current = None
        try:
            session.stop()
        except Exception:  # pragma: no cover - best effort on shutdown
            log.warning("stopping the Spark session failed", exc_info=True)
        if _state.connect_env_set_by_us:
            os.environ.pop(_CONNECT_ENV, None)
            _state.connect_env_set_by_us = False


atexit.register(stop_session)

BACKGROUND_NICENESS = 10
"""How much lower than the run's the CPU priority of a session started in the background is
while the JVM boots (it then gets the run's priority back where the OS allows)."""


def start_in_background(settings: SparkSettings) -> threading.Thread:
    """Start the session for ``settings`` on a low-priority thread; a failure is left for the
    first task that needs the session to raise (it asks again, and gets the same error)."""

    def start() -> None:
        niced = _lower_priority()
        try:
            session = get_session(settings)
        except Exception:
            log.debug("starting Spark in the background failed", exc_info=True)
            return
        if niced is not None:
            _restore_priority(session, niced)

    thread = threading.Thread(target=start, daemon=True, name="glacier-spark-start")
    thread.start()
    return thread


def _lower_priority() -> int | None:
    """Lower this thread's priority, which the JVM it starts inherits (Linux: per thread).
    Returns the priority to restore, or None where threads have no priority of their own."""
    if not sys.platform.startswith("linux"):
        return None
    tid = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, tid)
    os.setpriority(os.PRIO_PROCESS, tid, before + BACKGROUND_NICENESS)
    return before


def _restore_priority(session: Any, priority: int) -> None:
    """Give the booted JVM's threads the run's priority back; raising a priority may need
    privileges, so without them the JVM keeps the lower one (logged)."""
    proc = getattr(getattr(getattr(session, "sparkContext", None), "_gateway", None), "proc", None)
    pid = getattr(proc, "pid", None)
    if pid is None:
        return
    try:
        threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        for tid in threads:
            with contextlib.suppress(ProcessLookupError):
                os.setpriority(os.PRIO_PROCESS, tid, priority)
    except (OSError, ValueError):
        log.info("the Spark JVM keeps the lower CPU priority it started with", exc_info=True)
