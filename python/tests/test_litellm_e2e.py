"""End to end: a real LiteLLM proxy with the PolicyGate guardrail, the real PolicyGate, and
a fake OpenAI-compatible model on loopback that records what it received (no network).

Skipped only when POLICYGATE_SKIP_LITELLM=1 (then scripts/test.sh does not install
LiteLLM); otherwise a missing LiteLLM is an error, not a silent skip.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from conftest import TOKEN, FakePdp, RealServer, http_response, start_server, stop_server
from litellm_proxy import (
    MASTER_KEY,
    completion,
    doc_config,
    start_proxy,
    stop_proxy,
    with_fake_models,
)

from policygate import errors

if os.environ.get("POLICYGATE_SKIP_LITELLM") == "1":
    pytest.skip("POLICYGATE_SKIP_LITELLM=1", allow_module_level=True)


@dataclass
class Proxy:
    url: str
    model: FakePdp
    pdp: RealServer

    def chat(self, model: str, **extra: Any) -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": "hello there"}]}
        return httpx.post(
            f"{self.url}/v1/chat/completions",
            json={**body, **extra},
            headers={"authorization": f"Bearer {MASTER_KEY}"},
            timeout=30,
        )


def config(model_url: str, pdp_url: str) -> dict[str, Any]:
    """The full-enforcement config.yaml of docs/litellm.md, on loopback."""
    cfg = with_fake_models(doc_config("full enforcement"), model_url, ["unlisted"])
    (guard,) = cfg["guardrails"]
    # The doc's 500 ms is for a production PDP, not a debug build on a busy CI machine.
    guard["litellm_params"] = {**guard["litellm_params"], "api_base": pdp_url, "deadline_ms": 5000}
    return cfg


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    tmp = tmp_path_factory.mktemp("litellm")
    tokens = tmp / "tokens"
    tokens.write_text(f"litellm:{TOKEN}\n")
    tokens.chmod(0o600)
    pdp = start_server(tmp, "--auth-tokens-file", str(tokens))
    model = FakePdp(completion)
    process, url = start_proxy(tmp, config(model.url, pdp.url), {"POLICYGATE_TOKEN": TOKEN})
    yield Proxy(url=url, model=model, pdp=pdp)
    stop_proxy(process)
    model.close()
    stop_server(pdp)


def refusal(r: httpx.Response) -> dict[str, Any]:
    """The refusal LiteLLM relays: our 403 detail lands in `error.provider_specific_fields`."""
    assert r.status_code == 403, r.text
    error = r.json()["error"]
    assert error["code"] == "403"
    detail: dict[str, Any] = error["provider_specific_fields"]
    assert error["message"] == detail["error"]
    return detail


def test_allow_passes_unchanged(proxy: Proxy) -> None:
    before = len(proxy.model.requests)
    r = proxy.chat("public-model", max_tokens=900)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["message"]["content"] == "fake answer"
    sent = proxy.model.requests[before:]
    assert len(sent) == 1
    assert sent[0]["max_tokens"] == 900


def test_degrade_caps_max_tokens_on_the_model_call(proxy: Proxy) -> None:
    before = len(proxy.model.requests)
    r = proxy.chat("internal-model", max_tokens=4000)
    assert r.status_code == 200, r.text
    assert proxy.model.requests[before]["max_tokens"] == 256
    r = proxy.chat("internal-model")
    assert r.status_code == 200, r.text
    assert proxy.model.requests[before + 1]["max_tokens"] == 256
    r = proxy.chat("internal-model", max_tokens=12)
    assert proxy.model.requests[before + 2]["max_tokens"] == 12


@pytest.mark.parametrize(
    ("model", "code"),
    [
        ("hr-model", "RESTRICTED_PII_INFERENCE_BLOCKED"),
        ("restricted-model", "RESTRICTED_DATA_REVIEW"),
        ("unlisted", "RESTRICTED_DATA_REVIEW"),
    ],
)
def test_block_and_review_are_refused_with_the_rationale(
    proxy: Proxy, model: str, code: str
) -> None:
    before = len(proxy.model.requests)
    d = refusal(proxy.chat(model))
    decision = "BLOCK" if model == "hr-model" else "REQUIRE_REVIEW"
    assert (d["decision"], d["rationale_codes"], d["origin"]) == (decision, [code], "pdp")
    assert d["error"] == f"PolicyGate refused this call: {decision} ({code})"
    assert len(proxy.model.requests) == before


def test_every_call_is_audited_with_litellm_call_id(proxy: Proxy) -> None:
    r = proxy.chat("public-model")
    assert r.status_code == 200
    call_id = r.headers.get("x-litellm-call-id")
    assert call_id
    events = proxy.pdp.audit_events()
    # Exactly one decision per call: LiteLLM must not run the hook twice.
    assert [e["request_id"] for e in events].count(call_id) == 1


def test_zz_pdp_down_blocks(proxy: Proxy) -> None:
    # Runs last in this module: it stops the module's PolicyGate.
    stop_server(proxy.pdp)
    before = len(proxy.model.requests)
    d = refusal(proxy.chat("public-model"))
    assert (d["decision"], d["rationale_codes"], d["origin"]) == (
        "BLOCK",
        [errors.PEP_PDP_UNAVAILABLE],
        "pep",
    )
    assert len(proxy.model.requests) == before


# --- the fixed mapping, without the proxy -------------------------------------------------


def test_facts_for_call_maps_the_documented_fields() -> None:
    from policygate.litellm import ModelFacts, facts_for_call

    data = {
        "model": "internal-model",
        "messages": [{"role": "user", "content": "x" * 10}],
        "litellm_call_id": "call-1",
        "metadata": {"policygate_signals": {"caller_trust": "high"}},  # caller-set: ignored
    }
    facts = facts_for_call(
        data,
        env="prod-eu",
        models={"internal-model": ModelFacts(sensitivity="internal", signals={"a": 1})},
        default=ModelFacts(),
        user_id="alice",
        team_id="t1",
        key_metadata={"policygate_signals": {"caller_trust": "low"}},
        team_metadata={"policygate_signals": {"caller_trust": "medium", "b": True}},
    )
    assert json.loads(facts.to_json()) == {
        "action": "infer:run",
        "env": {"name": "prod-eu"},
        "resource": {"type": "model", "sensitivity": "internal", "id": "internal-model"},
        "signals": {"a": 1, "caller_trust": "low", "b": True, "prompt_tokens": 3},
        "subject": {"type": "user", "id": "alice"},
        "request_id": "call-1",
    }
    unlisted = facts_for_call({"model": "other"}, env="prod", models={}, default=ModelFacts())
    assert unlisted.resource.sensitivity == "restricted"
    team = facts_for_call({}, env="prod", models={}, default=ModelFacts(), team_id="t1")
    assert team.subject is not None
    assert (team.subject.type, team.subject.id) == ("team", "t1")


async def test_a_cap_the_hook_cannot_apply_refuses_the_call(fake_pdp: Any) -> None:
    from conftest import answer
    from fastapi import HTTPException

    from policygate.litellm import PolicyGateGuardrail

    obligations = [{"type": "OUTPUT_CAP", "params": {"max_tokens": 5, "max_bytes": 10}}]
    fake = fake_pdp(
        lambda req: http_response(
            200,
            json.dumps(answer(req["request_id"], "DEGRADE", obligations=obligations)).encode(),
        )
    )
    guard = PolicyGateGuardrail(
        api_base=fake.url, deadline_ms=10_000, guardrail_name="pg", event_hook="pre_call"
    )
    with pytest.raises(HTTPException) as e:
        await guard.async_pre_call_hook(None, None, {"model": "m", "max_tokens": 50}, "completion")
    assert e.value.status_code == 403
    detail: Any = e.value.detail
    assert detail["rationale_codes"] == [errors.PEP_OBLIGATION_UNENFORCEABLE]
    ok = [{"type": "OUTPUT_CAP", "params": {"max_tokens": 5}}]
    obligations[:] = ok
    data = await guard.async_pre_call_hook(None, None, {"model": "m", "max_tokens": 50}, "chat")
    assert data["max_tokens"] == 5
