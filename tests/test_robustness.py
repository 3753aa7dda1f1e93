"""No input makes the server answer 500: every registered operation, fed bad input on the wire.

Requests are built by hand (form bodies, JSON bodies, headers) and signed with botocore's
``SigV4Auth``, so they can carry what boto3 would refuse to send: missing required members,
text where a number is expected, over-long strings, unknown enum values, names IAM refuses,
random JSON where a policy goes, references to entities that do not exist, NUL characters,
invalid UTF-8. Each answer must be AWS's error document with a code the operation's model lists
or one every AWS service may answer, never a 500.

The calls are made by an IAM user of the shared server allowed everything except the settings
of the whole account (password policy, alias, STS preferences, Organizations features, outbound
federation), so that fuzzing cannot disturb the other tests sharing the server.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode
from xml.etree import ElementTree

import botocore.session
import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape
from botocore.serialize import create_serializer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ironkeep.protocol.javaregex import compile_java
from ironkeep.services import audit_trail
from ironkeep.services.registry import all_operations
from ironkeep.store import schema
from test_no_partial_writes import POLICY

ACCOUNT = "123456789012"
REGION = "us-east-1"
# Codes any AWS Query (or JSON) service may answer, whatever the operation's model lists.
COMMON_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "IncompleteSignature",
        "InvalidAction",
        "InvalidClientTokenId",
        "InvalidInput",
        "InvalidParameterCombination",
        "InvalidParameterValue",
        "InvalidQueryParameter",
        "MalformedPolicyDocument",
        "MalformedQueryString",
        "MissingAction",
        "MissingAuthenticationToken",
        "MissingParameter",
        "NoSuchEntity",
        "NotAuthorized",
        "RequestExpired",
        "SignatureDoesNotMatch",
        "ValidationError",
        # the JSON protocol's own
        "SerializationException",
        "UnknownOperationException",
        "ValidationException",
    }
)
# Settings of the whole account: the fuzzing user may not change them (the server is shared).
ACCOUNT_WIDE = [
    "iam:UpdateAccountPasswordPolicy",
    "iam:DeleteAccountPasswordPolicy",
    "iam:CreateAccountAlias",
    "iam:DeleteAccountAlias",
    "iam:SetSecurityTokenServicePreferences",
    "iam:EnableOrganizationsRootCredentialsManagement",
    "iam:DisableOrganizationsRootCredentialsManagement",
    "iam:EnableOrganizationsRootSessions",
    "iam:DisableOrganizationsRootSessions",
    "iam:EnableOutboundWebIdentityFederation",
    "iam:DisableOutboundWebIdentityFederation",
]
JSON_TARGETS = {"cloudtrail": "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"}
_SESSION = botocore.session.get_session()


def model(service: str, operation: str) -> OperationModel:
    return _SESSION.get_service_model(service).operation_model(operation)


def allowed_codes(op: OperationModel) -> frozenset[str]:
    codes = {shape.metadata.get("error", {}).get("code", shape.name) for shape in op.error_shapes}
    codes |= {shape.name for shape in op.error_shapes}  # the JSON protocol uses the shape's name
    return frozenset(codes - {"ServiceFailure", "ServiceFailureException"}) | COMMON_CODES


# --------------------------------------------------------------------------------------------
# The wire


@dataclass
class Answer:
    status: int
    body: bytes

    @property
    def code(self) -> str | None:
        text = self.body.strip()
        if text.startswith(b"{"):
            kind = json.loads(text).get("__type")
            return str(kind) if kind else None
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError:
            return None
        if not root.tag.endswith("ErrorResponse"):
            return None
        code = root.find("./{*}Error/{*}Code")
        return code.text if code is not None else None


class Wire:
    """Raw HTTP to the server, signed as a given key with botocore's SigV4 signer."""

    def __init__(self, endpoint: str, key: str, secret: str) -> None:
        self.endpoint = endpoint
        self.credentials = Credentials(key, secret)
        self.http = httpx.Client(timeout=60)

    def close(self) -> None:
        self.http.close()

    def send(
        self,
        service: str,
        body: bytes | str = b"",
        *,
        method: str = "POST",
        query: str = "",
        headers: dict[str, str] | None = None,
        sign: bool = True,
        after_signing: dict[str, str] | None = None,
    ) -> Answer:
        data = body.encode() if isinstance(body, str) else body
        url = self.endpoint + "/" + (f"?{query}" if query else "")
        all_headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        all_headers.update(headers or {})
        all_headers = {k: v for k, v in all_headers.items() if v is not None}
        request = AWSRequest(method=method, url=url, data=data, headers=all_headers)
        if sign:
            SigV4Auth(self.credentials, service, REGION).add_auth(request)
        sent = {k: v.encode("latin-1") if isinstance(v, str) else v for k, v in request.headers.items()}
        sent.update({k: v.strip(" \t").encode("latin-1") for k, v in (after_signing or {}).items()})
        response = self.http.request(method, url, content=data, headers=sent)
        return Answer(response.status_code, response.content)

    def query(self, service: str, params: dict[str, str], **kwargs: Any) -> Answer:
        return self.send(service, urlencode(params, quote_via=quote), **kwargs)

    def json(self, service: str, operation: str, body: bytes | str, **kwargs: Any) -> Answer:
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"{JSON_TARGETS[service]}.{operation}",
        }
        return self.send(service, body, headers=headers, **kwargs)


def problem(answer: Answer, allowed: frozenset[str]) -> str | None:
    """What is wrong with ``answer`` (``None`` when it is a success or a proper AWS error)."""
    if answer.status >= 500:
        return f"HTTP {answer.status} {answer.body[:300]!r}"
    if answer.status < 300:
        return None
    code = answer.code
    if code is None:
        return f"HTTP {answer.status} without an AWS error code: {answer.body[:200]!r}"
    if code not in allowed:
        return f"code {code} not in the model: {answer.body[:300]!r}"
    return None


@dataclass
class Fuzzer:
    wire: Wire
    tag: str  # the name of a user, group, role, policy, instance profile, MFA device, OIDC provider


@pytest.fixture(scope="module")
def fuzzer(server) -> Iterator[Fuzzer]:
    """The wire, signed as a user allowed everything but the account's settings, and a family of
    entities the fuzzed calls name (so that calls get past the look-ups to the checks after them)."""
    iam = server.client("iam")
    name = f"ikfuzz-caller-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": ACCOUNT_WIDE, "Resource": "*"},
        ],
    }
    iam.put_user_policy(UserName=name, PolicyName="everything", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    tag = f"ikfuzz{uuid.uuid4().hex[:12]}"
    iam.create_user(UserName=tag)
    iam.create_login_profile(UserName=tag, Password="Fuzz-Pass-1234!")
    iam.create_group(GroupName=tag)
    iam.add_user_to_group(GroupName=tag, UserName=tag)
    iam.create_role(RoleName=tag, AssumeRolePolicyDocument=TRUST)
    iam.create_instance_profile(InstanceProfileName=tag)
    iam.add_role_to_instance_profile(InstanceProfileName=tag, RoleName=tag)
    arn = iam.create_policy(PolicyName=tag, PolicyDocument=POLICY)["Policy"]["Arn"]
    iam.attach_user_policy(UserName=tag, PolicyArn=arn)
    iam.attach_role_policy(RoleName=tag, PolicyArn=arn)
    for put in (iam.put_user_policy, iam.put_group_policy, iam.put_role_policy):
        kind = put.__name__.split("_")[1].capitalize()
        put(**{f"{kind}Name": tag, "PolicyName": tag, "PolicyDocument": POLICY})
    iam.create_virtual_mfa_device(VirtualMFADeviceName=tag)
    iam.create_open_id_connect_provider(Url=f"https://{tag}.example.com", ClientIDList=[tag])
    wire = Wire(server.endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    yield Fuzzer(wire, tag)
    wire.close()


# --------------------------------------------------------------------------------------------
# Plausible values from the model (so that one bad member at a time reaches the handler)

# the fuzzed role trusts the account, so that AssumeRole's own checks are reached too
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com", "AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
            }
        ],
    }
)
BAD_DOCUMENTS = [
    "[]",
    "not json at all {",
    '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":[1,{}],"Resource":null}}',
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*",'
    '"Condition":{"StringEquals":{"a":{"b":"c"}},"DateLessThan":{"aws:CurrentTime":[[]]}}}]}',
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*",'
    '"Principal":{"AWS":[123,null]},"NotPrincipal":"*","Sid":{"x":1e999}}]}',
    "[" * 20000 + "]" * 20000,
    '{"Statement":[{"Effect":"Allow","Action":"*","Resource":' + "[" * 900 + "]" * 900 + "}]}",  # deep, small
    '{"Statement":[' + ",".join(['{"Effect":"Deny","Action":"x:y","Resource":"*"}'] * 3000) + "]}",
]


def _arn_for(member: str, tag: str) -> str:
    lowered = member.lower()
    for hint, kind in (
        ("policy", "policy"),
        ("boundary", "policy"),
        ("role", "role"),
        ("saml", "saml-provider"),
        ("openid", "oidc-provider"),  # named after its URL
        ("serial", "mfa"),
        ("group", "group"),
        ("profile", "instance-profile"),
    ):
        if hint in lowered:
            suffix = ".example.com" if kind == "oidc-provider" else ""
            return f"arn:aws:iam::{ACCOUNT}:{kind}/{tag}{suffix}"
    return f"arn:aws:iam::{ACCOUNT}:user/{tag}"


def _candidates(member: str, tag: str) -> list[str]:
    lowered = member.lower()
    found: list[str] = []
    if lowered.endswith("arn") or lowered in ("permissionsboundary", "serialnumber", "resourcearns"):
        found.append(_arn_for(member, tag))
    if "assumerole" in lowered:
        found.append(TRUST)
    if "document" in lowered or lowered.endswith(("policy", "policyinputlist", "policies")):
        found.append(POLICY)
    if "path" in lowered:
        found += ["/", f"/{tag}/"]
    if "url" in lowered or "audience" in lowered:
        found.append(f"https://{tag}.example.com")
    if "thumbprint" in lowered:
        found.append("0123456789abcdef0123456789abcdef01234567")
    if "accesskeyid" in lowered:
        found.append("AKIAIKFUZZ" + uuid.uuid4().hex[:10].upper())
    if "code" in lowered:
        found.append("123456")
    if "password" in lowered:
        found.append("Fuzz-Pass-1234!")
    if "servicename" in lowered:
        found.append(f"{tag}.amazonaws.com")
    found += [tag, "ikfuzz-" + "x" * 40, "ikfuzz" + "0" * 30, "a" * 64, "v1", ACCOUNT]
    found += ["o-abcdefghij/r-abcd/ou-abcd-efghijkl", "IKFUZZ" + "0" * 20]
    return found


def plausible(member: str, shape: Shape, tag: str) -> Any:
    kind = shape.type_name
    if isinstance(shape, StructureShape):
        return {name: plausible(member + name, sub, tag) for name, sub in shape.members.items()}
    if isinstance(shape, ListShape):
        return [plausible(member, shape.member, tag)]
    if isinstance(shape, MapShape):
        return {plausible("key", shape.key, tag): plausible(member, shape.value, tag)}
    if kind in ("integer", "long"):
        low, high = shape.metadata.get("min", 1), shape.metadata.get("max", 10)
        return max(low, min(high, 10))
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return datetime.now(UTC)
    if kind in ("float", "double"):
        return 1.0
    if kind == "blob":
        return b"ikfuzz"
    if shape.enum:
        return shape.enum[0]
    low, high = shape.metadata.get("min", 0), shape.metadata.get("max", 10**9)
    pattern = shape.metadata.get("pattern")
    regex = compile_java(pattern) if pattern else None
    candidates = _candidates(member, tag)
    for text in [*candidates, "a" * max(low, 1)]:
        if low <= len(text) <= high and (regex is None or regex.fullmatch(text)):
            return text
    return candidates[0]


def flat(op: OperationModel, params: dict[str, Any]) -> dict[str, str]:
    """``params`` as the Query form botocore would send (Action and Version included)."""
    body = create_serializer("query", include_validation=False).serialize_to_request(params, op)["body"]
    return {k: str(v) for k, v in body.items()}


def without(form: dict[str, str], wire: str) -> dict[str, str]:
    return {k: v for k, v in form.items() if k != wire and not k.startswith(wire + ".")}


# --------------------------------------------------------------------------------------------
# The cases of one operation


def _wire(shape: Shape, name: str) -> str:
    return str(shape.serialization.get("name", name))


def _scalar_variants(name: str, shape: Shape, good: str) -> Iterator[tuple[str, str]]:
    """Bad values for one scalar member: the model's constraints, then what only the handler sees."""
    kind = shape.type_name
    if kind != "string":
        yield "text", "x-not-a-value"
        yield "huge", "9" * 40
        yield "negative", "-1"
        return
    top = shape.metadata.get("max", 70000)
    yield "over-long", "a" * min(top + 1, 200000)
    yield "empty", ""
    yield "NUL", good + "\x00\x01"
    yield "non-Latin-1", good + "\u2603\U0001d518"
    if shape.enum:
        yield "invalid enum", "NotAnEnumValue"
    if name.endswith("Name") or "Path" in name:
        yield "refused characters", "bad name/ü*?"
    if good.startswith("arn:"):
        yield "odd ARN", "arn:aws:iam::" + ACCOUNT + ":user/" + "/" * 30
        yield "not an ARN", "x" * 30
    if good in (POLICY, TRUST):
        for index, document in enumerate(BAD_DOCUMENTS):
            yield f"document {index}", document


_MFA = frozenset({"SerialNumber", "TokenCode"})


def cases(op: OperationModel, tag: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(label, form) pairs: no parameters, entities that do not exist, then one bad member at a
    time over otherwise plausible input naming ``tag``'s entities."""
    missing = f"ikfuzz{uuid.uuid4().hex[:12]}"
    shape = op.input_shape
    yield "no parameters", {"Action": op.name, "Version": op.metadata["apiVersion"]}
    if shape is None:
        yield "unknown parameters", {"Action": op.name, "Bogus": "x" * 5000}
        return
    members = shape.members
    required = set(shape.required_members)
    yield (
        "missing entities",
        flat(op, {n: plausible(n, s, missing) for n, s in members.items() if n in required}),
    )
    values = {n: plausible(n, s, tag) for n, s in members.items()}
    base = flat(op, {n: v for n, v in values.items() if n in required})
    # an optional MFA code would be refused before anything else: sent only when it is the bad one
    values_sent = {n: v for n, v in values.items() if n in required or n not in _MFA}
    full = flat(op, values_sent)
    yield "existing entities", base
    yield "every member", full
    for name in sorted(required):
        yield f"without {name}", without(base, _wire(members[name], name))
    for name, member in members.items():
        wire = _wire(member, name)
        if isinstance(member, StructureShape | MapShape):
            yield f"{name} garbage", {**without(full, wire), wire: "garbage"}
        elif isinstance(member, ListShape):
            rest = without(full, wire)
            yield f"{name} scalar", {**rest, wire: "garbage"}
            yield f"{name} sparse", {**rest, f"{wire}.member.7": "x", f"{wire}.member.01": "y"}
            item = member.member
            if isinstance(item, StructureShape):
                yield f"{name} element without members", {**rest, f"{wire}.member.1.Bogus": "x"}
            else:
                for label, bad in _scalar_variants(name, item, str(values[name][0])):
                    yield f"{name} element {label}", {**rest, f"{wire}.member.1": bad}
            if name in ("Tags", "PolicyArns"):
                yield f"{name} over the quota", flat(op, {**values_sent, name: values[name] * 60})
            if name == "Tags":
                tags = {f"{wire}.member.1.Key": "aws:reserved", f"{wire}.member.1.Value": "v"}
                tags |= {f"{wire}.member.2.Key": "Team", f"{wire}.member.2.Value": "a"}
                tags |= {f"{wire}.member.3.Key": "team", f"{wire}.member.3.Value": "b"}
                yield "reserved and duplicate tags", {**rest, **tags}
        else:
            for label, bad in _scalar_variants(name, member, str(values[name])):
                yield f"{name} {label}", {**full, wire: bad}


def json_cases() -> Iterator[tuple[str, bytes]]:
    yield "empty body", b""
    yield "not an object", b"[1, 2]"
    yield "not json", b"{not json"
    yield "invalid utf-8", b'{"NextToken": "\xff\xfe"}'
    yield "wrong types", b'{"MaxResults": "ten", "StartTime": "yesterday", "LookupAttributes": "x"}'
    yield "bad attribute", b'{"LookupAttributes": [{"AttributeKey": "Nope", "AttributeValue": "x"}]}'
    yield (
        "two attributes",
        (
            b'{"LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "x"},'
            b' {"AttributeKey": "EventName", "AttributeValue": "y"}]}'
        ),
    )
    yield "time range", b'{"StartTime": 2000000000, "EndTime": 1000000000}'
    yield "huge numbers", b'{"MaxResults": 1e400, "StartTime": -1e300, "EndTime": 99999999999999999999}'
    yield "bad token", b'{"NextToken": "garbage!!"}'
    yield "bad category", b'{"EventCategory": "nope"}'
    yield "NUL", b'{"LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "a\\u0000b"}]}'
    yield (
        "lone surrogate",
        b'{"LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "a\\udc00"}]}',
    )
    yield "lone surrogate token", b'{"NextToken": "\\ud800"}'
    yield "deep", b"[" * 100000 + b"]" * 100000


def test_every_operation_survives_bad_input(server, fuzzer: Fuzzer) -> None:
    problems: list[str] = []
    wire = fuzzer.wire
    for (service, name), registered in sorted(all_operations().items()):
        op = model(service, name)
        allowed = allowed_codes(op)
        if service in JSON_TARGETS:
            for label, body in json_cases():
                found = problem(wire.json(service, name, body), allowed)
                if found:
                    problems.append(f"{service}:{name} [{label}]: {found}")
            continue
        for label, form in cases(op, fuzzer.tag):
            found = problem(wire.query(service, form), allowed)
            if found:
                problems.append(f"{service}:{name} [{label}]: {found}")
            if not registered.authorize:  # also as the unsigned call it is meant to be
                found = problem(wire.query(service, form, sign=False), allowed)
                if found:
                    problems.append(f"{service}:{name} [{label}, unsigned]: {found}")
    assert not problems, "\n".join(problems)


def test_a_bad_request_costs_no_other_call_its_audit_record(server) -> None:
    """Records of reads and failed calls are written in batches: one record the store cannot hold
    (a NUL or an over-long action name, a huge access key id) must not take the batch with it."""
    iam = server.client("iam")
    name = iam.create_user(UserName=f"ikfuzz-trail-{uuid.uuid4().hex[:8]}")["User"]["UserName"]
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    key = iam.create_access_key(UserName=name)["AccessKey"]
    wire = Wire(server.endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    forged = "AWS4-HMAC-SHA256 Credential=AKIA" + "Z" * 3000 + "/20260101/us-east-1/iam/aws4_request"
    for _ in range(3):
        wire.query("iam", {"Action": "Get\x00User" + "X" * 300, "UserName": name})
        wire.query("iam", {"Action": "GetUser", "UserName": name}, after_signing={"Authorization": forged})
    assert wire.query("iam", {"Action": "GetUser", "UserName": name}).status == 200
    wire.close()
    trail = server.client("cloudtrail")
    events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": name}])
    names = [e["EventName"] for e in events["Events"]]
    assert names.count("GetUser") == 1 and len(names) == 4, names


def test_the_audit_writer_keeps_a_batch_when_one_record_cannot_be_written(store, account) -> None:
    writer = audit_trail.AuditWriter(store)

    def record(operation: str, params: dict[str, Any]) -> Any:
        return lambda: audit_trail.build(
            service="iam",
            operation=operation,
            now=datetime.now(UTC),
            request_id=str(uuid.uuid4()),
            account_id=account,
            read_only=True,
            caller=None,
            access_key_id=None,
            parameters=params,
            output=None,
        )

    writer.submit(record("GetUser", {"UserName": "kept"}))
    writer.submit(record("GetRole", {"RoleName": "\ud800"}))  # no store can encode a lone surrogate
    writer.submit(record("GetGroup", {"GroupName": "kept"}))
    writer.flush()
    with store.transaction() as tx:
        names = tx.execute(schema.audit_events.select()).mappings().all()
    assert sorted(row["event_name"] for row in names) == ["GetGroup", "GetUser"]


def test_nul_in_a_member_without_a_pattern(server, fuzzer: Fuzzer) -> None:
    """ARNs, descriptions and tokens have no pattern in the model: a NUL there is refused before any
    store sees it (PostgreSQL's text cannot hold one), alike on both stores."""
    arn = f"arn:aws:iam::{ACCOUNT}:policy/{fuzzer.tag}\x00"
    answer = fuzzer.wire.query("iam", {"Action": "GetPolicy", "PolicyArn": arn})
    assert (answer.status, answer.code) == (400, "ValidationError")
    assert b"at 'policyArn' failed to satisfy constraint" in answer.body
    form = {"Action": "CreatePolicy", "PolicyName": f"ikfuzz{uuid.uuid4().hex}", "PolicyDocument": POLICY}
    answer = fuzzer.wire.query("iam", {**form, "Description": "a\x00b"})
    assert (answer.status, answer.code) == (400, "ValidationError")
    assert fuzzer.wire.query("iam", {"Action": "GetPolicy", "PolicyArn": arn[:-1]}).status == 200
    for value in ("a\\u0000b", "a\\udc00b"):  # JSON escapes: NUL and a lone surrogate
        attribute = '{"AttributeKey": "Username", "AttributeValue": "' + value + '"}'
        body = '{"LookupAttributes": [' + attribute + "]}"
        answer = fuzzer.wire.json("cloudtrail", "LookupEvents", body)
        assert (answer.status, answer.code) == (400, "ValidationException"), answer.body


# --------------------------------------------------------------------------------------------
# The edges of the wire


def test_protocol_edges(server, fuzzer: Fuzzer) -> None:
    wire, tag = fuzzer.wire, fuzzer.tag
    get_user = urlencode({"Action": "GetUser", "UserName": tag, "Version": "2010-05-08"})
    answers = {
        "GET with a query string": wire.send("iam", method="GET", query=get_user),
        "POST with a charset": wire.send("iam", get_user),
        "POST in Latin-1": wire.send(
            "iam", get_user, headers={"Content-Type": "application/x-www-form-urlencoded; charset=ISO-8859-1"}
        ),
        "no Content-Type": wire.send("iam", get_user, headers={"Content-Type": None}),  # type: ignore[dict-item]
    }
    for label, answer in answers.items():
        assert answer.status == 200 and b"<GetUserResponse" in answer.body, label
    edges = {
        "empty body": (wire.send("iam", b""), "MissingAction"),
        "invalid UTF-8": (wire.send("iam", b"Action=GetUser&UserName=\xff\xfe\xc3"), "ValidationError"),
        "invalid UTF-8 action": (wire.send("iam", b"Action=Get\xffUser"), "InvalidAction"),
        "1 MB body": (wire.send("iam", get_user + "&Pad=" + "a" * 1_000_000), None),
        "1 MB name": (wire.send("iam", "Action=GetUser&UserName=" + "a" * 1_000_000), "ValidationError"),
        "unsigned": (wire.send("iam", get_user, sign=False), "MissingAuthenticationToken"),
        "wrong version": (wire.send("iam", "Action=GetUser&Version=2099-01-01"), "InvalidAction"),
        "unknown action": (wire.send("iam", "Action=" + "x" * 3000), "InvalidAction"),
        "JSON target on IAM": (
            wire.send("iam", b"{}", headers={"X-Amz-Target": "AWSIdentityManagementV20100508.GetUser"}),
            "UnknownOperationException",
        ),
        "unknown JSON operation": (
            wire.json("cloudtrail", "NoSuchOperation", b"{}"),
            "UnknownOperationException",
        ),
    }
    for label, (answer, code) in edges.items():
        assert answer.status < 500, (label, answer.body[:300])
        assert answer.code == code, (label, answer.body[:300])
    signed = wire.send("iam", get_user)
    assert signed.status == 200
    for header, value in {
        "Authorization": "AWS4-HMAC-SHA256 Credential=/, SignedHeaders=, Signature=",
        "X-Amz-Date": "20991301T256161Z",
        "X-Amz-Content-SHA256": "0" * 64,
    }.items():
        answer = wire.send("iam", get_user, after_signing={header: value})
        assert 400 <= answer.status < 500 and answer.code in COMMON_CODES | {"XAmzContentSHA256Mismatch"}, (
            header
        )
    presigned = get_user + "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x&X-Amz-Signature=zz"
    answer = wire.send("iam", method="GET", query=presigned, sign=False)
    assert 400 <= answer.status < 500 and answer.code in COMMON_CODES


# --------------------------------------------------------------------------------------------
# Random bodies and headers

_QUERY_OPS = sorted((s, n) for (s, n), op in all_operations().items() if s not in JSON_TARGETS)
_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
_PIECE = st.one_of(
    _TEXT.map(lambda text: quote(text, safe="")),
    st.binary(max_size=30).map(lambda raw: quote(raw, safe="")),  # any bytes, %-escaped: invalid UTF-8 too
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3).map(
        lambda text: quote(text.encode("utf-8", "surrogatepass"), safe="")  # escaped lone surrogates
    ),
    st.sampled_from(["%", "%zz", "%E2%82", "+", "=", "&&", "%00", "a" * 70000, "1e999", "-0", "true"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)


@st.composite
def forms(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """(service, operation, body): an operation's own keys (from a plausible form) and random ones,
    repeated or not, with random values."""
    service, name = draw(st.sampled_from(_QUERY_OPS))
    op = model(service, name)
    members = op.input_shape.members if op.input_shape is not None else {}
    known = sorted(flat(op, {n: plausible(n, s, "ikfuzz") for n, s in members.items()}))
    keys = st.one_of(st.sampled_from(known), _TEXT.map(lambda text: quote(text, safe="")))
    pairs = draw(st.lists(st.tuples(keys, _PIECE), max_size=8))
    head = [] if draw(st.booleans()) and pairs else [("Action", name)]
    body = "&".join(f"{k}={v}" for k, v in head + pairs)
    return service, name, body.encode()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=forms())
def test_random_forms_never_fail_the_server(server, fuzzer: Fuzzer, form: tuple[str, str, bytes]) -> None:
    service, name, body = form
    answer = fuzzer.wire.send(service, body)
    found = problem(answer, allowed_codes(model(service, name)) | {"InvalidAction", "MissingAction"})
    assert found is None, (body[:500], found)


_HEADER_VALUE = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=200
)
_HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "Authorization",
            "X-Amz-Date",
            "Date",
            "X-Amz-Security-Token",
            "X-Amz-Content-SHA256",
            "Content-Type",
            "X-Amz-Target",
            "Host",
        ]
    ),
    st.one_of(
        _HEADER_VALUE,
        _HEADER_VALUE.map(
            lambda v: f"AWS4-HMAC-SHA256 Credential={v}, SignedHeaders=host;x-amz-date, Signature={v}"
        ),
    ),
    max_size=4,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    headers=_HEADERS,
    query=st.one_of(
        st.just(""),
        _TEXT.map(lambda text: quote(text, safe="=&")),
        st.sampled_from(["%", "%zz", "Action=ListUsers", "X-Amz-Signature=00", "X-Amz-Credential=%00"]),
    ),
)
def test_random_headers_never_fail_the_server(
    server, fuzzer: Fuzzer, headers: dict[str, str], query: str
) -> None:
    body = urlencode({"Action": "GetUser", "UserName": fuzzer.tag})
    answer = fuzzer.wire.send("iam", body, query=query, after_signing=headers)
    found = problem(answer, allowed_codes(model("iam", "GetUser")) | {"XAmzContentSHA256Mismatch"})
    assert found is None, (headers, query, found)
