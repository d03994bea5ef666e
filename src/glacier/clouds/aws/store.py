"""Amazon S3 and S3-compatible stores (MinIO, R2, Ceph, moto) for an :class:`AwsConfig`.

Credentials: ``AwsConfig.profile`` and ``assume_role_arn`` are resolved once through boto3 into
temporary keys; else ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``;
else object_store's own chain (web identity, ECS and EC2 instance roles).

The standard variables, as boto3 and the AWS CLI read them, fill what the config leaves unset:
``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` (LocalStack, MinIO), ``AWS_REGION`` or
``AWS_DEFAULT_REGION`` (when ``region`` is left at its default) and ``AWS_ALLOW_HTTP``.
"""

from __future__ import annotations

from typing import Any

from glacier.clouds.aws.config import AwsConfig
from glacier.errors import StorageError
from glacier.storage.cloud import (
    Access,
    CloudStore,
    endpoint_options,
    environment_secrets,
    first_variable,
)
from glacier.storage.failures import storage_error

HINT = (
    "Glacier signs S3 requests with AwsConfig.profile / assume_role_arn when set, else the "
    "standard AWS chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, web identity, instance "
    "role). Renew or fix those credentials, or point the config at another profile."
)


# (object_store option, the standard variable that sets it)
_KEY_VARIABLES = (
    ("aws_access_key_id", "AWS_ACCESS_KEY_ID"),
    ("aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
    ("aws_session_token", "AWS_SESSION_TOKEN"),
)


def open_store(config: AwsConfig) -> CloudStore:
    endpoint = config.endpoint_url or first_variable("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    region = config.region
    if region == AwsConfig.region:  # left at the default: the environment's region, if any
        region = first_variable("AWS_REGION", "AWS_DEFAULT_REGION") or region
    options = {
        "aws_region": region,
        **endpoint_options(endpoint, "aws_endpoint", first_variable("AWS_ALLOW_HTTP")),
    }
    secrets = environment_secrets("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    if config.profile or config.assume_role_arn:
        resolved = session_credentials(config)
        options.update(resolved)
        secrets += (resolved["aws_secret_access_key"], resolved.get("aws_session_token", ""))
    else:
        options.update(
            {option: value for option, name in _KEY_VARIABLES if (value := first_variable(name))}
        )
    access = Access(options, secrets, HINT, endpoint)
    return CloudStore(config, "S3Store", access)


def session_credentials(config: AwsConfig) -> dict[str, str]:
    """Keys for the profile, or for the role assumed from it (boto3 from ``glacier[aws]``)."""
    what = f"AWS profile {config.profile!r}" if config.profile else "the default AWS credentials"
    try:
        import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 - lazy: an optional SDK, only for profiles/roles
    except ImportError:
        raise StorageError(
            "AwsConfig.profile / assume_role_arn need boto3. Install it with "
            "pip install 'glacier-pipelines[aws]'."
        ) from None
    try:
        session = boto3.Session(profile_name=config.profile, region_name=config.region)
        if config.assume_role_arn:
            sts: Any = session.client("sts", endpoint_url=config.endpoint_url)
            reply = sts.assume_role(
                RoleArn=config.assume_role_arn,
                RoleSessionName="glacier",
                DurationSeconds=config.session_duration,
            )["Credentials"]
            return {
                "aws_access_key_id": reply["AccessKeyId"],
                "aws_secret_access_key": reply["SecretAccessKey"],
                "aws_session_token": reply["SessionToken"],
            }
        found = session.get_credentials()
    except Exception as exc:
        target = config.assume_role_arn or what
        error = storage_error(exc, f"s3:// ({target})", "", "authenticate as", credential_hint=HINT)
        raise error from None  # boto3's message may quote the profile's keys
    if found is None:
        raise StorageError(f"No credentials found for {what}. {HINT}")
    frozen = found.get_frozen_credentials()
    keys = {"aws_access_key_id": frozen.access_key, "aws_secret_access_key": frozen.secret_key}
    if frozen.token:
        keys["aws_session_token"] = frozen.token
    return keys
