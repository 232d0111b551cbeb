"""Starlette and FastAPI integration: a route guard (a FastAPI dependency) and its 403.

`PolicyGuard` maps each HTTP request to facts (your mapping), asks the PDP through an
`AsyncPdpClient` and either returns the decision to the route (ALLOW, or DEGRADE whose
obligations the route declared it honours) or raises `Refused`, which
`refusal_handler` turns into `403 {decision, rationale_codes, origin, correlation_id}`.
It never lets a request through on a failure: a PDP failure, an unhonoured obligation or a
REQUIRE_REVIEW on a route that did not opt in is a refusal. Needs `starlette` (FastAPI
brings it); nothing here imports FastAPI.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .client import AsyncPdpClient, Facts
from .decision import Decision
from .errors import ConfigError, InvalidFacts, PepError, Unenforceable, UnhandledDecision
from .models import OBLIGATION_TYPES

__all__ = ["PolicyGuard", "Refused", "refusal_handler"]


class Refused(Exception):
    """The guard refused the request; `decision` says why (BLOCK or REQUIRE_REVIEW)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"refused: {decision.decision} {list(decision.rationale_codes)}")
        self.decision = decision


async def refusal_handler(request: Request, exc: Exception) -> Response:
    """Exception handler for `Refused`: `403` with the refusal body (no internal detail).

    Register it with `app.add_exception_handler(Refused, refusal_handler)`.
    """
    if not isinstance(exc, Refused):
        raise exc
    return JSONResponse(exc.decision.refusal(), status_code=403)


class PolicyGuard:
    """A route guard; use it as a FastAPI dependency: `decision = Depends(guard)`.

    In plain Starlette, call `await guard(request)` at the start of the endpoint.
    """

    def __init__(
        self,
        client: AsyncPdpClient,
        facts: Callable[[Request], Facts | Awaitable[Facts]],
        *,
        enforcing: frozenset[str] = frozenset(),
        allow_review: bool = False,
    ) -> None:
        unknown = set(enforcing) - set(OBLIGATION_TYPES)
        if unknown:
            raise ConfigError(f"`enforcing` names unknown obligation types {sorted(unknown)}")
        self.client = client
        self.facts = facts
        self.enforcing = enforcing
        self.allow_review = allow_review

    async def __call__(self, request: Request) -> Decision:
        """The decision for `request` when the route may run; raises `Refused` otherwise."""
        try:
            mapped = self.facts(request)
            facts: Facts = await mapped if inspect.isawaitable(mapped) else mapped
        except PepError as e:
            raise Refused(Decision.from_error(e)) from None
        except (ValueError, KeyError, TypeError) as e:
            raise Refused(
                Decision.from_error(InvalidFacts(f"the fact mapping failed: {e}"))
            ) from None
        decision = await self.client.decide(facts, traceparent=request.headers.get("traceparent"))
        request.state.policygate_decision = decision
        if decision.decision == "ALLOW":
            return decision
        if decision.decision == "DEGRADE":
            for o in decision.obligations:
                if o.type not in self.enforcing:
                    raise Refused(
                        decision.overruled(
                            Unenforceable(o.type, "the route does not declare that it honours it")
                        )
                    )
            return decision
        if decision.decision == "REQUIRE_REVIEW" and not self.allow_review:
            raise Refused(decision.overruled(UnhandledDecision(decision.decision)))
        if decision.decision == "REQUIRE_REVIEW":
            return decision
        raise Refused(decision)
