"""What an Azure deployment needs beyond valid HCL: what a runner needs to call a function, an
environment the deployed code configures itself from, container roles that match the runtime,
VMs that need no subscription feature, and packages that carry their dependencies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

from glacier import Provider
from glacier.clouds.azure import iam
from glacier.clouds.azure.config import AzureConfig
from glacier.clouds.azure.package import FUNCTION_ROUTE, HANDLER
from glacier.infra import artifacts
from glacier.infra.package import build
from glacier.storage.access import Operation, operations_for
from tests.infra.deployed import blocks, environment, example, parsed
from tests.infra.handlers import assert_refuses_other_code, call, other_code_event, unpack
from tests.infra.pipelines import PROVIDERS, heterogeneous, portable
from tests.infra.test_package import names

ROOT = Path(__file__).resolve().parents[3]
SITE = ".python_packages/lib/site-packages"
KNOWN = {
    "var.subscription_id": "11111111-2222-3333-4444-555555555555",
    "azurerm_resource_group.glacier.name": "my-rg",
    "azurerm_storage_account.data.name": "mydata",
    "azurerm_storage_account.host.name": "myhost",
    "azurerm_user_assigned_identity.serverless.client_id": "client-1",
}


def test_the_runner_gets_each_function_url_and_key() -> None:
    files = parsed(portable(PROVIDERS["azure"]), "azure")
    apps = blocks(files, "resource", "azurerm_function_app_flex_consumption")
    keys = blocks(files, "data", "azurerm_function_app_host_keys")
    assert set(keys) == set(apps) == {"parse", "join"}
    for name, key in keys.items():
        assert key["name"] == f"${{azurerm_function_app_flex_consumption.{name}.name}}"
    outputs = {k.strip('"'): v for e in files["outputs.tf"]["output"] for k, v in e.items()}
    assert outputs["function_keys"]["sensitive"] is True
    assert outputs["function_keys"]["value"] == {
        name: f"${{data.azurerm_function_app_host_keys.{name}.default_function_key}}"
        for name in apps
    }
    # the URL is the handler's route, which takes the function key (AuthLevel.FUNCTION)
    url = outputs["functions"]["value"]["parse"]["url"]
    assert url.endswith(f'/api/{FUNCTION_ROUTE}"')
    assert f'route="{FUNCTION_ROUTE}"' in HANDLER and "AuthLevel.FUNCTION" in HANDLER


def test_no_function_no_key_output() -> None:
    files = parsed(example("simple_pipeline"), "azure")
    outputs = {k.strip('"') for e in files["outputs.tf"]["output"] for k in e}
    assert "function_keys" not in outputs


def _app_settings(pipeline: Any, digest: str | None = None) -> dict[str, str]:
    """The function's app settings as its Terraform sets them (``digest``: the manifest's)."""
    files = parsed(pipeline, "azure")
    (app,) = blocks(files, "resource", "azurerm_function_app_flex_consumption").values()
    known = {**KNOWN, **({"local.glacier_manifest.digest": digest} if digest else {})}
    return environment(app["app_settings"], known)


def test_the_app_settings_are_what_from_env_reads() -> None:
    settings = _app_settings(example("cloud_agnostic_pipeline"))
    assert settings["AZURE_CLIENT_ID"] == "client-1"  # the executor's own identity
    config = Provider.from_env(settings).config
    assert isinstance(config, AzureConfig)
    assert (config.subscription_id, config.resource_group, config.storage_account) == (
        KNOWN["var.subscription_id"],
        "my-rg",
        "mydata",
    )
    assert config.bucket_names == {"glacier-staging": "real-glacier-staging"}


def test_every_globally_named_resource_starts_with_the_name_prefix() -> None:
    files = parsed(example("heterogeneous_pipeline"), "azure")
    for tf_type in (
        "azurerm_storage_account",  # global DNS names
        "azurerm_function_app_flex_consumption",  # <name>.azurewebsites.net
        "azurerm_role_definition",  # unique in the tenant
        "azurerm_user_assigned_identity",
        "azurerm_linux_virtual_machine",
        "azurerm_databricks_workspace",
    ):
        found = blocks(files, "resource", tf_type)
        assert found, tf_type
        for label, body in found.items():
            assert "${local.name_prefix}" in body["name"], (tf_type, label)


def test_the_pipeline_module_imports_with_only_the_app_settings() -> None:
    """Before the subscription and group were set, the import failed in `Provider.from_env()`."""
    settings = _app_settings(example("cloud_agnostic_pipeline"))
    done = subprocess.run(
        [sys.executable, "-c", "import cloud_agnostic_pipeline as p; print(p.provider.config)"],
        env={
            **settings,
            "PATH": os.environ["PATH"],
            "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'examples'}",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "resource_group='my-rg'" in done.stdout


def test_container_roles_hold_exactly_the_declared_data_actions() -> None:
    files = parsed(portable(PROVIDERS["azure"]), "azure")
    definitions = {
        f"${{azurerm_role_definition.{label}.role_definition_resource_id}}": sorted(
            a.strip('"') for a in d["permissions"][0]["data_actions"]
        )
        for label, d in blocks(files, "resource", "azurerm_role_definition").items()
    }
    assignments = blocks(files, "resource", "azurerm_role_assignment")
    blobs = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
    read = [f"{blobs}/read"]
    write = [f"{blobs}/delete", f"{blobs}/read", f"{blobs}/write"]
    assert iam.data_actions(operations_for(reads=True, writes=False)) == read
    assert iam.data_actions(operations_for(reads=False, writes=True)) == write
    assert definitions[assignments["parse_orders"]["role_definition_id"]] == read
    assert definitions[assignments["join_warehouse"]["role_definition_id"]] == write
    assert assignments["join_warehouse"]["scope"] == ("${azurerm_storage_container.warehouse.id}")
    for definition in blocks(files, "resource", "azurerm_role_definition").values():
        assert definition["assignable_scopes"] == ["${azurerm_storage_account.data.id}"]
        assert "actions" not in definition["permissions"][0]  # no control-plane rights


def test_every_operation_has_a_data_action() -> None:
    assert set(iam.DATA_ACTIONS) == set(Operation)


def test_vms_need_no_subscription_feature() -> None:
    files = parsed(heterogeneous("azure"), "azure")
    vm = blocks(files, "resource", "azurerm_linux_virtual_machine")["worker"]
    assert "encryption_at_host_enabled" not in vm  # needs Microsoft.Compute/EncryptionAtHost
    assert vm["source_image_reference"][0]["offer"] == '"ubuntu-24_04-lts"'  # Python 3.12


def _package(tmp_path: Path, dependencies: bool = True) -> Path:
    pipeline = example("cloud_agnostic_pipeline")
    written = build(pipeline, tmp_path / "out", "azure", dependencies=dependencies)
    zip_path = tmp_path / "out" / artifacts.code_zip("serverless")  # next to the cluster's wheel
    assert zip_path in written
    return zip_path


@pytest.mark.network
def test_the_package_vendors_its_dependencies(tmp_path: Path) -> None:
    inside = names(_package(tmp_path))
    for package in ("polars", "obstore", "azure/functions"):
        assert f"{SITE}/{package}/__init__.py" in inside, package
    assert f"{SITE}/cloudpickle/__init__.py" not in inside  # tasks are imported by name


HANDLER_CHECK = """
import json, sys
import azure.functions as func
import glacier, function_app
(function,) = function_app.app.get_functions()
run = function.get_user_function()
def post(body):
    headers = {"Content-Type": "application/json"}
    reply = run(func.HttpRequest("POST", "/api/run", body=body, headers=headers))
    return [reply.status_code, reply.mimetype, json.loads(reply.get_body())]
bodies = [b"not json", b'{"body": "hello"}', sys.argv[1].encode()]
print(json.dumps({"glacier": glacier.__file__, "replies": [post(b) for b in bodies]}))
"""


def _handler_replies(tmp_path: Path, dependencies: bool) -> tuple[dict[str, Any], str]:
    """The generated function_app called as the Functions host calls it, from the unzipped
    package with only its app settings (and its vendored packages, when built)."""
    package = _package(tmp_path, dependencies)
    digest = json.loads((tmp_path / "out" / artifacts.MANIFEST).read_text())["digest"]
    app = unpack(package, tmp_path / "app")
    settings = _app_settings(example("cloud_agnostic_pipeline"), digest)
    event = other_code_event("store_revenue", "cloud_agnostic_pipeline")
    if not dependencies:
        return call(HANDLER_CHECK, app, settings, event), digest
    venv.create(tmp_path / "venv", with_pip=False)
    python = str(tmp_path / "venv/bin/python")
    return call(HANDLER_CHECK, app, settings, event, python=python, paths=[app / SITE]), digest


def _check_replies(seen: dict[str, Any], digest: str) -> None:
    *refused, (status, mimetype, reply) = seen["replies"]
    for bad_status, bad_type, bad in refused:
        assert (bad_status, bad_type, bad["error"]) == (400, "application/json", "BadEvent")
        assert bad["message"].startswith("The event is not a Glacier invocation")
    assert (status, mimetype) == (200, "application/json")
    assert_refuses_other_code(reply, digest)


def test_the_handler_answers_json_from_the_package(tmp_path: Path) -> None:
    """The generated handler calls glacier.deployed.handle_event: JSON out, 400 for a body that
    is not an invocation (or not JSON)."""
    _check_replies(*_handler_replies(tmp_path, dependencies=False))


@pytest.mark.network
def test_the_handler_runs_in_a_fresh_environment(tmp_path: Path) -> None:
    """Only the package (its vendored packages) and the app settings, as the host runs it."""
    _check_replies(*_handler_replies(tmp_path, dependencies=True))


def test_vms_boot_from_the_package_in_the_artifacts_container_with_their_environment() -> None:
    files = parsed(heterogeneous("azure"), "azure")
    vm = blocks(files, "resource", "azurerm_linux_virtual_machine")["worker"]
    script = vm["custom_data"]
    assert "client_id=${azurerm_user_assigned_identity.worker.client_id}" in script
    assert "-o /opt/glacier/package.zip ${azurerm_storage_blob.vm_package.url}" in script
    for variable in ("GLACIER_PROVIDER", "AZURE_SUBSCRIPTION_ID", "AZURE_CLIENT_ID"):
        assert variable in script
    blob = blocks(files, "resource", "azurerm_storage_blob")["vm_package"]
    assert blob["source"] == '"${path.module}/build/vm-x86_64.zip"'
    reader = blocks(files, "resource", "azurerm_role_assignment")["worker_artifacts"]
    assert reader["scope"] == "${azurerm_storage_container.artifacts.id}"
    definitions = blocks(files, "resource", "azurerm_role_definition")
    label = reader["role_definition_id"].split(".")[1]
    blobs = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
    assert definitions[label]["permissions"][0]["data_actions"] == [f'"{blobs}/read"']


def test_the_workers_join_a_scheduler_vm_the_module_runs() -> None:
    """As on AWS: one scheduler VM, TLS, reachable on 8786 from the scheduler CIDR; the workers
    get its address, and so does the runner (the output)."""
    files = parsed(heterogeneous("azure"), "azure")
    vms = blocks(files, "resource", "azurerm_linux_virtual_machine")
    assert set(vms) == {"worker", "dask_scheduler"}
    address = "tls://${azurerm_network_interface.dask_scheduler.private_ip_address}:8786"
    scheduler = vms["dask_scheduler"]["custom_data"]
    assert "dask scheduler --protocol tls --port 8786" in scheduler
    assert f"dask worker {address} --name worker" in vms["worker"]["custom_data"]
    outputs = {k.strip('"'): v for e in files["outputs.tf"]["output"] for k, v in e.items()}
    assert outputs["dask_scheduler_address"]["value"] == f'"{address}"'
    variables = {k.strip('"') for e in files["variables.tf"]["variable"] for k in e}
    assert "dask_scheduler_address" not in variables
    (nsg,) = blocks(files, "resource", "azurerm_network_security_group").values()
    ports = {r["name"]: r["destination_port_range"] for r in nsg["security_rule"]}
    assert ports == {'"dask-scheduler"': '"8788-8789"', '"dask-workers"': '"8786"'}
    assert {r["source_address_prefix"] for r in nsg["security_rule"]} == {"${var.scheduler_cidr}"}
    # the scheduler's identity reads its package and nothing else
    assignments = blocks(files, "resource", "azurerm_role_assignment")
    assert sorted(k for k in assignments if k.startswith("dask_scheduler")) == [
        "dask_scheduler_artifacts"
    ]


def test_vms_without_a_public_ip_get_a_nat_gateway_for_apt() -> None:
    files = parsed(heterogeneous("azure"), "azure")
    for nic in blocks(files, "resource", "azurerm_network_interface").values():
        assert "public_ip_address_id" not in nic["ip_configuration"][0]  # no public IP
    (link,) = blocks(files, "resource", "azurerm_subnet_nat_gateway_association").values()
    assert link["subnet_id"] == "${azurerm_subnet.workers.id}"
    assert link["nat_gateway_id"] == "${azurerm_nat_gateway.glacier.id}"
    (ip,) = blocks(files, "resource", "azurerm_nat_gateway_public_ip_association").values()
    assert ip["public_ip_address_id"] == "${azurerm_public_ip.nat.id}"
    without_vms = parsed(example("simple_pipeline"), "azure")
    assert not blocks(without_vms, "resource", "azurerm_nat_gateway")
