"""PolicyGate's Python enforcement point (PEP).

The stable core of enforcement for Python services, mirroring the Rust `policygate-pep`:

- `models`: the wire contracts (EvaluateRequest/Response, obligations, error body);
- `PdpClient` / `AsyncPdpClient`: one bounded, fail-closed `POST /evaluate`;
- `Decision`: what a handler enforces (`origin` is "pdp" or "pep");
- `Enforcer` / `AsyncEnforcer` / `Handlers`: dispatch to your handler callables;
- `obligations`: `OUTPUT_CAP` helpers; `errors`: failures and their rationale codes;
- `policygate.starlette`: a Starlette/FastAPI route guard;
- `policygate.litellm`: a LiteLLM proxy guardrail.
"""

from . import errors, models, obligations
from .client import DEFAULT_DEADLINE, DEFAULT_MAX_RETRIES, AsyncPdpClient, PdpClient, to_request
from .decision import Decision, Origin
from .enforcer import AsyncEnforcer, Enforcer, Handlers, dispatch, dispatch_async
from .errors import PepError, Unenforceable
from .models import EvaluateRequest, EvaluateResponse, Obligation, OutputCap

__all__ = [
    "DEFAULT_DEADLINE",
    "DEFAULT_MAX_RETRIES",
    "AsyncEnforcer",
    "AsyncPdpClient",
    "Decision",
    "Enforcer",
    "EvaluateRequest",
    "EvaluateResponse",
    "Handlers",
    "Obligation",
    "Origin",
    "OutputCap",
    "PdpClient",
    "PepError",
    "Unenforceable",
    "dispatch",
    "dispatch_async",
    "errors",
    "models",
    "obligations",
    "to_request",
]

__version__ = "0.1.0"
