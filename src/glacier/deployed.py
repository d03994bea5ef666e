"""The entry point of every deployed executor: a JSON event in, a JSON outcome out.

The handlers ``glacier package`` generates (Lambda, Cloud Functions, Azure Functions, the Dask
workers on VMs) call :func:`handle_event`; a cluster job's entry point calls :func:`run_job`.
It imports the pipeline from the executor's own package, by the names its Terraform put in the
environment (``GLACIER_MODULE``, ``GLACIER_PIPELINE``, ``GLACIER_EXECUTOR``,
``GLACIER_CODE_DIGEST``), and builds its provider from that environment too
(``Provider.from_env()``: the deployed bucket names, credentials from the executor's role), so
nothing of the runner's config or code is used here. The event only *names* what to run
(:mod:`glacier.runtime.wire`); an event for other code is refused.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from glacier.clouds import Cloud
from glacier.errors import ConfigError
from glacier.loader import select_pipeline
from glacier.pipelines import Pipeline
from glacier.provider import Provider
from glacier.runtime.cluster_job import run_job as cluster_job
from glacier.runtime.cluster_job import spark_runner
from glacier.runtime.wire import BadEvent, Code, execute_event

REQUIRED = ("GLACIER_PROVIDER", "GLACIER_MODULE", "GLACIER_PIPELINE", "GLACIER_EXECUTOR")

__all__ = ["BadEvent", "handle_event", "run_job"]


@dataclass(frozen=True)
class Deployed:
    """This executor, as its environment describes it (read once per process)."""

    pipeline: Pipeline
    executor: str
    code: Code
    provider: Provider


def handle_event(event: Mapping[str, Any] | None) -> dict[str, Any]:
    """Run the unit ``event`` names and answer its outcome (a task's failure is an outcome);
    raise :class:`BadEvent` for an event that is not a Glacier invocation."""
    here = deployed()
    return execute_event(event or {}, here.pipeline, here.executor, here.code, here.provider)


def run_job(argv: Sequence[str]) -> int:
    """The entry point of a deployed cluster job (``glacier_job.py EVENT_URI``): run the unit
    of the event the runner staged, on the Spark session of the platform, and stage its
    outcome next to it (:mod:`glacier.runtime.cluster_job`)."""
    if len(argv) != 1:
        raise ConfigError(f"A Glacier cluster job takes one argument, its event's URI; got {argv}.")
    here = deployed()

    def execute(event: Mapping[str, Any]) -> dict[str, Any]:
        runner = spark_runner(here.pipeline, here.executor, here.provider, str(event.get("run_id")))
        return execute_event(event, here.pipeline, here.executor, here.code, here.provider, runner)

    return cluster_job(argv[0], here.provider, execute)


@functools.cache
def deployed() -> Deployed:
    """The pipeline, executor, code and provider this package was deployed with."""
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    cloud = os.environ.get("GLACIER_PROVIDER", "").strip().lower()
    if missing or cloud == Cloud.LOCAL.value:
        raise ConfigError(
            f"This deployed executor's environment lacks {', '.join(missing) or 'a cloud'} "
            f"(GLACIER_PROVIDER={cloud!r}): the generated Terraform sets them. Deploy it from "
            f"`glacier terraform` output, or run it with `glacier emulate`."
        )
    module = importlib.import_module(os.environ["GLACIER_MODULE"])
    name = os.environ["GLACIER_PIPELINE"]
    pipeline = select_pipeline(module, name, f"module {module.__name__!r}")
    code = Code(name, module.__name__, os.environ.get("GLACIER_CODE_DIGEST", ""))
    return Deployed(pipeline, os.environ["GLACIER_EXECUTOR"], code, Provider.from_env())
