"""How the docs build (mkdocs.yml) reads Glacier's own sources, so they keep one convention.

- Docstrings name other objects the Sphinx way (``:class:`~glacier.RunResult```), which IDEs
  and ``help()`` show as they are; mkdocstrings renders Markdown, where a cross-reference is
  ``[RunResult][glacier.RunResult]``. A Griffe extension rewrites one into the other as the
  docs load, so ``mkdocs build --strict`` fails on a reference that resolves to nothing.
  Unqualified targets (``:class:`Pipeline```) resolve from the docstring's own scope
  (mkdocstrings' ``scoped_crossrefs``).
- The README is the site's home page. Its links into ``docs/`` are right on GitHub, where it
  sits above that folder; an mkdocs hook points them at the site's pages instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

ROLE = re.compile(r":(?:class|func|meth|attr|mod|exc|data|obj):`(~?)([\w.]+)(\(\))?`")
README_LINK = re.compile(r"(\]\(|^\[[^\]]+\]:\s*)docs/", flags=re.MULTILINE)


def markdown_refs(text: str) -> str:
    """``:role:`~a.B``` -> ``[B][a.B]``; ``:role:`a.B``` -> ``[a.B][a.B]``; calls keep ``()``."""

    def ref(match: re.Match[str]) -> str:
        short, target, call = match.groups()
        title = target.rpartition(".")[2] if short else target
        return f"[`{title}{call or ''}`][{target}]"

    return ROLE.sub(ref, text)


class SphinxRoles(griffe.Extension):
    """Rewrite each loaded object's docstring once, before mkdocstrings parses it."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_refs(obj.docstring.value)


def home_page(readme: str) -> str:
    """The README with its links into ``docs/`` made relative to the site's root."""
    return README_LINK.sub(r"\1", readme)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """mkdocs hook: add the README, as ``index.md``, to the pages in ``docs/``."""
    if files.get_file_from_path("index.md") is not None:
        raise PluginError("docs/index.md would replace the README as the home page: remove it.")
    readme = Path(config.config_file_path).parent / "README.md"
    files.append(File.generated(config, "index.md", content=home_page(readme.read_text())))
    return files
