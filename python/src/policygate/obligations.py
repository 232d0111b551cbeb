"""Helpers that honour `OUTPUT_CAP`: merge caps, lower `max_tokens`, cut output.

Each helper only ever tightens: a request that already asks for less keeps asking for less,
and output within the cap is returned unchanged. The set of obligation types is closed;
`models.OBLIGATION_TYPES` lists the ones this package knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, TypeVar

from .models import Obligation, OutputCap

__all__ = [
    "apply_to_params",
    "limit_max_tokens",
    "merged_output_cap",
    "truncate_bytes",
    "truncate_items",
]

T = TypeVar("T")


def _smaller(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def merged_output_cap(obligations: Iterable[Obligation]) -> OutputCap | None:
    """Every `OUTPUT_CAP` merged into one, keeping the smallest of each limit; None if none."""
    merged: OutputCap | None = None
    for o in obligations:
        if o.type != "OUTPUT_CAP":
            continue
        if merged is None:
            merged = o.params
        else:
            merged = OutputCap(
                max_tokens=_smaller(merged.max_tokens, o.params.max_tokens),
                max_items=_smaller(merged.max_items, o.params.max_items),
                max_bytes=_smaller(merged.max_bytes, o.params.max_bytes),
            )
    return merged


def limit_max_tokens(cap: OutputCap, requested: int | None) -> int | None:
    """The `max_tokens` to send to the model: the smaller of the request's and the cap's."""
    return _smaller(requested, cap.max_tokens)


def _requested_tokens(params: Mapping[str, Any], key: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"`{key}` is not a non-negative integer")
    return value


def apply_to_params(
    cap: OutputCap,
    params: MutableMapping[str, Any],
    keys: tuple[str, ...] = ("max_tokens", "max_completion_tokens"),
) -> MutableMapping[str, Any]:
    """Lowers (or sets) the token limits of an OpenAI-style generation request, in place.

    `keys[0]` is always set; every other key in `keys` that the request uses is lowered
    too, so a model reading either limit obeys the cap. Raises `ValueError` when a limit
    is not a non-negative integer: a request whose limit cannot be read cannot be capped,
    so the caller must refuse it.
    """
    if cap.max_tokens is None:
        return params
    for key in keys:
        requested = _requested_tokens(params, key)
        if key == keys[0] or requested is not None:
            params[key] = cap.max_tokens if requested is None else min(requested, cap.max_tokens)
    return params


def truncate_bytes(cap: OutputCap, text: str) -> str:
    """The longest prefix of `text` within `max_bytes` of UTF-8, cut on a character."""
    if cap.max_bytes is None:
        return text
    encoded = text.encode()
    if len(encoded) <= cap.max_bytes:
        return text
    return encoded[: cap.max_bytes].decode(errors="ignore")


def truncate_items(cap: OutputCap, items: list[T]) -> list[T]:
    """The first `max_items` items."""
    if cap.max_items is None:
        return items
    return items[: cap.max_items]
