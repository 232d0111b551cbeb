"""Shared fixtures: the real `policygate serve` binary, and a fake PDP for the fault cases.

The real server is started on port 0 and found by the address it logs ("policygate
listening on ADDR"), then checked with one `GET /health`; nothing waits by sleeping. The
fake PDP is a raw socket server so that it can also answer with things that are not HTTP.
"""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

# LiteLLM (imported by some tests) would otherwise try to download its price list.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

REPO = Path(__file__).resolve().parents[2]
CONTRACTS = REPO / "contracts"
POLICY = REPO / "policy" / "policy.yaml"
EXAMPLES = REPO / "policy" / "examples" / "requests"
STARTUP_LIMIT = 20.0
# Per-call deadline of the clients that talk to a real server: generous, because a debug
# build on a loaded 2-core CI machine can take long; the deadline itself is tested with a
# fake PDP that never answers.
TEST_DEADLINE = 10.0


def example(name: str) -> dict[str, Any]:
    """A request from policy/examples/requests."""
    data: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text())
    return data


def policygate_bin() -> Path:
    path = Path(os.environ.get("POLICYGATE_BIN", REPO / "target" / "debug" / "policygate"))
    if not path.is_absolute():
        path = REPO / path
    if not path.exists():
        pytest.fail(
            f"the policygate binary is not at {path}; run `cargo build -p policygate-cli` "
            "or set POLICYGATE_BIN",
            pytrace=False,
        )
    return path


@dataclass
class RealServer:
    """A running `policygate serve`."""

    url: str
    process: subprocess.Popen[bytes]
    audit_file: Path
    stderr_lines: list[str] = field(default_factory=list)

    def audit_events(self) -> list[dict[str, Any]]:
        """The decision events (the stream also holds its opening event)."""
        lines = [json.loads(line) for line in self.audit_file.read_text().splitlines() if line]
        return [e for e in lines if e["event_type"] == "policygate.decision.evaluated"]


def start_server(tmp: Path, *extra: str, policy: Path = POLICY) -> RealServer:
    audit = tmp / "audit.jsonl"
    process = subprocess.Popen(
        [
            str(policygate_bin()),
            "serve",
            "--policy",
            str(policy),
            "--listen",
            "127.0.0.1:0",
            "--audit-file",
            str(audit),
            *extra,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    lines: queue.Queue[str | None] = queue.Queue()
    seen: list[str] = []

    def pump() -> None:
        assert process.stderr is not None
        for raw in process.stderr:
            line = raw.decode(errors="replace")
            seen.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    end = time.monotonic() + STARTUP_LIMIT
    addr = None
    while addr is None:
        try:
            line = lines.get(timeout=max(0.0, end - time.monotonic()))
        except queue.Empty:
            process.kill()
            pytest.fail(f"policygate did not log its address in time: {''.join(seen)}")
        if line is None:
            pytest.fail(f"policygate exited ({process.wait()}): {''.join(seen)}")
        m = re.search(r"listening on (\S+)", line)
        if m:
            addr = m.group(1)
    url = f"http://{addr}"
    health = httpx.get(f"{url}/health", timeout=5)
    assert health.status_code == 200, health.text
    return RealServer(url=url, process=process, audit_file=audit, stderr_lines=seen)


def stop_server(server: RealServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def pdp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    """The real PolicyGate with policy/policy.yaml, no auth."""
    server = start_server(tmp_path_factory.mktemp("pdp"))
    yield server
    stop_server(server)


TOKEN = "s3cret-token-for-tests-0123456789abcdef"


@pytest.fixture(scope="session")
def pdp_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    """The real PolicyGate requiring a bearer token (`TOKEN`)."""
    tmp = tmp_path_factory.mktemp("pdp-auth")
    tokens = tmp / "tokens"
    tokens.write_text(f"tests:{TOKEN}\n")
    tokens.chmod(0o600)
    server = start_server(tmp, "--auth-tokens-file", str(tokens))
    yield server
    stop_server(server)


# --- the fake PDP -------------------------------------------------------------------------

SHA = "ab" * 32


def answer(request_id: str, decision: str = "ALLOW", **extra: Any) -> dict[str, Any]:
    """A contract-valid EvaluateResponse (change it with `extra`)."""
    body: dict[str, Any] = {
        "correlation_id": request_id,
        "decision": decision,
        "rationale_codes": ["FAKE"],
        "policy": {"policy_id": "fake", "policy_version": "1", "policy_sha256": SHA},
    }
    if decision == "DEGRADE":
        body["obligations"] = [{"type": "OUTPUT_CAP", "params": {"max_tokens": 7}}]
    body.update(extra)
    return body


def http_response(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    head = (
        f"HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


Reply = Callable[[dict[str, Any]], bytes | None]
"""What the fake PDP sends for a request body (None: close without answering)."""


class FakePdp:
    """A fake PDP on loopback; `reply` decides every answer. Counts connections and requests."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            reader = conn.makefile("rb")
            while True:
                request_line = reader.readline()
                if not request_line:
                    return
                headers: dict[str, str] = {}
                while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
                    k, _, v = line.decode().partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = reader.read(int(headers.get("content-length", "0")))
                parsed = json.loads(body) if body else {}
                self.requests.append(parsed)
                self.headers.append(headers)
                out = self.reply(parsed)
                if out is None:
                    return
                try:
                    conn.sendall(out)
                except OSError:
                    return

    def close(self) -> None:
        self.release.set()
        self._sock.close()


@pytest.fixture
def fake_pdp() -> Iterator[Callable[[Reply], FakePdp]]:
    """Starts fake PDPs with a given reply; all are closed (and slow replies released) after."""
    started: list[FakePdp] = []

    def start(reply: Reply) -> FakePdp:
        fake = FakePdp(reply)
        started.append(fake)
        return fake

    yield start
    for f in started:
        f.close()


@pytest.fixture
def dead_url() -> Iterator[str]:
    """A loopback url where nothing listens (the port is held bound, so it stays dead)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
