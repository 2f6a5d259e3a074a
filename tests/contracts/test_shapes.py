"""The structural comparison the contract tests rely on, including the cases that must fail."""

from __future__ import annotations

import pytest

from tests.contracts.shapes import child_path, json_type, shape_mismatches


@pytest.mark.parametrize(
    ("expected", "actual"),
    [
        ({"a": 1}, {"a": 2}),
        ({"a": 1}, {"a": 2.5}),  # an int in the fixture: any JSON number
        ({"a": 1.5}, {"a": 2}),  # and the other way round: JSON has one number type
        ({"a": "x"}, {"a": "", "extra": [1, 2]}),  # keys only the answer has are fine
        ({"a": None}, {"a": {"deep": [1]}}),  # null in the fixture matches anything
        ({"a": None}, {"a": None}),
        ({"a": []}, {"a": [1, "two", None]}),  # an empty template list matches any list
        ({"a": [{"k": "v"}]}, {"a": []}),  # no element to compare
        ({"a": [{"k": "v"}, {"other": 1}]}, {"a": [{"k": "w"}, {"k": "z", "more": 1}]}),  # first element only
        ({}, {"anything": 1}),
        ([], []),
        (True, False),
        ("text", "other text"),
    ],
)
def test_matching_shapes(expected: object, actual: object) -> None:
    assert shape_mismatches(expected, actual) == []


@pytest.mark.parametrize(
    ("expected", "actual", "messages"),
    [
        ({"a": 1}, {}, ["$.a: missing (expected number)"]),
        ({"a": 1}, {"a": "1"}, ["$.a: expected number, got string"]),
        ({"a": 1}, {"a": True}, ["$.a: expected number, got boolean"]),  # a boolean is no number
        ({"a": True}, {"a": 1}, ["$.a: expected boolean, got number"]),
        ({"a": "x"}, {"a": None}, ["$.a: expected string, got null"]),  # null only matches in the fixture
        ({"a": {"b": 1}}, {"a": []}, ["$.a: expected object, got array"]),
        ({"a": []}, {"a": {}}, ["$.a: expected array, got object"]),
        (
            {"a": [{"k": "v"}]},
            {"a": [{"k": "v"}, {"k": 3}, {}]},
            ["$.a[1].k: expected string, got number", "$.a[2].k: missing (expected string)"],
        ),
        ({"a": {"b": {"c": [1]}}}, {"a": {"b": {"c": [1, "x"]}}}, ["$.a.b.c[1]: expected number, got string"]),
        ({"x y": 1, 'q"': 1}, {}, ['$["x y"]: missing (expected number)', '$["q\\""]: missing (expected number)']),
        (
            {"a": 1, "b": "s"},
            {"a": None, "b": 2},
            ["$.a: expected number, got null", "$.b: expected string, got number"],
        ),
        ([{"id": 1}], {"id": 1}, ["$: expected array, got object"]),
    ],
)
def test_mismatching_shapes(expected: object, actual: object, messages: list[str]) -> None:
    assert shape_mismatches(expected, actual) == messages


def test_every_mismatch_is_reported_not_only_the_first() -> None:
    expected = {"data": [{"id": 1, "name": "n", "tags": [{"name": "t"}]}], "count": 3}
    actual = {"data": [{"id": "1", "tags": [{"name": 7}]}, {"id": 2, "name": "m", "tags": []}]}
    assert shape_mismatches(expected, actual) == [
        "$.data[0].id: expected number, got string",
        "$.data[0].name: missing (expected string)",
        "$.data[0].tags[0].name: expected string, got number",
        "$.count: missing (expected number)",
    ]


def test_a_path_prefix_is_kept() -> None:
    assert shape_mismatches({"k": 1}, {}, "$.body") == ["$.body.k: missing (expected number)"]


def test_json_type_and_paths() -> None:
    assert [json_type(v) for v in (None, True, 0, 0.5, "", [], {})] == [
        "null", "boolean", "number", "number", "string", "array", "object",
    ]  # fmt: skip
    with pytest.raises(TypeError):
        json_type(b"bytes")
    assert child_path("$", "ok_1") == "$.ok_1"
    assert child_path("$", "1st") == '$["1st"]'
