"""A small typed HCL emitter that writes what ``terraform fmt`` would.

Values are Python scalars, lists, dicts and three expression types: :class:`Expr` (a raw
expression such as ``aws_s3_bucket.raw.arn``), :class:`Template` (a quoted string with
``${...}`` interpolations) and :class:`Call` (a function call). Plain strings are always
literals: ``${`` and ``%{`` in them are escaped, so data can never inject an expression.

Layout follows hclwrite's rules: two-space indents; the ``=`` of consecutive single-line
attributes (and map items) is aligned; a multi-line value, a blank line, a comment or a block
ends the run of aligned lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_INLINE_LIST_WIDTH = 80


@dataclass(frozen=True)
class Expr:
    """A raw HCL expression, written as is: ``var.region``, ``aws_kms_key.data.arn``."""

    text: str


@dataclass(frozen=True)
class Template:
    """A quoted string mixing literal text (escaped) and interpolated expressions."""

    parts: tuple[str | Expr | Call, ...]


@dataclass(frozen=True)
class Call:
    """A function call such as ``filebase64sha256("build/fn.zip")``."""

    name: str
    args: tuple[Value, ...]


Value: TypeAlias = (
    "str | int | float | bool | Expr | Template | Call | Sequence[Value] | "
    "Mapping[str, Value] | None"
)


@dataclass(frozen=True)
class Attribute:
    name: str
    value: Value


@dataclass(frozen=True)
class Comment:
    """A ``#`` line; checkov reads ``#checkov:skip=ID:reason`` comments inside a resource."""

    text: str


@dataclass
class Block:
    """``type "label" ... { body }``; the body keeps the order it was built in."""

    type: str
    labels: tuple[str, ...] = ()
    body: list[Attribute | Block | Comment] = field(default_factory=list)

    def attr(self, name: str, value: Value) -> Block:
        self.body.append(Attribute(name, value))
        return self

    def block(self, type_: str, *labels: str) -> Block:
        """Append a nested block and return it, to fill in place."""
        child = Block(type_, labels)
        self.body.append(child)
        return child

    def comment(self, text: str) -> Block:
        self.body.append(Comment(text))
        return self


def ref(*parts: str) -> Expr:
    """``ref("aws_s3_bucket", "raw", "arn")`` -> ``aws_s3_bucket.raw.arn``."""
    return Expr(".".join(parts))


def template(*parts: str | Expr | Call) -> Template:
    return Template(parts)


def call(name: str, *args: Value) -> Call:
    return Call(name, args)


def quote(text: str) -> str:
    """A literal HCL string: JSON-style escapes plus ``$${`` and ``%%{`` for template markers."""
    body = json.dumps(text, ensure_ascii=False)[1:-1]
    return '"' + body.replace("${", "$${").replace("%{", "%%{") + '"'


def render(blocks: Iterable[Block], header: str | None = None) -> str:
    """A whole file: top-level blocks separated by one blank line, ending in a newline."""
    chunks = [_block(b, "") for b in blocks]
    if header:
        chunks.insert(0, "\n".join(f"# {line}".rstrip() for line in header.splitlines()))
    return "\n\n".join(chunks) + "\n"


def _block(block: Block, indent: str) -> str:
    head = " ".join([block.type, *(quote(label) for label in block.labels)])
    if not block.body:
        return f"{indent}{head} {{}}"
    inner = indent + "  "
    lines: list[str] = []
    pending: list[tuple[str, str]] = []  # a run of single-line attributes to align
    for item in block.body:
        if isinstance(item, Attribute):
            text = _value(item.value, inner)
            if "\n" not in text:
                pending.append((item.name, text))
                continue
            _flush(pending, inner, lines)
            lines.append(f"{inner}{item.name} = {text}")
        else:
            _flush(pending, inner, lines)
            if isinstance(item, Comment):
                lines.append(f"{inner}#{item.text}")
            else:
                lines.append(_block(item, inner))
    _flush(pending, inner, lines)
    return f"{indent}{head} {{\n" + "\n".join(lines) + f"\n{indent}}}"


def _flush(pending: list[tuple[str, str]], indent: str, lines: list[str]) -> None:
    width = max((len(name) for name, _ in pending), default=0)
    lines.extend(f"{indent}{name.ljust(width)} = {text}" for name, text in pending)
    pending.clear()


def _value(value: Value, indent: str) -> str:
    """Render ``value`` for a line indented by ``indent``; nested lines are indented deeper."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, Expr):
        return value.text
    if isinstance(value, Template):
        return '"' + "".join(_template_part(p) for p in value.parts) + '"'
    if isinstance(value, Call):
        return f"{value.name}(" + ", ".join(_value(a, indent) for a in value.args) + ")"
    if isinstance(value, Mapping):
        return _map(value, indent)
    return _list(value, indent)


def _template_part(part: str | Expr | Call) -> str:
    if isinstance(part, str):
        return quote(part)[1:-1]
    return "${" + _value(part, "") + "}"


def _map(value: Mapping[str, Value], indent: str) -> str:
    if not value:
        return "{}"
    inner = indent + "  "
    lines: list[str] = []
    pending: list[tuple[str, str]] = []
    for key, item in value.items():
        name = key if _IDENT.fullmatch(key) else quote(key)
        text = _value(item, inner)
        if "\n" in text:
            _flush(pending, inner, lines)
            lines.append(f"{inner}{name} = {text}")
        else:
            pending.append((name, text))
    _flush(pending, inner, lines)
    return "{\n" + "\n".join(lines) + f"\n{indent}}}"


def _list(value: Sequence[Value], indent: str) -> str:
    items = [_value(v, indent + "  ") for v in value]
    inline = "[" + ", ".join(items) + "]"
    if all("\n" not in i for i in items) and len(indent) + len(inline) <= _INLINE_LIST_WIDTH:
        return inline
    inner = indent + "  "
    return "[\n" + "".join(f"{inner}{i},\n" for i in items) + f"{indent}]"
