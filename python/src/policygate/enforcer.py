"""The enforcer: gets a decision and runs exactly one customer handler for it.

Customers supply what happens on each decision (`Handlers`: four callables, each sync or
async); this module owns what must not vary between customers, as the Rust PEP's
`enforcer.rs` and the original `enforcer.py` did: every failure reaches the BLOCK handler,
a DEGRADE reaches the DEGRADE handler only if the handlers declared that they honour every
obligation of the decision, and a DEGRADE handler that raises `Unenforceable` hands over to
the BLOCK handler with a synthetic decision.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from .client import AsyncPdpClient, Facts, PdpClient
from .decision import Decision
from .errors import ConfigError, Unenforceable
from .models import OBLIGATION_TYPES

__all__ = ["AsyncEnforcer", "Enforcer", "Handlers", "dispatch", "dispatch_async"]

C = TypeVar("C")
O = TypeVar("O")  # noqa: E741


@dataclass(frozen=True)
class Handlers(Generic[C, O]):
    """One handler per decision, plus the obligation types the DEGRADE handler honours.

    `enforcing` defaults to nothing, so a DEGRADE becomes BLOCK
    (`PEP_OBLIGATION_UNENFORCEABLE`) until you say which obligations `on_degrade` honours.
    """

    on_allow: Callable[[C, Decision], O | Awaitable[O]]
    on_degrade: Callable[[C, Decision], O | Awaitable[O]]
    on_review: Callable[[C, Decision], O | Awaitable[O]]
    on_block: Callable[[C, Decision], O | Awaitable[O]]
    enforcing: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = set(self.enforcing) - set(OBLIGATION_TYPES)
        if unknown:
            raise ConfigError(
                f"`enforcing` names unknown obligation types {sorted(unknown)}; "
                f"known: {list(OBLIGATION_TYPES)}"
            )


def _route(decision: Decision, handlers: Handlers[C, O]) -> tuple[str, Decision]:
    """Which handler runs first, and with which decision."""
    if decision.decision == "ALLOW":
        return "allow", decision
    if decision.decision == "REQUIRE_REVIEW":
        return "review", decision
    if decision.decision == "DEGRADE":
        for o in decision.obligations:
            if o.type not in handlers.enforcing:
                return "block", decision.overruled(
                    Unenforceable(
                        o.type,
                        "the DEGRADE handler does not declare that it honours this obligation",
                    )
                )
        return "degrade", decision
    return "block", decision


def _sync_result(value: O | Awaitable[O], which: str) -> O:
    if inspect.isawaitable(value):
        # Close the coroutine so Python does not warn it was never awaited.
        close = getattr(value, "close", None)
        if callable(close):
            close()
        raise ConfigError(
            f"the {which} handler is async; use AsyncEnforcer or dispatch_async for async handlers"
        )
    return value


def dispatch(decision: Decision, ctx: C, handlers: Handlers[C, O]) -> O:
    """Runs the handler for `decision` synchronously; handlers must be plain functions.

    Exactly one of `on_allow`, `on_review`, `on_block` runs, or `on_degrade`, or
    `on_degrade` followed by `on_block` when it raises `Unenforceable`.
    """
    which, decision = _route(decision, handlers)
    if which == "allow":
        return _sync_result(handlers.on_allow(ctx, decision), which)
    if which == "review":
        return _sync_result(handlers.on_review(ctx, decision), which)
    if which == "degrade":
        try:
            return _sync_result(handlers.on_degrade(ctx, decision), which)
        except Unenforceable as refusal:
            decision = decision.overruled(refusal)
    return _sync_result(handlers.on_block(ctx, decision), "block")


async def _maybe_await(value: O | Awaitable[O]) -> O:
    if inspect.isawaitable(value):
        return await cast(Awaitable[O], value)
    return value


async def dispatch_async(decision: Decision, ctx: C, handlers: Handlers[C, O]) -> O:
    """`dispatch` that also accepts async handlers (sync ones are called directly)."""
    which, decision = _route(decision, handlers)
    if which == "allow":
        return await _maybe_await(handlers.on_allow(ctx, decision))
    if which == "review":
        return await _maybe_await(handlers.on_review(ctx, decision))
    if which == "degrade":
        try:
            return await _maybe_await(handlers.on_degrade(ctx, decision))
        except Unenforceable as refusal:
            decision = decision.overruled(refusal)
    return await _maybe_await(handlers.on_block(ctx, decision))


class Enforcer:
    """Asks the PDP (synchronously) and runs the matching handler."""

    def __init__(self, client: PdpClient) -> None:
        self.client = client

    def decide(self, facts: Facts, *, traceparent: str | None = None) -> Decision:
        """The decision without dispatching it; failures become BLOCK."""
        return self.client.decide(facts, traceparent=traceparent)

    def enforce(
        self,
        facts: Facts,
        ctx: C,
        handlers: Handlers[C, O],
        *,
        traceparent: str | None = None,
    ) -> O:
        """Asks the PDP and runs the handler for its decision."""
        return dispatch(self.client.decide(facts, traceparent=traceparent), ctx, handlers)


class AsyncEnforcer:
    """Asks the PDP (asynchronously) and runs the matching handler, sync or async."""

    def __init__(self, client: AsyncPdpClient) -> None:
        self.client = client

    async def decide(self, facts: Facts, *, traceparent: str | None = None) -> Decision:
        """The decision without dispatching it; failures become BLOCK."""
        return await self.client.decide(facts, traceparent=traceparent)

    async def enforce(
        self,
        facts: Facts,
        ctx: C,
        handlers: Handlers[C, O],
        *,
        traceparent: str | None = None,
    ) -> O:
        """Asks the PDP and runs the handler for its decision."""
        decision = await self.client.decide(facts, traceparent=traceparent)
        return await dispatch_async(decision, ctx, handlers)
