"""Blob data actions of each storage operation, so a container role grants what the runtime does.

``Storage Blob Data Contributor`` also lets its holder change blob tags and move blobs, so
Glacier defines one custom role per set of operations its executors need, assigned per container.
Listing and reading are one data action in Azure (``blobs/read`` covers List Blobs).
"""

from __future__ import annotations

from glacier.storage.access import Operation

_BLOBS = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
DATA_ACTIONS: dict[Operation, tuple[str, ...]] = {
    Operation.LIST: (f"{_BLOBS}/read",),
    Operation.GET: (f"{_BLOBS}/read",),
    Operation.PUT: (f"{_BLOBS}/write",),
    Operation.DELETE: (f"{_BLOBS}/delete",),
}
"""Block blobs only: ``write`` covers Put Blob, Put Block and Put Block List (no appends)."""


def data_actions(operations: frozenset[Operation]) -> list[str]:
    """The blob data actions of ``operations``, sorted and without repeats."""
    return sorted({a for op in operations for a in DATA_ACTIONS[op]})
