"""The reference service: FastAPI routes wired to PolicyGate.

Run with (from python/, after `pip install './python[test]'` or fastapi + uvicorn):

    POLICYGATE_URL=http://127.0.0.1:8000 uvicorn examples.reference_service.app:app --port 8080

| route | how it is guarded |
|---|---|
| `POST /summarise {"document_id", "max_tokens"?}` | `AsyncEnforcer.enforce`, four handlers |
| `GET /documents/{id}` | the `PolicyGuard` dependency (`data:read`) |
| `GET /reviews`, `GET /health` | not guarded |

KEEP: the enforcer, the guard and the refusal handler are the stable core (the
`policygate` package). CHANGE: `documents.py`, `mapping.py`, `handlers.py`, and the
settings below.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from policygate import AsyncEnforcer, AsyncPdpClient, Decision
from policygate.models import EvaluateRequest
from policygate.starlette import PolicyGuard, Refused, refusal_handler

from .documents import DOCUMENTS, Document
from .handlers import HANDLERS, Job
from .mapping import Caller, document_facts


class Settings(BaseModel):
    """CHANGE: where the PDP is and what this deployment is called."""

    pdp_url: str = "http://127.0.0.1:8000"
    env: str = "prod"
    deadline: float = 0.5
    token: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            pdp_url=os.environ.get("POLICYGATE_URL", cls.model_fields["pdp_url"].default),
            env=os.environ.get("SERVICE_ENV", "prod"),
            token=os.environ.get("POLICYGATE_TOKEN"),
        )


class SummariseBody(BaseModel):
    document_id: str
    max_tokens: int | None = Field(default=None, ge=1)


def create_app(settings: Settings) -> FastAPI:
    """The service; one PDP client (one connection pool) for its lifetime."""
    client = AsyncPdpClient(
        settings.pdp_url, deadline=settings.deadline, bearer_token=settings.token
    )
    enforcer = AsyncEnforcer(client)
    reviews: list[str] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await client.aclose()

    app = FastAPI(lifespan=lifespan)
    app.add_exception_handler(Refused, refusal_handler)

    def find(document_id: str) -> Document:
        doc = DOCUMENTS.get(document_id)
        if doc is None:
            raise HTTPException(404, f"no document `{document_id}`")
        return doc

    def read_facts(request: Request) -> EvaluateRequest:
        doc = find(request.path_params["document_id"])
        return document_facts("data:read", settings.env, doc, Caller.from_request(request))

    guard = PolicyGuard(client, read_facts)

    @app.post("/summarise")
    async def summarise(body: SummariseBody, request: Request) -> JSONResponse:
        doc = find(body.document_id)
        facts = document_facts("infer:run", settings.env, doc, Caller.from_request(request))
        job = Job(doc, body.max_tokens, reviews)
        return await enforcer.enforce(
            facts, job, HANDLERS, traceparent=request.headers.get("traceparent")
        )

    @app.get("/documents/{document_id}")
    async def read(document_id: str, decision: Decision = Depends(guard)) -> JSONResponse:  # noqa: B008
        return JSONResponse({"id": document_id, "text": find(document_id).text})

    @app.get("/reviews")
    async def pending_reviews() -> list[str]:
        return reviews

    @app.get("/health")
    async def health() -> str:
        return "ok"

    return app


app = create_app(Settings.from_env())
