"""Derive tests/infra/fixtures/terraform_schema.json: the provider schema facts Glacier's output uses.

How it was derived (run once; rerun when the renderers emit a new resource type):

1. The cdktf provider packages on PyPI embed a jsii assembly generated from each Terraform
   provider's schema (cdktf is deprecated, so these are frozen; its last google package has
   hashicorp/google 6.50.0). CDK Terrain (cdktn), cdktf's community fork, publishes the same
   assemblies for newer providers: cdktn-provider-google 20.3.1 has hashicorp/google 7.46.1,
   the newest of the major Glacier pins (21.x is google 8.x).

       pip download --no-deps -d WHEELS cdktf-cdktf-provider-aws==21.22.1 \
           cdktn-provider-google==20.3.1 cdktf-cdktf-provider-azurerm==14.23.1 \
           cdktf-cdktf-provider-databricks==15.16.1

   (hashicorp/aws 6.25.0, hashicorp/google 7.46.1, hashicorp/azurerm 4.55.0, databricks
   1.99.0: the versions are read from the registry links inside the assemblies and kept in
   the fixture.)
2. Generate Terraform for the test pipelines into directories (tests/test_terraform_validation.py
   does this; any `glacier terraform` output works), then:

       python scripts/derive_schema_fixture.py WHEELS tests/infra/fixtures/terraform_schema.json DIR...

Only the resource, data source and provider types found in DIR... are kept, and for each only
argument names, whether each is required, and which names are nested blocks (recursively).

A provider plugin on the machine (the ``hashicorp/aws`` 5.100.0 mirror in ``/opt/tf-plugins``)
gives its schema directly; derive a fixture from it the same way:

    terraform init -backend=false -plugin-dir=/opt/tf-plugins   # in a generated AWS directory
    terraform providers schema -json > SCHEMA.json
    python scripts/derive_schema_fixture.py --provider-schema SCHEMA.json \
        tests/infra/fixtures/terraform_schema_aws_5.100.json DIR...
"""

from __future__ import annotations

import io
import json
import re
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

_LINK = re.compile(
    r"\{@link https://registry\.terraform\.io/providers/[\w-]+/([\w-]+)/([\d.]+)/docs"
    r"(?:/(resources|data-sources)/(\w+))?(?:#(\w+))?\s+([\w#.]+)\}"
)
_TYPES = re.compile(r'^(resource|data|provider)\s+"(\w+)"', re.MULTILINE)
_BASES = {
    f"{cdk}.Terraform{base}": kind
    for cdk in ("cdktf", "cdktn")
    for base, kind in (("Resource", "resource"), ("DataSource", "data"), ("Provider", "provider"))
}


def load_assembly(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(zf.read(name))) as tar:
            member = tar.extractfile("package/.jsii")
            assert member is not None
            assembly: dict[str, Any] = json.load(member)
            return assembly


def _doc_link(prop: dict[str, Any]) -> re.Match[str] | None:
    docs = prop.get("docs", {})
    return _LINK.search(docs.get("remarks", "") + " " + docs.get("summary", ""))


def _struct_fqn(type_ref: dict[str, Any]) -> str | None:
    """The struct a property holds (directly, in a list, or in a union with IResolvable)."""
    if "fqn" in type_ref and not type_ref["fqn"].startswith(("cdktf.", "cdktn.")):
        return str(type_ref["fqn"])
    if "collection" in type_ref:
        return _struct_fqn(type_ref["collection"]["elementtype"])
    for option in type_ref.get("union", {}).get("types", []):
        found = _struct_fqn(option)
        if found:
            return found
    return None


def struct_schema(types: dict[str, Any], fqn: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    arguments: dict[str, bool] = {}
    blocks: dict[str, Any] = {}
    for prop in types[fqn].get("properties", []):
        link = _doc_link(prop)
        name = link.group(5) if link and link.group(5) else prop["name"]
        required = not prop.get("optional", False)
        nested = _struct_fqn(prop["type"])
        is_block = prop.get("docs", {}).get("summary", "").endswith(" block.")
        if is_block and nested and nested not in seen:
            blocks[name] = {"required": required, **struct_schema(types, nested, (*seen, fqn))}
        else:
            arguments[name] = required
    return {"arguments": dict(sorted(arguments.items())), "blocks": dict(sorted(blocks.items()))}


def schemas(assembly: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """(kind:type -> schema, provider -> version) for every resource/data/provider class."""
    types = assembly["types"]
    out: dict[str, dict[str, Any]] = {}
    versions: dict[str, str] = {}
    for cls in types.values():
        kind = _BASES.get(cls.get("base", ""))
        if kind is None:
            continue
        link = _LINK.search(cls["docs"].get("summary", ""))
        if link is None:
            continue
        provider, version, _, _, _, tf_type = link.groups()
        versions[provider] = version
        config = next(p for p in cls["initializer"]["parameters"] if p["name"] == "config")
        out[f"{kind}:{tf_type}"] = struct_schema(types, config["type"]["fqn"])
    return out, versions


def block_schema(block: dict[str, Any]) -> dict[str, Any]:
    """A block of ``terraform providers schema -json`` in the fixture's shape."""
    arguments = {
        name: bool(attribute.get("required"))
        for name, attribute in block.get("attributes", {}).items()
    }
    blocks = {
        name: {"required": nested.get("min_items", 0) > 0, **block_schema(nested["block"])}
        for name, nested in block.get("block_types", {}).items()
    }
    return {"arguments": dict(sorted(arguments.items())), "blocks": dict(sorted(blocks.items()))}


def plugin_schemas(path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """(kind:type -> schema, provider -> version) from ``terraform providers schema -json``.

    The JSON holds no version; it is read from the lock file beside it, which ``init`` wrote.
    """
    out: dict[str, dict[str, Any]] = {}
    versions: dict[str, str] = {}
    for address, provider in json.loads(path.read_text())["provider_schemas"].items():
        name = address.rsplit("/", 1)[1]
        if address.startswith("terraform.io/builtin/"):  # terraform_data: Terraform's own
            continue
        out[f"provider:{name}"] = block_schema(provider["provider"]["block"])
        for kind, key in (("resource", "resource_schemas"), ("data", "data_source_schemas")):
            for tf_type, schema in provider.get(key, {}).items():
                out[f"{kind}:{tf_type}"] = block_schema(schema["block"])
        lock = path.parent / ".terraform.lock.hcl"
        found = (
            re.search(
                rf'provider "{re.escape(address)}" {{\s*version\s*=\s*"([^"]+)"', lock.read_text()
            )
            if lock.exists()
            else None
        )
        versions[name] = found.group(1) if found else "unknown"
    return out, versions


def main(argv: list[str]) -> None:
    plugin = argv[0] == "--provider-schema"
    source, output, *dirs = argv[1:] if plugin else argv
    wanted = {
        f"{m.group(1)}:{m.group(2)}"
        for d in dirs
        for tf in sorted(Path(d).rglob("*.tf"))
        for m in _TYPES.finditer(tf.read_text())
        if not m.group(2).startswith("terraform_")  # built into Terraform, in no provider
    }
    found: dict[str, Any] = {}
    versions: dict[str, str] = {}
    sources = [Path(source)] if plugin else sorted(Path(source).glob("cdkt*_provider_*.whl"))
    for path in sources:
        print(f"reading {path.name}", file=sys.stderr)
        got, vers = plugin_schemas(path) if plugin else schemas(load_assembly(path))
        versions.update(vers)
        found.update({k: v for k, v in got.items() if k in wanted})
    if plugin:  # one provider's plugin: only its own types are expected
        wanted = {k for k in wanted if k.split(":")[1].split("_")[0] in versions}
    missing = sorted(wanted - found.keys())
    if missing:
        raise SystemExit(f"not in any schema: {missing}")
    how = "terraform providers schema -json" if plugin else "cdktf/cdktn jsii assemblies"
    fixture = {
        "derived_from": f"{how}; see scripts/derive_schema_fixture.py",
        "provider_versions": dict(sorted(versions.items())),
        "types": dict(sorted(found.items())),
    }
    Path(output).write_text(json.dumps(fixture, indent=1, sort_keys=False) + "\n")
    print(f"wrote {len(found)} types to {output}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
