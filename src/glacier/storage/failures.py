"""The one place where Polars, obstore and OS exceptions become :class:`StorageError`.

Object-store clients report problems as an exception type plus the server's reply text; this
module sorts them into the few problems a user can act on, names the URI and the fix, and makes
sure no secret reaches the message. It never imports a cloud SDK or obstore: exception classes
are recognised by name so local-only installs stay light.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum

from glacier.errors import GlacierError, StorageError


class Problem(StrEnum):
    BUCKET_MISSING = "bucket missing"
    BAD_CREDENTIALS = "bad credentials"
    ACCESS_DENIED = "access denied"
    MISSING_OBJECT = "missing object"
    EMPTY_GLOB = "empty glob"


# Checked in order: a missing bucket also comes back as "not found", bad credentials as 403.
_PATTERNS: list[tuple[Problem, re.Pattern[str]]] = [
    (
        Problem.BUCKET_MISSING,
        re.compile(r"NoSuchBucket|ContainerNotFound|no bucket named|bucket does not exist", re.I),
    ),
    (
        Problem.BAD_CREDENTIALS,
        re.compile(
            r"InvalidAccessKeyId|SignatureDoesNotMatch|InvalidClientTokenId|ExpiredToken|"
            r"failed to authenticate|AuthenticationFailed|invalid_grant|401 Unauthorized|"
            r"Unauthenticated|InvalidAuthenticationInfo",
            re.I,
        ),
    ),
    (
        Problem.ACCESS_DENIED,
        re.compile(r"AccessDenied|AuthorizationPermissionMismatch|403 Forbidden|Forbidden", re.I),
    ),
    (Problem.EMPTY_GLOB, re.compile(r"expanded paths were empty", re.I)),
]
_BY_TYPE: dict[str, Problem] = {
    "UnauthenticatedError": Problem.BAD_CREDENTIALS,
    "PermissionDeniedError": Problem.ACCESS_DENIED,
    "PermissionError": Problem.ACCESS_DENIED,
    "NotFoundError": Problem.MISSING_OBJECT,
    "FileNotFoundError": Problem.MISSING_OBJECT,
}


def classify(exc: BaseException) -> Problem | None:
    """Which actionable problem ``exc`` reports, or None for anything else."""
    text = str(exc)
    for problem, pattern in _PATTERNS:
        if pattern.search(text):
            return problem
    for cls in type(exc).__mro__:
        if cls.__name__ in _BY_TYPE:
            return _BY_TYPE[cls.__name__]
    return None


def describe(
    problem: Problem | None, uri: str, bucket: str, action: str, credential_hint: str
) -> str:
    """The user-facing sentence: what is wrong with ``uri`` and how to fix it."""
    if problem is Problem.BUCKET_MISSING:
        return (
            f"Bucket {bucket!r} does not exist ({uri}). Create it{create_command(uri)}; or fix "
            f"the bucket name in the pipeline or the provider config."
        )
    if problem is Problem.BAD_CREDENTIALS:
        return f"The credentials were rejected while trying to {action} {uri}. {credential_hint}"
    if problem is Problem.ACCESS_DENIED:
        return (
            f"Access denied: the credentials in use may not {action} {uri}. Grant that "
            f"identity access to bucket {bucket!r}, or use credentials that have it."
        )
    if problem is Problem.MISSING_OBJECT:
        return f"{uri} does not exist. Check the path, or write the data first."
    if problem is Problem.EMPTY_GLOB:
        return f"No file matches {uri}. Check the pattern, or write the data first."
    return f"Could not {action} {uri}."


_CREATE = {
    "s3": "aws s3 mb s3://{name}",
    "gs": "gcloud storage buckets create gs://{name}",
    "az": "az storage container create -n {name} --account-name <storage account>",
}


def create_command(uri: str) -> str:
    """How to create the bucket of ``uri`` on its cloud ("" for a local folder)."""
    scheme, _, rest = uri.partition("://")
    command = _CREATE.get(scheme)
    if not command:
        return ""
    return (
        f" with `{command.format(name=rest.split('/')[0])}`, or `terraform apply` the module "
        f"`glacier terraform` generates (it creates the pipeline's buckets and staging bucket)"
    )


def storage_error(
    exc: BaseException,
    uri: str,
    bucket: str,
    action: str,
    *,
    secrets: Iterable[str] = (),
    credential_hint: str = "Check the provider's credentials.",
) -> StorageError:
    """A :class:`StorageError` for ``exc`` naming ``uri`` and the fix, with secrets masked."""
    problem = classify(exc)
    if problem is Problem.MISSING_OBJECT and action == "write":
        problem = Problem.BUCKET_MISSING  # a write needs no object, only its bucket
    cause = scrub(_first_line(str(exc)), secrets)
    message = f"{describe(problem, uri, bucket, action, credential_hint)} (cause: {cause})"
    return StorageError(message)


@contextmanager
def translated(
    uri: str,
    bucket: str,
    action: str,
    *,
    secrets: Iterable[str] = (),
    credential_hint: str = "Check the provider's credentials.",
) -> Iterator[None]:
    """Re-raise any non-Glacier exception in the block as a :class:`StorageError`."""
    try:
        yield
    except GlacierError:
        raise
    except Exception as exc:
        secrets = tuple(secrets)
        error = storage_error(
            exc, uri, bucket, action, secrets=secrets, credential_hint=credential_hint
        )
        leaks = any(s and s in str(exc) for s in secrets)
        raise error from (None if leaks else exc)


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _first_line(text: str, limit: int = 300) -> str:
    """The reply's gist: object stores append pages of debug output after the first lines."""
    flat = " ".join(line.strip() for line in text.splitlines()[:4] if line.strip())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."
