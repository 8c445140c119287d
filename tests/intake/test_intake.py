"""The rules every input obeys: the bounded YAML loader, plain JSON values, the error formatter."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from intake import (
    MAX_DEPTH,
    MAX_NODES,
    InputError,
    check_json_value,
    describe_validation_error,
    field_path,
    load_yaml,
)


def test_plain_data_loads_with_anchors_and_merge_keys() -> None:
    text = "a: 1\nb: [1, 2.5, null, true]\nbase: &b {k: v}\nc: *b\nd: {<<: *b, z: 2}\n"
    assert load_yaml(text, "F") == {
        "a": 1,
        "b": [1, 2.5, None, True],
        "base": {"k": "v"},
        "c": {"k": "v"},
        "d": {"k": "v", "z": 2},
    }


def test_dates_are_kept_as_the_text_written() -> None:
    assert load_yaml("d: 2024-01-31\nt: 2024-01-31T10:00:00Z\n", "F") == {
        "d": "2024-01-31",
        "t": "2024-01-31T10:00:00Z",
    }


def test_billion_laughs_is_refused_before_it_expands() -> None:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    text = "\n".join(lines)
    assert len(text) < 1000
    with pytest.raises(InputError, match=f"expands to more than {MAX_NODES} values"):
        load_yaml(text, "F")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: " + "[" * 3000 + "]" * 3000, f"nested more than {MAX_DEPTH} levels deep at line 1"),
        ("a: &a [*a]", "alias that refers to a collection containing it"),
        ("b: !!binary aGVsbG8=", "tag 'tag:yaml.org,2002:binary' at line 1"),
        ("s: !!set {a, b}", "tag 'tag:yaml.org,2002:set'"),
        ("x: !!python/object/apply:os.system [ls]", "python/object/apply:os.system"),
        ("x: !custom 1", "tag '!custom'"),
        ("a: 1\nb: 2\na: 3\n", "has the key 'a' twice in one mapping \\(line 3\\)"),
        ("a: [unclosed", "is not valid YAML"),
    ],
)
def test_what_is_not_plain_bounded_data_is_refused(text: str, message: str) -> None:
    with pytest.raises(InputError, match=f"^F .*{message}"):
        load_yaml(text, "F")


def test_a_file_over_the_size_limit_is_refused_unread() -> None:
    with pytest.raises(InputError, match="more than the limit of 1048576"):
        load_yaml("# " + "x" * (1024 * 1024), "F")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": float("nan")}, r"input.a=nan is not a finite number"),
        ({"a": [1, float("inf")]}, r"input.a\[1\]=inf is not a finite number"),
        ({1: "x"}, r"has the key 1 \(int\)"),
        ({"a": {1, 2}}, r"input.a=\{1, 2\} is a set"),
        ({"a": "\ud800"}, r"lone surrogate"),
        ({"a": [[[[]]]] * 1}, None),
    ],
)
def test_json_values_are_plain_and_finite(value: object, message: str | None) -> None:
    if message is None:
        assert check_json_value(value) is value
    else:
        with pytest.raises(InputError, match=message):
            check_json_value(value)


def test_json_values_are_bounded_in_depth_and_size() -> None:
    deep: object = []
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    with pytest.raises(InputError, match="nested more than 64 levels"):
        check_json_value({"a": deep})
    with pytest.raises(InputError, match="more than the limit of 1048576"):
        check_json_value({"a": "x" * (1024 * 1024 + 1)})


class _Inner(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    seconds: Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)] = 1.0


class _Outer(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: Annotated[str, Field(description="what the thing is called")]
    items: list[_Inner] = []


def _message(data: object) -> str:
    with pytest.raises(ValidationError) as caught:
        _Outer.model_validate(data)
    return describe_validation_error(caught.value, "Thing 'x.yaml'", model=_Outer)


def test_the_formatter_names_path_value_and_rule() -> None:
    assert _message({"name": "a", "items": [{}, {"seconds": float("nan")}]}) == (
        "Thing 'x.yaml': items[1].seconds=nan: must be a finite number."
    )
    assert _message({"name": "a", "items": [{"secs": 1}]}) == (
        "Thing 'x.yaml': items[0].secs=1 is not a field here; remove it or check its spelling "
        "(allowed: seconds)."
    )
    assert _message({}) == "Thing 'x.yaml': name is missing; add it (what the thing is called)."
    assert _message({"name": 5}) == "Thing 'x.yaml': name=5: must be a valid string."


def test_paths_leave_out_union_tags_and_mark_keys() -> None:
    assert field_path(("faults", 0, "step", "params", "seconds"), ("step",)) == (
        "faults[0].params.seconds"
    )
    assert field_path(("faults", 0, "step", "trigger", "step"), ("step",)) == (
        "faults[0].trigger.step"
    )
    assert field_path(("shape", "ramp", "up_s"), ("ramp",), ("shape",)) == "shape.up_s"
    assert field_path(("inputs", 0, 1, "[key]")) == "inputs[0] key 1"
