"""Invocations built by hand, as a runner would send them to a worker or a deployed function."""

from __future__ import annotations

from glacier import Provider
from glacier.runtime.invocation import BucketRef, Invocation, ProviderRef
from glacier.runtime.units import Handoff
from glacier.runtime.worker import Step


def invocation(
    provider: Provider, step: Step, key: str, handoff: Handoff = Handoff.STAGED
) -> Invocation:
    """One step whose output is staged at ``key`` of ``provider``'s staging folder."""
    return Invocation(
        run_id="handler-test",
        unit=step.node,
        attempt=1,
        steps=(step,),
        sinks={},
        handoff=handoff,
        inputs={},
        params={},
        output=BucketRef(ProviderRef.of(provider), ".glacier", key),
    )
