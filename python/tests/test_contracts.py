"""The models cannot drift from contracts/*.json.

Two checks: the models' fields, required fields, enumerations and patterns equal the
schemas', and the same documents (valid ones and one mutation per rule) get the same
verdict from the model and from `jsonschema`.
"""

from __future__ import annotations

import copy
import json
import typing
from typing import Any

import jsonschema
import pydantic
import pytest
from conftest import CONTRACTS, EXAMPLES, SHA
from pydantic import BaseModel

from policygate import models
from policygate.models import (
    Env,
    ErrorBody,
    ErrorDetail,
    EvaluateRequest,
    EvaluateResponse,
    Obligation,
    OutputCap,
    PolicyIdentity,
    Resource,
    Subject,
)


def schema(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONTRACTS / f"{name}.schema.json").read_text())
    return data


REQUEST = schema("evaluate_request")
RESPONSE = schema("evaluate_response")
ERROR = schema("error")


def definition(root: dict[str, Any], name: str | None) -> dict[str, Any]:
    if name is None:
        return root
    d: dict[str, Any] = root["$defs"][name]
    return d.get("oneOf", [d])[0] if name == "Obligation" else d


SHAPES = [
    (EvaluateRequest, REQUEST, None),
    (Env, REQUEST, "Env"),
    (Resource, REQUEST, "Resource"),
    (Subject, REQUEST, "Subject"),
    (EvaluateResponse, RESPONSE, None),
    (PolicyIdentity, RESPONSE, "PolicyIdentity"),
    (OutputCap, RESPONSE, "OutputCap"),
    (Obligation, RESPONSE, "Obligation"),
    (ErrorBody, ERROR, None),
    (ErrorDetail, ERROR, "ErrorDetail"),
]


@pytest.mark.parametrize(
    ("model", "root", "name"), SHAPES, ids=lambda x: getattr(x, "__name__", None)
)
def test_fields_and_required_fields_match(model: type[BaseModel], root: Any, name: Any) -> None:
    d = definition(root, name)
    assert set(model.model_fields) == set(d["properties"])
    required = {k for k, f in model.model_fields.items() if f.is_required()}
    assert required == set(d.get("required", []))
    assert model.model_config.get("extra") == "forbid"
    assert d.get("additionalProperties") is False


def consts(d: dict[str, Any]) -> list[str]:
    return [v["const"] for v in d["oneOf"]]


def test_enumerations_match() -> None:
    assert list(models.ACTIONS) == consts(REQUEST["$defs"]["Action"])
    assert list(typing.get_args(models.Action)) == list(models.ACTIONS)
    assert list(models.SENSITIVITIES) == consts(REQUEST["$defs"]["Sensitivity"])
    assert list(typing.get_args(models.Sensitivity)) == list(models.SENSITIVITIES)
    assert list(models.DECISIONS) == consts(RESPONSE["$defs"]["DecisionKind"])
    assert list(typing.get_args(models.DecisionKind)) == list(models.DECISIONS)
    assert list(models.ERROR_CODES) == consts(ERROR["$defs"]["ErrorCode"])
    obligation_types = [
        o["properties"]["type"]["const"] for o in RESPONSE["$defs"]["Obligation"]["oneOf"]
    ]
    assert list(models.OBLIGATION_TYPES) == obligation_types


def test_patterns_and_limits_match() -> None:
    d = REQUEST["$defs"]
    assert d["Env"]["properties"]["name"]["pattern"] == models.ENV_NAME_PATTERN
    assert d["Resource"]["properties"]["type"]["pattern"] == models.RESOURCE_TYPE_PATTERN
    assert d["Subject"]["properties"]["type"]["pattern"] == models.SUBJECT_TYPE_PATTERN
    signals = REQUEST["properties"]["signals"]
    assert signals["propertyNames"]["pattern"] == models.SIGNAL_NAME_PATTERN
    assert signals["maxProperties"] == models.MAX_SIGNALS
    value = d["SignalValue"]["anyOf"]
    assert models.MAX_SIGNAL_STRING == value[0]["maxLength"] == value[2]["items"]["maxLength"]
    assert value[2]["maxItems"] == models.MAX_SIGNAL_LIST
    cap = RESPONSE["$defs"]["OutputCap"]["properties"]
    assert cap["max_tokens"]["maximum"] == models.MAX_TOKENS_LIMIT
    assert cap["max_items"]["maximum"] == models.MAX_ITEMS_LIMIT
    assert cap["max_bytes"]["maximum"] == models.MAX_BYTES_LIMIT


def verdicts(model: type[BaseModel], root: dict[str, Any], doc: Any) -> tuple[bool, bool]:
    by_schema = jsonschema.Draft202012Validator(
        root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).is_valid(doc)
    try:
        model.model_validate_json(json.dumps(doc))
        by_model = True
    except pydantic.ValidationError:
        by_model = False
    return by_schema, by_model


def example_requests() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(EXAMPLES.glob("*.json"))]


BASE_REQUEST = example_requests()[0]


def req(path: str, value: Any, delete: bool = False) -> dict[str, Any]:
    doc = copy.deepcopy(BASE_REQUEST)
    *parents, last = path.split(".")
    node = doc
    for p in parents:
        node = node.setdefault(p, {})
    if delete:
        del node[last]
    else:
        node[last] = value
    return doc


REQUEST_CASES = [
    *example_requests(),
    req("request_id", None),
    req("request_id", ""),
    req("request_id", "x" * 128),
    req("request_id", "x" * 129),
    req("timestamp", "2026-11-25T09:38:13.2Z"),
    req("timestamp", "2026-11-25T09:38:13+01:00"),
    req("timestamp", "yesterday"),
    req("action", "data:delete"),
    req("action", None, delete=True),
    req("env.name", "-prod"),
    req("env.name", "p" * 64),
    req("env.name", "p" * 65),
    req("env.extra", 1),
    req("resource.sensitivity", "secret"),
    req("resource.type", "1doc"),
    req("resource.id", ""),
    req("resource.id", None),
    req("resource.id", "i" * 257),
    req("subject", None),
    req("subject.type", "t" * 33),
    req("subject.type", None),
    req("subject.id", 5),
    req("signals", None),
    req("signals", {}),
    req("signals.Bad", 1),
    req("signals.n", 1.5),
    req("signals.s", "x" * 256),
    req("signals.s", "x" * 257),
    req("signals.l", ["a"] * 64),
    req("signals.l", ["a"] * 65),
    req("signals.l", [1]),
    req("signals.o", {"a": 1}),
    req("signals", {f"s{i}": i for i in range(50)}),
    req("signals", {f"s{i}": i for i in range(51)}),
    req("surprise", True),
]


@pytest.mark.parametrize("doc", REQUEST_CASES)
def test_requests_get_the_same_verdict(doc: dict[str, Any]) -> None:
    by_schema, by_model = verdicts(EvaluateRequest, REQUEST, doc)
    assert by_schema == by_model


def test_examples_are_valid() -> None:
    for doc in example_requests():
        assert verdicts(EvaluateRequest, REQUEST, doc) == (True, True)


def resp(**change: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "correlation_id": "c",
        "decision": "DEGRADE",
        "rationale_codes": ["X"],
        "obligations": [{"type": "OUTPUT_CAP", "params": {"max_tokens": 5}}],
        "policy": {"policy_id": "p", "policy_version": "1", "policy_sha256": SHA},
        "matched_rule_id": "r",
    }
    for k, v in change.items():
        if v is ...:
            del doc[k]
        else:
            doc[k] = v
    return doc


RESPONSE_CASES = [
    resp(),
    resp(matched_rule_id=...),
    resp(matched_rule_id=None),
    resp(decision="ALLOW", obligations=...),
    resp(decision="ALLOW"),
    resp(decision="DEGRADE", obligations=...),
    resp(obligations=[]),
    resp(obligations=None),
    resp(decision="ALLOW", obligations=None),
    resp(obligations=[{"type": "OUTPUT_CAP", "params": {"max_tokens": 100_000, "max_bytes": 1}}]),
    resp(obligations=[{"type": "OUTPUT_CAP", "params": {"max_tokens": 100_001}}]),
    resp(obligations=[{"type": "OUTPUT_CAP", "params": {"max_items": 0}}]),
    resp(obligations=[{"type": "OUTPUT_CAP", "params": {"max_bytes": 100_000_001}}]),
    resp(obligations=[{"type": "OUTPUT_CAP", "params": {}}]),
    resp(obligations=[{"type": "OUTPUT_CAP", "params": {"max_tokens": "5"}}]),
    resp(obligations=[{"type": "OUTPUT_CAP", "params": {"max_tokens": 5, "x": 1}}]),
    resp(obligations=[{"type": "REDACT", "params": {}}]),
    resp(obligations=[{"type": "OUTPUT_CAP"}]),
    resp(rationale_codes=[]),
    resp(rationale_codes=[""]),
    resp(rationale_codes=["x" * 65]),
    resp(correlation_id=""),
    resp(correlation_id="c" * 129),
    resp(decision="MAYBE"),
    resp(policy={"policy_id": "p", "policy_version": "1", "policy_sha256": SHA.upper()}),
    resp(policy={"policy_id": "", "policy_version": "1", "policy_sha256": SHA}),
    resp(policy=...),
    resp(extra=1),
]


@pytest.mark.parametrize("doc", RESPONSE_CASES)
def test_responses_get_the_same_verdict(doc: dict[str, Any]) -> None:
    by_schema, by_model = verdicts(EvaluateResponse, RESPONSE, doc)
    assert by_schema == by_model


def test_a_cap_of_only_nulls_is_refused_though_the_schema_allows_it() -> None:
    # The one deliberate difference, shared with the Rust PEP: `minProperties: 1` is met
    # by a lone null, but a cap that limits nothing is refused.
    doc = resp(obligations=[{"type": "OUTPUT_CAP", "params": {"max_tokens": None}}])
    assert verdicts(EvaluateResponse, RESPONSE, doc) == (True, False)


ERROR_CASES = [
    {"error": {"code": "invalid_request", "message": "m", "correlation_id": "c", "details": []}},
    {"error": {"code": "unauthorized", "message": "m"}},
    {"error": {"code": "teapot", "message": "m"}},
    {"error": {"code": "internal"}},
    {"error": {"code": "internal", "message": "m", "x": 1}},
    {"error": {"code": "internal", "message": "m", "details": [{"path": "/a", "message": "b"}]}},
    {"error": {"code": "internal", "message": "m", "details": [{"path": "/a"}]}},
    {},
]


@pytest.mark.parametrize("doc", ERROR_CASES)
def test_error_bodies_get_the_same_verdict(doc: dict[str, Any]) -> None:
    by_schema, by_model = verdicts(ErrorBody, ERROR, doc)
    assert by_schema == by_model


def test_requests_sent_are_schema_valid() -> None:
    from policygate import to_request

    for doc in example_requests():
        del doc["request_id"]
        sent = json.loads(to_request(doc).to_json())
        jsonschema.validate(sent, REQUEST)
        assert sent["request_id"].startswith("pep-")


def test_the_schema_checks_date_times() -> None:
    # Without a date-time checker jsonschema skips `format`, and the timestamp cases above
    # would compare nothing.
    assert verdicts(EvaluateRequest, REQUEST, req("timestamp", "yesterday")) == (False, False)
