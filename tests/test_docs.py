"""The docs site documents the whole public surface, and its build fails on a broken reference.

The reference pages are ``::: name`` directives that mkdocstrings fills from the docstrings, so
these tests check that every public name has one, that every config field has a docstring to
show, and, on a real build, that the pages show each field with its default and docstring and
every CLI command with its options.
"""

from __future__ import annotations

import dataclasses
import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import click
import pytest

import glacier
import glacier.config
from glacier.cli import cli
from glacier.config import config_classes

griffe = pytest.importorskip("griffe", reason="griffe (glacier-pipelines[docs]) reads docstrings")

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference"


def rendered_names() -> set[str]:
    """The objects the reference pages render: the ``::: glacier...`` directives."""
    text = "\n".join(page.read_text() for page in sorted(REFERENCE.glob("*.md")))
    return set(re.findall(r"^::: (glacier[\w.]*)\s*$", text, flags=re.MULTILINE))


@pytest.mark.parametrize("module", [glacier, glacier.config], ids=lambda m: m.__name__)
def test_the_reference_renders_every_public_name(module: ModuleType) -> None:
    rendered = rendered_names()
    missing = [name for name in module.__all__ if f"{module.__name__}.{name}" not in rendered]
    assert not missing, f"add `::: {module.__name__}.<name>` to docs/reference/ for {missing}"


@pytest.fixture(scope="module")
def package() -> griffe.Module:
    """Glacier as mkdocstrings reads it: from source, without importing it."""
    return griffe.load("glacier", search_paths=[str(ROOT / "src")])


def field_docstring(package: griffe.Module, config: type, field: str) -> str | None:
    """The docstring the reference shows under ``config.field`` (own or inherited)."""
    member = package[f"config.{config.__name__}"].all_members.get(field)
    return None if member is None or member.docstring is None else str(member.docstring.value)


def test_every_config_field_has_a_docstring(package: griffe.Module) -> None:
    missing = [
        f"{config.__name__}.{field.name}"
        for config in config_classes()
        for field in dataclasses.fields(config)
        if not field_docstring(package, config, field.name)
    ]
    assert not missing, f'document each field with a """docstring""" under it: {missing}'


def test_task_options_are_each_described(package: griffe.Module) -> None:
    """Every ``executor.task(...)`` option has an entry in the task options page's table."""
    task = package["Executor.task"]
    described = {
        p.name
        for section in task.docstring.parse("google")
        if section.kind is griffe.DocstringSectionKind.parameters
        for p in section.value
    }
    options = {p.name for p in task.parameters if p.name != "self"}
    assert described == options


def load_hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "scripts" / "docs_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sphinx_roles_become_cross_references() -> None:
    refs = load_hooks().markdown_refs
    assert refs("holds the partial :class:`~glacier.RunResult`.") == (
        "holds the partial [`RunResult`][glacier.RunResult]."
    )
    assert refs(":meth:`glacier.Pipeline.run()` or :exc:`TaskFailed`") == (
        "[`glacier.Pipeline.run()`][glacier.Pipeline.run] or [`TaskFailed`][TaskFailed]"
    )
    assert refs("plain ``code`` stays") == "plain ``code`` stays"


def test_the_readme_links_into_docs_point_at_site_pages() -> None:
    home = load_hooks().home_page
    readme = "See [the guide](docs/deploy.md#aws).\n\n[security]: docs/security.md\n"
    assert home(readme) == "See [the guide](deploy.md#aws).\n\n[security]: security.md\n"
    assert home("[docs](https://example.org/docs/x)") == "[docs](https://example.org/docs/x)"


# --- a real build -----------------------------------------------------------------------------


def mkdocs(config: Path, site: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config)]
    return subprocess.run(
        [*command, "--site-dir", str(site)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    built = mkdocs(ROOT / "mkdocs.yml", out, ROOT)
    assert built.returncode == 0, built.stderr
    return out


def page_text(markup: str) -> str:
    """The text of a rendered page, with no whitespace (wrapping differs from the source)."""
    return re.sub(r"\s+", "", html.unescape(re.sub(r"<[^>]+>", "", markup)))


def section(page: str, anchor: str) -> str:
    """The text from the heading ``anchor`` to the next object's heading."""
    assert f'id="{anchor}"' in page, f"{anchor} is not on the page"
    start = page.index(f'id="{anchor}"')
    end = page.find('id="glacier.', start + len(anchor))
    return page_text(page[start : end if end > 0 else None])


@pytest.mark.slow
def test_the_config_page_shows_every_field_with_its_default_and_docstring(
    site: Path, package: griffe.Module
) -> None:
    page = (site / "reference" / "config" / "index.html").read_text()
    for config in config_classes():
        for field in dataclasses.fields(config):
            shown = section(page, f"glacier.config.{config.__name__}.{field.name}")
            if field.default is not dataclasses.MISSING:
                default = repr(field.default)
            elif field.default_factory is not dataclasses.MISSING:
                default = f"default_factory={field.default_factory.__name__}"
            else:
                default = ""  # required: the signature shows no default
            assert f"{field.name}:" in shown and default in shown, (config, field.name, shown)
            docstring = field_docstring(package, config, field.name) or ""
            assert page_text(docstring.replace("`", "")) in shown, (config, field.name, shown)


@pytest.mark.slow
def test_the_cli_page_shows_every_command_and_option(site: Path) -> None:
    page = page_text((site / "cli" / "index.html").read_text())
    for name, command in cli.commands.items():
        assert f"glacier{name}" in page
        for param in command.params:
            if isinstance(param, click.Option):
                assert all(opt in page for opt in param.opts), (name, param.opts)


@pytest.mark.slow
def test_a_broken_reference_fails_the_build(tmp_path: Path) -> None:
    """The same config over one page that names an object Glacier does not have."""
    for shared in ("src", "scripts", "README.md"):  # the config's paths are relative to it
        (tmp_path / shared).symlink_to(ROOT / shared)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "broken.md").write_text("See [it][glacier.NoSuchThing].\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text(f"INHERIT: {ROOT / 'mkdocs.yml'}\nnav: [index.md, broken.md]\n")
    built = mkdocs(config, tmp_path / "site", tmp_path)
    assert built.returncode != 0
    assert "Could not find cross-reference target 'glacier.NoSuchThing'" in built.stderr
