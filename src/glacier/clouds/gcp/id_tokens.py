"""Google ID tokens for one audience (a Cloud Function's URL), over ``urllib``.

google-auth's own HTTP transport needs ``requests``, which the ``gcp`` extra does not install,
so :class:`UrllibRequest` gives it the standard library's. Imported only when cloud mode calls a
deployed function, so ``import glacier`` never loads google-auth.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from http.client import HTTPException
from typing import Any

from google.auth import exceptions, transport
from google.oauth2 import id_token, service_account

from glacier.clouds.gcp.config import GcpConfig
from glacier.errors import DeploymentError

TOKEN_TIMEOUT = 30.0


class IdTokens:
    """Tokens for ``audience``, kept until google-auth deems them about to expire (its refresh
    threshold is a few minutes before a token's hour is up)."""

    def __init__(self, audience: str, provider: object) -> None:
        self.audience = audience
        self.provider = provider if isinstance(provider, GcpConfig) else None
        self._lock = threading.Lock()
        self._credentials: Any = None

    def get(self, what: str) -> str:
        """A valid token; ``what`` names the caller's function in the error."""
        with self._lock:
            try:
                if self._credentials is None:
                    self._credentials = self._open()
                if not self._credentials.valid:
                    self._credentials.refresh(UrllibRequest())
            except (exceptions.GoogleAuthError, OSError, ValueError) as exc:
                raise DeploymentError(
                    f"could not get an ID token to call {what} ({exc}). Point credentials_path "
                    f"(or GOOGLE_APPLICATION_CREDENTIALS) at a service-account key, or run "
                    f"where the metadata server answers; user credentials from `gcloud auth "
                    f"application-default login` cannot mint ID tokens."
                ) from exc
            return str(self._credentials.token)

    def _open(self) -> Any:
        """Credentials for the provider's key when it names one, else the environment's."""
        config = self.provider
        if config is not None and config.service_account_key:
            info = json.loads(config.service_account_key)
            return service_account.IDTokenCredentials.from_service_account_info(  # type: ignore[no-untyped-call]
                info, target_audience=self.audience
            )
        if config is not None and config.credentials_path:
            path = config.credentials_path
            return service_account.IDTokenCredentials.from_service_account_file(  # type: ignore[no-untyped-call]
                path, target_audience=self.audience
            )
        return id_token.fetch_id_token_credentials(self.audience, UrllibRequest())  # type: ignore[no-untyped-call]


class _Response(transport.Response):
    def __init__(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
        self._status, self._headers, self._data = status, headers, data

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    @property
    def data(self) -> bytes:
        return self._data


class UrllibRequest(transport.Request):
    """google-auth's HTTP transport interface, served by ``urllib.request``."""

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Response:
        request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(request, timeout=timeout or TOKEN_TIMEOUT) as r:
                return _Response(r.status, dict(r.headers), r.read())
        except urllib.error.HTTPError as exc:
            return _Response(exc.code, dict(exc.headers), exc.read())
        except (OSError, HTTPException) as exc:
            raise exceptions.TransportError(exc) from exc  # type: ignore[no-untyped-call]
