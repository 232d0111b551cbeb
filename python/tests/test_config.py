"""Client configuration is checked up front, with errors that say how to fix it."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest

from policygate import AsyncPdpClient, PdpClient, errors
from policygate.client import is_traceparent
from policygate.errors import ConfigError


@pytest.mark.parametrize("cls", [PdpClient, AsyncPdpClient])
@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("ftp://h:1", {}, "must be an `http://host:port`"),
        ("http://h:1/?q=1", {}, "must not have a query"),
        ("http://h:1", {"deadline": 0}, "deadline is not positive"),
        ("http://h:1", {"max_retries": -1}, "max_retries is negative"),
        ("http://h:1", {"bearer_token": "a\nb"}, "bearer token"),
        ("https://h:1", {"ca_file": "/nonexistent/ca.pem"}, "cannot load the TLS files"),
        ("https://h:1", {"verify": False, "ca_file": "x"}, "need verification on"),
    ],
)
def test_bad_configuration_is_refused(
    cls: type, url: str, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as e:
        cls(url, **options)
    assert e.value.code == errors.PEP_CONFIG_INVALID


def test_tls_options_build_a_context(tmp_path: Path) -> None:
    ctx = ssl.create_default_context()
    with PdpClient("https://pdp.internal:8443", verify=ctx) as c:
        assert c.endpoint == "https://pdp.internal:8443/evaluate"
    with pytest.raises(ConfigError, match="not both"):
        PdpClient("https://h:1", verify=ctx, ca_file=str(tmp_path / "ca.pem"))


def test_https_to_a_plain_http_server_fails_closed(dead_url: str) -> None:
    with PdpClient(dead_url.replace("http://", "https://"), max_retries=0) as c:
        d = c.decide(
            {
                "action": "infer:run",
                "env": {"name": "prod"},
                "resource": {"type": "d", "sensitivity": "public"},
            }
        )
    assert (d.decision, d.origin) == ("BLOCK", "pep")


def test_the_token_is_never_printed() -> None:
    with PdpClient("http://h:1", bearer_token="very-secret") as c:
        assert "very-secret" not in repr(c)
        assert "<redacted>" in repr(c)


def test_traceparents_are_checked() -> None:
    assert is_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert not is_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01")
    assert not is_traceparent("00-" + "0" * 32 + "-00f067aa0ba902b7-01")
    assert not is_traceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")


def test_every_code_is_distinct() -> None:
    assert len(set(errors.ALL_CODES)) == len(errors.ALL_CODES) == 9
