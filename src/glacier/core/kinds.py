"""The kinds of compute a task can be bound to: plain data the DAG and every layer above share."""

from enum import StrEnum


class ExecutorKind(StrEnum):
    """What an executor is: ``provider.local()``, ``serverless()``, ``cluster()`` or ``vm()``."""

    LOCAL = "local"
    SERVERLESS = "serverless"
    CLUSTER = "cluster"
    VM = "vm"
