"""The server's LiteLLM Generic Guardrail API endpoint, over HTTP against the real binary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TOKEN, RealServer, start_server, stop_server

PATH = "/beta/litellm_basic_guardrail_api"


def call(sensitivity: str | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "texts": ["hello there"],
        "input_type": "request",
        "model": "gpt-x",
        "request_data": {"user_api_key_user_id": "alice"},
        "litellm_version": "1.100.5",
        **extra,
    }
    if sensitivity is not None:
        body["additional_provider_specific_params"] = {"sensitivity": sensitivity}
    return body


def post(server: RealServer, body: Any, **headers: str) -> httpx.Response:
    return httpx.post(f"{server.url}{PATH}", json=body, headers=headers, timeout=5)


def test_allow_is_none(pdp: RealServer) -> None:
    r = post(pdp, call("public", litellm_call_id="gr-allow"))
    assert r.status_code == 200
    assert r.json() == {"action": "NONE"}
    event = next(e for e in pdp.audit_events() if e["request_id"] == "gr-allow")
    assert event["evaluation"]["decision"] == "ALLOW"
    assert event["evaluation"]["action"] == "infer:run"


@pytest.mark.parametrize(
    ("sensitivity", "decision", "code"),
    [
        ("restricted", "REQUIRE_REVIEW", "RESTRICTED_DATA_REVIEW"),
        (None, "REQUIRE_REVIEW", "RESTRICTED_DATA_REVIEW"),
        ("internal", "DEGRADE", "SENSITIVE_OUTPUT_LIMIT"),
    ],
)
def test_everything_but_allow_is_blocked(
    pdp: RealServer, sensitivity: str | None, decision: str, code: str
) -> None:
    call_id = f"gr-{decision}-{sensitivity}"
    r = post(pdp, call(sensitivity, litellm_call_id=call_id))
    assert r.status_code == 200
    body = r.json()
    assert body["action"] == "BLOCKED"
    assert body["blocked_reason"].startswith(f"PolicyGate: {decision} ({code})")
    assert call_id in body["blocked_reason"]
    events = [e for e in pdp.audit_events() if e["request_id"] == call_id]
    assert len(events) == 1
    assert events[0]["evaluation"]["decision"] == decision


SUBJECT_POLICY = """
policy_id: "guardrail-test"
policy_version: "1"
default:
  decision: BLOCK
  rationale_codes: [POLICY_DEFAULT_DENY]
rules:
  - rule_id: allow_alice
    priority: 100
    when:
      subject: { id: alice }
    then:
      decision: ALLOW
      rationale_codes: [ALICE_OK]
"""


def test_a_block_names_its_codes_and_the_subject_is_mapped(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(SUBJECT_POLICY)
    server = start_server(tmp_path, policy=policy)
    try:
        alice = post(server, call("public"))
        assert alice.json() == {"action": "NONE"}
        bob = call("public", litellm_call_id="gr-bob")
        bob["request_data"] = {"user_api_key_user_id": "bob"}
        r = post(server, bob)
        assert r.json() == {
            "action": "BLOCKED",
            "blocked_reason": "PolicyGate: BLOCK (POLICY_DEFAULT_DENY); correlation_id gr-bob",
        }
    finally:
        stop_server(server)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("not json", 400, "invalid_json"),
        (call("secret"), 422, "invalid_request"),
        (
            call(None, additional_provider_specific_params={"sensitivty": "public"}),
            422,
            "invalid_request",
        ),
        (call(None, additional_provider_specific_params={"env": "-bad"}), 422, "invalid_request"),
    ],
)
def test_bad_calls_get_the_error_body(pdp: RealServer, body: Any, status: int, code: str) -> None:
    before = len(pdp.audit_events())
    if isinstance(body, str):
        r = httpx.post(f"{pdp.url}{PATH}", content=body, timeout=5)
    else:
        r = post(pdp, body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert len(pdp.audit_events()) == before + 1


def test_auth_accepts_bearer_and_x_api_key(pdp_auth: RealServer) -> None:
    assert post(pdp_auth, call("public")).status_code == 401
    assert (
        post(pdp_auth, call("public"), **{"x-api-key": "wrong-but-long-enough"}).status_code == 401
    )
    ok = post(pdp_auth, call("public"), **{"x-api-key": TOKEN})
    assert (ok.status_code, ok.json()) == (200, {"action": "NONE"})
    ok = post(pdp_auth, call("public"), authorization=f"Bearer {TOKEN}")
    assert (ok.status_code, ok.json()) == (200, {"action": "NONE"})
    caller = [e["caller_id"] for e in pdp_auth.audit_events() if e["caller_id"]]
    assert caller[-1] == "tests"
