"""The decision a handler enforces, whether it came from the PDP or was synthesised.

A `Decision` is made two ways only: from a PDP answer that passed every contract check
(`Decision.from_pdp`, called by the clients after `_response.decision_from_body`), or
from a `PepError`, which always yields BLOCK with `origin == "pep"`. It is immutable, so
no code on the way to a handler can drop an obligation or turn a BLOCK into an ALLOW.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import PepError
from .models import DecisionKind, EvaluateResponse, Obligation, OutputCap, PolicyIdentity
from .obligations import merged_output_cap

__all__ = ["Decision", "Origin"]

Origin = Literal["pdp", "pep"]
"""Who decided: the PDP, or the enforcement point failing closed."""


@dataclass(frozen=True)
class Decision:
    """A decision to enforce."""

    decision: DecisionKind
    rationale_codes: tuple[str, ...]
    origin: Origin
    obligations: tuple[Obligation, ...] = ()
    correlation_id: str | None = None
    matched_rule_id: str | None = None
    policy: PolicyIdentity | None = None
    error: PepError | None = field(default=None, compare=False)
    """Why the enforcement point blocked (for logs; may name internal hosts)."""

    @classmethod
    def from_pdp(cls, response: EvaluateResponse) -> Decision:
        """The decision of a PDP answer that passed every contract check."""
        return cls(
            decision=response.decision,
            rationale_codes=tuple(response.rationale_codes),
            origin="pdp",
            obligations=tuple(response.obligations or ()),
            correlation_id=response.correlation_id,
            matched_rule_id=response.matched_rule_id,
            policy=response.policy,
        )

    @classmethod
    def from_error(cls, error: PepError, correlation_id: str | None = None) -> Decision:
        """The synthetic BLOCK for `error`: its only rationale code is `error.code`."""
        return cls(
            decision="BLOCK",
            rationale_codes=(error.code,),
            origin="pep",
            correlation_id=correlation_id,
            error=error,
        )

    def overruled(self, error: PepError) -> Decision:
        """The synthetic BLOCK that replaces this decision when it cannot be honoured."""
        return Decision(
            decision="BLOCK",
            rationale_codes=(error.code,),
            origin="pep",
            correlation_id=self.correlation_id,
            policy=self.policy,
            error=error,
        )

    @property
    def is_from_pdp(self) -> bool:
        """Whether the PDP decided (as opposed to the enforcement point failing closed)."""
        return self.origin == "pdp"

    @property
    def output_cap(self) -> OutputCap | None:
        """Every `OUTPUT_CAP` merged into one (smallest limits), or None when there is none."""
        return merged_output_cap(self.obligations)

    def refusal(self) -> dict[str, Any]:
        """What a refused caller is told: decision, codes, origin and correlation id.

        The cause of a synthetic decision is left out: it may name internal hosts.
        """
        body: dict[str, Any] = {
            "decision": self.decision,
            "rationale_codes": list(self.rationale_codes),
            "origin": self.origin,
        }
        if self.correlation_id is not None:
            body["correlation_id"] = self.correlation_id
        return body
