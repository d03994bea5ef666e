"""GCP configs: what Provider.from_env reads on GCP."""

from __future__ import annotations

from glacier import Provider
from glacier.config import GcpConfig


def test_from_env_gcp() -> None:
    gcp = Provider.from_env({"GLACIER_PROVIDER": "gcp", "GCLOUD_PROJECT": "my-project-123"})
    assert gcp.config == GcpConfig(project_id="my-project-123")
