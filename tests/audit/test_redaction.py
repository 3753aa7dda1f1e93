"""No secret ever reaches an audit record, for every IAM and STS operation.

Inputs and outputs are generated from the operation's shapes with every string (and blob) a
unique canary. A canary is *secret* when its member, or any member above it, has a shape marked
``"sensitive": true`` in botocore's model, or is one of the members this test names itself
(TOTP codes and the session token). The record, in every situation that changes what is logged
(success, read-only, failure with an error message that echoes every value), must contain no
secret canary, in any encoding we write; and it must still contain the non-secret input values,
so the test cannot pass by logging nothing.
"""

from __future__ import annotations

import base64
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.model import ListShape, MapShape, Shape, StructureShape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ironkeep.audit.records import Caller, CallRecordInput, build_record
from ironkeep.protocol import service_model

#: Not marked sensitive in the model, but never to be logged.
EXTRA_SECRET_MEMBERS = {"AuthenticationCode1", "AuthenticationCode2", "TokenCode", "SessionToken"}
OPERATIONS = [(svc, op) for svc in ("iam", "sts") for op in service_model(svc).operation_names]
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
WHEN = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


@dataclass
class Canaries:
    """Canary values handed out while building one value, split by secrecy."""

    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    secret: list[str] = field(default_factory=list)
    public: list[str] = field(default_factory=list)
    top_public: list[str] = field(default_factory=list)

    def new(self, secret: bool, top: bool) -> str:
        value = f"CANARY{next(self.counter):06d}Z"
        (self.secret if secret else self.public).append(value)
        if top and not secret:
            self.top_public.append(value)
        return value


def _fill(shape: Shape, plan: Any, canaries: Canaries, secret: bool, depth: int) -> Any:
    """Turn a drawn ``plan`` (which members/how many items) into a value full of canaries."""
    secret = secret or bool(shape.metadata.get("sensitive"))
    if isinstance(shape, StructureShape):
        out = {}
        for name in plan:
            member = shape.members[name]
            hidden = secret or name in EXTRA_SECRET_MEMBERS
            out[name] = _fill(member, plan[name], canaries, hidden, depth + 1)
        return out
    if isinstance(shape, ListShape):
        return [_fill(shape.member, item, canaries, secret, depth + 1) for item in plan]
    if isinstance(shape, MapShape):
        return {
            canaries.new(secret, False): _fill(shape.value, item, canaries, secret, depth + 1)
            for item in plan
        }
    kind = shape.type_name
    if kind == "string":
        return canaries.new(secret, depth == 1)
    if kind == "blob":
        return canaries.new(secret, depth == 1).encode()
    return plan


def _plan(shape: Shape, full: bool, depth: int = 0) -> st.SearchStrategy[Any]:
    """Which members are present and how long lists are; scalars get a plain valid value."""
    if isinstance(shape, StructureShape):
        members = {n: _plan(m, full, depth + 1) for n, m in shape.members.items() if depth < 6}
        if full:
            return st.fixed_dictionaries(members)
        return st.fixed_dictionaries({}, optional=members)
    if isinstance(shape, ListShape | MapShape):
        item = _plan(shape.member if isinstance(shape, ListShape) else shape.value, full, depth + 1)
        return st.lists(item, min_size=2 if full else 0, max_size=2)
    kind = shape.type_name
    if kind in ("integer", "long"):
        return st.integers(0, 10_000)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.just(WHEN)
    if kind in ("float", "double"):
        return st.just(1.5)
    return st.none()


def _secret_encodings(canary: str) -> list[str]:
    return [canary, base64.b64encode(canary.encode()).decode()]


def _records(service: str, operation: str, params: dict[str, Any], output: dict[str, Any], echo: str):
    caller = Caller(
        "IAMUser",
        principal_id="AIDAEXAMPLEEXAMPLE1",
        arn="arn:aws:iam::123456789012:user/alice",
        account_id="123456789012",
        user_name="alice",
    )
    base = {
        "service": service,
        "operation": operation,
        "time": WHEN,
        "request_id": "req-1",
        "recipient_account_id": "123456789012",
        "parameters": params,
        "caller": caller,
        "access_key_id": "AKIAEXAMPLEEXAMPLE12",
        "region": "us-west-2",
        "source_ip": "203.0.113.9",
        "user_agent": "aws-cli/2",
        "saml_assertion_id": "_assertion-id" if operation == "AssumeRoleWithSAML" else None,
    }
    for read_only in (False, True):
        yield build_record(CallRecordInput(**base, read_only=read_only, output=output))
    yield build_record(
        CallRecordInput(**base, read_only=False, error_code="ValidationError", error_message=f"bad: {echo}")
    )


def _check(service: str, operation: str, param_plan: Any, output_plan: Any) -> Canaries:
    model = service_model(service).operation_model(operation)
    canaries = Canaries()
    params = _fill(model.input_shape, param_plan, canaries, False, 0) if model.input_shape else {}
    inputs_public = list(canaries.top_public)
    echo = " ".join(canaries.secret + canaries.public)  # a failed call's message can echo its input
    output = _fill(model.output_shape, output_plan, canaries, False, 0) if model.output_shape else {}
    for record in _records(service, operation, params, output, echo):
        text = json.dumps(record)
        leaked = [c for c in canaries.secret if any(e in text for e in _secret_encodings(c))]
        assert not leaked, f"{service}.{operation} logged secrets {leaked}: {text}"
        missing = [c for c in inputs_public if c not in json.dumps(record["requestParameters"])]
        assert not missing, f"{service}.{operation} dropped public input values {missing}"
    return canaries


def _shapes(service: str, operation: str) -> tuple[Shape | None, Shape | None]:
    model = service_model(service).operation_model(operation)
    return model.input_shape, model.output_shape


def _plans(service: str, operation: str, full: bool) -> st.SearchStrategy[tuple[Any, Any]]:
    shape_in, shape_out = _shapes(service, operation)
    return st.tuples(
        _plan(shape_in, full) if shape_in else st.just({}),
        _plan(shape_out, full) if shape_out else st.just({}),
    )


@pytest.mark.parametrize(("service", "operation"), OPERATIONS, ids=[f"{s}.{o}" for s, o in OPERATIONS])
def test_no_secret_in_any_record(service: str, operation: str) -> None:
    @SETTINGS
    @given(plans=_plans(service, operation, full=False))
    def random_values(plans: tuple[Any, Any]) -> None:
        _check(service, operation, *plans)

    random_values()

    # and once with every member present, so that every sensitive member is surely exercised
    @settings(max_examples=1, deadline=None, database=None)
    @given(plans=_plans(service, operation, full=True))
    def every_member(plans: tuple[Any, Any]) -> None:
        canaries = _check(service, operation, *plans)
        shape_in, shape_out = _shapes(service, operation)
        assert bool(canaries.secret) == (_has_secret(shape_in, False) or _has_secret(shape_out, False))

    every_member()


def _has_secret(shape: Shape | None, secret: bool, depth: int = 0) -> bool:
    """Whether a string or blob under a secret member exists in ``shape`` (as _fill sees it)."""
    if shape is None or depth > 6:
        return False
    secret = secret or bool(shape.metadata.get("sensitive"))
    if isinstance(shape, StructureShape):
        return any(
            _has_secret(m, secret or n in EXTRA_SECRET_MEMBERS, depth + 1) for n, m in shape.members.items()
        )
    if isinstance(shape, ListShape):
        return _has_secret(shape.member, secret, depth + 1)
    if isinstance(shape, MapShape):
        return secret or _has_secret(shape.value, secret, depth + 1)
    return secret and shape.type_name in ("string", "blob")


def _secret_members() -> set[tuple[str, str, str]]:
    found = set()
    for service, operation in OPERATIONS:
        for side, shape in zip(("in", "out"), _shapes(service, operation), strict=True):
            if shape is None:
                continue
            for name, member in shape.members.items():
                nested = [(name, member)]
                if isinstance(member, StructureShape):
                    nested += list(member.members.items())
                for inner, inner_shape in nested:
                    if inner_shape.metadata.get("sensitive") or inner in EXTRA_SECRET_MEMBERS:
                        found.add((operation, side, inner))
    return found


def test_the_sensitive_members_are_where_we_expect() -> None:
    """The test above reaches the secrets the notes list (the model marks them on the shape)."""
    secrets = _secret_members()
    expected = {
        ("ChangePassword", "in", "OldPassword"),
        ("ChangePassword", "in", "NewPassword"),
        ("CreateLoginProfile", "in", "Password"),
        ("UpdateLoginProfile", "in", "Password"),
        ("CreateAccessKey", "out", "SecretAccessKey"),
        ("CreateVirtualMFADevice", "out", "Base32StringSeed"),
        ("CreateVirtualMFADevice", "out", "QRCodePNG"),
        ("UploadServerCertificate", "in", "PrivateKey"),
        ("CreateServiceSpecificCredential", "out", "ServicePassword"),
        ("EnableMFADevice", "in", "AuthenticationCode1"),
        ("ResyncMFADevice", "in", "AuthenticationCode2"),
        ("AssumeRole", "in", "TokenCode"),
        ("GetSessionToken", "in", "TokenCode"),
        ("AssumeRole", "out", "SecretAccessKey"),
        ("AssumeRole", "out", "SessionToken"),
        ("AssumeRoleWithSAML", "in", "SAMLAssertion"),
        ("AssumeRoleWithWebIdentity", "in", "WebIdentityToken"),
        ("GetFederationToken", "out", "SecretAccessKey"),
    }
    assert expected <= secrets, expected - secrets
