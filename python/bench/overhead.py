"""What the Python PEP adds to a decision: a bounded benchmark against the real server.

Starts `policygate serve` (POLICYGATE_BIN, default target/debug/policygate) on loopback and
times, call by call, interleaved so that load changes hit every variant alike:

1. a bare `httpx.Client` POST of the same body (the baseline);
2. `PdpClient.decide` (validation of the facts and of the answer, deadline, id echo);
3. the same pair asynchronously (`httpx.AsyncClient` vs `AsyncPdpClient.decide`);
4. `PolicyGateGuardrail.async_pre_call_hook` (the LiteLLM hook: mapping, decision,
   OUTPUT_CAP) vs the bare async POST, when LiteLLM is installed.

Prints p50/p99 per variant and the added latency (difference of the medians, and the
p50/p99 of the paired per-call differences). Run from the repository root:

    .venv-test/bin/python python/bench/overhead.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from policygate import AsyncPdpClient, PdpClient

# LiteLLM would otherwise try to download its model price list at import.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

ROOT = Path(__file__).resolve().parents[2]
BODY: dict[str, Any] = json.loads(
    (ROOT / "policy" / "examples" / "requests" / "degrade.json").read_text()
)


def start(binary: Path, audit: Path) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(
        [str(binary), "serve", "--policy", str(ROOT / "policy" / "policy.yaml"),
         "--listen", "127.0.0.1:0", "--audit-file", str(audit)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    for raw in process.stderr:
        line = raw.decode(errors="replace")
        if "listening on " in line:
            addr = line.split("listening on ", 1)[1].split()[0]
            # Keep draining stderr so the server never blocks on a full pipe.
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return process, f"http://{addr}"
    raise SystemExit(f"policygate exited with {process.wait()} before listening")


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def report(name: str, us: list[float]) -> None:
    print(f"  {name:<34} p50 {pct(us, 0.5):8.1f} us   p99 {pct(us, 0.99):8.1f} us")


def added(name: str, base: list[float], other: list[float]) -> None:
    diffs = [o - b for o, b in zip(other, base, strict=True)]
    print(
        f"  added by {name:<25} median diff "
        f"{statistics.median(other) - statistics.median(base):7.1f} us"
        f"   paired p50 {pct(diffs, 0.5):7.1f} us   paired p99 {pct(diffs, 0.99):7.1f} us"
    )


CPU: dict[str, float] = {}
"""CPU time of this process per variant, in us: robust to a loaded machine, since the
server runs in another process and waiting costs no CPU."""


def timed(name: str, fn: Callable[[], object]) -> float:
    c = time.process_time()
    t = time.perf_counter()
    fn()
    wall = (time.perf_counter() - t) * 1e6
    CPU[name] = CPU.get(name, 0.0) + (time.process_time() - c) * 1e6
    return wall


async def atimed(name: str, fn: Callable[[], Awaitable[object]]) -> float:
    c = time.process_time()
    t = time.perf_counter()
    await fn()
    wall = (time.perf_counter() - t) * 1e6
    CPU[name] = CPU.get(name, 0.0) + (time.process_time() - c) * 1e6
    return wall


def cpu(name: str, base: str, calls: int) -> None:
    n = calls
    print(
        f"  CPU per call: {name} {CPU[name] / n:7.1f} us, {base} {CPU[base] / n:7.1f} us, "
        f"added {(CPU[name] - CPU[base]) / n:7.1f} us"
    )


def bench_sync(url: str, calls: int, warmup: int) -> None:
    payload = json.dumps(BODY).encode()
    headers = {"content-type": "application/json"}
    bare: list[float] = []
    pep: list[float] = []
    with httpx.Client() as http, PdpClient(url, deadline=2.0) as client:
        for i in range(warmup + calls):
            b = timed(
                "bare",
                lambda: http.post(url + "/evaluate", content=payload, headers=headers).json(),
            )
            p = timed("pep", lambda: client.decide(BODY))
            if i >= warmup:
                bare.append(b)
                pep.append(p)
        assert client.decide(BODY).decision == "DEGRADE"
    print("sync")
    report("bare httpx.Client POST", bare)
    report("PdpClient.decide", pep)
    added("PdpClient", bare, pep)
    cpu("pep", "bare", warmup + calls)


async def bench_async(url: str, calls: int, warmup: int) -> None:
    payload = json.dumps(BODY).encode()
    headers = {"content-type": "application/json"}
    bare: list[float] = []
    pep: list[float] = []
    hook: list[float] = []
    guard: Any = None
    try:
        from policygate.litellm import PolicyGateGuardrail

        guard = PolicyGateGuardrail(
            api_base=url,
            deadline_ms=2000,
            models={"m": {"sensitivity": "internal"}},
            guardrail_name="bench",
            event_hook="pre_call",
        )
    except ImportError:
        print("(LiteLLM not installed: the hook is not measured)")
    chat = {"model": "m", "messages": [{"role": "user", "content": "hello " * 50}]}
    async with httpx.AsyncClient() as http, AsyncPdpClient(url, deadline=2.0) as client:

        async def post() -> object:
            return (await http.post(f"{url}/evaluate", content=payload, headers=headers)).json()

        for i in range(warmup + calls):
            b = await atimed("abare", post)
            p = await atimed("apep", lambda: client.decide(BODY))
            h = 0.0
            if guard is not None:
                h = await atimed(
                    "hook", lambda: guard.async_pre_call_hook(None, None, dict(chat), "chat")
                )
            if i >= warmup:
                bare.append(b)
                pep.append(p)
                hook.append(h)
    print("async")
    report("bare httpx.AsyncClient POST", bare)
    report("AsyncPdpClient.decide", pep)
    added("AsyncPdpClient", bare, pep)
    cpu("apep", "abare", warmup + calls)
    if guard is not None:
        report("LiteLLM async_pre_call_hook", hook)
        added("the LiteLLM hook", bare, hook)
        cpu("hook", "abare", warmup + calls)
        await guard.policygate.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    binary = Path(os.environ.get("POLICYGATE_BIN", ROOT / "target" / "debug" / "policygate"))
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start(binary, Path(tmp) / "audit.jsonl")
        try:
            print(
                f"policygate {binary} at {url}; {args.calls} calls per variant, "
                f"python {sys.version.split()[0]}"
            )
            bench_sync(url, args.calls, args.warmup)
            asyncio.run(bench_async(url, args.calls, args.warmup))
        finally:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
