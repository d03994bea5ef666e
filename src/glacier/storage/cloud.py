"""Object stores in the clouds, through obstore (objects) and Polars (frames).

One options dict of ``object_store`` config keys (all strings) feeds both: Polars takes it as
``storage_options``, obstore as ``config``. Each cloud's ``glacier/clouds/<cloud>/store.py``
only turns a provider config into that dict; everything else is shared here.

Single-object writes go straight to the final key: every supported store publishes an object
only when its upload (single or multipart) completes, so readers see the old object or the new
one, never a part; a failed or killed upload leaves the old object in place. An upload on
behalf of a revocable attempt (one with a :class:`~glacier.storage.commit.CommitToken`) goes
to a temporary key first and is copied into place under the token, since the upload may
still be computing a lazy frame when the scheduler gives up on the attempt.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import obstore
from obstore import store as obstore_stores

from glacier.clouds import CLOUDS
from glacier.config.provider import ProviderConfig
from glacier.storage import store_for
from glacier.storage.base import Listing, ObjectInfo, ObjectStore
from glacier.storage.commit import CommitToken, committing
from glacier.storage.failures import Problem, classify
from glacier.storage.paths import glob_regex, has_glob, is_temp, static_prefix, temp_key


@dataclass(frozen=True)
class Access:
    """How to reach one cloud's storage: object_store options, and which of them are secret."""

    options: dict[str, str]
    secrets: tuple[str, ...] = ()
    credential_hint: str = "Check the provider's credentials."
    endpoint: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    """The standard variables that carry the config's secrets to worker processes."""


class CloudStore(ObjectStore):
    """Buckets of one cloud account or project, addressed as ``scheme://bucket/key``."""

    def __init__(self, config: ProviderConfig, store_class: str, access: Access) -> None:
        self.config = config
        self.scheme = CLOUDS[config.cloud].schemes[0]
        self.credential_hint = access.credential_hint
        self._store_class: Callable[..., obstore_stores.ObjectStore] = getattr(
            obstore_stores, store_class
        )
        self._access = access
        self._clients: dict[str, obstore_stores.ObjectStore] = {}
        self._real_names = dict(config.bucket_names)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        where = f", endpoint={self._access.endpoint!r}" if self._access.endpoint else ""
        return f"CloudStore({self.scheme}://{where})"

    def __reduce__(self) -> tuple[Any, ...]:
        """Re-open from the config on unpickling, so no resolved credential is ever shipped."""
        return (store_for, (self.config,))

    # -- ObjectStore --------------------------------------------------------------------------

    def uri(self, bucket: str, key: str) -> str:
        return f"{self.scheme}://{self.real_name(bucket)}/{key}"

    def real_name(self, bucket: str) -> str:
        """The bucket's name on the cloud: a pipeline's ``raw`` is ``<name_prefix>-raw`` there."""
        return self._real_names.get(bucket, bucket)

    def storage_options(self) -> dict[str, Any]:
        return dict(self._access.options)

    def secrets(self) -> tuple[str, ...]:
        return self._access.secrets

    def worker_environment(self) -> dict[str, str]:
        return dict(self._access.environment)

    def bucket_exists(self, bucket: str) -> bool:
        try:
            next(iter(obstore.list(self._client(bucket), chunk_size=1)), None)
        except Exception as exc:
            if classify(exc) is Problem.BUCKET_MISSING:
                return False
            with self.errors(bucket, "", "list"):
                raise
        return True

    def list(self, bucket: str, pattern: str) -> list[ObjectInfo]:
        client = self._client(bucket)
        with self.errors(bucket, pattern, "list"):
            if not has_glob(pattern):
                try:
                    return [_info(obstore.head(client, pattern))]
                except FileNotFoundError:
                    return []
                except Exception as exc:
                    if classify(exc) is Problem.ACCESS_DENIED:
                        _explain_denied_head(client, pattern)
                    raise
            regex = glob_regex(pattern)
            try:
                found = [
                    _info(meta)
                    for batch in obstore.list(client, prefix=static_prefix(pattern) or None)
                    for meta in batch
                    if regex.match(meta["path"]) and not is_temp(meta["path"])
                ]
            except Exception as exc:
                if classify(exc) is Problem.BUCKET_MISSING:
                    return []  # as a glob over a missing folder; callers ask bucket_exists
                raise
        return sorted(found, key=lambda o: o.key)

    def list_all(self, bucket: str, prefix: str) -> Listing:
        with self.errors(bucket, prefix, "list"):
            try:
                found = [
                    _info(meta)
                    for batch in obstore.list(self._client(bucket), prefix=prefix or None)
                    for meta in batch
                ]
            except Exception as exc:
                if classify(exc) is Problem.BUCKET_MISSING:
                    return []
                raise
        return sorted(found, key=lambda o: o.key)

    def list_prefix(self, bucket: str, prefix: str) -> Listing:
        # One level, as the keys it finds (a write's temporaries) sit beside their target: a
        # write to a bucket's top level must not list the whole bucket.
        folder = prefix.rpartition("/")[0]
        with self.errors(bucket, prefix, "list"):
            try:
                found = obstore.list_with_delimiter(self._client(bucket), prefix=folder or None)
            except Exception as exc:
                if classify(exc) is Problem.BUCKET_MISSING:
                    return []
                raise
        return sorted(
            (_info(meta) for meta in found["objects"] if meta["path"].startswith(prefix)),
            key=lambda o: o.key,
        )

    def write_atomic(
        self,
        bucket: str,
        key: str,
        writer: Callable[[str], None],
        token: CommitToken | None = None,
    ) -> None:
        uri = self.uri(bucket, key)
        with self.errors(bucket, key, "write"):
            if token is None:
                writer(uri)
                return
            temp = temp_key(key)
            try:
                writer(self.uri(bucket, temp))
                with committing(token, uri):
                    obstore.copy(self._client(bucket), temp, key)
            finally:
                with contextlib.suppress(Exception):  # a leftover is cleaned up later
                    obstore.delete(self._client(bucket), temp)

    def put_bytes(
        self, bucket: str, key: str, data: bytes, token: CommitToken | None = None
    ) -> None:
        with self.errors(bucket, key, "write"), committing(token, self.uri(bucket, key)):
            obstore.put(self._client(bucket), key, data)

    def get_bytes(self, bucket: str, key: str) -> bytes | None:
        with self.errors(bucket, key, "read"):
            try:
                return bytes(obstore.get(self._client(bucket), key).bytes())
            except FileNotFoundError:
                return None

    def delete_many(self, bucket: str, keys: Sequence[str]) -> None:
        if not keys:
            return
        client = self._client(bucket)
        with self.errors(bucket, keys[0], "delete"):
            try:
                obstore.delete(client, list(keys))
            except FileNotFoundError:  # some stores refuse the batch if one key is gone
                for key in keys:
                    with contextlib.suppress(FileNotFoundError):
                        obstore.delete(client, key)

    # -- internals ----------------------------------------------------------------------------

    def _client(self, bucket: str) -> obstore_stores.ObjectStore:
        with self._lock:
            client = self._clients.get(bucket)
            if client is None:
                client = self._store_class(
                    self.real_name(bucket), config=dict(self._access.options)
                )
                self._clients[bucket] = client
            return client


def endpoint_options(
    endpoint: str | None, key: str | None, allow_http: str | None = None
) -> dict[str, str]:
    """``{key: endpoint}``, allowing plain HTTP when the endpoint uses it (emulators).

    ``allow_http`` is the user's own setting (``AWS_ALLOW_HTTP``), which wins when given.
    """
    if not endpoint:
        return {}
    options = {key: endpoint} if key else {}
    if allow_http:
        options["allow_http"] = allow_http
    elif endpoint.startswith("http://"):
        options["allow_http"] = "true"
    return options


def first_variable(*names: str) -> str | None:
    """The value of the first of a cloud's standard variables ``names`` that is set.

    Each cloud's store resolves these itself and passes them explicitly, so Polars and obstore
    get one and the same complete config: left to read the environment on their own, they read
    different subsets of it (obstore took ``AWS_ENDPOINT_URL`` but not that HTTP was allowed).
    """
    return next((value for name in names if (value := os.environ.get(name))), None)


def environment_secrets(*names: str) -> tuple[str, ...]:
    """Secrets the client may pick up from the environment, so errors can mask them too."""
    return tuple(value for name in names if (value := os.environ.get(name)))


def _explain_denied_head(client: obstore_stores.ObjectStore, key: str) -> None:
    """A HEAD reply has no body, so a bad key and a missing permission both read "403".

    A one-item listing carries the server's error code; if it fails, raise that instead.
    """
    next(iter(obstore.list(client, prefix=key, chunk_size=1)), None)


def _info(meta: Any) -> ObjectInfo:
    return ObjectInfo(
        key=meta["path"],
        size=int(meta["size"]),
        modified=meta["last_modified"],
        version=str(meta.get("version") or meta.get("e_tag") or meta["last_modified"]),
    )
