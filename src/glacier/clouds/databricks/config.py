"""``DatabricksConfig``: a portable cluster config, since Databricks runs on every cloud."""

from __future__ import annotations

import dataclasses

from glacier.config.base import check_pattern
from glacier.config.compute import ClusterConfig


@dataclasses.dataclass(frozen=True, kw_only=True)
class DatabricksConfig(ClusterConfig):
    """Databricks, on any cloud: an existing ``cluster_id`` or a cluster Glacier provisions."""

    cluster_id: str | None = None
    """An existing cluster (``0123-456789-abcdefgh``); None: Glacier provisions one."""
    num_workers: int | None = None
    """Databricks' name for ``workers``; give either."""
    spark_version: str = "15.4.x-scala2.12"
    """Databricks Runtime of a provisioned cluster, e.g. ``15.4.x-scala2.12``."""
    host: str | None = None
    """Workspace URL (``https://...``); None: Terraform asks for it on AWS and GCP, and creates
    a workspace on Azure.
    """

    def validate(self) -> None:
        self._alias_workers("num_workers", self.num_workers)
        super().validate()
        check_pattern(
            self, "cluster_id", self.cluster_id, r"\d{4}-\d{6}-[a-z0-9]{8}", "0123-456789-abcdefgh"
        )
        check_pattern(
            self, "spark_version", self.spark_version, r"\d+\.\d+\.[x\d]+-\S+", "15.4.x-scala2.12"
        )
        check_pattern(
            self, "host", self.host, r"https://[\w.-]+/?", "https://adb-1.azuredatabricks.net"
        )
