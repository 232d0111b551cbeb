"""The clients against the real `policygate serve`: the four decisions, contract errors, auth."""

from __future__ import annotations

import pytest
from conftest import TOKEN, RealServer, example
from helpers import KINDS, decide, decide_many

from policygate import errors
from policygate.errors import ErrorStatus

pytestmark = pytest.mark.parametrize("kind", KINDS)


def test_allow(pdp: RealServer, kind: str) -> None:
    d = decide(kind, pdp.url, example("allow"))
    assert d.decision == "ALLOW"
    assert d.origin == "pdp"
    assert d.correlation_id == "example-allow"
    assert d.matched_rule_id == "allow_public_inference"
    assert d.obligations == ()
    assert d.policy is not None
    assert d.policy.policy_id == "ai-gateway"


def test_block(pdp: RealServer, kind: str) -> None:
    d = decide(kind, pdp.url, example("block"))
    assert (d.decision, d.rationale_codes, d.origin) == (
        "BLOCK",
        ("TOOL_NOT_ALLOWED_IN_PROD",),
        "pdp",
    )
    assert d.matched_rule_id == "block_shell_tools_in_prod"


def test_default_block_has_no_rule(pdp: RealServer, kind: str) -> None:
    d = decide(kind, pdp.url, example("default_block"))
    assert (d.decision, d.rationale_codes, d.matched_rule_id) == (
        "BLOCK",
        ("POLICY_DEFAULT_DENY",),
        None,
    )


def test_require_review(pdp: RealServer, kind: str) -> None:
    d = decide(kind, pdp.url, example("require_review"))
    assert (d.decision, d.rationale_codes) == ("REQUIRE_REVIEW", ("PHI_READ_REVIEW",))


def test_degrade_carries_the_output_cap(pdp: RealServer, kind: str) -> None:
    d = decide(kind, pdp.url, example("degrade"))
    assert d.decision == "DEGRADE"
    assert d.rationale_codes == ("SENSITIVE_OUTPUT_LIMIT",)
    assert d.output_cap is not None
    assert d.output_cap.max_tokens == 256


def test_generated_request_id_is_echoed_and_audited(pdp: RealServer, kind: str) -> None:
    facts = example("allow")
    del facts["request_id"]
    d = decide(kind, pdp.url, facts)
    assert d.decision == "ALLOW"
    assert d.correlation_id is not None
    assert d.correlation_id.startswith("pep-")
    ids = [e["request_id"] for e in pdp.audit_events()]
    assert d.correlation_id in ids


def test_server_refusal_is_an_error_status_block(pdp: RealServer, kind: str) -> None:
    # The example's signals have the wrong types for the policy: the server answers 422.
    d = decide(kind, pdp.url, example("wrong_signal_type"))
    assert (d.decision, d.rationale_codes, d.origin) == (
        "BLOCK",
        (errors.PEP_PDP_ERROR_STATUS,),
        "pep",
    )
    assert isinstance(d.error, ErrorStatus)
    assert (d.error.status, d.error.error_code) == (422, "invalid_request")
    assert d.correlation_id == "example-wrong-type"


def test_invalid_facts_are_never_sent(pdp: RealServer, kind: str) -> None:
    before = len(pdp.audit_events())
    facts = example("allow")
    facts["resource"]["sensitivity"] = "secret"
    d = decide(kind, pdp.url, facts)
    assert d.rationale_codes == (errors.PEP_INVALID_FACTS,)
    assert d.error is not None
    assert "/resource/sensitivity" in str(d.error)
    assert len(pdp.audit_events()) == before


def test_auth_missing_and_wrong_tokens_block(pdp_auth: RealServer, kind: str) -> None:
    for token in (None, "wrong-token-0123456789"):
        d = decide(kind, pdp_auth.url, example("allow"), bearer_token=token)
        assert d.rationale_codes == (errors.PEP_PDP_ERROR_STATUS,), token
        assert isinstance(d.error, ErrorStatus)
        assert (d.error.status, d.error.error_code) == (401, "unauthorized")


def test_auth_right_token_decides(pdp_auth: RealServer, kind: str) -> None:
    d = decide(kind, pdp_auth.url, example("degrade"), bearer_token=TOKEN)
    assert (d.decision, d.origin) == ("DEGRADE", "pdp")


def test_one_client_decides_many(pdp: RealServer, kind: str) -> None:
    names = ["allow", "block", "require_review", "degrade"]
    got = decide_many(kind, pdp.url, [example(n) for n in names])
    assert [d.decision for d in got] == ["ALLOW", "BLOCK", "REQUIRE_REVIEW", "DEGRADE"]
