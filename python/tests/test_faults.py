"""Every way the PDP can fail ends in a BLOCK from the PEP with its own rationale code.

A fake PDP on loopback plays each fault: nobody listening, too slow, 500, 503 with an error
body, not HTTP, not JSON, a valid answer to another request, an unknown obligation type,
broken invariants, an oversized body, a connection cut after the request was sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from conftest import TEST_DEADLINE, FakePdp, Reply, answer, example, http_response
from helpers import KINDS, decide, decide_many

from policygate import errors
from policygate.errors import ErrorStatus, Unavailable

pytestmark = pytest.mark.parametrize("kind", KINDS)

StartFake = Callable[[Reply], FakePdp]


def ok(body: Callable[[dict[str, Any]], Any]) -> Reply:
    return lambda req: http_response(200, json.dumps(body(req)).encode())


def assert_pep_block(d: Any, code: str) -> None:
    assert d.decision == "BLOCK"
    assert d.rationale_codes == (code,)
    assert d.origin == "pep"
    assert d.error is not None
    assert d.error.code == code


def test_the_fake_answers_like_a_pdp(fake_pdp: StartFake, kind: str) -> None:
    fake = fake_pdp(ok(lambda req: answer(req["request_id"], "DEGRADE")))
    d = decide(kind, fake.url, example("allow"))
    assert (d.decision, d.origin) == ("DEGRADE", "pdp")
    assert fake.headers[0]["content-type"] == "application/json"


def test_pdp_down_is_unavailable_after_the_retries(dead_url: str, kind: str) -> None:
    d = decide(kind, dead_url, example("allow"), max_retries=2, deadline=5)
    assert_pep_block(d, errors.PEP_PDP_UNAVAILABLE)
    assert isinstance(d.error, Unavailable)
    assert d.error.attempts == 3
    assert d.correlation_id == "example-allow"


def test_slow_pdp_is_a_timeout(fake_pdp: StartFake, kind: str) -> None:
    fake: FakePdp

    def slow(req: dict[str, Any]) -> bytes:
        fake.release.wait()
        return http_response(200, json.dumps(answer(req["request_id"])).encode())

    fake = fake_pdp(slow)
    d = decide(kind, fake.url, example("allow"), deadline=0.2)
    assert_pep_block(d, errors.PEP_PDP_TIMEOUT)
    assert len(fake.requests) == 1


def test_500_is_an_error_status(fake_pdp: StartFake, kind: str) -> None:
    fake = fake_pdp(lambda req: http_response(500, b"boom", "text/plain"))
    d = decide(kind, fake.url, example("allow"))
    assert_pep_block(d, errors.PEP_PDP_ERROR_STATUS)
    assert isinstance(d.error, ErrorStatus)
    assert (d.error.status, d.error.error_code) == (500, None)


def test_503_error_body_is_read(fake_pdp: StartFake, kind: str) -> None:
    body = {"error": {"code": "unavailable", "message": "audit sink failed"}}
    fake = fake_pdp(lambda req: http_response(503, json.dumps(body).encode()))
    d = decide(kind, fake.url, example("allow"))
    assert_pep_block(d, errors.PEP_PDP_ERROR_STATUS)
    assert "(`unavailable`: audit sink failed)" in str(d.error)


def test_an_allow_with_another_status_is_still_a_block(fake_pdp: StartFake, kind: str) -> None:
    fake = fake_pdp(lambda req: http_response(201, json.dumps(answer(req["request_id"])).encode()))
    d = decide(kind, fake.url, example("allow"))
    assert_pep_block(d, errors.PEP_PDP_ERROR_STATUS)


def test_garbage_that_is_not_http_is_invalid(fake_pdp: StartFake, kind: str) -> None:
    fake = fake_pdp(lambda req: b"\x00\x01 this is not HTTP at all\r\n\r\n")
    d = decide(kind, fake.url, example("allow"))
    assert_pep_block(d, errors.PEP_PDP_INVALID_RESPONSE)


def test_a_200_that_is_not_json_is_invalid(fake_pdp: StartFake, kind: str) -> None:
    fake = fake_pdp(lambda req: http_response(200, b"<html>ok</html>", "text/html"))
    d = decide(kind, fake.url, example("allow"))
    assert_pep_block(d, errors.PEP_PDP_INVALID_RESPONSE)


def test_wrong_correlation_id_is_invalid(fake_pdp: StartFake, kind: str) -> None:
    fake = fake_pdp(ok(lambda req: answer("somebody-else")))
    d = decide(kind, fake.url, example("allow"))
    assert_pep_block(d, errors.PEP_PDP_INVALID_RESPONSE)
    assert "does not echo" in str(d.error)
    assert d.correlation_id == "example-allow"


def test_unknown_obligation_type_is_unsupported(fake_pdp: StartFake, kind: str) -> None:
    obligations = [
        {"type": "OUTPUT_CAP", "params": {"max_tokens": 5}},
        {"type": "REDACT", "params": {"categories": ["pii"]}},
    ]
    fake = fake_pdp(ok(lambda req: answer(req["request_id"], "DEGRADE", obligations=obligations)))
    d = decide(kind, fake.url, example("allow"))
    assert_pep_block(d, errors.PEP_OBLIGATION_UNSUPPORTED)
    assert "`REDACT`" in str(d.error)


@pytest.mark.parametrize(
    "change",
    [
        {"extra_field": 1},
        {"decision": "MAYBE"},
        {"rationale_codes": []},
        {"obligations": [{"type": "OUTPUT_CAP", "params": {"max_tokens": 5}}]},  # on ALLOW
        {"policy": {"policy_id": "p", "policy_version": "1", "policy_sha256": "XYZ"}},
        {"correlation_id": 7},
    ],
)
def test_contract_violations_are_invalid(
    fake_pdp: StartFake, kind: str, change: dict[str, Any]
) -> None:
    def body(req: dict[str, Any]) -> dict[str, Any]:
        return {**answer(req["request_id"]), **change}

    fake = fake_pdp(ok(body))
    d = decide(kind, fake.url, example("allow"))
    assert_pep_block(d, errors.PEP_PDP_INVALID_RESPONSE)


@pytest.mark.parametrize("params", [{"max_tokens": 0}, {"max_tokens": 100_001}, {}, {"x": 1}])
def test_obligation_params_out_of_domain_are_invalid(
    fake_pdp: StartFake, kind: str, params: dict[str, Any]
) -> None:
    obligations = [{"type": "OUTPUT_CAP", "params": params}]
    fake = fake_pdp(ok(lambda req: answer(req["request_id"], "DEGRADE", obligations=obligations)))
    d = decide(kind, fake.url, example("allow"))
    assert_pep_block(d, errors.PEP_PDP_INVALID_RESPONSE)


def test_oversized_answer_is_invalid(fake_pdp: StartFake, kind: str) -> None:
    fake = fake_pdp(ok(lambda req: answer(req["request_id"], matched_rule_id="r" * 70_000)))
    d = decide(kind, fake.url, example("allow"))
    assert_pep_block(d, errors.PEP_PDP_INVALID_RESPONSE)
    assert "larger than" in str(d.error)


def test_a_sent_request_is_never_retried(fake_pdp: StartFake, kind: str) -> None:
    # The fake reads the request, then hangs up without answering.
    fake = fake_pdp(lambda req: None)
    d = decide(kind, fake.url, example("allow"), max_retries=3)
    assert_pep_block(d, errors.PEP_PDP_UNAVAILABLE)
    assert len(fake.requests) == 1


def test_connections_are_reused(fake_pdp: StartFake, kind: str) -> None:
    fake = fake_pdp(ok(lambda req: answer(req["request_id"])))
    got = decide_many(kind, fake.url, [example("allow")] * 5)
    assert [d.decision for d in got] == ["ALLOW"] * 5
    assert (len(fake.requests), fake.connections) == (5, 1)


def test_bearer_token_and_traceparent_are_sent(fake_pdp: StartFake, kind: str) -> None:
    from policygate import AsyncPdpClient, PdpClient

    fake = fake_pdp(ok(lambda req: answer(req["request_id"])))
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    if kind == "sync":
        with PdpClient(fake.url, bearer_token="tok", deadline=TEST_DEADLINE) as c:
            c.decide(example("allow"), traceparent=tp)
            c.decide(example("allow"), traceparent="not-a-traceparent")
    else:
        import anyio

        async def run() -> None:
            async with AsyncPdpClient(fake.url, bearer_token="tok", deadline=TEST_DEADLINE) as c:
                await c.decide(example("allow"), traceparent=tp)
                await c.decide(example("allow"), traceparent="not-a-traceparent")

        anyio.run(run)
    assert fake.headers[0]["authorization"] == "Bearer tok"
    assert fake.headers[0]["traceparent"] == tp
    assert "traceparent" not in fake.headers[1]
