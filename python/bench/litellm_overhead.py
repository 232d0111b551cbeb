"""The guardrail's added latency through a real LiteLLM proxy: a bounded benchmark.

Starts PolicyGate (POLICYGATE_BIN, default target/debug/policygate), a fake OpenAI model
on loopback and three LiteLLM proxies with the same model list: without a guardrail, with
a no-op pre-call guardrail (what LiteLLM's guardrail machinery costs by itself), and with
`policygate.litellm.PolicyGateGuardrail` (the model maps to `public`, so every call is
ALLOW and reaches the model). It times chat completions through the three, interleaved,
and prints p50/p99 of each and of the paired differences. Needs
`pip install './python[test,litellm]'`. Run from the repository root:

    .venv-test/bin/python python/bench/litellm_overhead.py [--calls 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

from conftest import FakePdp, start_server, stop_server  # noqa: E402
from litellm_proxy import (  # noqa: E402
    MASTER_KEY,
    completion,
    fake_model_entry,
    start_proxy,
    stop_proxy,
)


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        pdp = start_server(tmp)
        model = FakePdp(completion)
        models = [fake_model_entry("bench-model", model.url)]
        guarded: dict[str, Any] = {
            "model_list": models,
            "guardrails": [
                {
                    "guardrail_name": "policygate",
                    "litellm_params": {
                        "guardrail": "policygate.litellm.PolicyGateGuardrail",
                        "mode": "pre_call",
                        "default_on": True,
                        "api_base": pdp.url,
                        "deadline_ms": 5000,
                        "models": {"bench-model": {"sensitivity": "public"}},
                    },
                }
            ],
            "general_settings": {"master_key": MASTER_KEY},
        }
        bare: dict[str, Any] = {
            "model_list": models,
            "general_settings": guarded["general_settings"],
        }
        noop = {
            **guarded,
            "guardrails": [
                {
                    "guardrail_name": "noop",
                    "litellm_params": {
                        "guardrail": "noop_guardrail.NoopGuardrail",
                        "mode": "pre_call",
                        "default_on": True,
                    },
                }
            ],
        }
        variants = {"without guardrail": bare, "no-op guardrail": noop, "PolicyGate": guarded}
        procs = []
        urls = []
        for i, config in enumerate(variants.values()):
            d = tmp / f"proxy{i}"
            d.mkdir()
            # LiteLLM finds `noop_guardrail` next to the config file.
            (d / "noop_guardrail.py").write_text(NOOP)
            proc, url = start_proxy(d, config)
            procs.append(proc)
            urls.append(url)
        body = {"model": "bench-model", "messages": [{"role": "user", "content": "hello " * 50}]}
        headers = {"authorization": f"Bearer {MASTER_KEY}"}
        samples: list[list[float]] = [[] for _ in urls]
        try:
            with httpx.Client(timeout=30) as http:
                for i in range(args.warmup + args.calls):
                    for k, url in enumerate(urls):
                        t = time.perf_counter()
                        r = http.post(f"{url}/v1/chat/completions", json=body, headers=headers)
                        ms = (time.perf_counter() - t) * 1000
                        assert r.status_code == 200, r.text
                        if i >= args.warmup:
                            samples[k].append(ms)
        finally:
            for proc in procs:
                stop_proxy(proc)
            model.close()
            stop_server(pdp)
        print(f"LiteLLM proxy, {args.calls} chat completions each (after {args.warmup} warm-up)")
        for name, got in zip(variants, samples, strict=True):
            print(f"  {name:<18} p50 {pct(got, 0.5):7.2f} ms   p99 {pct(got, 0.99):7.2f} ms")
        for name, k, base in (("LiteLLM guardrails", 1, 0), ("the PolicyGate hook", 2, 1)):
            diffs = [a - b for a, b in zip(samples[k], samples[base], strict=True)]
            median = statistics.median(samples[k]) - statistics.median(samples[base])
            print(
                f"  added by {name:<20} median diff {median:6.2f} ms   "
                f"paired p50 {pct(diffs, 0.5):6.2f} ms   paired p99 {pct(diffs, 0.99):6.2f} ms"
            )


NOOP = """
from litellm.integrations.custom_guardrail import CustomGuardrail


class NoopGuardrail(CustomGuardrail):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        return data
"""


if __name__ == "__main__":
    main()
