"""Starts a real LiteLLM proxy on loopback for the end-to-end tests, and a fake model."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import http_response

MASTER_KEY = "sk-policygate-e2e"
STARTUP_LIMIT = 120.0


def completion(req: dict[str, Any]) -> bytes:
    """An OpenAI chat completion, for the fake model."""
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1,
        "model": req.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "fake answer"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    return http_response(200, json.dumps(body).encode())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_proxy(
    tmp: Path, config: dict[str, Any], env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """`litellm --config` on a free loopback port, once `/health/liveliness` answers."""
    cfg = tmp / "config.yaml"
    cfg.write_text(json.dumps(config))  # JSON is YAML: no YAML writer needed.
    port = free_port()
    litellm_bin = Path(sys.executable).parent / "litellm"
    log_path = tmp / "litellm.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(litellm_bin), "--config", str(cfg), "--host", "127.0.0.1", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={
                **os.environ,
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "LITELLM_TELEMETRY": "False",
                "NO_DOCS": "True",
                "LITELLM_MASTER_KEY": MASTER_KEY,
                **(env or {}),
            },
        )
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + STARTUP_LIMIT
    while True:
        if time.monotonic() > end or process.poll() is not None:
            process.kill()
            pytest.fail(f"litellm did not become ready: {log_path.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/health/liveliness", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            # Not listening yet: wait on the process (it may exit) a moment, then retry.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.25)


def stop_proxy(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def fake_model_entry(name: str, model_url: str) -> dict[str, Any]:
    return {
        "model_name": name,
        "litellm_params": {
            "model": f"openai/{name}",
            "api_base": f"{model_url}/v1",
            "api_key": "fake-key",
        },
    }


DOC = Path(__file__).resolve().parents[2] / "docs" / "litellm.md"


def doc_config(title: str) -> dict[str, Any]:
    """The config.yaml of docs/litellm.md whose first line is `# config.yaml: <title>`."""
    import yaml

    text = DOC.read_text()
    for block in text.split("```yaml\n")[1:]:
        body = block.split("```", 1)[0]
        if body.startswith(f"# config.yaml: {title}\n"):
            loaded: dict[str, Any] = yaml.safe_load(body)
            return loaded
    raise AssertionError(f"docs/litellm.md has no `# config.yaml: {title}` block")


def with_fake_models(config: dict[str, Any], model_url: str, extra: list[str]) -> dict[str, Any]:
    """The config with every model served by the fake model, plus models named `extra`."""
    names = [m["model_name"] for m in config["model_list"]] + extra
    return {**config, "model_list": [fake_model_entry(n, model_url) for n in names]}
