"""The cache as one run uses it: which units are reused, where outputs go, what is kept.

:mod:`glacier.runtime.cache` holds the keys and the stored entries; this module decides, for
one run's plan, which units need not run (:meth:`RunCache.reuse`), where each unit writes its
output (:meth:`RunCache.target`) and what a finished unit leaves for later runs
(:meth:`RunCache.keep`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Set
from typing import Any

from glacier.core.dag import Ref, SinkNode, TaskNode
from glacier.core.trace import output_label, outputs_of, rebuild_outputs
from glacier.provider import Provider
from glacier.runtime.cache import Cache
from glacier.runtime.plan import Plan
from glacier.runtime.staging import OutputTarget, StagedFrame, Staging
from glacier.runtime.units import Handoff, Unit
from glacier.runtime.worker import Outcome, elements_of, is_outputs

UNKEPT_LIMIT = 1 << 16
"""Keys :data:`_unkept` remembers at most (a few MB), the oldest forgotten first."""

_unkept: dict[str, None] = {}
"""Keys (in the order first seen) whose unit, the last time it ran in this process, returned
what the cache does not keep (an int, a dict: only frames and sinks are kept), so no entry can
exist for them: looking one up again reads a manifest that is not there, a failed read per unit
on every run (most of a 1,000-unit chain's time, ``bench/overhead.py``). Skipping a lookup can
only make a unit run: at worst one whose output another process has cached since."""
_unkept_lock = threading.Lock()


class RunCache:
    """One run's use of the cache; ``keys`` maps nodes to cache keys (empty: cache off)."""

    def __init__(self, plan: Plan, keys: Mapping[str, str | None]) -> None:
        self.plan = plan
        self.keys = keys
        self._caches: dict[int, Cache] = {}

    def reuse(self, returned: Set[str]) -> tuple[set[str], dict[str, Any]]:
        """The units that must still run, and the cached output of every unit reused.

        A unit runs if it has no reusable output and its output is ``returned`` (the pipeline's
        return value names it), it has no dependents (a sink), or a dependent runs. Outputs are
        keyed by root node; a reused sink's output is None.
        """
        plan = self.plan
        hits: dict[str, Any] = {}
        needed: set[str] = set()
        for uid in reversed(list(plan.units)):  # units are in topological order
            unit = plan.units[uid]
            if self._lookup(unit, hits):
                continue
            dependents = plan.dependents[uid]
            if unit.root.id in returned or not dependents or needed.intersection(dependents):
                needed.add(uid)
        return needed, hits

    def _lookup(self, unit: Unit, hits: dict[str, Any]) -> bool:
        """Whether ``unit``'s output is in the cache (and intact); adds it to ``hits``."""
        root = unit.root
        key = self.keys.get(root.id)
        if key is None or key in _unkept:
            return False
        cache = self._cache(unit.executor.provider)
        if isinstance(root, SinkNode):
            if not cache.sink_done(key, root.bucket):
                return False
            hits[root.id] = None
            return True
        if self.plan.handoff[root.id] not in (Handoff.STAGED, Handoff.COLLECT):
            return False
        if isinstance(root, TaskNode) and (names := outputs_of(root.task)) is not None:
            # several outputs: cached one by one (see keep), reused only when all of them are
            found = {name: cache.lookup(f"{key}.{name}") for name in names}
            if None in found.values():
                return False
            hits[root.id] = rebuild_outputs(root.task, found)
            return True
        staged = cache.lookup(key)
        if staged is None:
            return False
        hits[root.id] = staged
        return True

    def target(self, unit: Unit, staging: Staging) -> OutputTarget:
        """Where ``unit``'s output goes: the cache when it is keyed, else the run's ``staging``.

        A keyed output that is collected (returned in memory) is written to the cache too.
        """
        root = unit.root.id
        key = self.keys.get(root)
        if key is None:
            return OutputTarget(staging.provider, staging.bucket, staging.key_for(root))
        output = self._cache(unit.executor.provider).output_key(key)
        keep = self.plan.handoff[root] is Handoff.COLLECT
        return OutputTarget(staging.provider, staging.bucket, output, keep)

    def keep(self, unit: Unit, outcome: Outcome) -> None:
        """Record a finished unit's output in the cache, after its file is committed."""
        root = unit.root
        key = self.keys.get(root.id)
        if key is None or key in _unkept:  # nothing to keep last time: nothing this time
            return
        cache = self._cache(unit.executor.provider)
        if isinstance(root, SinkNode):
            cache.commit_sink(key, root.id, root.bucket)
        elif outcome.kept is not None:
            cache.commit(key, root.id, outcome.kept)
        elif isinstance(root, TaskNode) and (names := outputs_of(root.task)) is not None:
            staged = elements_of(outcome.value) if is_outputs(outcome.value) else []
            if len(staged) == len(names) and all(isinstance(f, StagedFrame) for f in staged):
                for name, frame in zip(names, staged, strict=True):
                    cache.commit(f"{key}.{name}", output_label(Ref(root.id, name)), frame)
            else:
                _remember_unkept(key)
        elif self.plan.handoff[root.id] in (Handoff.STAGED, Handoff.COLLECT):
            _remember_unkept(key)  # what _lookup would look for: it cannot be there

    def _cache(self, provider: Provider) -> Cache:
        key = id(provider)
        if key not in self._caches:
            self._caches[key] = Cache(provider)
        return self._caches[key]


def _remember_unkept(key: str) -> None:
    with _unkept_lock:
        _unkept[key] = None
        if len(_unkept) > UNKEPT_LIMIT:
            del _unkept[next(iter(_unkept))]
