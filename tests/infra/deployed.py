"""Reading generated Terraform back as data: blocks by type, and the environment a deployed
executor gets, with Terraform references replaced by the values they would have."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import hcl2

from glacier.infra.inventory import build_inventory
from glacier.infra.terraform import render
from glacier.loader import load_pipeline
from glacier.resources.graph import BoundPipeline

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def example(name: str) -> BoundPipeline:
    return load_pipeline(str(EXAMPLES / f"{name}.py"))


def parsed(pipeline: BoundPipeline, cloud: str) -> dict[str, dict[str, Any]]:
    """File name -> the python-hcl2 parse of that generated file."""
    files = render(build_inventory(pipeline, cloud))
    return {name: hcl2.loads(text) for name, text in files.items() if name.endswith(".tf")}


def blocks(files: Mapping[str, dict[str, Any]], kind: str, tf_type: str) -> dict[str, Any]:
    """Label -> body of every ``kind "tf_type" "label"`` block, across files."""
    found: dict[str, Any] = {}
    for content in files.values():
        for entry in content.get(kind, []):
            for name, labelled in entry.items():
                if name.strip('"') == tf_type:
                    found.update({label.strip('"'): body for label, body in labelled.items()})
    return found


_BUCKET = re.compile(
    r"(?:google_storage_bucket|azurerm_storage_container)\.(\w+)\.name"
    r"|aws_s3_bucket\.(\w+)\.bucket"
)
_OBJECT = re.compile(r"\$\{jsonencode\(\{(.*)\}\)\}", re.S)


PACKAGED = {"local.glacier_manifest.digest": "sha256:" + "ab" * 32}
"""What Terraform reads from ``build/manifest.json``, as a test's stand-in package says."""


def _value(reference: str, known: Mapping[str, str]) -> str:
    """A bucket's real name is ``real-<label>`` (``_`` as ``-``, valid on every cloud); the
    manifest's values are :data:`PACKAGED`; anything else must be ``known``."""
    bucket = _BUCKET.fullmatch(reference)
    if bucket:
        return f"real-{(bucket.group(1) or bucket.group(2)).replace('_', '-')}"
    return {**PACKAGED, **known}[reference]


def resolve(value: str, known: Mapping[str, str]) -> str:
    """A literal's text, or the value of the reference it is (``${var.x}`` -> known["var.x"]),
    or the JSON of a ``jsonencode({key = reference, ...})``."""
    encoded = _OBJECT.fullmatch(value)
    if encoded:
        pairs = re.findall(r'"?([\w-]+)"?\s*=\s*([\w.]+)', encoded.group(1))
        return json.dumps({key: _value(ref, known) for key, ref in pairs})
    reference = re.fullmatch(r"\$\{(.+)\}", value)
    if reference:
        return _value(reference.group(1), known)
    return value.strip('"')


def environment(values: Mapping[str, str], known: Mapping[str, str]) -> dict[str, str]:
    return {key: resolve(value, known) for key, value in values.items()}
