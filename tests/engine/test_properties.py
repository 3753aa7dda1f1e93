"""Properties of the engine (after Cedar's theorems), checked on generated simulate requests.

Policies come from a small alphabet of actions, resources, principals and conditions so that
statements actually match the requests: an explicit deny always wins; no allow means no Allow;
adding an Allow never undoes an explicit deny; a boundary, an SCP level or a session policy
never widens access; decisions are deterministic and the JSON Lines fast path agrees with
``decide``; untrusted JSON gives a decision or an error, never an exception.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ironkeep.errors import AWSError
from ironkeep.simulate import _Batch, decide

ACCT = "111122223333"
OTHER = "444455556666"
USER = f"arn:aws:iam::{ACCT}:user/alice"
ROLE = f"arn:aws:iam::{ACCT}:role/app"
SESSION = f"arn:aws:sts::{ACCT}:assumed-role/app/s1"
FED = f"arn:aws:sts::{ACCT}:federated-user/carol"
OTHER_USER = f"arn:aws:iam::{OTHER}:user/dave"

ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "ec2:RunInstances", "iam:GetUser"]
ACTION_PATTERNS = [*ACTIONS, "s3:*", "s3:Get*", "*", "ec2:*", "iam:Get?ser", "S3:GETOBJECT", "sqs:*"]
RESOURCES = [
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::c/k",
    f"arn:aws:ec2:us-east-1:{ACCT}:instance/i-1",
    f"arn:aws:iam::{ACCT}:user/alice",
]
RESOURCE_PATTERNS = [
    "*",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::b/k",
    "arn:aws:s3:::c/?",
    f"arn:aws:ec2:*:{ACCT}:instance/*",
    "arn:aws:s3:::${aws:username}/*",
    f"arn:aws:iam::{ACCT}:user/${{aws:username}}",
    "arn:aws:s3:::*",
]
CONDITIONS = [
    {"StringEquals": {"aws:RequestedRegion": "us-east-1"}},
    {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}},
    {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    {"StringEqualsIfExists": {"aws:PrincipalTag/team": "blue"}},
    {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}},
    {"ForAllValues:StringLike": {"aws:TagKeys": ["e*", "t*"]}},
    {"Null": {"aws:TokenIssueTime": "true"}},
    {"DateLessThan": {"aws:CurrentTime": "2026-06-01T00:00:00Z"}},
    {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCT}:role/*"}},
    {"NumericLessThan": {"s3:max-keys": "100"}},
]
RESOURCE_PRINCIPALS = [
    "*",
    {"AWS": USER},
    {"AWS": ACCT},
    {"AWS": ROLE},
    {"AWS": SESSION},
    {"AWS": OTHER_USER},
]

CONTEXT_CHOICES: dict[str, list[Any]] = {
    "aws:RequestedRegion": ["us-east-1", "eu-west-1", "ap-south-1"],
    "aws:SourceIp": ["10.1.2.3", "203.0.113.5", "2001:db8::1"],
    "aws:SecureTransport": ["true", "false"],
    "aws:MultiFactorAuthPresent": ["true", "false"],
    "aws:TagKeys": [[], ["env"], ["env", "cost"], ["team"]],
    "aws:TokenIssueTime": ["2026-01-01T00:00:00Z"],
    "aws:CurrentTime": ["2026-01-01T00:00:00Z", "2026-12-01T00:00:00Z"],
    "s3:max-keys": ["10", "1000"],
}


def one_or_list(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, st.lists(strategy, min_size=1, max_size=3))


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None, principal: bool = False) -> dict[str, Any]:
    s: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    if principal:
        key = "NotPrincipal" if s["Effect"] == "Deny" and draw(st.integers(0, 5)) == 0 else "Principal"
        s[key] = draw(st.sampled_from(RESOURCE_PRINCIPALS))
    s["NotAction" if draw(st.integers(0, 4)) == 0 else "Action"] = draw(
        one_or_list(st.sampled_from(ACTION_PATTERNS))
    )
    s["NotResource" if draw(st.integers(0, 4)) == 0 else "Resource"] = draw(
        one_or_list(st.sampled_from(RESOURCE_PATTERNS))
    )
    if draw(st.booleans()):
        cond: dict[str, Any] = {}
        for c in draw(st.lists(st.sampled_from(CONDITIONS), min_size=1, max_size=2)):
            for op, body in c.items():
                cond.setdefault(op, {}).update(body)
        s["Condition"] = cond
    return s


@st.composite
def policies(draw: st.DrawFn, effect: str | None = None, principal: bool = False) -> dict[str, Any]:
    stmts = draw(st.lists(statements(effect, principal), min_size=1, max_size=4))
    return {"Version": "2012-10-17", "Statement": [{"Sid": f"S{i}", **s} for i, s in enumerate(stmts)]}


@st.composite
def requests(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    arn = draw(st.sampled_from([USER, SESSION, FED, OTHER_USER]))
    keys = draw(st.lists(st.sampled_from(sorted(CONTEXT_CHOICES)), unique=True, max_size=5))
    context = {k: draw(st.sampled_from(CONTEXT_CHOICES[k])) for k in keys}
    return {
        "principal": {"arn": arn, "tags": draw(st.sampled_from([{}, {"team": "blue"}, {"team": "red"}]))},
        "action": draw(st.sampled_from(ACTIONS)),
        "resource": draw(st.sampled_from(RESOURCES)),
        "resource_account": draw(st.sampled_from([None, ACCT, OTHER])),
        "context": context,
        "policies": {
            "identity": draw(st.lists(policies(effect), max_size=3)),
            "permissions_boundary": draw(st.one_of(st.none(), policies(effect))),
            "session": draw(st.lists(policies(effect), max_size=2)) if arn in (SESSION, FED) else [],
            "resource": draw(st.one_of(st.none(), policies(effect, principal=True))),
            "scps": draw(st.lists(st.lists(policies(effect), min_size=1, max_size=2), max_size=2)),
            "rcps": [],
        },
    }


PROPS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _decision(r: dict[str, Any]) -> str:
    got = decide(r)
    assert "error" not in got, got
    return str(got["decision"])


@PROPS
@given(requests(), st.sampled_from(["identity", "resource", "scp", "boundary", "session"]), st.data())
def test_an_explicit_deny_always_wins(r: dict[str, Any], kind: str, data: st.DataObject) -> None:
    pol = r["policies"]
    deny = {"Effect": "Deny", "Action": data.draw(st.sampled_from(["*", r["action"]])), "Resource": "*"}
    doc = {"Version": "2012-10-17", "Statement": [deny]}
    if kind == "identity":
        pol["identity"].append(doc)
    elif kind == "resource":
        deny["Principal"] = "*"
        pol["resource"] = doc
    elif kind == "scp":
        pol["scps"].append([doc])
    elif kind == "boundary":
        pol["permissions_boundary"] = doc
    elif r["principal"]["arn"] in (SESSION, FED):
        pol["session"].append(doc)
    else:
        pol["identity"].append(doc)
    got = decide(r)
    assert got["decision"] == "ExplicitDeny", got
    assert got["matched"] and all(m["effect"] == "Deny" for m in got["matched"]), got


@PROPS
@given(requests(effect="Deny"))
def test_no_allow_anywhere_means_no_allow(r: dict[str, Any]) -> None:
    got = decide(r)
    assert got["decision"] in ("ImplicitDeny", "ExplicitDeny"), got


@PROPS
@given(requests())
def test_decision_shape_matches_its_reasons(r: dict[str, Any]) -> None:
    got = decide(r)
    effects = {m["effect"] for m in got["matched"]}
    if got["decision"] == "Allow":
        assert "Allow" in effects, got
    elif got["decision"] == "ExplicitDeny":
        assert effects == {"Deny"}, got
    else:  # an implicit deny has no deny statement behind it
        assert "Deny" not in effects, got


@PROPS
@given(requests(), st.data())
def test_adding_an_allow_never_undoes_an_explicit_deny(r: dict[str, Any], data: st.DataObject) -> None:
    before = _decision(r)
    pol = r["policies"]
    where = data.draw(st.sampled_from(["identity", "resource", "boundary", "scp"]))
    allow = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    doc = {"Version": "2012-10-17", "Statement": [allow]}
    if where == "identity":
        pol["identity"].append(doc)
    elif where == "resource":
        allow["Principal"] = "*"
        if pol["resource"] is None:
            pol["resource"] = doc
        else:
            pol["resource"]["Statement"].append(allow)
    elif where == "boundary" and pol["permissions_boundary"] is not None:
        pol["permissions_boundary"]["Statement"].append(allow)
    elif pol["scps"]:
        pol["scps"][0].append(doc)
    after = _decision(r)
    if before == "ExplicitDeny":
        assert after == "ExplicitDeny"


@PROPS
@given(
    requests(), policies(), policies(principal=True), st.sampled_from(["boundary", "scp", "rcp", "session"])
)
def test_a_boundary_scp_or_rcp_level_or_session_policy_never_widens(
    r: dict[str, Any], extra: dict[str, Any], rcp: dict[str, Any], kind: str
) -> None:
    pol = r["policies"]
    is_session = r["principal"]["arn"] == SESSION
    if kind == "boundary" and pol["permissions_boundary"] is not None:
        return
    if kind == "session" and not (is_session or pol["session"]):
        return  # a federated user without session policy has nothing: adding one may grant
    before = _decision(r)
    if kind == "boundary":
        pol["permissions_boundary"] = extra
    elif kind == "scp":
        pol["scps"].append([extra])
    elif kind == "rcp":  # RCP statements carry "Principal": "*" only
        for statement in rcp["Statement"]:
            statement.pop("NotPrincipal", None)
            statement["Principal"] = "*"
        pol["rcps"].append([rcp])
    else:
        pol["session"].append(extra)
    after = _decision(r)
    if before != "Allow":
        assert after != "Allow", (before, after)
    if before == "ExplicitDeny":
        assert after == "ExplicitDeny"


@PROPS
@given(requests())
def test_decisions_are_deterministic_and_the_fast_path_agrees(r: dict[str, Any]) -> None:
    first = decide(r)
    assert decide(copy.deepcopy(r)) == first
    batch = _Batch()
    line = orjson.dumps(r)
    for _ in range(2):  # a cache miss, then a hit
        assert batch.decide(line).to_json() == first
    policies_first = {"policies": r["policies"], **{k: v for k, v in r.items() if k != "policies"}}
    assert batch.decide(orjson.dumps(policies_first)).to_json() == first


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=25,
)


def _check(got: dict[str, Any]) -> None:
    if "error" in got:
        assert got["error"]["code"] in ("InvalidInput", "MalformedPolicyDocument"), got
        assert got["error"]["message"]
    else:
        assert got["decision"] in ("Allow", "ExplicitDeny", "ImplicitDeny")


@PROPS
@given(json_values)
def test_random_json_gives_a_decision_or_an_error(value: Any) -> None:
    _check(decide(value))


@PROPS
@given(
    requests(),
    st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_:/[]", max_size=20), min_size=1, max_size=4),
    json_values,
)
def test_a_damaged_request_gives_a_decision_or_an_error(
    r: dict[str, Any], path: list[str], value: Any
) -> None:
    node: Any = r
    for step in path[:-1]:  # walk as far as the path leads, then graft the random value there
        if isinstance(node, dict) and node:
            node = node[sorted(node)[sum(map(ord, step)) % len(node)]]
        elif isinstance(node, list) and node:
            node = node[len(step) % len(node)]
    if isinstance(node, dict):
        node[sorted(node)[len(path[-1]) % len(node)] if node and path[-1] < "m" else path[-1]] = value
    elif isinstance(node, list) and node:
        node[len(path[-1]) % len(node)] = value
    expected = decide(r)
    _check(expected)
    got = _Batch().decide(json.dumps(r).encode())  # stdlib: integers beyond 64 bits too
    assert isinstance(got, AWSError) or got.decision in ("Allow", "ExplicitDeny", "ImplicitDeny")
    try:
        orjson.dumps(r)
    except TypeError:
        return  # orjson reads no integer beyond 64 bits: that line is InvalidInput for the runner
    if isinstance(got, AWSError):  # the fast path agrees with decide(), errors included
        assert expected.get("error", {}).get("code") == got.code, (expected, got)
    else:
        assert got.to_json() == expected


@PROPS
@given(st.binary(max_size=300))
def test_random_bytes_on_a_line_give_a_decision_or_an_error(line: bytes) -> None:
    got = _Batch().decide(line)
    assert isinstance(got, AWSError) or got.decision in ("Allow", "ExplicitDeny", "ImplicitDeny")
