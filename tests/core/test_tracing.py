"""Tracing a pipeline body into a DAG, and the errors that explain what a body cannot do."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from glacier import (
    ParameterError,
    Pipeline,
    PipelineDefinitionError,
    Provider,
    Task,
    pipeline,
)
from glacier.core.dag import NodeKind, ParamRef, Ref

PLACEHOLDER_HINT = "Move this logic into a task"


@pytest.fixture
def tasks(provider: Provider) -> dict[str, Task[..., Any]]:
    ex = provider.local()

    @ex.task()
    def make(n: int = 3) -> pl.LazyFrame:
        return pl.LazyFrame({"x": list(range(n))})

    @ex.task()
    def double(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.with_columns(pl.col("x") * 2)

    @ex.task()
    def join(left: pl.LazyFrame, right: pl.LazyFrame, how: str = "inner") -> pl.LazyFrame:
        return left.join(right, on="x", how=how)  # type: ignore[arg-type]

    return {"make": make, "double": double, "join": join}


def _define(name: str, body: Callable[..., Any]) -> Pipeline:
    return pipeline(name=name)(body)


@pytest.mark.parametrize(
    ("misuse", "action"),
    [
        (lambda p: 1 if p else 0, "using in an if/while/and/or"),
        (lambda p: p and 1, "using in an if/while/and/or"),
        (len, r"calling len\(\) on"),
        (lambda p: [r for r in p], "iterating over"),
        (lambda p: p > 0, r"comparing \(>\)"),
        (lambda p: p == 0, r"comparing \(==\)"),
        (lambda p: p.filter(pl.col("x") > 0), r"accessing \.filter on"),
        (lambda p: p.collect(), r"accessing \.collect on"),
        (lambda p: p["x"], "indexing"),
        (lambda p: p + 1, r"doing arithmetic \(\+\) with"),
        (lambda p: 1 in p, "using 'in' with"),
        (lambda p: p(), "calling"),
        (lambda p: {p: 1}, "using as a dict key or set member"),
        (lambda p: {p}, "using as a dict key or set member"),
    ],
)
def test_using_a_placeholder_in_python_logic(
    tasks: dict[str, Task[..., Any]], name: str, misuse: Callable[[Any], Any], action: str
) -> None:
    make = tasks["make"]

    def body() -> Any:
        return misuse(make())

    with pytest.raises(PipelineDefinitionError) as err:
        _define(name, body)
    message = str(err.value)
    assert f"Pipeline {name!r}" in message
    assert "the output of task 'make'" in message
    assert re.search(action, message)
    assert PLACEHOLDER_HINT in message


def test_branching_on_a_parameter(tasks: dict[str, Task[..., Any]], name: str) -> None:
    make = tasks["make"]

    def body(n: int = 3) -> Any:
        return make(n) if n > 2 else make(1)

    with pytest.raises(
        PipelineDefinitionError, match=r"comparing \(>\) the pipeline parameter 'n'"
    ):
        _define(name, body)


def test_placeholder_from_another_pipeline(
    provider: Provider, tasks: dict[str, Task[..., Any]], name: str
) -> None:
    make, double = tasks["make"], tasks["double"]
    leaked: list[Any] = []

    def first() -> Any:
        leaked.append(make())
        return leaked[0]

    _define(f"{name}_first", first)
    out = provider.bucket(bucket="out", path="x.parquet")

    def second() -> Any:
        out.write(leaked[0])
        return double(make())

    with pytest.raises(PipelineDefinitionError) as err:
        _define(f"{name}_second", second)
    assert str(err.value) == (
        f"Pipeline '{name}_second': out/x.parquet.write() received the output of task 'make' "
        f"from pipeline '{name}_first'. Placeholders cannot cross pipelines; call the other "
        f"pipeline inside this one to inline it."
    )

    def third() -> Any:
        return double(leaked[0])

    with pytest.raises(
        PipelineDefinitionError, match=r"task 'double' received the output of task 'make'"
    ):
        _define(f"{name}_third", third)


@pytest.mark.parametrize(
    ("call", "detail"),
    [
        (lambda t: t["double"](), r"missing a required argument: 'df'"),
        (lambda t: t["double"](t["make"](), t["make"]()), r"too many positional arguments"),
        (
            lambda t: t["join"](t["make"](), t["make"](), hw="left"),
            r"unexpected keyword argument 'hw'",
        ),
    ],
)
def test_wrong_task_arguments(
    tasks: dict[str, Task[..., Any]], name: str, call: Callable[[Any], Any], detail: str
) -> None:
    with pytest.raises(PipelineDefinitionError) as err:
        _define(name, lambda: call(tasks))
    message = str(err.value)
    assert "do not fit its signature" in message
    assert re.search(detail, message)
    assert "Fix the call in the pipeline body" in message


def test_two_pipelines_with_one_name_in_one_module(tasks: dict[str, Task[..., Any]]) -> None:
    make = tasks["make"]

    @pipeline(name="twin")
    def one() -> Any:
        return make()

    @pipeline(name="twin")  # the same definition again (a notebook cell rerun) replaces it
    def one() -> Any:  # noqa: F811
        return make()

    with pytest.raises(PipelineDefinitionError) as err:

        @pipeline(name="twin")
        def other() -> Any:
            return make()

    message = str(err.value)
    assert f"Two pipelines in module {__name__} are named 'twin'" in message
    assert "one" in message and "other" in message and "pass a distinct name=" in message


def test_write_of_a_non_placeholder(
    provider: Provider, tasks: dict[str, Task[..., Any]], name: str
) -> None:
    out = provider.bucket(bucket="out", path="x.parquet")

    def body() -> Any:
        out.write(pl.DataFrame({"x": [1]}))
        return tasks["make"]()

    with pytest.raises(PipelineDefinitionError) as err:
        _define(name, body)
    assert str(err.value) == (
        f"Pipeline {name!r}: out/x.parquet.write() was given a DataFrame. Inside a pipeline, "
        f"write() takes a task's output; to write a fixed frame, return it from a task and "
        f"write that task's output."
    )

    def param_body(day: str) -> Any:
        out.write(day)
        return tasks["make"]()

    with pytest.raises(PipelineDefinitionError, match=r"was given the pipeline parameter 'day'"):
        _define(f"{name}_param", param_body)


def test_writing_one_bucket_twice(
    provider: Provider, tasks: dict[str, Task[..., Any]], name: str
) -> None:
    out = provider.bucket(bucket="out", path="x.parquet")

    def body() -> None:
        out.write(tasks["make"]())
        out.write(tasks["make"]())

    with pytest.raises(PipelineDefinitionError, match=r"writes out/x\.parquet twice.*'make_2'"):
        _define(name, body)


def test_pipeline_with_no_tasks(provider: Provider, name: str) -> None:
    with pytest.raises(PipelineDefinitionError, match=rf"Pipeline '{name}' calls no task"):
        _define(name, lambda: 42)
    sales = provider.bucket(bucket="raw", path="sales.parquet")
    with pytest.raises(PipelineDefinitionError, match=rf"Pipeline '{name}_bucket' calls no task"):
        _define(f"{name}_bucket", lambda: sales)


def test_variadic_pipeline_parameters(tasks: dict[str, Task[..., Any]], name: str) -> None:
    with pytest.raises(PipelineDefinitionError, match=r"\*args parameters are not supported"):
        _define(name, lambda *args: tasks["make"]())


# --- what tracing records ---------------------------------------------------------------------


def test_trace_records_sources_tasks_sinks_and_edges(
    provider: Provider, tasks: dict[str, Task[..., Any]], name: str
) -> None:
    make, double, join = tasks["make"], tasks["double"], tasks["join"]
    src = provider.bucket(bucket="raw", path="in.parquet")
    out = provider.bucket(bucket="out", path="x.parquet")

    def body(n: int = 4) -> Any:
        a = make(n)
        b = double(a)
        c = join(a, b, how="left")
        out.write(c)
        return {"joined": c, "from_file": double(src)}

    p = _define(name, body)
    kinds = {n.id: n.kind for n in p.dag}
    assert kinds == {
        "make": NodeKind.TASK,
        "double": NodeKind.TASK,
        "join": NodeKind.TASK,
        "write:out/x.parquet": NodeKind.SINK,
        "read:raw/in.parquet": NodeKind.SOURCE,
        "double_2": NodeKind.TASK,
    }
    assert set(p.dag.edges) == {
        ("make", "double"),
        ("make", "join"),
        ("double", "join"),
        ("join", "write:out/x.parquet"),
        ("read:raw/in.parquet", "double_2"),
    }
    assert p.dag["make"].args == (ParamRef("n"),)
    assert p.dag["join"].kwargs == {"how": "left"}
    assert p.dag["write:out/x.parquet"].executor is make.executor
    assert p.output == {"joined": Ref("join"), "from_file": Ref("double_2")}
    assert list(p.params) == ["n"]


# --- parameters -------------------------------------------------------------------------------


def test_parameters_defaults_missing_and_unknown(
    tasks: dict[str, Task[..., Any]], name: str
) -> None:
    make = tasks["make"]

    def body(n: int, label: str = "rows") -> Any:
        return {"rows": make(n), "label": label}

    p = _define(name, body)
    result = p.run(n=2)
    assert result.output["label"] == "rows"
    assert result.output["rows"].equals(pl.DataFrame({"x": [0, 1]}))
    assert p.run(n=1, label="one").output["label"] == "one"
    with pytest.raises(ParameterError) as err:
        p.run()
    assert str(err.value) == (
        f"Pipeline {name!r}: missing a required argument: 'n'. Its parameters: n, label."
    )
    with pytest.raises(ParameterError, match=r"unexpected keyword argument 'size'.*n, label"):
        p.run(n=1, size=3)
    assert isinstance(err.value, TypeError)


# --- inlining and plain calls -----------------------------------------------------------------


def test_pipeline_called_inside_another_is_inlined(
    tasks: dict[str, Task[..., Any]], name: str
) -> None:
    make, double = tasks["make"], tasks["double"]

    def inner(df: Any) -> Any:
        return double(double(df))

    inner_p = _define(f"{name}_inner", inner)

    def outer() -> Any:
        return double(inner_p(make(2)))

    outer_p = _define(f"{name}_outer", outer)
    assert [n.id for n in outer_p.dag] == [
        "make",
        f"{name}_inner.double",
        f"{name}_inner.double_2",
        "double",
    ]
    assert outer_p.dag.predecessors(f"{name}_inner.double") == ["make"]
    assert outer_p.dag.predecessors("double") == [f"{name}_inner.double_2"]
    assert outer_p.run().output.equals(pl.DataFrame({"x": [0, 8]}))

    with pytest.raises(PipelineDefinitionError, match=r"inlined pipeline .* do not fit"):

        @pipeline(name=f"{name}_bad")
        def no_arguments() -> Any:
            return inner_p()


def test_task_outside_a_pipeline_is_the_plain_function(tasks: dict[str, Task[..., Any]]) -> None:
    make, double = tasks["make"], tasks["double"]
    out = double(make(3))
    assert isinstance(out, pl.LazyFrame)
    assert out.collect()["x"].to_list() == [0, 2, 4]
    assert double.__name__ == "double"
    assert double.fn(pl.LazyFrame({"x": [1]})).collect()["x"].to_list() == [2]


def test_pipeline_called_outside_a_definition_runs_the_body(
    provider: Provider, tasks: dict[str, Task[..., Any]], name: str
) -> None:
    make, double = tasks["make"], tasks["double"]
    out = provider.bucket(bucket="out", path="plain.parquet")

    def body(n: int) -> Any:
        result = double(make(n))
        out.write(result)
        return result

    p = _define(name, body)
    value = p(2)
    assert isinstance(value, pl.LazyFrame)
    assert value.collect()["x"].to_list() == [0, 2]
    assert out.read()["x"].to_list() == [0, 2]  # the plain call really wrote


TO_TEXT = {
    "f-string": lambda p: f"day={p}",
    "f-string with a spec": lambda p: f"{p:>10}",
    "str()": str,
    "str.format": "day={}".format,
    "% formatting": lambda p: "day=%s" % p,  # noqa: UP031 - the form under test
    "concatenation": lambda p: "day=" + p,
}


@pytest.mark.parametrize("to_text", TO_TEXT.values(), ids=TO_TEXT.keys())
@pytest.mark.parametrize("of", ["parameter", "task output"])
def test_text_made_from_a_placeholder_is_refused_naming_it(
    tasks: dict[str, Task[..., Any]], name: str, to_text: Callable[[Any], str], of: str
) -> None:
    make = tasks["make"]

    def body(day: str = "2024-01-31") -> Any:
        text = to_text(day if of == "parameter" else make())
        return make(len(text))

    with pytest.raises(PipelineDefinitionError) as err:
        _define(name, body)
    message = str(err.value)
    described = "pipeline parameter 'day'" if of == "parameter" else "output of task 'make'"
    assert described in message and "<pipeline" not in message
    assert "Pass the value to a task" in message or PLACEHOLDER_HINT in message


def test_repr_of_a_placeholder_still_describes_it_for_debugging(
    tasks: dict[str, Task[..., Any]], name: str
) -> None:
    seen: list[str] = []

    def body(day: str = "x") -> Any:
        seen.append(repr(day))
        return tasks["make"]()

    _define(name, body)
    assert seen == ["<pipeline parameter 'day'>"]


@pytest.mark.parametrize("keyword", ["mode", "cache", "on_event"])
def test_run_parameters_named_like_run_keywords_are_refused(
    tasks: dict[str, Task[..., Any]], name: str, keyword: str
) -> None:
    namespace: dict[str, Any] = {"make": tasks["make"]}
    exec(f"def body({keyword}=1):\n    return make()\n", namespace)
    with pytest.raises(PipelineDefinitionError, match=f"parameter {keyword!r} has the name of"):
        _define(name, namespace["body"])


def test_the_refused_names_are_exactly_the_keywords_of_run() -> None:
    run_keywords = set(inspect.signature(Pipeline.run).parameters) - {"self", "params"}
    assert Pipeline.reserved == run_keywords


def test_frames_built_in_the_body_are_refused(
    tasks: dict[str, Task[..., Any]], provider: Provider, name: str, tmp_path: Path
) -> None:
    raw = provider.bucket(bucket="raw", path="nation.parquet")
    Path(raw.uri).parent.mkdir(parents=True)
    pl.DataFrame({"x": [1]}).write_parquet(raw.uri)
    double = tasks["double"]
    built = {
        "bucket.scan()": lambda: double(raw.scan()),
        "bucket.read()": lambda: double(raw.read()),
        "pl.scan_parquet()": lambda: double(pl.scan_parquet(raw.uri)),
        "a DataFrame": lambda: double(df=pl.DataFrame({"x": [1]})),
    }
    for what, body in built.items():
        with pytest.raises(PipelineDefinitionError, match="Pass the bucket") as err:
            _define(f"{name}_{len(what)}", body)
        assert f"Pipeline '{name}_{len(what)}'" in str(err.value), what


def test_a_bucket_passed_to_a_task_is_a_source_node(
    tasks: dict[str, Task[..., Any]], provider: Provider, name: str
) -> None:
    raw = provider.bucket(bucket="raw", path="nation.parquet")
    p = _define(name, lambda: tasks["double"](raw))
    assert [n.kind for n in p.dag] == [NodeKind.SOURCE, NodeKind.TASK]
