"""The enforcer runs exactly one handler per decision, sync or async, and fails closed."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from conftest import TEST_DEADLINE, RealServer, example

from policygate import (
    AsyncEnforcer,
    AsyncPdpClient,
    Decision,
    Enforcer,
    Handlers,
    PdpClient,
    Unenforceable,
    dispatch,
    dispatch_async,
    errors,
)
from policygate.errors import ConfigError, Unavailable


def recording(enforcing: frozenset[str] = frozenset({"OUTPUT_CAP"})) -> Handlers[list[str], str]:
    def on(name: str) -> Any:
        def handler(ctx: list[str], d: Decision) -> str:
            ctx.append(name)
            return f"{name}:{','.join(d.rationale_codes)}"

        return handler

    return Handlers(
        on_allow=on("allow"),
        on_degrade=on("degrade"),
        on_review=on("review"),
        on_block=on("block"),
        enforcing=enforcing,
    )


def async_recording() -> Handlers[list[str], str]:
    def on(name: str) -> Any:
        async def handler(ctx: list[str], d: Decision) -> str:
            await anyio.lowlevel.checkpoint()
            ctx.append(name)
            return f"{name}:{','.join(d.rationale_codes)}"

        return handler

    return Handlers(
        on_allow=on("allow"),
        on_degrade=on("degrade"),
        on_review=on("review"),
        on_block=on("block"),
        enforcing=frozenset({"OUTPUT_CAP"}),
    )


CASES = [
    ("allow", "allow", "allow:ALLOW_PUBLIC_INFER"),
    ("block", "block", "block:TOOL_NOT_ALLOWED_IN_PROD"),
    ("require_review", "review", "review:PHI_READ_REVIEW"),
    ("degrade", "degrade", "degrade:SENSITIVE_OUTPUT_LIMIT"),
]


@pytest.mark.parametrize(("name", "handler", "output"), CASES)
def test_sync_enforcer_runs_one_handler(
    pdp: RealServer, name: str, handler: str, output: str
) -> None:
    ran: list[str] = []
    with PdpClient(pdp.url, deadline=TEST_DEADLINE) as client:
        got = Enforcer(client).enforce(example(name), ran, recording())
    assert ran == [handler]
    assert got == output


@pytest.mark.parametrize(("name", "handler", "output"), CASES)
@pytest.mark.parametrize("handlers", [recording, async_recording])
async def test_async_enforcer_runs_sync_or_async_handlers(
    pdp: RealServer, name: str, handler: str, output: str, handlers: Any
) -> None:
    ran: list[str] = []
    async with AsyncPdpClient(pdp.url, deadline=TEST_DEADLINE) as client:
        got = await AsyncEnforcer(client).enforce(example(name), ran, handlers())
    assert ran == [handler]
    assert got == output


def test_allow_codes_come_from_the_policy(pdp: RealServer) -> None:
    with PdpClient(pdp.url, deadline=TEST_DEADLINE) as client:
        d = client.decide(example("allow"))
    assert dispatch(d, [], recording()) == "allow:" + ",".join(d.rationale_codes)


def test_degrade_without_declared_obligation_blocks(pdp: RealServer) -> None:
    ran: list[str] = []
    with PdpClient(pdp.url, deadline=TEST_DEADLINE) as client:
        got = Enforcer(client).enforce(example("degrade"), ran, recording(frozenset()))
    assert ran == ["block"]
    assert got == f"block:{errors.PEP_OBLIGATION_UNENFORCEABLE}"


async def test_degrade_handler_refusing_hands_over_to_block(pdp: RealServer) -> None:
    seen: list[Decision] = []

    def degrade(ctx: list[str], d: Decision) -> str:
        raise Unenforceable("OUTPUT_CAP", "this model has no token limit")

    def block(ctx: list[str], d: Decision) -> str:
        seen.append(d)
        return "blocked"

    h: Handlers[list[str], str] = Handlers(
        on_allow=lambda c, d: "allow",
        on_degrade=degrade,
        on_review=lambda c, d: "review",
        on_block=block,
        enforcing=frozenset({"OUTPUT_CAP"}),
    )
    async with AsyncPdpClient(pdp.url, deadline=TEST_DEADLINE) as client:
        d = await client.decide(example("degrade"))
    assert dispatch(d, [], h) == "blocked"
    assert await dispatch_async(d, [], h) == "blocked"
    assert [s.rationale_codes for s in seen] == [(errors.PEP_OBLIGATION_UNENFORCEABLE,)] * 2
    assert all(s.origin == "pep" and s.correlation_id == "example-degrade" for s in seen)
    assert "no token limit" in str(seen[0].error)


def test_a_failure_reaches_the_block_handler_with_its_cause(dead_url: str) -> None:
    seen: list[Decision] = []

    def block(ctx: None, d: Decision) -> str:
        seen.append(d)
        return "block"

    h: Handlers[None, str] = Handlers(
        on_allow=lambda c, d: "allow",
        on_degrade=lambda c, d: "degrade",
        on_review=lambda c, d: "review",
        on_block=block,
        enforcing=frozenset({"OUTPUT_CAP"}),
    )
    with PdpClient(dead_url, max_retries=0, deadline=TEST_DEADLINE) as client:
        assert Enforcer(client).enforce(example("allow"), None, h) == "block"
    assert isinstance(seen[0].error, Unavailable)
    assert seen[0].refusal() == {
        "decision": "BLOCK",
        "rationale_codes": [errors.PEP_PDP_UNAVAILABLE],
        "origin": "pep",
        "correlation_id": "example-allow",
    }


def test_sync_dispatch_refuses_async_handlers(pdp: RealServer) -> None:
    with PdpClient(pdp.url, deadline=TEST_DEADLINE) as client:
        d = client.decide(example("allow"))
    with pytest.raises(ConfigError, match="use AsyncEnforcer"):
        dispatch(d, [], async_recording())


def test_unknown_obligation_names_are_refused() -> None:
    with pytest.raises(ConfigError, match="REDACT"):
        recording(frozenset({"REDACT"}))
