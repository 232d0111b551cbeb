"""Runs the same call through the sync and the async client, so every test covers both."""

from __future__ import annotations

from typing import Any

import anyio
from conftest import TEST_DEADLINE

from policygate import AsyncPdpClient, Decision, PdpClient
from policygate.client import Facts

KINDS = ["sync", "async"]


def decide(kind: str, url: str, facts: Facts, **options: Any) -> Decision:
    """One decision from a fresh client of `kind`."""
    options.setdefault("deadline", TEST_DEADLINE)
    if kind == "sync":
        with PdpClient(url, **options) as client:
            return client.decide(facts)

    async def run() -> Decision:
        async with AsyncPdpClient(url, **options) as client:
            return await client.decide(facts)

    return anyio.run(run)


def decide_many(kind: str, url: str, facts: list[Facts], **options: Any) -> list[Decision]:
    """Several decisions through one client (to see connection reuse)."""
    options.setdefault("deadline", TEST_DEADLINE)
    if kind == "sync":
        with PdpClient(url, **options) as client:
            return [client.decide(f) for f in facts]

    async def run() -> list[Decision]:
        async with AsyncPdpClient(url, **options) as client:
            return [await client.decide(f) for f in facts]

    return anyio.run(run)
