"""CHANGE: fact mapping — what the business knows, expressed as PolicyGate facts.

The one place that decides which facts the policy sees. Map only facts the service has
verified (its own store, an authenticated caller), never values an end user or a model can
choose. The client checks the result against the request contract, so a mapping bug is a
BLOCK (`PEP_INVALID_FACTS`), never a wrong decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from policygate.models import Action, EvaluateRequest, Resource, Subject

from .documents import Document


@dataclass(frozen=True)
class Caller:
    """Who is calling, as the service's authentication established it (here: headers)."""

    user_id: str | None
    request_id: str | None

    @classmethod
    def from_request(cls, request: Request) -> Caller:
        return cls(request.headers.get("x-user-id"), request.headers.get("x-request-id"))


def document_facts(action: Action, env: str, doc: Document, caller: Caller) -> EvaluateRequest:
    """The facts for acting on `doc`."""
    return EvaluateRequest.model_validate(
        {
            "action": action,
            "env": {"name": env},
            "resource": Resource(type="document", id=doc.id, sensitivity=doc.sensitivity),
            "subject": Subject(type="user", id=caller.user_id) if caller.user_id else None,
            "request_id": caller.request_id,
            "signals": {"pii_detected": doc.contains_pii, "prompt_tokens": doc.word_count},
        }
    )
