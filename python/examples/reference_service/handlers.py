"""CHANGE: what happens on each decision — the business behaviour around the model call.

The enforcer (stable core) calls exactly one of these per request. They may be sync or
async. The DEGRADE handler honours OUTPUT_CAP by lowering `max_tokens` with the package's
helper (it never raises a limit); `HANDLERS.enforcing` declares that it does, without which
a DEGRADE would be blocked.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.responses import JSONResponse

from policygate import Decision, Handlers, Unenforceable
from policygate.obligations import limit_max_tokens

from .documents import Document

DEFAULT_MAX_TOKENS = 40


@dataclass
class Job:
    """The per-request context: what to summarise, and how long a summary was asked for."""

    document: Document
    max_tokens: int | None
    reviews: list[str] = field(default_factory=list)


def model(text: str, max_tokens: int) -> str:
    """A deterministic stand-in for the model: the first `max_tokens` words."""
    return " ".join(text.split()[:max_tokens])


async def on_allow(job: Job, decision: Decision) -> JSONResponse:
    limit = job.max_tokens or DEFAULT_MAX_TOKENS
    return JSONResponse(
        {"summary": model(job.document.text, limit), "max_tokens": limit, "decision": "ALLOW"}
    )


async def on_degrade(job: Job, decision: Decision) -> JSONResponse:
    cap = decision.output_cap
    limit = limit_max_tokens(cap, job.max_tokens) if cap else None
    if limit is None:
        raise Unenforceable("OUTPUT_CAP", "the cap sets no max_tokens and this model has no other")
    return JSONResponse(
        {"summary": model(job.document.text, limit), "max_tokens": limit, "decision": "DEGRADE"}
    )


def on_review(job: Job, decision: Decision) -> JSONResponse:
    job.reviews.append(job.document.id)
    return JSONResponse({"queued_for_review": job.document.id, **decision.refusal()}, 202)


def on_block(job: Job, decision: Decision) -> JSONResponse:
    return JSONResponse(decision.refusal(), 403)


HANDLERS: Handlers[Job, JSONResponse] = Handlers(
    on_allow=on_allow,
    on_degrade=on_degrade,
    on_review=on_review,
    on_block=on_block,
    enforcing=frozenset({"OUTPUT_CAP"}),
)
