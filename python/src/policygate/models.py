"""The wire contracts of PolicyGate, version 1, as pydantic models.

This module is the one place in the package that defines JSON shapes, as `crates/api` is in
the Rust workspace. Each model mirrors a schema in `contracts/` (the tests compare them
field by field and run the same documents through both, so the two cannot drift apart):
unknown fields are refused, strings keep their patterns and lengths, numbers their ranges.
It does no I/O.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

__all__ = [
    "ACTIONS",
    "DECISIONS",
    "MAX_BYTES_LIMIT",
    "MAX_ITEMS_LIMIT",
    "MAX_TOKENS_LIMIT",
    "OBLIGATION_TYPES",
    "SENSITIVITIES",
    "Action",
    "DecisionKind",
    "Env",
    "ErrorBody",
    "ErrorDetail",
    "EvaluateRequest",
    "EvaluateResponse",
    "Obligation",
    "OutputCap",
    "PolicyIdentity",
    "Problem",
    "Resource",
    "Sensitivity",
    "SignalValue",
    "Subject",
]

Action = Literal["infer:run", "data:read", "data:write", "tool:invoke", "policy:admin"]
"""The action a caller wants to perform."""
ACTIONS: tuple[Action, ...] = (
    "infer:run",
    "data:read",
    "data:write",
    "tool:invoke",
    "policy:admin",
)

Sensitivity = Literal["public", "internal", "restricted"]
"""How sensitive the resource is."""
SENSITIVITIES: tuple[Sensitivity, ...] = ("public", "internal", "restricted")

DecisionKind = Literal["ALLOW", "BLOCK", "REQUIRE_REVIEW", "DEGRADE"]
"""The four decisions PolicyGate can return."""
DECISIONS: tuple[DecisionKind, ...] = ("ALLOW", "BLOCK", "REQUIRE_REVIEW", "DEGRADE")

OBLIGATION_TYPES: tuple[str, ...] = ("OUTPUT_CAP",)
"""The obligation types this package knows; a decision with any other is refused."""

MAX_TOKENS_LIMIT = 100_000
"""Most tokens an `OUTPUT_CAP` may set."""
MAX_ITEMS_LIMIT = 1_000_000
"""Most items an `OUTPUT_CAP` may set."""
MAX_BYTES_LIMIT = 100_000_000
"""Most bytes an `OUTPUT_CAP` may set."""

ENV_NAME_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$"
RESOURCE_TYPE_PATTERN = r"^[a-zA-Z][a-zA-Z0-9._-]{0,63}$"
SUBJECT_TYPE_PATTERN = r"^[a-zA-Z][a-zA-Z0-9._-]{0,31}$"
SIGNAL_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,40}$"
MAX_SIGNALS = 50
MAX_SIGNAL_STRING = 256
MAX_SIGNAL_LIST = 64

_SIGNAL_NAME = re.compile(SIGNAL_NAME_PATTERN)
# RFC 3339 date-time (what JSON Schema's `date-time` format means).
_RFC3339 = re.compile(
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)"
    r"(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

SignalString = Annotated[str, StringConstraints(max_length=MAX_SIGNAL_STRING)]
SignalValue = (
    SignalString
    | bool
    | int
    | float
    | None
    | Annotated[list[SignalString], Field(max_length=MAX_SIGNAL_LIST)]
)
"""A signal: a string (at most 256 characters), number, boolean or null (null counts as
absent), or a list of at most 64 such strings."""


class Env(BaseModel):
    """`env`: the environment the request runs in."""

    model_config = _STRICT
    name: Annotated[str, StringConstraints(pattern=ENV_NAME_PATTERN)]


class Resource(BaseModel):
    """`resource`: what the action is performed on."""

    model_config = _STRICT
    type: Annotated[str, StringConstraints(pattern=RESOURCE_TYPE_PATTERN)]
    sensitivity: Sensitivity
    id: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


class Subject(BaseModel):
    """`subject`: who acts, when known."""

    model_config = _STRICT
    type: Annotated[str, StringConstraints(pattern=SUBJECT_TYPE_PATTERN)] | None = None
    id: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None


class EvaluateRequest(BaseModel):
    """EvaluateRequest v1: the body of `POST /evaluate`."""

    model_config = _STRICT
    action: Action
    env: Env
    resource: Resource
    request_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    timestamp: str | None = None
    subject: Subject | None = None
    signals: dict[str, SignalValue] | None = None

    @field_validator("timestamp")
    @classmethod
    def _rfc3339(cls, value: str | None) -> str | None:
        if value is not None and not _RFC3339.match(value):
            raise ValueError(f"`{value}` is not an RFC 3339 date-time")
        return value

    @field_validator("signals")
    @classmethod
    def _signal_names(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return value
        if len(value) > MAX_SIGNALS:
            raise ValueError(f"at most {MAX_SIGNALS} signals are allowed, got {len(value)}")
        for name in value:
            if not _SIGNAL_NAME.match(name):
                raise ValueError(f"signal name `{name}` must match `{SIGNAL_NAME_PATTERN}`")
        return value

    def to_json(self) -> bytes:
        """The request as sent: fields left unset are omitted (null signals are kept)."""
        return self.model_dump_json(exclude_unset=True, exclude_none=False).encode()


class OutputCap(BaseModel):
    """Params of an `OUTPUT_CAP` obligation; unset params are omitted."""

    model_config = _STRICT
    max_tokens: Annotated[int, Field(ge=1, le=MAX_TOKENS_LIMIT)] | None = None
    max_items: Annotated[int, Field(ge=1, le=MAX_ITEMS_LIMIT)] | None = None
    max_bytes: Annotated[int, Field(ge=1, le=MAX_BYTES_LIMIT)] | None = None

    @model_validator(mode="after")
    def _sets_a_limit(self) -> OutputCap:
        # Stricter than the schema's `minProperties: 1` (which a lone null satisfies), as
        # the Rust PEP is: a cap that limits nothing cannot be what the policy meant.
        if self.max_tokens is None and self.max_items is None and self.max_bytes is None:
            raise ValueError("OUTPUT_CAP sets none of max_tokens, max_items, max_bytes")
        return self


class Obligation(BaseModel):
    """An obligation the enforcer must honour. The set of types is closed."""

    model_config = _STRICT
    type: Literal["OUTPUT_CAP"]
    params: OutputCap


class PolicyIdentity(BaseModel):
    """Which policy decided: id, version and the SHA-256 of the policy file's bytes."""

    model_config = _STRICT
    policy_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    policy_version: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    policy_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class EvaluateResponse(BaseModel):
    """EvaluateResponse v1: the 200 answer of `POST /evaluate`.

    `obligations` is present (non-empty) exactly when `decision` is DEGRADE.
    """

    model_config = _STRICT
    correlation_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    decision: DecisionKind
    rationale_codes: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=64)]], Field(min_length=1)
    ]
    policy: PolicyIdentity
    obligations: Annotated[list[Obligation], Field(min_length=1)] | None = None
    matched_rule_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _obligations_not_null(cls, data: Any) -> Any:
        if isinstance(data, dict) and "obligations" in data and data["obligations"] is None:
            raise ValueError("`obligations` is null; it must be absent or a non-empty list")
        return data

    @model_validator(mode="after")
    def _obligations_exactly_on_degrade(self) -> EvaluateResponse:
        if (self.decision == "DEGRADE") != (self.obligations is not None):
            raise ValueError("obligations must be present exactly when the decision is DEGRADE")
        return self


class Problem(BaseModel):
    """One contract problem: where (a JSON pointer into the request) and what."""

    model_config = ConfigDict(extra="allow", frozen=True)
    path: str
    message: str


ErrorCode = Literal[
    "invalid_json",
    "invalid_request",
    "payload_too_large",
    "unauthorized",
    "unsupported_media_type",
    "not_found",
    "method_not_allowed",
    "unavailable",
    "internal",
    "bad_request",
    "uri_too_long",
    "headers_too_large",
]
ERROR_CODES: tuple[ErrorCode, ...] = (
    "invalid_json",
    "invalid_request",
    "payload_too_large",
    "unauthorized",
    "unsupported_media_type",
    "not_found",
    "method_not_allowed",
    "unavailable",
    "internal",
    "bad_request",
    "uri_too_long",
    "headers_too_large",
)


class ErrorDetail(BaseModel):
    """The inside of an error body."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: ErrorCode
    message: str
    correlation_id: str | None = None
    details: list[Problem] = []


class ErrorBody(BaseModel):
    """The body of every non-2xx answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    error: ErrorDetail
