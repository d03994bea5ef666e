"""The HCL emitter: escaping, terraform fmt layout, and output python-hcl2 reads back."""

from __future__ import annotations

import hcl2

from glacier.infra.hcl import Block, Expr, call, quote, ref, render, template


def test_literal_strings_cannot_inject_expressions() -> None:
    assert quote("a ${b} %{c}") == '"a $${b} %%{c}"'
    assert quote('say "hi"\n\\') == '"say \\"hi\\"\\n\\\\"'
    parsed = hcl2.loads(render([Block("locals").attr("x", "a ${b} %{if c}")]))
    assert parsed["locals"][0]["x"] == '"a $${b} %%{if c}"'


def test_templates_interpolate_only_expressions() -> None:
    value = template(ref("aws_s3_bucket", "raw", "arn"), "/*${not}")
    text = render([Block("locals").attr("x", value)])
    assert 'x = "${aws_s3_bucket.raw.arn}/*$${not}"' in text


def test_consecutive_attributes_align_and_multiline_values_break_the_run() -> None:
    block = (
        Block("resource", ("aws_s3_bucket", "raw"))
        .attr("bucket", "raw")
        .attr("force_destroy", False)
    )
    block.attr("tags", {"a": "1", "long-key": "2"}).attr("x", 1)
    block.block("versioning_configuration").attr("status", "Enabled")
    block.block("filter")
    assert render([block]) == (
        'resource "aws_s3_bucket" "raw" {\n'
        '  bucket        = "raw"\n'
        "  force_destroy = false\n"
        "  tags = {\n"
        '    a        = "1"\n'
        '    long-key = "2"\n'
        "  }\n"
        "  x = 1\n"
        "  versioning_configuration {\n"
        '    status = "Enabled"\n'
        "  }\n"
        "  filter {}\n"
        "}\n"
    )


def test_lists_inline_when_short_and_one_per_line_when_long() -> None:
    short = render([Block("locals").attr("x", ["a", "b"])])
    assert 'x = ["a", "b"]' in short
    long = render([Block("locals").attr("x", [f"item-number-{i}" for i in range(8)])])
    assert '  x = [\n    "item-number-0",\n' in long and '    "item-number-7",\n  ]' in long


def test_calls_keys_and_comments() -> None:
    block = Block("resource", ("t", "n")).comment("checkov:skip=CKV_X_1:because")
    block.attr("policy", call("jsonencode", {"Version": "2012", "kms:Key": [Expr("var.x")]}))
    text = render([block], header="generated")
    assert text.startswith("# generated\n\nresource")
    assert "  #checkov:skip=CKV_X_1:because\n" in text
    assert '  policy = jsonencode({\n    Version   = "2012"\n    "kms:Key" = [var.x]\n  })' in text
    parsed = hcl2.loads(text)
    assert parsed["resource"][0]['"t"']['"n"']["policy"].startswith("${jsonencode(")
