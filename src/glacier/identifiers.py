"""Identifier-safe, unique names for generated code (Terraform labels, diagram node ids), and
the slug every cloud's resource names and Dask worker names are made of."""

from __future__ import annotations

import re


class UniqueIdentifiers:
    """Hands out identifiers: ``curated/a.parquet`` -> ``curated_a_parquet``, then ``..._2``.

    Every character outside ``[A-Za-z0-9_]`` becomes ``_``, a leading digit gets a ``_`` in
    front, and a name already handed out by this instance gets the next free ``_<n>`` suffix.
    """

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, name: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", name)
        if not re.match(r"[A-Za-z_]", base):
            base = f"_{base}"
        label, n = base, 1
        while label in self._taken:
            n += 1
            label = f"{base}_{n}"
        self._taken.add(label)
        return label


def slug(text: str) -> str:
    """Lower-case letters, digits and single dashes: safe in every cloud's resource names."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", text.lower())).strip("-") or "x"
