"""The route guard: what reaches the route, and the 403 for everything else."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import TEST_DEADLINE, RealServer, example
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from policygate import AsyncPdpClient, errors
from policygate.errors import ConfigError
from policygate.starlette import PolicyGuard, Refused, refusal_handler


def app_with(guard: PolicyGuard) -> Starlette:
    async def endpoint(request: Request) -> JSONResponse:
        d = await guard(request)
        cap = d.output_cap
        return JSONResponse({"decision": d.decision, "cap": cap.max_tokens if cap else None})

    return Starlette(
        routes=[Route("/{name}", endpoint)],
        exception_handlers={Refused: refusal_handler},
    )


def by_name(request: Request) -> dict[str, Any]:
    return example(request.path_params["name"])


async def call(guard: PolicyGuard, name: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app_with(guard))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        return await c.get(f"/{name}")


@pytest.mark.parametrize(
    ("name", "status", "codes"),
    [
        ("allow", 200, None),
        ("degrade", 200, None),
        ("block", 403, ["TOOL_NOT_ALLOWED_IN_PROD"]),
        ("require_review", 403, [errors.PEP_DECISION_UNHANDLED]),
        ("wrong_signal_type", 403, [errors.PEP_PDP_ERROR_STATUS]),
    ],
)
async def test_guard(pdp: RealServer, name: str, status: int, codes: list[str] | None) -> None:
    async with AsyncPdpClient(pdp.url, deadline=TEST_DEADLINE) as client:
        r = await call(PolicyGuard(client, by_name, enforcing=frozenset({"OUTPUT_CAP"})), name)
    assert r.status_code == status
    if codes is None:
        assert r.json()["decision"] == name.upper()
    else:
        assert r.json()["rationale_codes"] == codes
        assert "error" not in r.json()


async def test_degrade_needs_a_declared_obligation(pdp: RealServer) -> None:
    async with AsyncPdpClient(pdp.url, deadline=TEST_DEADLINE) as client:
        r = await call(PolicyGuard(client, by_name), "degrade")
    assert r.status_code == 403
    assert r.json()["rationale_codes"] == [errors.PEP_OBLIGATION_UNENFORCEABLE]
    assert r.json()["correlation_id"] == "example-degrade"


async def test_review_reaches_a_route_that_opted_in(pdp: RealServer) -> None:
    async with AsyncPdpClient(pdp.url, deadline=TEST_DEADLINE) as client:
        r = await call(PolicyGuard(client, by_name, allow_review=True), "require_review")
    assert (r.status_code, r.json()["decision"]) == (200, "REQUIRE_REVIEW")


async def test_a_failing_mapping_is_refused(pdp: RealServer) -> None:
    def broken(request: Request) -> dict[str, Any]:
        raise KeyError("x-tenant")

    async with AsyncPdpClient(pdp.url, deadline=TEST_DEADLINE) as client:
        r = await call(PolicyGuard(client, broken), "allow")
    assert r.status_code == 403
    assert r.json()["rationale_codes"] == [errors.PEP_INVALID_FACTS]


async def test_unknown_obligation_names_are_refused(pdp: RealServer) -> None:
    async with AsyncPdpClient(pdp.url, deadline=TEST_DEADLINE) as client:
        with pytest.raises(ConfigError):
            PolicyGuard(client, by_name, enforcing=frozenset({"REDACT"}))
