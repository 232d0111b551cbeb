"""The reference service (python/examples) against the real PolicyGate, in process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import TEST_DEADLINE, RealServer

from examples.reference_service.app import Settings, create_app
from policygate import errors


@pytest.fixture
async def service(pdp: RealServer) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(pdp_url=pdp.url, deadline=TEST_DEADLINE))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as c,
    ):
        yield c


async def test_public_document_is_summarised_in_full(service: httpx.AsyncClient) -> None:
    r = await service.post("/summarise", json={"document_id": "handbook", "max_tokens": 500})
    assert r.status_code == 200
    body = r.json()
    assert (body["decision"], body["max_tokens"]) == ("ALLOW", 500)
    assert len(body["summary"].split()) == 405


async def test_internal_document_summary_is_capped(service: httpx.AsyncClient) -> None:
    r = await service.post("/summarise", json={"document_id": "roadmap", "max_tokens": 500})
    assert r.status_code == 200
    body = r.json()
    assert (body["decision"], body["max_tokens"]) == ("DEGRADE", 256)
    assert len(body["summary"].split()) == 256
    small = await service.post("/summarise", json={"document_id": "roadmap", "max_tokens": 10})
    assert small.json()["max_tokens"] == 10


async def test_restricted_document_is_queued_for_review(service: httpx.AsyncClient) -> None:
    r = await service.post(
        "/summarise", json={"document_id": "incident-42"}, headers={"x-request-id": "rq-1"}
    )
    assert r.status_code == 202
    assert r.json()["rationale_codes"] == ["RESTRICTED_DATA_REVIEW"]
    assert r.json()["correlation_id"] == "rq-1"
    assert (await service.get("/reviews")).json() == ["incident-42"]


async def test_restricted_personal_data_is_blocked(service: httpx.AsyncClient) -> None:
    r = await service.post("/summarise", json={"document_id": "payroll"})
    assert r.status_code == 403
    assert r.json()["rationale_codes"] == ["RESTRICTED_PII_INFERENCE_BLOCKED"]
    assert r.json()["origin"] == "pdp"


async def test_guarded_reads(service: httpx.AsyncClient) -> None:
    ok = await service.get("/documents/roadmap", headers={"x-user-id": "carol"})
    assert ok.status_code == 200
    assert ok.json()["text"].startswith("Next year")
    refused = await service.get("/documents/payroll")
    assert refused.status_code == 403
    assert refused.json()["decision"] == "BLOCK"
    assert refused.json()["rationale_codes"] == ["POLICY_DEFAULT_DENY"]
    assert (await service.get("/documents/nope")).status_code == 404


async def test_pdp_down_blocks_every_route(dead_url: str) -> None:
    app = create_app(Settings(pdp_url=dead_url))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as c:
        r = await c.post("/summarise", json={"document_id": "handbook"})
        assert r.status_code == 403
        assert r.json() == {
            "decision": "BLOCK",
            "rationale_codes": [errors.PEP_PDP_UNAVAILABLE],
            "origin": "pep",
            "correlation_id": r.json()["correlation_id"],
        }
        read = await c.get("/documents/handbook")
        assert read.status_code == 403
        assert read.json()["rationale_codes"] == [errors.PEP_PDP_UNAVAILABLE]
