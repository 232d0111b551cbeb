"""PolicyGate as a LiteLLM proxy guardrail, with the decision enforced (pre-call hook).

`PolicyGateGuardrail` is a LiteLLM `CustomGuardrail`: before each model call it maps the
call to facts (`facts_for_call`, a documented fixed mapping), asks PolicyGate's
`/evaluate` through an `AsyncPdpClient`, and enforces the decision:

- ALLOW: the call goes on unchanged;
- DEGRADE: every `OUTPUT_CAP` is honoured by lowering `max_tokens` (and
  `max_completion_tokens`, when the request uses it) on the outgoing call; a cap this hook
  cannot honour before the call (`max_bytes`, `max_items`) refuses the call
  (`PEP_OBLIGATION_UNENFORCEABLE`);
- BLOCK and REQUIRE_REVIEW: the call is refused with HTTP 403 and a body naming the
  decision, its rationale codes, who decided and the correlation id;
- any PDP failure (down, slow, bad answer): refused, with the PEP's rationale code.

The facts come only from what the proxy's operator controls or the proxy verified (the
guardrail's own config, the authenticated key's user/team and their admin-set metadata,
the model name and the request's size), never from the caller's free-form `metadata`.
See docs/litellm.md for the config.yaml.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException
from litellm.integrations.custom_guardrail import CustomGuardrail

from .client import DEFAULT_DEADLINE, DEFAULT_MAX_RETRIES, AsyncPdpClient
from .decision import Decision
from .errors import InvalidFacts, Unenforceable
from .models import EvaluateRequest
from .obligations import apply_to_params

__all__ = ["ModelFacts", "PolicyGateGuardrail", "facts_for_call", "refusal_detail"]

SIGNALS_METADATA_KEY = "policygate_signals"
"""Key of the admin-set key/team metadata whose dict is merged into `signals`."""


@dataclass(frozen=True)
class ModelFacts:
    """What the operator says about one model name: the resource it stands for."""

    resource_type: str = "model"
    sensitivity: str = "restricted"
    signals: Mapping[str, Any] = field(default_factory=dict)


def _prompt_chars(data: Mapping[str, Any]) -> int:
    total = 0
    messages = data.get("messages")
    if isinstance(messages, list):
        for m in messages:
            content = m.get("content") if isinstance(m, Mapping) else None
            if isinstance(content, str):
                total += len(content)
            elif isinstance(content, list):
                for part in content:
                    if isinstance(part, Mapping) and isinstance(part.get("text"), str):
                        total += len(part["text"])
    prompt = data.get("prompt")
    if isinstance(prompt, str):
        total += len(prompt)
    return total


def facts_for_call(
    data: Mapping[str, Any],
    *,
    env: str,
    models: Mapping[str, ModelFacts],
    default: ModelFacts,
    user_id: str | None = None,
    team_id: str | None = None,
    key_metadata: Mapping[str, Any] | None = None,
    team_metadata: Mapping[str, Any] | None = None,
) -> EvaluateRequest:
    """The facts for one LiteLLM call (the documented fixed mapping).

    - `action` is `infer:run`; `env.name` is the guardrail's `env`;
    - `resource` is what `models[data["model"]]` (else `default`) says, with the model name
      as `resource.id`;
    - `subject` is the key's user (`user`), else its team (`team`), when known;
    - `signals`: the model's configured signals, then `policygate_signals` from the team's
      and then the key's admin-set metadata, then `prompt_tokens` (an estimate: characters
      of the prompt / 4, rounded up);
    - `request_id` is LiteLLM's `litellm_call_id`, so both audit trails share one id.
    """
    model = str(data.get("model") or "")
    facts = models.get(model, default)
    signals: dict[str, Any] = dict(facts.signals)
    for meta in (team_metadata, key_metadata):
        extra = (meta or {}).get(SIGNALS_METADATA_KEY)
        if isinstance(extra, Mapping):
            signals.update(extra)
    signals["prompt_tokens"] = math.ceil(_prompt_chars(data) / 4)
    subject = None
    if user_id:
        subject = {"type": "user", "id": user_id}
    elif team_id:
        subject = {"type": "team", "id": team_id}
    call_id = data.get("litellm_call_id")
    doc: dict[str, Any] = {
        "action": "infer:run",
        "env": {"name": env},
        "resource": {
            "type": facts.resource_type,
            "sensitivity": facts.sensitivity,
            **({"id": model[:256]} if model else {}),
        },
        "signals": signals,
    }
    if subject is not None:
        doc["subject"] = subject
    if isinstance(call_id, str) and 0 < len(call_id) <= 128:
        doc["request_id"] = call_id
    return EvaluateRequest.model_validate(doc)


def refusal_detail(decision: Decision) -> dict[str, Any]:
    """The body of the 403 for a refused call: a message and the refusal."""
    who = "PolicyGate" if decision.is_from_pdp else "the PolicyGate enforcement point"
    return {
        "error": f"{who} refused this call: {decision.decision} "
        f"({', '.join(decision.rationale_codes)})",
        **decision.refusal(),
    }


def _model_facts(raw: Any) -> dict[str, ModelFacts]:
    if not raw:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidFacts("the guardrail's `models` must map model names to facts")
    return {str(name): _one_model(spec) for name, spec in raw.items()}


def _one_model(spec: Any) -> ModelFacts:
    if not isinstance(spec, Mapping):
        raise InvalidFacts("each entry of the guardrail's `models` must be a mapping")
    unknown = set(spec) - {"resource_type", "sensitivity", "signals"}
    if unknown:
        raise InvalidFacts(f"unknown keys {sorted(unknown)} in the guardrail's `models`")
    return ModelFacts(
        resource_type=str(spec.get("resource_type", "model")),
        sensitivity=str(spec.get("sensitivity", "restricted")),
        signals=dict(spec.get("signals") or {}),
    )


class PolicyGateGuardrail(CustomGuardrail):  # type: ignore[misc]
    """A LiteLLM guardrail that enforces PolicyGate decisions before each model call.

    Config (the guardrail's `litellm_params` in config.yaml): `api_base` (the PDP's base
    url), `api_key` (its bearer token, optional), `env` (default `prod`), `models` (model
    name → `{resource_type, sensitivity, signals}`), `default_sensitivity` for models not
    listed (default `restricted`), `deadline_ms` (default 500), `max_retries` (default 2).
    """

    def __init__(
        self,
        api_base: str | None = None,
        api_key: str | None = None,
        env: str = "prod",
        models: Mapping[str, Any] | None = None,
        default_sensitivity: str = "restricted",
        deadline_ms: float | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        **kwargs: Any,
    ) -> None:
        self.policygate_env = env
        self.policygate_models = _model_facts(models)
        self.policygate_default = ModelFacts(sensitivity=default_sensitivity)
        deadline = DEFAULT_DEADLINE if deadline_ms is None else float(deadline_ms) / 1000
        self.policygate = AsyncPdpClient(
            api_base or "http://127.0.0.1:8000",
            deadline=deadline,
            max_retries=int(max_retries),
            bearer_token=api_key,
        )
        super().__init__(**kwargs)

    async def decide(self, data: Mapping[str, Any], user_api_key_dict: Any) -> Decision:
        """The decision for one call; every failure is a BLOCK from the PEP."""
        try:
            facts = facts_for_call(
                data,
                env=self.policygate_env,
                models=self.policygate_models,
                default=self.policygate_default,
                user_id=getattr(user_api_key_dict, "user_id", None),
                team_id=getattr(user_api_key_dict, "team_id", None),
                key_metadata=getattr(user_api_key_dict, "metadata", None),
                team_metadata=getattr(user_api_key_dict, "team_metadata", None),
            )
        except InvalidFacts as e:
            return Decision.from_error(e)
        except ValueError as e:
            return Decision.from_error(InvalidFacts(str(e)))
        return await self.policygate.decide(facts)

    async def async_pre_call_hook(
        self,
        user_api_key_dict: Any,
        cache: Any,
        data: dict[str, Any],
        call_type: Any,
    ) -> dict[str, Any]:
        """Enforces the decision: returns the (capped) call, or raises HTTP 403."""
        decision = await self.decide(data, user_api_key_dict)
        if decision.decision == "ALLOW":
            return data
        if decision.decision == "DEGRADE":
            cap = decision.output_cap
            if cap is not None and cap.max_bytes is None and cap.max_items is None:
                try:
                    apply_to_params(cap, data)
                except ValueError as e:
                    decision = decision.overruled(Unenforceable("OUTPUT_CAP", str(e)))
                else:
                    return data
            else:
                decision = decision.overruled(
                    Unenforceable(
                        "OUTPUT_CAP",
                        "max_bytes and max_items cannot be applied before the call",
                    )
                )
        raise HTTPException(status_code=403, detail=refusal_detail(decision))
