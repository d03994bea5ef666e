"""The deployed functions' handler: an invocation runs with the function's own provider.

The runner's provider config travels in the event (it describes the runner's buckets), but the
function builds its provider from the environment its Terraform set: a laptop's profile and
endpoint never reach it, and pipeline bucket names become the real names of ``GLACIER_BUCKETS``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import cloudpickle  # type: ignore[import-untyped]
import obstore
import polars as pl
import pytest
from obstore.store import ObjectStore

from glacier import ConfigError, Provider
from glacier.config import AwsConfig
from glacier.runtime.cloud import BadEvent, deployed_provider, event_for, handle_event, outcome_of
from glacier.runtime.invocation import WireOutcome, encode
from glacier.runtime.worker import Step
from tests.cloud.fixtures import new_bucket
from tests.cloud.servers import S3Server
from tests.runtime.invocations import invocation

RUNNER = Provider(config=AwsConfig(profile="laptop-only", endpoint_url="http://127.0.0.1:9"))
"""A runner whose profile and endpoint exist nowhere but on its own machine."""


def doubled(limit: int) -> pl.DataFrame:
    return pl.DataFrame({"x": range(limit)}).with_columns(y=pl.col("x") * 2)


def failing() -> pl.DataFrame:
    raise RuntimeError("task broke on purpose")


@pytest.fixture
def deployed(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The environment of a deployed Lambda function (as the generated Terraform sets it)."""
    staging = new_bucket(s3_server, "real-staging").name
    for name in ("AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    environment = {
        "GLACIER_PROVIDER": "aws",
        "AWS_REGION": s3_server.region,
        "AWS_ENDPOINT_URL": s3_server.endpoint,
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_server.access_key,
        "GLACIER_STAGING_BUCKET": staging,
        "GLACIER_BUCKETS": json.dumps({".glacier": staging}),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    deployed_provider.cache_clear()
    yield staging
    deployed_provider.cache_clear()


@pytest.mark.cloud
def test_an_event_runs_the_task_with_the_functions_own_provider(
    deployed: str, s3_server: S3Server
) -> None:
    step = Step(node="doubled", fn=doubled, args=(5,))
    reply = handle_event(event_for(encode(invocation(RUNNER, step, "runs/x/doubled.parquet"))))
    wire = _wire(reply)
    assert wire.ok, wire.traceback
    assert wire.value.uri == f"s3://{deployed}/runs/x/doubled.parquet"
    assert wire.value.rows == 5
    data = s3_server.store(deployed)
    assert pl.read_parquet(io.BytesIO(_get(data, "runs/x/doubled.parquet"))).equals(doubled(5))
    assert deployed_provider().config.profile is None


@pytest.mark.cloud
def test_a_failing_task_comes_back_as_a_failed_outcome(deployed: str) -> None:
    step = Step(node="failing", fn=failing)
    reply = handle_event(event_for(encode(invocation(RUNNER, step, "runs/x/failing.parquet"))))
    wire = _wire(reply)
    assert not wire.ok
    assert wire.failed_node == "failing"
    assert "task broke on purpose" in (wire.traceback or "")


@pytest.mark.parametrize("event", [None, {}, {"invocation": 3}, {"body": "hello"}])
def test_anything_else_is_refused(event: object) -> None:
    with pytest.raises(BadEvent, match="not called directly"):
        handle_event(event)  # type: ignore[arg-type]


def test_an_invocation_that_is_not_base64_is_refused() -> None:
    with pytest.raises(BadEvent, match="not base64"):
        handle_event({"invocation": "not base64!"})


@pytest.mark.parametrize("value", [None, "local"])
def test_a_function_without_its_cloud_in_the_environment_says_so(
    value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv("GLACIER_PROVIDER", raising=False)
    else:
        monkeypatch.setenv("GLACIER_PROVIDER", value)
    deployed_provider.cache_clear()
    step = Step(node="doubled", fn=doubled, args=(1,))
    with pytest.raises(ConfigError, match=r"GLACIER_PROVIDER is .* the generated Terraform sets"):
        handle_event(event_for(encode(invocation(RUNNER, step, "runs/x/doubled.parquet"))))
    deployed_provider.cache_clear()


def _wire(reply: dict[str, str]) -> WireOutcome:
    wire: WireOutcome = cloudpickle.loads(outcome_of(reply))
    return wire


def _get(store: ObjectStore, key: str) -> bytes:
    return bytes(obstore.get(store, key).bytes())
