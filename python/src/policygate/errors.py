"""Every way enforcement can go wrong, each with a stable rationale code.

Failures have one vocabulary, shared with the Rust PEP (`crates/pep/src/error.rs`): the
client produces these errors and the enforcer turns each into a BLOCK decision whose only
rationale code is the error's `code`. Nothing here may ever produce an allowing outcome.
"""

from __future__ import annotations

__all__ = [
    "ALL_CODES",
    "PEP_CONFIG_INVALID",
    "PEP_DECISION_UNHANDLED",
    "PEP_INVALID_FACTS",
    "PEP_OBLIGATION_UNENFORCEABLE",
    "PEP_OBLIGATION_UNSUPPORTED",
    "PEP_PDP_ERROR_STATUS",
    "PEP_PDP_INVALID_RESPONSE",
    "PEP_PDP_TIMEOUT",
    "PEP_PDP_UNAVAILABLE",
    "ConfigError",
    "ErrorStatus",
    "InvalidFacts",
    "InvalidResponse",
    "PepError",
    "Timeout",
    "Unavailable",
    "Unenforceable",
    "UnhandledDecision",
    "UnsupportedObligation",
]

PEP_INVALID_FACTS = "PEP_INVALID_FACTS"
"""The facts do not satisfy the request contract; nothing was sent to the PDP."""
PEP_PDP_UNAVAILABLE = "PEP_PDP_UNAVAILABLE"
"""The PDP could not be reached (connection refused, reset, DNS failure, ...)."""
PEP_PDP_TIMEOUT = "PEP_PDP_TIMEOUT"
"""The PDP did not answer within the per-call deadline."""
PEP_PDP_ERROR_STATUS = "PEP_PDP_ERROR_STATUS"
"""The PDP answered with an HTTP status other than 200."""
PEP_PDP_INVALID_RESPONSE = "PEP_PDP_INVALID_RESPONSE"
"""The PDP answered 200 with a body that is not a contract-valid decision."""
PEP_OBLIGATION_UNSUPPORTED = "PEP_OBLIGATION_UNSUPPORTED"
"""The decision carries an obligation type this enforcer does not know."""
PEP_OBLIGATION_UNENFORCEABLE = "PEP_OBLIGATION_UNENFORCEABLE"
"""The handler cannot honour an obligation of the decision."""
PEP_DECISION_UNHANDLED = "PEP_DECISION_UNHANDLED"
"""The guarded route is not set up for this decision (e.g. REQUIRE_REVIEW without opt-in)."""
PEP_CONFIG_INVALID = "PEP_CONFIG_INVALID"
"""The enforcer or client is misconfigured."""

ALL_CODES: tuple[str, ...] = (
    PEP_INVALID_FACTS,
    PEP_PDP_UNAVAILABLE,
    PEP_PDP_TIMEOUT,
    PEP_PDP_ERROR_STATUS,
    PEP_PDP_INVALID_RESPONSE,
    PEP_OBLIGATION_UNSUPPORTED,
    PEP_OBLIGATION_UNENFORCEABLE,
    PEP_DECISION_UNHANDLED,
    PEP_CONFIG_INVALID,
)


class PepError(Exception):
    """Why the enforcer could not obtain, trust or honour a PDP decision.

    Every subclass ends in BLOCK with `code` as the only rationale code. The message says
    what went wrong and how to fix it; it may name internal hosts, so log it rather than
    send it to end users.
    """

    code: str = PEP_CONFIG_INVALID

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidFacts(PepError):
    """The mapped facts break the request contract; nothing was sent."""

    code = PEP_INVALID_FACTS

    def __init__(self, problems: str) -> None:
        super().__init__(
            f"the mapped facts break the request contract: {problems}; "
            "fix the fact mapping so that every field is within its domain"
        )
        self.problems = problems


class Unavailable(PepError):
    """The PDP could not be reached, after the bounded retries."""

    code = PEP_PDP_UNAVAILABLE

    def __init__(self, url: str, reason: str, attempts: int) -> None:
        super().__init__(
            f"the PDP at `{url}` is unreachable after {attempts} attempt(s): {reason}; "
            "check the PDP url and that the PDP is running"
        )
        self.url = url
        self.reason = reason
        self.attempts = attempts


class Timeout(PepError):
    """The PDP did not answer within the per-call deadline."""

    code = PEP_PDP_TIMEOUT

    def __init__(self, deadline: float) -> None:
        super().__init__(
            f"the PDP did not answer within {round(deadline * 1000)} ms; "
            "check the PDP's health and load, or raise the deadline"
        )
        self.deadline = deadline


class ErrorStatus(PepError):
    """The PDP answered with an HTTP status other than 200."""

    code = PEP_PDP_ERROR_STATUS

    def __init__(self, status: int, error_code: str | None, message: str | None) -> None:
        if error_code is not None and message is not None:
            detail = f" (`{error_code}`: {message})"
        elif error_code is not None:
            detail = f" (`{error_code}`)"
        else:
            detail = ""
        super().__init__(
            f"the PDP answered HTTP {status}{detail}; every answer but 200 is treated as BLOCK"
        )
        self.status = status
        self.error_code = error_code
        self.error_message = message


class InvalidResponse(PepError):
    """The PDP answered 200 with a body that is not a contract-valid decision."""

    code = PEP_PDP_INVALID_RESPONSE

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the PDP's answer breaks the response contract: {reason}; "
            "check that the url points to a compatible PolicyGate PDP"
        )
        self.reason = reason


class UnsupportedObligation(PepError):
    """The decision carries an obligation type this enforcer does not know."""

    code = PEP_OBLIGATION_UNSUPPORTED

    def __init__(self, obligation_type: str, correlation_id: str) -> None:
        super().__init__(
            f"the PDP returned an obligation of type `{obligation_type}`, which this enforcer "
            "does not support; upgrade the policygate package or remove the obligation from "
            "the policy"
        )
        self.obligation_type = obligation_type
        self.correlation_id = correlation_id


class Unenforceable(PepError):
    """The handler cannot honour an obligation of the decision.

    A DEGRADE handler raises it to refuse; the enforcer then runs the BLOCK handler.
    """

    code = PEP_OBLIGATION_UNENFORCEABLE

    def __init__(self, obligation: str, reason: str) -> None:
        super().__init__(
            f"the obligation `{obligation}` cannot be enforced here: {reason}; "
            "teach the DEGRADE handler to honour it or change the policy"
        )
        self.obligation = obligation
        self.reason = reason


class UnhandledDecision(PepError):
    """The guarded route is not set up for this decision."""

    code = PEP_DECISION_UNHANDLED

    def __init__(self, decision: str) -> None:
        super().__init__(
            f"the PDP decided {decision}, which this route is not set up to handle; "
            "opt in to it on the guard or change the policy"
        )
        self.decision = decision


class ConfigError(PepError):
    """The enforcer or client is misconfigured."""

    code = PEP_CONFIG_INVALID

    def __init__(self, reason: str) -> None:
        super().__init__(f"the enforcement point is misconfigured: {reason}")
        self.reason = reason
