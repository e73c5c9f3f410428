"""How deep a JSON body nests (hub.deps.nested_deeper_than): iterative, so any depth is safe."""

from __future__ import annotations

from typing import Any

import pytest

from hub.deps import nested_deeper_than


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for level in range(levels):
        value = [value] if level % 2 else {"x": value}
    return value


@pytest.mark.parametrize(("value", "depth"), [("a", 0), (1, 0), ({}, 1), ([], 1), ({"a": [1]}, 2)])
def test_depth_of_small_values(value: Any, depth: int) -> None:
    assert not nested_deeper_than(value, depth)
    assert nested_deeper_than(value, depth - 1) is (depth > 0)


def test_the_deepest_branch_counts() -> None:
    body = {"shallow": [1, 2, 3], "deep": nested(10), "wide": [{"a": 1}] * 1000}
    assert not nested_deeper_than(body, 11)
    assert nested_deeper_than(body, 10)


def test_far_beyond_the_recursion_limit() -> None:
    assert nested_deeper_than(nested(100_000), 64)
    assert not nested_deeper_than(nested(64), 64)
