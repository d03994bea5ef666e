"""Google Cloud Storage (and fake-gcs-server) for a :class:`GcpConfig`.

Credentials: ``service_account_key`` (the JSON itself), else ``credentials_path``, else
``GOOGLE_APPLICATION_CREDENTIALS``, else the metadata server. With ``endpoint_url`` or the
standard ``STORAGE_EMULATOR_HOST`` set (``host:port`` or a URL, as the Google SDKs accept it),
requests go unsigned to that emulator.
"""

from __future__ import annotations

import json
import os

from glacier.clouds.gcp.config import GcpConfig
from glacier.storage.cloud import Access, CloudStore, endpoint_options, first_variable

KEY_VARIABLE = "GOOGLE_SERVICE_ACCOUNT_KEY"
"""Carries GcpConfig.service_account_key to worker processes (as object_store names it)."""

HINT = (
    "Glacier authenticates to GCS with GcpConfig.service_account_key or credentials_path when "
    "set, else GOOGLE_APPLICATION_CREDENTIALS or the metadata server. Check that the service "
    "account key is current and belongs to the right project."
)


def open_store(config: GcpConfig) -> CloudStore:
    options: dict[str, str] = {}
    secrets: tuple[str, ...] = ()
    environment: dict[str, str] = {}
    endpoint = config.endpoint_url or emulator_url(first_variable("STORAGE_EMULATOR_HOST"))
    credentials_path = config.credentials_path or first_variable("GOOGLE_APPLICATION_CREDENTIALS")
    if endpoint:
        options["google_service_account_key"] = emulator_key(endpoint)
        options.update(endpoint_options(endpoint, None))  # the URL is in the key
    elif key := config.service_account_key or os.environ.get(KEY_VARIABLE):
        options["google_service_account_key"] = key
        secrets = (key, *_private_key(key))
        environment[KEY_VARIABLE] = key
    elif credentials_path:
        options["google_application_credentials"] = credentials_path
    return CloudStore(config, "GCSStore", Access(options, secrets, HINT, endpoint, environment))


def emulator_url(host: str | None) -> str | None:
    """``STORAGE_EMULATOR_HOST`` as a URL: the Google SDKs take ``host:port`` as plain HTTP."""
    if not host:
        return None
    return host if "://" in host else f"http://{host}"


def emulator_key(endpoint: str) -> str:
    """The anonymous "service account" object_store uses to reach an emulator unsigned."""
    return json.dumps(
        {
            "gcs_base_url": endpoint.rstrip("/"),
            "disable_oauth": True,
            "client_email": "",
            "private_key": "",
            "private_key_id": "",
        }
    )


def _private_key(key_json: str) -> tuple[str, ...]:
    try:
        value = json.loads(key_json).get("private_key")
    except (ValueError, AttributeError):
        return ()
    return (value,) if isinstance(value, str) and value else ()
