"""GCS permissions of each storage operation, so a bucket binding grants what the runtime does.

Predefined roles grant more (``objectViewer`` also reads managed folders, ``objectUser`` edits
ACLs), so Glacier defines one custom role per set of operations its executors need.
"""

from __future__ import annotations

from glacier.storage.access import Operation

PERMISSIONS: dict[Operation, tuple[str, ...]] = {
    Operation.LIST: ("storage.objects.list",),
    Operation.GET: ("storage.objects.get",),
    Operation.PUT: ("storage.objects.create",),
    Operation.DELETE: ("storage.objects.delete",),
}
"""GCS needs ``delete`` to overwrite an object too, which a write does with its commit marker."""


def permissions(operations: frozenset[Operation]) -> list[str]:
    """The GCS permissions of ``operations``, sorted (a custom role's ``permissions``)."""
    return sorted(p for op in operations for p in PERMISSIONS[op])
