"""The entry point of every deployed executor: a JSON event in, a JSON outcome out.

The handlers ``glacier package`` generates (Lambda, Cloud Functions, Azure Functions, the Dask
workers on VMs) call :func:`handle_event`. It imports the pipeline from the executor's own
package, by the names its Terraform put in the environment (``GLACIER_MODULE``,
``GLACIER_PIPELINE``, ``GLACIER_EXECUTOR``, ``GLACIER_CODE_DIGEST``), and builds its provider
from that environment too (``Provider.from_env()``: the deployed bucket names, credentials from
the executor's role), so nothing of the runner's config or code is used here. The event only
*names* what to run (:mod:`glacier.runtime.wire`); an event for other code is refused.
"""

from __future__ import annotations

import functools
import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from glacier.clouds import Cloud
from glacier.errors import ConfigError
from glacier.loader import select_pipeline
from glacier.pipelines import Pipeline
from glacier.provider import Provider
from glacier.runtime.wire import BadEvent, Code, execute_event

REQUIRED = ("GLACIER_PROVIDER", "GLACIER_MODULE", "GLACIER_PIPELINE", "GLACIER_EXECUTOR")

__all__ = ["BadEvent", "handle_event"]


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
