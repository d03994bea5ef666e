"""The handler a deployed function calls: the same worker entry point local workers run.

``glacier package`` generates a thin per-cloud handler (Lambda, Cloud Functions, Azure
Functions) that passes its JSON event here. The event carries one invocation, encoded by
:func:`glacier.runtime.invocation.encode`; the reply carries its outcome. Both are base64 so
they fit any JSON transport. An invocation holds pickled task code, so only the pipeline's own
runner may invoke the function: the generated Terraform keeps ingress internal and grants
invoke rights to nothing else.

The function builds its provider from its own environment (``Provider.from_env()``: the
variables its Terraform sets, credentials from its role), never from the runner's config in the
event, so a laptop's profile, credentials file, endpoints or import path never reach it.
"""

from __future__ import annotations

import base64
import functools
import os
from collections.abc import Mapping
from typing import Any

from glacier.clouds import Cloud
from glacier.errors import ConfigError, GlacierError
from glacier.provider import Provider
from glacier.runtime.invocation import invoke

EVENT_KEY = "invocation"
REPLY_KEY = "outcome"


class BadEvent(GlacierError, ValueError):
    """A function received an event that is not a Glacier invocation."""


def event_for(payload: bytes) -> dict[str, str]:
    """The JSON event that carries ``payload`` (invocation bytes) to a deployed function."""
    return {EVENT_KEY: base64.b64encode(payload).decode("ascii")}


def outcome_of(reply: Mapping[str, Any]) -> bytes:
    """The outcome bytes in a function's reply (decode them with ``decode_outcome``)."""
    return base64.b64decode(reply[REPLY_KEY])


def handle_event(event: Mapping[str, Any] | None) -> dict[str, str]:
    """Run the invocation in ``event`` here and reply with its outcome; never raises for a task."""
    encoded = (event or {}).get(EVENT_KEY)
    if not isinstance(encoded, str):
        raise BadEvent(
            f"The event has no {EVENT_KEY!r} string: Glacier functions are invoked by Glacier's "
            f"runner with an encoded task invocation, not called directly."
        )
    try:
        payload = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise BadEvent(f"The event's {EVENT_KEY!r} is not base64: {encoded[:80]!r}...") from None
    outcome = invoke(payload, deployed_provider())
    return {REPLY_KEY: base64.b64encode(outcome).decode("ascii")}


@functools.cache
def deployed_provider() -> Provider:
    """This executor's provider, from the environment its Terraform set (once per process)."""
    cloud = os.environ.get("GLACIER_PROVIDER", "")
    if cloud.strip().lower() in ("", Cloud.LOCAL.value):
        raise ConfigError(
            f"GLACIER_PROVIDER is {cloud!r} in this deployed function: the generated Terraform "
            f"sets it (with GLACIER_BUCKETS and GLACIER_STAGING_BUCKET). Deploy it from "
            f"`glacier terraform` output, or set them to the cloud and its real bucket names."
        )
    return Provider.from_env()
