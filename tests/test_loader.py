"""Finding a pipeline from a command-line target."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from glacier.loader import TargetError, load_pipeline, split_target

BODY = """
from glacier import Provider, pipeline
from glacier.config import LocalConfig

provider = Provider(config=LocalConfig(base_path="."))
here = provider.local()


@here.task()
def one():
    return 1


@pipeline(name="first")
def first_pipeline():
    return one()
"""


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("flows.py", ("flows.py", None)),
        ("flows.py:daily", ("flows.py", "daily")),
        ("pkg.flows:daily", ("pkg.flows", "daily")),
        ("C:\\work\\flows.py", ("C:\\work\\flows.py", None)),
        ("C:\\work\\flows.py:daily", ("C:\\work\\flows.py", "daily")),
    ],
)
def test_split_target(target: str, expected: tuple[str, str | None]) -> None:
    assert split_target(target) == expected


def test_empty_pipeline_name_is_an_error() -> None:
    with pytest.raises(TargetError, match="ends with ':'"):
        split_target("flows.py:")


def test_selects_by_pipeline_or_variable_name(tmp_path: Path) -> None:
    path = tmp_path / "select_me.py"
    path.write_text(
        BODY + '\n\n@pipeline(name="second")\ndef second_pipeline():\n    return one()\n'
    )
    assert load_pipeline(f"{path}:first").name == "first"
    assert load_pipeline(f"{path}:second_pipeline").name == "second"
    with pytest.raises(
        TargetError, match=re.escape("defines 2 pipelines: first (variable first_pipeline), second")
    ):
        load_pipeline(str(path))


def test_only_pipeline_may_be_omitted_and_imported_ones_do_not_count(tmp_path: Path) -> None:
    (tmp_path / "lib_flows.py").write_text(BODY)
    path = tmp_path / "uses_lib.py"
    path.write_text(
        BODY.replace('name="first"', 'name="mine"')
        + "\nfrom lib_flows import first_pipeline as imported\n"
    )
    assert load_pipeline(str(path)).name == "mine"
    assert load_pipeline(f"{path}:first").name == "first"  # still selectable by name


def test_no_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "empty_flows.py"
    path.write_text("x = 1\n")
    with pytest.raises(TargetError, match="defines no pipeline"):
        load_pipeline(str(path))


def test_reloading_a_file_runs_it_again(tmp_path: Path) -> None:
    path = tmp_path / "reloaded.py"
    path.write_text(BODY)
    first = load_pipeline(str(path))
    path.write_text(BODY.replace('name="first"', 'name="renamed"'))
    assert load_pipeline(str(path)).name == "renamed"
    assert first.name == "first"


def test_a_file_may_not_shadow_an_imported_module(tmp_path: Path) -> None:
    path = tmp_path / "json.py"
    path.write_text(BODY)
    with pytest.raises(TargetError, match="a module named 'json' is already imported"):
        load_pipeline(str(path))


def test_file_names_must_be_module_names(tmp_path: Path) -> None:
    path = tmp_path / "my-flows.py"
    path.write_text(BODY)
    with pytest.raises(TargetError, match="not a valid module name"):
        load_pipeline(str(path))


def test_errors_while_loading_keep_their_cause(tmp_path: Path) -> None:
    path = tmp_path / "raises_on_import.py"
    path.write_text("raise RuntimeError('no')\n")
    with pytest.raises(TargetError, match="RuntimeError: no") as info:
        load_pipeline(str(path))
    assert isinstance(info.value.__cause__, RuntimeError)


LOOP = """
from glacier import Provider, pipeline
from glacier.config import LocalConfig

provider = Provider(config=LocalConfig(base_path={base!r}))
here = provider.local()
REGIONS = ["eu", "us"]


@here.task()
def count(region: str) -> str:
    return region


def make(region):
    def body():
        return count(region)

    return body


by_region = {{}}
for region in REGIONS:
    by_region[region] = pipeline(name=f"daily_{{region}}")(make(region))
weekly = [pipeline(name=f"weekly_{{region}}")(make(region)) for region in REGIONS]
nested = {{"monthly": (pipeline(name="monthly_eu")(make("eu")),)}}
"""


def test_pipelines_built_in_a_loop_or_kept_in_containers_are_found_by_name(
    tmp_path: Path,
) -> None:
    path = tmp_path / "regional_flows.py"
    path.write_text(LOOP.format(base=str(tmp_path / "data")))
    for name in ("daily_eu", "daily_us", "weekly_eu", "weekly_us", "monthly_eu"):
        found = load_pipeline(f"{path}:{name}")
        assert found.name == name
        assert found.run().output == name.rsplit("_", 1)[1]
    listing = (
        "defines 5 pipelines: daily_eu (in by_region['eu']), daily_us (in by_region['us']), "
        "weekly_eu (in weekly[0]), weekly_us (in weekly[1]), monthly_eu (in "
        "nested['monthly'][0])."
    )
    with pytest.raises(TargetError, match=re.escape(listing)):
        load_pipeline(str(path))


def test_an_unknown_name_lists_the_names_that_exist(tmp_path: Path) -> None:
    path = tmp_path / "regional_unknown.py"
    path.write_text(LOOP.format(base=str(tmp_path / "data")))
    with pytest.raises(TargetError) as info:
        load_pipeline(f"{path}:daily_apac")
    message = str(info.value)
    assert f"{path} has no pipeline named 'daily_apac'. Its pipelines: daily_eu (in " in message
    assert "weekly_us (in weekly[1]), monthly_eu (in nested['monthly'][0])." in message
    assert "in the dicts, lists and tuples they hold" in message


def test_name_beats_variable_and_own_beats_imported(tmp_path: Path) -> None:
    (tmp_path / "lib_named.py").write_text(BODY.replace('name="first"', 'name="shared"'))
    path = tmp_path / "crossed.py"
    path.write_text(
        BODY.replace('name="first"', 'name="shared"')
        + '\n\n@pipeline(name="first_pipeline")\ndef other():\n    return one()\n'
        + "\nfrom lib_named import first_pipeline as imported\n"
    )
    # 'first_pipeline' is one pipeline's name= and another's variable: name= wins
    assert load_pipeline(f"{path}:first_pipeline").fn.__name__ == "other"
    # 'shared' names this module's pipeline and the imported one: this module's wins
    chosen = load_pipeline(f"{path}:shared")
    assert chosen.fn.__module__ == "crossed"
    assert load_pipeline(f"{path}:imported").fn.__module__ == "lib_named"
