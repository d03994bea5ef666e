"""What each kind of bucket access does to objects: the one declaration grants are derived from.

The runtime's storage code paths and every cloud's IAM grants both follow this table, so a
deployed executor is allowed exactly what the code it runs does. A write is more than a put: it
reads back what it wrote (the row count of a written frame, a multi-file commit marker), lists
and deletes temporaries and the parts a new commit replaces.
"""

from enum import StrEnum


class Operation(StrEnum):
    LIST = "list"
    """List keys under a prefix: globs, ``exists()``, a dataset's parts."""
    GET = "get"
    """Read an object or its metadata (size, etag, generation)."""
    PUT = "put"
    """Create or replace an object."""
    DELETE = "delete"
    """Remove an object: temporaries, replaced parts, expired hand-offs."""


class Access(StrEnum):
    READ = "read"
    WRITE = "write"
    """Includes committing: a multi-file write is visible only once its marker is written."""


OPERATIONS: dict[Access, frozenset[Operation]] = {
    Access.READ: frozenset({Operation.LIST, Operation.GET}),
    Access.WRITE: frozenset({Operation.LIST, Operation.GET, Operation.PUT, Operation.DELETE}),
}


def operations_for(reads: bool, writes: bool) -> frozenset[Operation]:
    """Everything an executor that reads and/or writes a bucket does to its objects."""
    granted: frozenset[Operation] = frozenset()
    if reads:
        granted |= OPERATIONS[Access.READ]
    if writes:
        granted |= OPERATIONS[Access.WRITE]
    return granted


def role_suffix(operations: frozenset[Operation], sep: str = "_") -> str:
    """A stable name for an operation set (``list_get``, ``list_get_put_delete``), for roles."""
    return sep.join(op.value for op in Operation if op in operations)
