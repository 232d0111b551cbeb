"""End to end, no code: a real LiteLLM proxy whose `generic_guardrail_api` guardrails point at
the real PolicyGate's `/beta/litellm_basic_guardrail_api`, and a fake model on loopback.

Skipped only when POLICYGATE_SKIP_LITELLM=1.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from conftest import TOKEN, FakePdp, RealServer, start_server, stop_server
from litellm_proxy import (
    MASTER_KEY,
    completion,
    doc_config,
    start_proxy,
    stop_proxy,
    with_fake_models,
)

if os.environ.get("POLICYGATE_SKIP_LITELLM") == "1":
    pytest.skip("POLICYGATE_SKIP_LITELLM=1", allow_module_level=True)


@dataclass
class NoCode:
    url: str
    model: FakePdp
    pdp: RealServer

    def chat(self, guardrail: str) -> httpx.Response:
        return httpx.post(
            f"{self.url}/v1/chat/completions",
            json={
                "model": "any-model",
                "messages": [{"role": "user", "content": "hello there"}],
                "guardrails": [guardrail],
            },
            headers={"authorization": f"Bearer {MASTER_KEY}"},
            timeout=30,
        )


@pytest.fixture(scope="module")
def nocode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NoCode]:
    tmp = tmp_path_factory.mktemp("litellm-nocode")
    tokens = tmp / "tokens"
    tokens.write_text(f"litellm:{TOKEN}\n")
    tokens.chmod(0o600)
    pdp = start_server(tmp, "--auth-tokens-file", str(tokens))
    model = FakePdp(completion)
    # The no-code config.yaml of docs/litellm.md, on loopback.
    config = with_fake_models(doc_config("no code"), model.url, [])
    for g in config["guardrails"]:
        g["litellm_params"] = {**g["litellm_params"], "api_base": pdp.url}
    process, url = start_proxy(tmp, config, {"POLICYGATE_TOKEN": TOKEN})
    yield NoCode(url=url, model=model, pdp=pdp)
    stop_proxy(process)
    model.close()
    stop_server(pdp)


def test_allow_reaches_the_model(nocode: NoCode) -> None:
    before = len(nocode.model.requests)
    r = nocode.chat("pg-public")
    assert r.status_code == 200, r.text
    assert len(nocode.model.requests) == before + 1
    events = nocode.pdp.audit_events()
    assert events[-1]["evaluation"]["decision"] == "ALLOW"
    assert events[-1]["caller_id"] == "litellm"


@pytest.mark.parametrize(
    ("guardrail", "reason"),
    [
        ("pg-restricted", "PolicyGate: REQUIRE_REVIEW (RESTRICTED_DATA_REVIEW)"),
        ("pg-internal", "PolicyGate: DEGRADE (SENSITIVE_OUTPUT_LIMIT)"),
    ],
)
def test_others_are_refused_with_the_rationale(nocode: NoCode, guardrail: str, reason: str) -> None:
    before = len(nocode.model.requests)
    audited = len(nocode.pdp.audit_events())
    r = nocode.chat(guardrail)
    assert r.status_code >= 400, r.text
    assert reason in r.text
    assert len(nocode.model.requests) == before
    assert len(nocode.pdp.audit_events()) == audited + 1


def test_zz_pdp_down_blocks(nocode: NoCode) -> None:
    stop_server(nocode.pdp)
    before = len(nocode.model.requests)
    r = nocode.chat("pg-public")
    assert r.status_code >= 400, r.text
    assert len(nocode.model.requests) == before
