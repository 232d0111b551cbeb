"""Turns the status and bytes of a PDP answer into a decision the enforcer may trust.

The contract check on the enforcer's side, shared by the sync and async clients: a 200
answer is trusted only when it is exactly an EvaluateResponse v1 (no unknown fields), keeps
the contract's invariants, echoes the request's id, and carries only obligation types this
package knows. Anything else is a `PepError`, and so a BLOCK. Obligations are looked at in
the raw JSON first so that an unknown *type* is reported as such
(`PEP_OBLIGATION_UNSUPPORTED`) rather than as a malformed answer, as in the Rust PEP.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic

from .decision import Decision
from .errors import ErrorStatus, InvalidResponse, PepError, UnsupportedObligation
from .models import OBLIGATION_TYPES, ErrorBody, EvaluateResponse

MAX_RESPONSE_BYTES = 64 * 1024
"""Largest PDP answer read, in bytes; a larger one is refused as invalid."""


def _summary(e: pydantic.ValidationError) -> str:
    parts = []
    for err in e.errors(include_url=False)[:5]:
        loc = "/" + "/".join(str(p) for p in err["loc"]) if err["loc"] else "(root)"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def decision_from_body(body: bytes, request_id: str) -> Decision:
    """Validates the body of a 200 answer to a request that carried `request_id`."""
    try:
        raw: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidResponse(f"the body is not JSON: {e}") from None
    unknown = _unknown_obligation_type(raw)
    if unknown is not None:
        correlation_id = raw.get("correlation_id")
        if raw.get("decision") != "DEGRADE":
            raise InvalidResponse(
                "obligations must be present exactly when the decision is DEGRADE"
            )
        if correlation_id != request_id:
            raise _mismatch(request_id, correlation_id)
        raise UnsupportedObligation(unknown, request_id)
    try:
        response = EvaluateResponse.model_validate(raw, strict=True)
    except pydantic.ValidationError as e:
        raise InvalidResponse(f"the body is not an EvaluateResponse: {_summary(e)}") from None
    if response.correlation_id != request_id:
        raise _mismatch(request_id, response.correlation_id)
    return Decision.from_pdp(response)


def _mismatch(request_id: str, correlation_id: object) -> InvalidResponse:
    return InvalidResponse(
        f"correlation_id `{correlation_id}` does not echo the request_id `{request_id}`"
    )


def _unknown_obligation_type(raw: Any) -> str | None:
    if not isinstance(raw, dict):
        return None
    obligations = raw.get("obligations")
    if not isinstance(obligations, list):
        return None
    for o in obligations:
        t = o.get("type") if isinstance(o, dict) else None
        if isinstance(t, str) and t not in OBLIGATION_TYPES:
            return t
    return None


def error_status(status: int, body: bytes) -> PepError:
    """The error for a non-200 answer, with the error body's code when it is one."""
    try:
        parsed = ErrorBody.model_validate_json(body)
    except (pydantic.ValidationError, ValueError):
        return ErrorStatus(status, None, None)
    return ErrorStatus(status, parsed.error.code, parsed.error.message)
