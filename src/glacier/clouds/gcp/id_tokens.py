"""Google tokens over ``urllib``: ID tokens for one audience (a Cloud Function's URL), access
tokens for the cloud-platform scope (Dataproc's API), each kept until it is about to expire.

google-auth's own HTTP transport needs ``requests``, which the ``gcp`` extra does not install,
so :class:`UrllibRequest` gives it the standard library's. Imported only when cloud mode calls a
deployed function or cluster, so ``import glacier`` never loads google-auth.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Mapping
from http.client import HTTPException
from typing import Any, ClassVar

import google.auth
from google.auth import exceptions, transport
from google.oauth2 import id_token, service_account

from glacier.clouds.gcp.config import GcpConfig
from glacier.errors import DeploymentError

TOKEN_TIMEOUT = 30.0
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"


class _Tokens:
    """Tokens of one kind, kept until google-auth deems them about to expire (its refresh
    threshold is a few minutes before a token's hour is up)."""

    kind: ClassVar[str]
    """What a token is, for the error ("an ID token")."""
    fix: ClassVar[str]
    """How to get credentials that can mint one, for the error."""

    def __init__(self, provider: object) -> None:
        self.provider = provider if isinstance(provider, GcpConfig) else None
        self._lock = threading.Lock()
        self._credentials: Any = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def get(self, what: str) -> str:
        """A valid token; ``what`` names the caller's function or cluster in the error."""
        with self._lock:
            try:
                if self._credentials is None:
                    self._credentials = self._open()
                if not self._credentials.valid:
                    self._credentials.refresh(UrllibRequest())
            except (exceptions.GoogleAuthError, OSError, ValueError) as exc:
                raise DeploymentError(
                    f"could not get {self.kind} to call {what} ({exc}). {self.fix}"
                ) from exc
            return str(self._credentials.token)

    def _open(self) -> Any:
        """Credentials for the provider's key when it names one, else the environment's."""
        config = self.provider
        if config is not None and config.service_account_key:
            return self._from_key(json.loads(config.service_account_key))
        if config is not None and config.credentials_path:
            return self._from_file(config.credentials_path)
        return self._from_environment()

    def _from_key(self, info: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def _from_file(self, path: str) -> Any:
        raise NotImplementedError

    def _from_environment(self) -> Any:
        raise NotImplementedError


class IdTokens(_Tokens):
    """ID tokens for ``audience`` (a Cloud Function's URL)."""

    kind = "an ID token"
    fix = (
        "Point credentials_path (or GOOGLE_APPLICATION_CREDENTIALS) at a service-account key, "
        "or run where the metadata server answers; user credentials from `gcloud auth "
        "application-default login` cannot mint ID tokens."
    )

    def __init__(self, audience: str, provider: object) -> None:
        super().__init__(provider)
        self.audience = audience

    def _from_key(self, info: Mapping[str, Any]) -> Any:
        return service_account.IDTokenCredentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, target_audience=self.audience
        )

    def _from_file(self, path: str) -> Any:
        return service_account.IDTokenCredentials.from_service_account_file(  # type: ignore[no-untyped-call]
            path, target_audience=self.audience
        )

    def _from_environment(self) -> Any:
        return id_token.fetch_id_token_credentials(self.audience, UrllibRequest())  # type: ignore[no-untyped-call]


class AccessTokens(_Tokens):
    """OAuth access tokens for the cloud-platform scope (Dataproc's REST API)."""

    kind = "an access token"
    fix = (
        "Point credentials_path (or GOOGLE_APPLICATION_CREDENTIALS) at a service-account key, "
        "run `gcloud auth application-default login`, or run where the metadata server answers."
    )

    def _from_key(self, info: Mapping[str, Any]) -> Any:
        return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=[CLOUD_PLATFORM]
        )

    def _from_file(self, path: str) -> Any:
        return service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            path, scopes=[CLOUD_PLATFORM]
        )

    def _from_environment(self) -> Any:
        credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM])
        return credentials


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
