"""OUTPUT_CAP helpers only ever tighten."""

from __future__ import annotations

import pytest

from policygate.models import Obligation, OutputCap
from policygate.obligations import (
    apply_to_params,
    limit_max_tokens,
    merged_output_cap,
    truncate_bytes,
    truncate_items,
)


def cap(**kw: int) -> OutputCap:
    return OutputCap(**kw)


def test_merging_keeps_the_smallest_limits() -> None:
    merged = merged_output_cap(
        [
            Obligation(type="OUTPUT_CAP", params=cap(max_tokens=200, max_bytes=50)),
            Obligation(type="OUTPUT_CAP", params=cap(max_tokens=100, max_items=3, max_bytes=80)),
        ]
    )
    assert merged == cap(max_tokens=100, max_items=3, max_bytes=50)
    assert merged_output_cap([]) is None


def test_max_tokens_is_only_lowered() -> None:
    c = cap(max_tokens=100)
    assert limit_max_tokens(c, 500) == 100
    assert limit_max_tokens(c, 20) == 20
    assert limit_max_tokens(c, None) == 100
    assert limit_max_tokens(cap(max_items=1), 7) == 7


def test_params_are_capped_or_refused() -> None:
    c = cap(max_tokens=100)
    assert apply_to_params(c, {"model": "m", "max_tokens": 4096}) == {
        "model": "m",
        "max_tokens": 100,
    }
    assert apply_to_params(c, {"model": "m"}) == {"model": "m", "max_tokens": 100}
    assert apply_to_params(c, {"max_tokens": 10}) == {"max_tokens": 10}
    assert apply_to_params(c, {"max_completion_tokens": 900}) == {
        "max_completion_tokens": 100,
        "max_tokens": 100,
    }
    assert apply_to_params(cap(max_bytes=4), {"max_tokens": 9}) == {"max_tokens": 9}
    for bad in ("lots", -1, True, 1.5):
        with pytest.raises(ValueError, match="non-negative integer"):
            apply_to_params(c, {"max_tokens": bad})


def test_bytes_are_cut_on_character_boundaries() -> None:
    c = cap(max_bytes=5)
    assert truncate_bytes(c, "abcdefgh") == "abcde"
    assert truncate_bytes(c, "abc") == "abc"
    assert truncate_bytes(c, "ééé") == "éé"
    assert truncate_bytes(cap(max_bytes=1), "€") == ""
    assert truncate_bytes(cap(max_tokens=1), "ééé") == "ééé"


def test_items_are_dropped_beyond_the_cap() -> None:
    assert truncate_items(cap(max_items=2), [1, 2, 3, 4]) == [1, 2]
    assert truncate_items(cap(max_tokens=2), [1, 2, 3]) == [1, 2, 3]


def test_a_cap_must_limit_something() -> None:
    with pytest.raises(ValueError, match="sets none"):
        OutputCap()
