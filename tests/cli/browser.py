"""Headless Chromium for the tests: the DOM a real browser builds from a page, and a screenshot.

Chromium runs with no network features and a throwaway profile, so a page that needs anything
from outside renders without it, as it would offline.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (scripts/install-browser-tools.sh installs Debian's)",
)
VOID = {"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


def chromium(page: Path, profile: Path, *args: str) -> str:
    """Run headless Chromium on ``page`` with ``args``; returns its stdout."""
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *args,
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parent: Element | None = None
    children: list[Element] = field(default_factory=list)
    text: str = ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def iter(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        """Every descendant (and this element) with ``tag`` and class ``cls``, in order."""
        found = [self] if _matches(self, tag, cls) else []
        for child in self.children:
            found.extend(child.iter(tag, cls))
        return found

    def all_text(self) -> str:
        return self.text + "".join(child.all_text() for child in self.children)


def _matches(element: Element, tag: str | None, cls: str | None) -> bool:
    return (tag is None or element.tag == tag) and (cls is None or cls in element.classes)


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, parent=self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.current.children.append(Element(tag, {k: v or "" for k, v in attrs}, self.current))

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.text += data


def rendered_dom(page: Path, profile: Path) -> Element:
    """The document Chromium built from ``page``, parsed back into a tree."""
    builder = _TreeBuilder()
    builder.feed(chromium(page, profile, "--dump-dom"))
    builder.close()
    return builder.root
