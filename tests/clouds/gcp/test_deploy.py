"""What a GCP deployment needs beyond valid HCL: APIs on, a runner that may call the functions,
an environment the deployed code configures itself from, grants that match the runtime, and
Dataproc nodes that have Glacier."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import venv
import zipfile
from pathlib import Path
from typing import Any

import pytest

from glacier import Provider
from glacier.clouds.gcp import iam, package
from glacier.clouds.gcp.config import GcpConfig
from glacier.infra.package import build
from glacier.storage.access import Operation, operations_for
from tests.infra.deployed import blocks, environment, example, parsed
from tests.infra.handlers import assert_refuses_other_code, call, other_code_event, unpack
from tests.infra.pipelines import PROVIDERS, heterogeneous, portable
from tests.infra.test_package import names

ROOT = Path(__file__).resolve().parents[3]
KNOWN = {"var.project_id": "my-project", "var.region": "europe-west4"}


def test_every_api_the_resources_use_is_enabled_and_awaited() -> None:
    files = parsed(heterogeneous("gcp"), "gcp")
    (service,) = blocks(files, "resource", "google_project_service").values()
    assert service["disable_on_destroy"] is False
    enabled = set(re.findall(r'"([a-z]+)\.googleapis\.com"', service["for_each"]))
    assert enabled == {
        "artifactregistry", "cloudbuild", "cloudfunctions", "run",  # the function
        "compute", "logging", "dataproc",  # the VM and the Dataproc cluster
        "iam", "storage",  # service accounts, custom roles, buckets
    }  # fmt: skip
    waiting = [
        (tf_type, label)
        for name, content in files.items()
        if name != "apis.tf"
        for entry in content.get("resource", [])
        for tf_type, labelled in entry.items()
        for label, body in labelled.items()
        if "${google_project_service.apis}" not in body.get("depends_on", [])
    ]
    assert waiting == []


def test_no_function_no_function_apis() -> None:
    files = parsed(example("simple_pipeline"), "gcp")
    (service,) = blocks(files, "resource", "google_project_service").values()
    assert "cloudfunctions" not in service["for_each"] and "storage" in service["for_each"]


def test_the_runner_may_invoke_each_function_which_stays_internal_by_default() -> None:
    files = parsed(portable(PROVIDERS["gcp"]), "gcp")
    functions = blocks(files, "resource", "google_cloudfunctions2_function")
    invokers = blocks(files, "resource", "google_cloud_run_v2_service_iam_member")
    assert (
        set(invokers)
        == {f"{name}_invoker" for name in functions}
        == {
            "parse_invoker",
            "join_invoker",
        }
    )
    for name, binding in invokers.items():
        assert binding["role"] == '"roles/run.invoker"'
        assert binding["member"] == "${var.runner_member}"
        assert binding["name"] == f"${{google_cloudfunctions2_function.{name[:-8]}.name}}"
    variables = {k.strip('"'): v for e in files["variables.tf"]["variable"] for k, v in e.items()}
    assert "default" not in variables["runner_member"]  # the user must say who runs
    assert variables["public_ingress"]["default"] is False
    for fn in functions.values():
        (service,) = fn["service_config"]
        assert service["ingress_settings"] == (
            '${var.public_ingress ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"}'
        )


def _function_env(pipeline: Any, digest: str | None = None) -> dict[str, str]:
    """The function's environment as its Terraform sets it (``digest``: the manifest's)."""
    files = parsed(pipeline, "gcp")
    (fn,) = blocks(files, "resource", "google_cloudfunctions2_function").values()
    known = {**KNOWN, **({"local.glacier_manifest.digest": digest} if digest else {})}
    return environment(fn["service_config"][0]["environment_variables"], known)


def test_the_function_environment_is_what_from_env_reads() -> None:
    env = _function_env(example("cloud_agnostic_pipeline"))
    config = Provider.from_env(env).config
    assert isinstance(config, GcpConfig)
    assert (config.project_id, config.region) == ("my-project", "europe-west4")
    assert config.bucket_names == {"glacier-staging": "real-glacier-staging"}


def test_every_globally_named_resource_starts_with_the_name_prefix() -> None:
    files = parsed(heterogeneous("gcp"), "gcp")
    named = {
        "google_storage_bucket": "name",
        "google_service_account": "account_id",
        "google_project_iam_custom_role": "role_id",
        "google_cloudfunctions2_function": "name",
        "google_compute_firewall": "name",
        "google_compute_instance": "name",
        "google_dataproc_cluster": "name",
    }
    for tf_type, attribute in named.items():
        found = blocks(files, "resource", tf_type)
        assert found, tf_type
        for label, body in found.items():
            assert "${local.name_prefix}" in body[attribute], (tf_type, label)


def test_the_pipeline_module_imports_with_only_the_function_environment() -> None:
    """Before the project and region were set, the import failed in `Provider.from_env()`."""
    env = _function_env(example("cloud_agnostic_pipeline"))
    done = subprocess.run(
        [sys.executable, "-c", "import cloud_agnostic_pipeline as p; print(p.provider.config)"],
        env={
            **env,
            "PATH": os.environ["PATH"],
            "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'examples'}",
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "project_id='my-project'" in done.stdout


def _roles(files: dict[str, Any]) -> dict[str, list[str]]:
    return {
        f"${{google_project_iam_custom_role.{label}.id}}": [p.strip('"') for p in r["permissions"]]
        for label, r in blocks(files, "resource", "google_project_iam_custom_role").items()
    }


def test_bucket_grants_are_exactly_the_declared_operations() -> None:
    pipeline = portable(PROVIDERS["gcp"])
    files = parsed(pipeline, "gcp")
    roles = _roles(files)
    bindings = blocks(files, "resource", "google_storage_bucket_iam_member")
    granted = {label: sorted(roles[b["role"]]) for label, b in bindings.items()}
    read = sorted(iam.permissions(operations_for(reads=True, writes=False)))
    write = sorted(iam.permissions(operations_for(reads=False, writes=True)))
    assert read == ["storage.objects.get", "storage.objects.list"]
    # a write-only bucket: a write reads back, lists and deletes temporaries
    assert write == sorted(f"storage.objects.{p}" for p in ("create", "delete", "get", "list"))
    assert granted["parse_orders"] == read  # parse only reads orders
    assert granted["join_warehouse"] == write  # join only writes the warehouse
    assert "parse_warehouse" not in granted


def test_every_operation_has_a_permission() -> None:
    assert set(iam.PERMISSIONS) == set(Operation)


def test_dataproc_nodes_unpack_glacier_from_the_artifacts_bucket() -> None:
    files = parsed(heterogeneous("gcp"), "gcp")
    (cluster,) = blocks(files, "resource", "google_dataproc_cluster").values()
    (init,) = cluster["cluster_config"][0]["initialization_action"]
    objects = blocks(files, "resource", "google_storage_bucket_object")
    assert init["script"] == (
        '"gs://${google_storage_bucket.artifacts.name}/'
        '${google_storage_bucket_object.dataproc_init.name}"'
    )
    script = objects["dataproc_init"]["content"]
    assert (
        'gsutil -q cp \\"gs://${google_storage_bucket.artifacts.name}/'
        '${google_storage_bucket_object.dataproc_archive.name}\\" /tmp/glacier.zip' in script
    )
    assert objects["dataproc_archive"]["source"] == '"${path.module}/build/dataproc.zip"'
    # the cluster's service account may read the archive, and nothing else of that bucket
    reader = blocks(files, "resource", "google_storage_bucket_iam_member")["spark_artifacts"]
    assert _roles(files)[reader["role"]] == ["storage.objects.get", "storage.objects.list"]


def test_the_init_action_puts_the_archive_and_environment_on_the_node(tmp_path: Path) -> None:
    """Run the script with stand-ins for gsutil and the metadata server, under tmp_path."""
    archive = tmp_path / "archive.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"{package.JOB_MODULE}.py", "")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "gsutil").write_text(f'#!/bin/sh\ncp {archive} "$4"\n')
    (fake / "get_metadata_value").write_text('#!/bin/sh\necho \'{"GLACIER_PROVIDER": "gcp"}\'\n')
    for tool in fake.iterdir():
        tool.chmod(0o755)
    site = tmp_path / "site"
    site.mkdir()
    script = package.INIT_ACTION.replace(package.ARCHIVE_MARKER, "gs://b/o")
    script = script.replace("/usr/share/google/", f"{fake}/").replace("/opt/", f"{tmp_path}/opt/")
    script = re.sub(r"(?m)^python=.*$", f"python={sys.executable}", script)
    script = re.sub(r"(?m)^site=.*$", f"site={site}", script)
    done = subprocess.run(
        ["bash", "-c", script],
        env={"PATH": f"{fake}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    glacier = tmp_path / "opt/glacier"
    assert (glacier / f"{package.JOB_MODULE}.py").is_file()
    assert (site / "glacier.pth").read_text().split() == [
        str(glacier),
        str(glacier / package.WHEELS_DIR),
    ]
    assert json.loads((glacier / package.ENVIRONMENT_FILE).read_text()) == {
        "GLACIER_PROVIDER": "gcp"
    }


def test_the_cluster_metadata_carries_the_deployed_environment() -> None:
    files = parsed(heterogeneous("gcp"), "gcp")
    (cluster,) = blocks(files, "resource", "google_dataproc_cluster").values()
    metadata = cluster["cluster_config"][0]["gce_cluster_config"][0]["metadata"]
    encoded = metadata[package.METADATA_KEY]
    for variable in ("GLACIER_PROVIDER", "GOOGLE_CLOUD_PROJECT", "GLACIER_BUCKETS"):
        assert variable in encoded


def test_the_job_entry_point_takes_the_environment_from_the_cluster_metadata(
    tmp_path: Path,
) -> None:
    job = tmp_path / f"{package.JOB_MODULE}.py"
    job.write_text(package.JOB)
    environment = {  # what the cluster metadata says, as its Terraform writes it
        **_function_env(example("cloud_agnostic_pipeline")),
        "GLACIER_EXECUTOR": "cluster",
    }
    (tmp_path / package.ENVIRONMENT_FILE).write_text(json.dumps(environment))
    done = subprocess.run(
        [sys.executable, str(job), '{"not": "an invocation"}'],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'examples'}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    # the metadata's environment was taken (the job got as far as its argument), and the job
    # runs Glacier's protocol: its argument is the URI of a staged event, nothing else
    assert "is not the URI of a Glacier job event" in done.stderr


def test_the_dataproc_archive_holds_glacier_the_pipeline_and_the_job(tmp_path: Path) -> None:
    written = build(heterogeneous("gcp"), tmp_path, dependencies=False)
    archive = tmp_path / package.DATAPROC_ARCHIVE
    assert archive in written
    assert {
        f"{package.JOB_MODULE}.py",
        "glacier/deployed.py",
        "tests/infra/pipelines.py",
    } <= names(archive)


def test_a_pipeline_without_dataproc_builds_no_archive(tmp_path: Path) -> None:
    build(portable(PROVIDERS["gcp"]), tmp_path, dependencies=False)
    assert not (tmp_path / package.DATAPROC_ARCHIVE).exists()


HANDLER_CHECK = """
import json, sys
import glacier
from functions_framework import create_app
client = create_app("handler", sys.argv[2]).test_client()
replies = [client.post("/", json=event) for event in ({"body": "hello"}, json.loads(sys.argv[1]))]
print(json.dumps({
    "glacier": glacier.__file__,
    "replies": [[r.status_code, r.content_type, r.get_json()] for r in replies],
}))
"""


def _function(tmp_path: Path) -> tuple[Path, dict[str, str], str]:
    """The example's function source unzipped, its environment and its manifest's digest."""
    out = tmp_path / "out"
    build(example("cloud_agnostic_pipeline"), out, "gcp", dependencies=False)
    digest = json.loads((out / "build" / "manifest.json").read_text())["digest"]
    code = unpack(out / "build" / "serverless.zip", tmp_path / "app")
    return code, _function_env(example("cloud_agnostic_pipeline"), digest), digest


def _check_replies(seen: dict[str, Any], digest: str) -> None:
    (bad_status, bad_type, bad), (status, content_type, reply) = seen["replies"]
    assert (bad_status, bad_type, bad["error"]) == (400, "application/json", "BadEvent")
    assert bad["message"].startswith("The event is not a Glacier invocation")
    assert (status, content_type) == (200, "application/json")
    assert_refuses_other_code(reply, digest)


def test_the_handler_answers_json_from_the_package(tmp_path: Path) -> None:
    """Served by functions-framework as Cloud Run serves it: the generated handler calls
    glacier.deployed.handle_event; JSON out, 400 for an event that is not an invocation."""
    code, env, digest = _function(tmp_path)
    event = other_code_event("store_revenue", "cloud_agnostic_pipeline")
    script = HANDLER_CHECK.replace("sys.argv[2]", repr(str(code / "main.py")))
    _check_replies(call(script, code, env, event), digest)


@pytest.mark.network
def test_the_handler_runs_in_a_fresh_environment(tmp_path: Path) -> None:
    """What Cloud Build does (requirements.txt into a fresh Python), then the function with only
    its environment: the handler imports, finds its config, and answers."""
    code, env, digest = _function(tmp_path)
    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv/bin/python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "-r", str(code / "requirements.txt")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    event = other_code_event("store_revenue", "cloud_agnostic_pipeline")
    script = HANDLER_CHECK.replace("sys.argv[2]", repr(str(code / "main.py")))
    _check_replies(call(script, code, env, event, python=python), digest)


@pytest.mark.network
def test_the_dataproc_archive_carries_the_wheels(tmp_path: Path) -> None:
    build(heterogeneous("gcp"), tmp_path, dependencies=True)
    inside = names(tmp_path / package.DATAPROC_ARCHIVE)
    for module in ("polars", "obstore"):
        assert f"{package.WHEELS_DIR}/{module}/__init__.py" in inside, module


def test_vms_boot_an_image_with_python_3_11() -> None:
    files = parsed(heterogeneous("gcp"), "gcp")
    vm = blocks(files, "resource", "google_compute_instance")["worker"]
    image = vm["boot_disk"][0]["initialize_params"][0]["image"]
    assert image == '"debian-cloud/debian-12"'  # Debian 12's python3 is 3.11


def test_vms_boot_from_the_package_in_the_artifacts_bucket_with_their_environment() -> None:
    files = parsed(heterogeneous("gcp"), "gcp")
    vm = blocks(files, "resource", "google_compute_instance")["worker"]
    script = vm["metadata_startup_script"]
    assert (
        'fetch = "gcloud storage cp --quiet gs://${google_storage_bucket.artifacts.name}/'
        '${google_storage_bucket_object.vm_package.name} /opt/glacier/package.zip"' in script
    )
    for variable in ("GLACIER_PROVIDER", "GOOGLE_CLOUD_PROJECT", "GLACIER_BUCKETS"):
        assert variable in script
    package_object = blocks(files, "resource", "google_storage_bucket_object")["vm_package"]
    assert package_object["source"] == '"${path.module}/build/vm-x86_64.zip"'
    reader = blocks(files, "resource", "google_storage_bucket_iam_member")["worker_artifacts"]
    assert _roles(files)[reader["role"]] == ["storage.objects.get", "storage.objects.list"]


def test_the_vm_package_is_built_for_debian_12(tmp_path: Path) -> None:
    written = build(heterogeneous("gcp"), tmp_path, dependencies=False)
    assert tmp_path / "build" / "vm-x86_64.zip" in written
    assert package.VM_PLATFORM.python == "3.11"  # Debian 12's python3


def test_the_workers_join_a_scheduler_vm_the_module_runs() -> None:
    """As on AWS: one scheduler VM, TLS, reachable on 8786 from the scheduler CIDR; the workers
    get its address, and so does the runner (the output)."""
    files = parsed(heterogeneous("gcp"), "gcp")
    vms = blocks(files, "resource", "google_compute_instance")
    assert set(vms) == {"worker", "dask_scheduler"}
    address = "tls://${google_compute_instance.dask_scheduler.network_interface[0].network_ip}:8786"
    scheduler = vms["dask_scheduler"]["metadata_startup_script"]
    assert "dask scheduler --protocol tls --port 8786" in scheduler
    assert "--tls-ca-file /opt/glacier/package/tls/ca.pem" in scheduler
    assert f"dask worker {address} --name worker" in vms["worker"]["metadata_startup_script"]
    outputs = {k.strip('"'): v for e in files["outputs.tf"]["output"] for k, v in e.items()}
    assert outputs["dask_scheduler_address"]["value"] == f'"{address}"'
    variables = {k.strip('"') for e in files["variables.tf"]["variable"] for k in e}
    assert "dask_scheduler_address" not in variables
    firewall = blocks(files, "resource", "google_compute_firewall")["dask_scheduler"]
    assert firewall["allow"][0]["ports"] == ['"8786"']
    assert firewall["source_ranges"] == ["${var.scheduler_cidr}"]
    assert firewall["target_service_accounts"] == ["${google_service_account.dask_scheduler.email}"]
    # the scheduler reads its package and nothing else
    grants = blocks(files, "resource", "google_storage_bucket_iam_member")
    assert sorted(k for k in grants if k.startswith("dask_scheduler")) == [
        "dask_scheduler_artifacts"
    ]


def test_vms_without_a_public_ip_get_cloud_nat_for_apt() -> None:
    files = parsed(heterogeneous("gcp"), "gcp")
    for vm in blocks(files, "resource", "google_compute_instance").values():
        assert "access_config" not in vm["network_interface"][0]  # no public IP
    (router,) = blocks(files, "resource", "google_compute_router").values()
    assert router["network"] == "${var.network}"
    (nat,) = blocks(files, "resource", "google_compute_router_nat").values()
    assert nat["router"] == "${google_compute_router.glacier.name}"
    assert nat["source_subnetwork_ip_ranges_to_nat"] == '"LIST_OF_SUBNETWORKS"'
    assert nat["subnetwork"][0]["name"] == "${var.subnetwork}"
    without_vms = parsed(example("simple_pipeline"), "gcp")
    assert not blocks(without_vms, "resource", "google_compute_router")
