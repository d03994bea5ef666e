"""The ``glacier`` command: run, graph, inspect, exit codes and error output."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from rich.console import Console

from glacier.cli import cli
from glacier.cli.display import Progress, print_output, print_summary
from glacier.loader import load_pipeline
from tests._cli_support import run_glacier

PIPELINE = """
import polars as pl
from glacier import Provider, pipeline
from glacier.config import LocalConfig, ServerlessConfig

provider = Provider(config=LocalConfig(base_path={base!r}))
raw = provider.bucket(bucket="raw", path="numbers.parquet")
big_out = provider.bucket(bucket="curated", path="big.parquet")
here = provider.local()
fn = provider.serverless(config=ServerlessConfig(memory=256, timeout=30))


@here.task()
def load(src):
    return src.scan()


@fn.task()
def keep_big(df, threshold: int):
    return df.filter(pl.col("n") > threshold)


@here.task()
def double(df, fail: bool):
    if fail:
        raise ValueError("boom on purpose")
    return df.with_columns(double=pl.col("n") * 2)


@pipeline(name="numbers")
def numbers(threshold: int = 0, fail: bool = False, label: str = "plain"):
    big = keep_big(load(raw), threshold)
    big_out.write(big)
    return {{"big": double(big, fail), "label": label}}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with data and a one-pipeline file ``numbers_pipeline.py``; returns the file."""
    base = tmp_path / "data"
    (base / "raw").mkdir(parents=True)
    pl.DataFrame({"n": [1, 2, 3, 4, 5]}).write_parquet(base / "raw" / "numbers.parquet")
    path = tmp_path / "numbers_pipeline.py"
    path.write_text(PIPELINE.format(base=str(base)))
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# --- run ----------------------------------------------------------------------------------------


def test_run_prints_progress_summary_and_preview(project: Path) -> None:
    code, out, err = invoke("run", str(project))
    assert code == 0, err
    for task in ("load", "keep_big", "double", "write:curated/big.parquet"):
        assert f"{task}  succeeded" in out  # plain progress lines (stdout is not a terminal)
    header = "task  executor  backend  status  attempts  seconds  rows  handoff"
    assert " ".join(header.split()) in " ".join(out.split())
    assert "run " in out and " ok in " in out
    assert "output['big']: 5 rows x 2 columns" in out
    assert "output['label']: 'plain'" in out
    written = pl.read_parquet(project.parent / "data" / "curated" / "big.parquet")
    assert written["n"].to_list() == [1, 2, 3, 4, 5]


def test_run_passes_params_parsed_by_annotation(project: Path) -> None:
    code, out, err = invoke(
        "run", f"{project}:numbers", "--param", "threshold=3", "-p", "label=hello world"
    )
    assert code == 0, err
    assert "output['big']: 2 rows x 2 columns" in out
    assert "output['label']: 'hello world'" in out
    written = pl.read_parquet(project.parent / "data" / "curated" / "big.parquet")
    assert written["n"].to_list() == [4, 5]


ORDERS = """
from __future__ import annotations

from datetime import date

import polars as pl
from glacier import Provider, pipeline
from glacier.config import LocalConfig

provider = Provider(config=LocalConfig(base_path={base!r}))
orders = provider.bucket(bucket="raw", path="orders.parquet")
here = provider.local()


@here.task()
def shipped_before(src, day: date, min_qty: int, regions: list[str]) -> pl.LazyFrame:
    return src.scan().filter(
        pl.col("day") < day, pl.col("qty") >= min_qty, pl.col("region").is_in(regions)
    )


@pipeline(name="q3")
def q3(day: date = date(1995, 3, 15), min_qty: int = 0, regions: list[str] = ["EU", "US"]):
    return {{"orders": shipped_before(orders, day, min_qty, regions), "day": day}}
"""


@pytest.fixture
def orders_project(tmp_path: Path) -> Path:
    """A pipeline file whose parameters are a date, an int and a list[str]; returns the file."""
    base = tmp_path / "data"
    (base / "raw").mkdir(parents=True)
    pl.DataFrame(
        {
            "day": [date(1995, 3, 1), date(1995, 3, 10), date(1995, 3, 20), date(1995, 4, 2)],
            "qty": [1, 5, 10, 20],
            "region": ["EU", "US", "EU", "APAC"],
        }
    ).write_parquet(base / "raw" / "orders.parquet")
    path = tmp_path / "orders_q3.py"
    path.write_text(ORDERS.format(base=str(base)))
    return path


def test_run_parses_a_date_an_int_and_a_list_by_annotation(orders_project: Path) -> None:
    code, out, err = invoke("run", f"{orders_project}:q3", "-p", "day=1995-03-15")
    assert code == 0, err
    assert "output['orders']: 2 rows x 3 columns" in out
    assert "output['day']: datetime.date(1995, 3, 15)" in out
    code, out, err = invoke(
        "run",
        str(orders_project),
        "-p",
        "day=1995-04-30",
        "-p",
        "regions=EU,APAC",
        "-p",
        "min_qty=2",
    )
    assert code == 0, err
    assert "output['orders']: 2 rows x 3 columns" in out  # EU 10 and APAC 20


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        (
            "min_qty=abc",
            "Error: Parameter 'min_qty' (int) of pipeline 'q3': 'abc' is not a valid int. "
            "Example: -p min_qty=10",
        ),
        (
            "day=15/03/1995",
            "Error: Parameter 'day' (date) of pipeline 'q3': '15/03/1995' is not a valid date "
            "(Invalid isoformat string: '15/03/1995'). Example: -p day=1995-03-15",
        ),
        (
            "min_qty=",
            "Error: Parameter 'min_qty' (int) of pipeline 'q3': '' is not a valid int.",
        ),
    ],
)
def test_a_value_that_does_not_parse_exits_2_naming_parameter_type_and_example(
    orders_project: Path, arg: str, message: str
) -> None:
    code, out, err = invoke("run", str(orders_project), "-p", arg)
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out
    assert "shipped_before" not in out  # refused before anything ran


def test_inspect_prints_defaults_as_p_arguments_that_paste_back(orders_project: Path) -> None:
    code, out, err = invoke("inspect", str(orders_project))
    assert code == 0, err
    lines = [line.split() for line in out.splitlines()]
    assert ["-p", "day=1995-03-15", "date"] in lines
    assert ["-p", "min_qty=0", "int"] in lines
    assert ["-p", "regions=EU,US", "list[str]"] in lines
    code, out, err = invoke("inspect", str(orders_project), "--json")
    assert code == 0, err
    args = [p["arg"] for p in json.loads(out)["cli_params"]]
    assert args == ["day=1995-03-15", "min_qty=0", "regions=EU,US"]
    pasted = [part for arg in args for part in ("-p", arg)]
    code, with_defaults, err = invoke("run", str(orders_project), "--no-cache", *pasted)
    assert code == 0, err
    code, without, err = invoke("run", str(orders_project), "--no-cache")
    assert code == 0, err
    assert "output['orders']: 2 rows x 3 columns" in with_defaults
    preview = "output['orders']"
    assert with_defaults[with_defaults.index(preview) :] == without[without.index(preview) :]


def test_run_no_cache_is_accepted(project: Path) -> None:
    code, _, err = invoke("run", str(project), "--no-cache")
    assert code == 0, err


def test_failed_task_exits_1_with_message_and_no_traceback(project: Path) -> None:
    code, out, err = invoke("run", str(project), "-p", "fail=true")
    assert code == 1
    assert "Error: Pipeline 'numbers': task 'double' failed" in err
    assert "ValueError: boom on purpose" in err
    assert "Traceback" not in err + out
    assert "double  failed" in out  # the partial summary shows what ran
    assert "run " in out and " failed in " in out


def test_failed_task_with_debug_shows_tracebacks(project: Path) -> None:
    code, _, err = invoke("run", str(project), "-p", "fail=true", "--debug")
    assert code == 1
    assert "Traceback" in err
    assert 'raise ValueError("boom on purpose")' in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "nonsense"], "'nonsense' is not KEY=VALUE"),
        (["-p", "=3"], "is not KEY=VALUE"),
        (["-p", "colour=red"], "Pipeline 'numbers': got an unexpected keyword argument 'colour'"),
    ],
)
def test_bad_params_exit_2(project: Path, args: list[str], message: str) -> None:
    code, out, err = invoke("run", str(project), *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out


def test_bad_targets_exit_2(tmp_path: Path, project: Path) -> None:
    code, _, err = invoke("run", str(tmp_path / "missing.py"))
    assert code == 2
    assert "Error: No file" in err
    code, _, err = invoke("run", f"{project}:other")
    assert code == 2
    assert "has no pipeline named 'other'. Its pipelines: numbers." in err
    code, _, err = invoke("run", "no_such_module_xyz")
    assert code == 2
    assert "No module named 'no_such_module_xyz'" in err


def test_definition_error_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "broken_def.py"
    path.write_text(
        textwrap.dedent(
            """
            from glacier import Provider, pipeline
            from glacier.config import LocalConfig

            provider = Provider(config=LocalConfig(base_path="."))
            here = provider.local()

            @here.task()
            def one():
                return 1

            @pipeline
            def bad():
                if one():
                    return 2
            """
        )
    )
    code, out, err = invoke("run", str(path))
    assert code == 2
    assert "Error: Pipeline 'bad': using in an if/while/and/or" in err
    assert "Traceback" not in err + out
    code, _, err = invoke("--debug", "run", str(path))
    assert code == 2
    assert "Traceback" in err


def test_import_error_in_the_file_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "bad_import.py"
    path.write_text("import not_a_real_module_qq\n")
    code, _, err = invoke("run", str(path))
    assert code == 2
    assert "Loading" in err and "No module named 'not_a_real_module_qq'" in err


def test_several_pipelines_need_a_name(tmp_path: Path, project: Path) -> None:
    path = tmp_path / "two_pipelines.py"
    path.write_text(
        PIPELINE.format(base=str(tmp_path / "data"))
        + '\n\n@pipeline(name="again")\ndef other():\n    return load(raw)\n'
    )
    code, _, err = invoke("run", str(path))
    assert code == 2
    assert "defines 2 pipelines: numbers, again (variable other)" in err
    assert f"{path}:NAME" in err
    code, out, err = invoke("run", f"{path}:other")  # by variable name
    assert code == 0, err
    assert "output: 5 rows x 1 columns" in out


def test_run_finds_pipelines_built_in_a_loop_by_their_name(tmp_path: Path, project: Path) -> None:
    """`project` writes the data under tmp_path; the file here builds pipelines in a loop."""
    path = tmp_path / "per_threshold.py"
    path.write_text(
        PIPELINE.format(base=str(tmp_path / "data"))
        + "\n\ndef make(limit):\n"
        + "    def body():\n"
        + "        return keep_big(load(raw), limit)\n"
        + "    return body\n\n\n"
        + "by_limit = {}\n"
        + "for limit in (1, 3):\n"
        + '    by_limit[limit] = pipeline(name=f"above_{limit}")(make(limit))\n'
    )
    code, out, err = invoke("run", f"{path}:above_3")
    assert code == 0, err
    assert "output: 2 rows x 1 columns" in out
    code, _, err = invoke("run", f"{path}:above_2")
    assert code == 2
    assert (
        "has no pipeline named 'above_2'. Its pipelines: numbers, above_1 (in by_limit[1]), "
        "above_3 (in by_limit[3])." in err
    )


# --- graph and inspect --------------------------------------------------------------------------


def test_graph_prints_mermaid_or_writes_dot(project: Path, tmp_path: Path) -> None:
    code, out, _ = invoke("graph", str(project))
    assert code == 0
    assert out.startswith("flowchart LR\n")
    assert out == load_pipeline(str(project)).graph()
    target = tmp_path / "out" / "numbers.dot"
    code, _, err = invoke("graph", str(project), "--format", "dot", "--out", str(target))
    assert code == 0
    assert f"wrote {target}" in err
    assert target.read_text().startswith('digraph "numbers" {')
    code, _, err = invoke("graph", str(project), "--format", "svg")
    assert code == 2
    assert "'svg' is not one of 'mermaid', 'dot'" in err


def test_inspect_json(project: Path) -> None:
    code, out, err = invoke("inspect", str(project), "--json")
    assert code == 0, err
    info = json.loads(out)
    base = project.parent / "data"
    assert info["pipeline"] == "numbers"
    assert info["params"] == {"threshold": 0, "fail": False, "label": "plain"}
    assert info["buckets"] == [
        {
            "address": "raw/numbers.parquet",
            "roles": ["source"],
            "uri": str(base / "raw" / "numbers.parquet"),
            "format": "parquet",
            "cloud": "local",
            "config": None,
        },
        {
            "address": "curated/big.parquet",
            "roles": ["sink"],
            "uri": str(base / "curated" / "big.parquet"),
            "format": "parquet",
            "cloud": "local",
            "config": None,
        },
    ]
    assert info["executors"] == [
        {"name": "local", "kind": "local", "config": None},
        {
            "name": "serverless",
            "kind": "serverless",
            "config": {"type": "ServerlessConfig", "memory": 256, "timeout": 30},
        },
    ]
    assert [(t["id"], t["executor"], t["retries"], t["timeout"]) for t in info["tasks"]] == [
        ("load", "local", 0, None),
        ("keep_big", "serverless", 0, None),
        ("double", "local", 0, None),
    ]
    assert info["tasks"][0]["function"] == "numbers_pipeline:load"
    assert sorted(map(tuple, info["edges"])) == sorted(
        [
            ("read:raw/numbers.parquet", "load"),
            ("load", "keep_big"),
            ("keep_big", "write:curated/big.parquet"),
            ("keep_big", "double"),
        ]
    )
    assert info["levels"] == [
        ["read:raw/numbers.parquet"],
        ["load"],
        ["keep_big"],
        ["write:curated/big.parquet", "double"],
    ]


def test_inspect_text(project: Path) -> None:
    code, out, _ = invoke("inspect", str(project))
    assert code == 0
    for heading in ("buckets", "executors", "tasks", "edges", "levels"):
        assert heading in out
    assert "ServerlessConfig(memory=256, timeout=30)" in out
    assert "keep_big -> double" in out


def test_help_lists_commands_and_debug() -> None:
    code, out, _ = invoke("--help")
    assert code == 0
    for command in ("run", "graph", "inspect"):
        assert command in out
    code, out, _ = invoke("run", "--help")
    assert "--debug" in out and "--param" in out and "--no-cache" in out


# --- the terminal display -----------------------------------------------------------------------


def test_live_display_on_a_terminal(project: Path) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160)
    pipeline = load_pipeline(str(project))
    with Progress(console, pipeline) as progress:
        result = pipeline.run(on_event=progress.on_event)
    print_summary(console, result)
    print_output(console, result.output)
    text = buffer.getvalue()
    assert "\x1b[" in text  # styled for the terminal
    assert "handoff" in text and "succeeded" in text and "keep_big" in text
    assert progress.nodes["double"].status.value == "succeeded"
    assert progress.nodes["keep_big"].rows == 5

    buffer.truncate(0)
    with Progress(console, pipeline) as progress:  # a rerun reuses every output
        rerun = pipeline.run(on_event=progress.on_event)
    print_summary(console, rerun)
    assert progress.nodes["keep_big"].status.value == "cached"
    assert "cached" in buffer.getvalue()


# --- real processes -----------------------------------------------------------------------------


def test_subprocess_exit_codes_and_messages(project: Path) -> None:
    ok = run_glacier("run", str(project), "-p", "threshold=4", cwd=project.parent)
    assert ok.returncode == 0, ok.stderr
    assert "output['big']: 1 rows x 2 columns" in ok.stdout

    failed = run_glacier("run", str(project), "-p", "fail=true", cwd=project.parent)
    assert failed.returncode == 1
    assert "task 'double' failed" in failed.stderr
    assert "Traceback" not in failed.stderr + failed.stdout

    usage = run_glacier("run", str(project), "-p", "threshold", cwd=project.parent)
    assert usage.returncode == 2
    assert "'threshold' is not KEY=VALUE" in usage.stderr
    assert "Traceback" not in usage.stderr

    typed = run_glacier("run", str(project), "-p", "threshold=abc", cwd=project.parent)
    assert typed.returncode == 2
    assert "Parameter 'threshold' (int) of pipeline 'numbers': 'abc' is not a valid int" in (
        typed.stderr
    )
    assert "Traceback" not in typed.stderr

    inspected = run_glacier("inspect", str(project), "--json", cwd=project.parent)
    assert inspected.returncode == 0
    assert json.loads(inspected.stdout)["pipeline"] == "numbers"


def test_module_targets_and_sibling_imports(tmp_path: Path) -> None:
    """``pkg.mod:NAME`` imports from the working directory; a file sees its own folder."""
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "sibling_helpers.py").write_text("THRESHOLD = 3\n")
    (package / "flows.py").write_text(
        PIPELINE.format(base=str(tmp_path / "data")).replace(
            "def numbers(threshold: int = 0,",
            "def numbers(threshold: int = __import__('sibling_helpers').THRESHOLD,",
        )
    )
    (tmp_path / "data" / "raw").mkdir(parents=True)
    pl.DataFrame({"n": [1, 2, 3, 4, 5]}).write_parquet(
        tmp_path / "data" / "raw" / "numbers.parquet"
    )
    by_file = run_glacier("run", "mypkg/flows.py", cwd=tmp_path)
    assert by_file.returncode == 0, by_file.stderr
    assert "output['big']: 2 rows x 2 columns" in by_file.stdout
    (package / "flows.py").write_text(PIPELINE.format(base=str(tmp_path / "data")))
    by_module = run_glacier("run", "mypkg.flows:numbers", cwd=tmp_path)
    assert by_module.returncode == 0, by_module.stderr
    assert "output['big']: 5 rows x 2 columns" in by_module.stdout


def test_import_glacier_does_not_load_the_cli_stack() -> None:
    code = (
        "import sys, glacier, glacier.viz, glacier.loader; "
        "assert not {'click', 'rich'} & set(sys.modules), sorted({'click', 'rich'} & "
        "set(sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
