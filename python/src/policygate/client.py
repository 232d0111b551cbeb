"""The PDP clients: one `POST /evaluate` per decision, bounded in time, failing closed.

`PdpClient` (sync) and `AsyncPdpClient` (async) share everything but the I/O. Each keeps
one `httpx` connection pool (reused across calls), bounds the whole call (connecting,
retries, sending and reading) by one per-call deadline, and retries only when a
connection could not be *established*: once a request may have reached the PDP it is never
sent again, so no evaluation (and no audit event) is duplicated. Every request carries a
`request_id` (one is generated when the facts have none) so that every answer can be
checked to echo it. `decide` never raises and never returns a decision that did not pass
`_response.decision_from_body`: every failure is a BLOCK with `origin == "pep"`.
"""

from __future__ import annotations

import re
import ssl
import time
import uuid
from collections.abc import Mapping
from typing import Any

import anyio
import httpx
import pydantic

from ._response import MAX_RESPONSE_BYTES, decision_from_body, error_status
from .decision import Decision
from .errors import ConfigError, InvalidFacts, InvalidResponse, PepError, Timeout, Unavailable
from .models import EvaluateRequest

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_RETRIES",
    "MAX_RESPONSE_BYTES",
    "AsyncPdpClient",
    "PdpClient",
    "is_traceparent",
    "to_request",
]

DEFAULT_DEADLINE = 0.5
"""Default per-call deadline, in seconds."""
DEFAULT_MAX_RETRIES = 2
"""Default number of retries after a failed connection attempt."""
_FIRST_BACKOFF = 0.01
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

Facts = EvaluateRequest | Mapping[str, Any]
"""What a client accepts: a model, or a mapping in the shape of the request contract."""


def is_traceparent(value: str) -> bool:
    """Whether `value` is a well-formed W3C `traceparent` header."""
    m = _TRACEPARENT.match(value)
    return (
        m is not None and m.group(1) != "ff" and m.group(2) != "0" * 32 and m.group(3) != "0" * 16
    )


def to_request(facts: Facts) -> EvaluateRequest:
    """The facts as a contract-valid request with a `request_id`; raises `InvalidFacts`."""
    try:
        request = (
            facts
            if isinstance(facts, EvaluateRequest)
            else EvaluateRequest.model_validate(dict(facts))
        )
    except pydantic.ValidationError as e:
        problems = "; ".join(
            ("/" + "/".join(str(p) for p in err["loc"])) + f": {err['msg']}"
            for err in e.errors(include_url=False)
        )
        raise InvalidFacts(problems) from None
    if request.request_id is None:
        request = request.model_copy(update={"request_id": f"pep-{uuid.uuid4()}"})
        # model_copy does not mark the field as set; do it so that it is sent.
        request.__pydantic_fields_set__.add("request_id")
    return request


class _Config:
    """What both clients check and keep: the endpoint, deadline, retries and headers."""

    def __init__(
        self,
        base_url: str,
        deadline: float,
        max_retries: int,
        bearer_token: str | None,
    ) -> None:
        base = base_url.rstrip("/")
        try:
            url = httpx.URL(f"{base}/evaluate")
        except httpx.InvalidURL as e:
            raise ConfigError(
                f"the PDP url `{base_url}` is not a valid url ({e}); "
                "pass a base url such as `http://127.0.0.1:8000`"
            ) from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ConfigError(
                f"the PDP url `{base_url}` must be an `http://host:port` or `https://host:port` url"
            )
        if url.query:
            raise ConfigError(f"the PDP url `{base_url}` must not have a query")
        if not deadline > 0:
            raise ConfigError("the deadline is not positive; set a per-call deadline in seconds")
        if max_retries < 0:
            raise ConfigError("max_retries is negative; use 0 to never retry")
        self.endpoint = str(url)
        self.deadline = float(deadline)
        self.max_retries = max_retries
        self.headers = {"content-type": "application/json", "accept": "application/json"}
        if bearer_token is not None:
            if not bearer_token or any(c in bearer_token for c in "\r\n\0"):
                raise ConfigError(
                    "the bearer token is empty or contains characters not allowed in a "
                    "header; use the token as issued"
                )
            self.headers["authorization"] = f"Bearer {bearer_token}"

    def request_headers(self, traceparent: str | None) -> dict[str, str]:
        if traceparent is not None and is_traceparent(traceparent):
            return {**self.headers, "traceparent": traceparent}
        return self.headers

    def __repr__(self) -> str:
        auth = "<redacted>" if "authorization" in self.headers else None
        return (
            f"endpoint={self.endpoint!r}, deadline={self.deadline}, "
            f"max_retries={self.max_retries}, authorization={auth}"
        )


def _ssl_context(
    verify: bool | ssl.SSLContext, ca_file: str | None, client_cert: tuple[str, str] | None
) -> ssl.SSLContext | bool:
    """The TLS settings for httpx: a context built from the options, or `verify` as given."""
    if isinstance(verify, ssl.SSLContext):
        if ca_file is not None or client_cert is not None:
            raise ConfigError("pass either an ssl.SSLContext or ca_file/client_cert, not both")
        return verify
    if ca_file is None and client_cert is None:
        return verify
    if not verify:
        raise ConfigError("ca_file/client_cert need verification on; drop verify=False")
    try:
        ctx = ssl.create_default_context(cafile=ca_file)
        if client_cert is not None:
            ctx.load_cert_chain(certfile=client_cert[0], keyfile=client_cert[1])
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"cannot load the TLS files: {e}; check the paths and formats") from None
    return ctx


def _classify(e: httpx.TransportError, url: str, attempts: int, deadline: float) -> PepError:
    """The PEP error for a transport failure that is not retried."""
    if isinstance(e, httpx.TimeoutException):
        return Timeout(deadline)
    if isinstance(e, httpx.RemoteProtocolError) and "without sending a response" not in str(e):
        return InvalidResponse(f"the answer is not HTTP/1.1: {e}")
    return Unavailable(url, f"{type(e).__name__}: {e}" if str(e) else type(e).__name__, attempts)


def _backoff(attempt: int) -> float:
    return float(_FIRST_BACKOFF * (2 ** min(attempt - 1, 6)))


def _pool_options(
    verify: bool | ssl.SSLContext, ca_file: str | None, client_cert: tuple[str, str] | None
) -> dict[str, Any]:
    """The httpx options both clients use: TLS, a bounded pool, no proxy from the environment."""
    return {
        "verify": _ssl_context(verify, ca_file, client_cert),
        "limits": httpx.Limits(max_keepalive_connections=32, keepalive_expiry=30),
        "trust_env": False,
    }


class _ClientBase:
    """What the two clients share: the settings, and what they say about them."""

    _config: _Config

    @property
    def endpoint(self) -> str:
        """The evaluate endpoint this client calls."""
        return self._config.endpoint

    @property
    def deadline(self) -> float:
        """The per-call deadline, in seconds."""
        return self._config.deadline

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._config!r})"


class PdpClient(_ClientBase):
    """A synchronous client of one PDP's `POST /evaluate`.

    Thread-safe; close it (or use it as a context manager) to release its connections.

    The deadline bounds every phase by what is left of it, and an answer that completes
    after the deadline is refused; one slow phase (say, a DNS lookup, which httpx does not
    bound) can make a call return a little after the deadline, never with a decision.
    """

    def __init__(
        self,
        base_url: str,
        *,
        deadline: float = DEFAULT_DEADLINE,
        max_retries: int = DEFAULT_MAX_RETRIES,
        bearer_token: str | None = None,
        verify: bool | ssl.SSLContext = True,
        ca_file: str | None = None,
        client_cert: tuple[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._config = _Config(base_url, deadline, max_retries, bearer_token)
        self._http = httpx.Client(
            transport=transport, **_pool_options(verify, ca_file, client_cert)
        )

    def close(self) -> None:
        """Closes the pooled connections."""
        self._http.close()

    def __enter__(self) -> PdpClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def decide(self, facts: Facts, *, traceparent: str | None = None) -> Decision:
        """Asks the PDP; every failure becomes a BLOCK decision from the enforcement point."""
        try:
            request = to_request(facts)
        except PepError as e:
            return Decision.from_error(e)
        try:
            return self.evaluate(request, traceparent=traceparent)
        except PepError as e:
            return Decision.from_error(e, request.request_id)

    def evaluate(self, facts: Facts, *, traceparent: str | None = None) -> Decision:
        """Asks the PDP and returns its decision; raises `PepError` when there is none to trust."""
        request = to_request(facts)
        cfg = self._config
        assert request.request_id is not None  # INVARIANT: to_request sets it.
        body = request.to_json()
        headers = cfg.request_headers(traceparent)
        end = time.monotonic() + cfg.deadline
        attempt = 0
        while True:
            attempt += 1
            left = end - time.monotonic()
            if left <= 0:
                raise Timeout(cfg.deadline)
            try:
                with self._http.stream(
                    "POST", cfg.endpoint, content=body, headers=headers, timeout=left
                ) as response:
                    data = _read_limited(response.iter_bytes(), end, cfg.deadline)
                    status = response.status_code
                break
            except httpx.ConnectError as e:
                pause = _backoff(attempt)
                if attempt > cfg.max_retries or time.monotonic() + pause >= end:
                    raise Unavailable(cfg.endpoint, str(e) or "connect failed", attempt) from None
                time.sleep(pause)
            except httpx.TransportError as e:
                raise _classify(e, cfg.endpoint, attempt, cfg.deadline) from None
        if time.monotonic() > end:
            raise Timeout(cfg.deadline)
        if status != 200:
            raise error_status(status, data)
        return decision_from_body(data, request.request_id)


def _read_limited(chunks: Any, end: float, deadline: float) -> bytes:
    out = bytearray()
    for chunk in chunks:
        out += chunk
        if len(out) > MAX_RESPONSE_BYTES:
            raise InvalidResponse(f"the body is larger than {MAX_RESPONSE_BYTES} bytes")
        if time.monotonic() > end:
            raise Timeout(deadline)
    return bytes(out)


class AsyncPdpClient(_ClientBase):
    """An asynchronous client of one PDP's `POST /evaluate` (asyncio or trio, via anyio).

    The deadline is exact: the whole call runs under one cancel scope.
    Close it (`await client.aclose()`, or `async with`) to release its connections.
    """

    def __init__(
        self,
        base_url: str,
        *,
        deadline: float = DEFAULT_DEADLINE,
        max_retries: int = DEFAULT_MAX_RETRIES,
        bearer_token: str | None = None,
        verify: bool | ssl.SSLContext = True,
        ca_file: str | None = None,
        client_cert: tuple[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = _Config(base_url, deadline, max_retries, bearer_token)
        self._http = httpx.AsyncClient(
            transport=transport, **_pool_options(verify, ca_file, client_cert)
        )

    async def aclose(self) -> None:
        """Closes the pooled connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncPdpClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def decide(self, facts: Facts, *, traceparent: str | None = None) -> Decision:
        """Asks the PDP; every failure becomes a BLOCK decision from the enforcement point."""
        try:
            request = to_request(facts)
        except PepError as e:
            return Decision.from_error(e)
        try:
            return await self.evaluate(request, traceparent=traceparent)
        except PepError as e:
            return Decision.from_error(e, request.request_id)

    async def evaluate(self, facts: Facts, *, traceparent: str | None = None) -> Decision:
        """Asks the PDP and returns its decision; raises `PepError` when there is none to trust."""
        request = to_request(facts)
        cfg = self._config
        assert request.request_id is not None  # INVARIANT: to_request sets it.
        with anyio.move_on_after(cfg.deadline) as scope:
            return await self._call(request.to_json(), request.request_id, traceparent)
        assert scope.cancelled_caught  # INVARIANT: only the deadline leaves the block.
        raise Timeout(cfg.deadline)

    async def _call(self, body: bytes, request_id: str, traceparent: str | None) -> Decision:
        cfg = self._config
        headers = cfg.request_headers(traceparent)
        attempt = 0
        while True:
            attempt += 1
            try:
                # The cancel scope is the deadline; httpx's own timeouts only back it up.
                async with self._http.stream(
                    "POST", cfg.endpoint, content=body, headers=headers, timeout=cfg.deadline
                ) as response:
                    data = bytearray()
                    async for chunk in response.aiter_bytes():
                        data += chunk
                        if len(data) > MAX_RESPONSE_BYTES:
                            raise InvalidResponse(
                                f"the body is larger than {MAX_RESPONSE_BYTES} bytes"
                            )
                    status = response.status_code
                break
            except httpx.ConnectError as e:
                if attempt > cfg.max_retries:
                    raise Unavailable(cfg.endpoint, str(e) or "connect failed", attempt) from None
                await anyio.sleep(_backoff(attempt))
            except httpx.TransportError as e:
                raise _classify(e, cfg.endpoint, attempt, cfg.deadline) from None
        if status != 200:
            raise error_status(status, bytes(data))
        return decision_from_body(bytes(data), request_id)
