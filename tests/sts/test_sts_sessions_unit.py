"""The pure pieces of STS sessions: expiry of sealed tokens, session tags, packed policy size."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ironkeep.auth.errors import ExpiredToken
from ironkeep.auth.session_tokens import SessionContext, SessionKind, issue, open_token
from ironkeep.errors import ValidationError
from ironkeep.services.sts_sessions import (
    InvalidParameterValue,
    PackedPolicyTooLarge,
    SessionPolicies,
    packed_policy_size,
    session_policies,
    session_tags,
)

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def _session(**extra) -> SessionContext:
    return SessionContext(
        account_id="123456789012",
        principal_arn="arn:aws:sts::123456789012:assumed-role/r/s",
        principal_id="AROAEXAMPLEEXAMPLE123:s",
        kind=SessionKind.ASSUMED_ROLE,
        expiration=NOW + timedelta(seconds=900),
        **extra,
    )


def test_a_900_second_session_expires_after_900_seconds():
    key = secrets.token_bytes(32)
    creds = issue(_session(), "k1", key, NOW)
    opened = open_token(creds.session_token, creds.access_key_id, {"k1": key}, NOW + timedelta(seconds=899))
    assert opened.secret_access_key == creds.secret_access_key
    with pytest.raises(ExpiredToken) as expired:
        open_token(creds.session_token, creds.access_key_id, {"k1": key}, NOW + timedelta(seconds=900))
    assert expired.value.message == "The security token included in the request is expired"


_keys = st.text(alphabet="abcABC", min_size=1, max_size=3)


@given(st.lists(st.tuples(_keys, st.text(max_size=5)), max_size=8), st.lists(_keys, max_size=4))
def test_session_tag_keys_are_unique_regardless_of_case(pairs, transitive):
    tags = [{"Key": k, "Value": v} for k, v in pairs]
    keys = [k.lower() for k, _ in pairs]
    try:
        out = session_tags(tags, transitive)
    except InvalidParameterValue:
        assert len(set(keys)) < len(keys) or any(t.lower() not in keys for t in transitive)
        return
    assert len(set(keys)) == len(keys)
    assert out.tags == tuple(pairs) == out.requested
    assert {k.lower() for k in out.transitive_keys} == {t.lower() for t in transitive}


def test_transitive_tags_are_inherited_and_cannot_be_overridden():
    caller = _session(tags=(("Project", "apollo"), ("Scratch", "1")), transitive_tag_keys=("Project",))
    out = session_tags([{"Key": "Team", "Value": "blue"}], ["team"], caller)
    assert out.tags == (("Project", "apollo"), ("Team", "blue"))
    assert out.transitive_keys == ("Project", "Team")
    assert out.requested == (("Team", "blue"),)
    with pytest.raises(InvalidParameterValue):
        session_tags([{"Key": "PROJECT", "Value": "x"}], [], caller)
    with pytest.raises(ValidationError):
        session_tags([{"Key": f"k{i}", "Value": ""} for i in range(50)], [], caller)


def test_packed_size_ignores_white_space_and_grows_with_content():
    compact = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}'
    spaced = json.dumps(json.loads(compact), indent=4)
    assert packed_policy_size(SessionPolicies((compact,)), ()) == packed_policy_size(
        SessionPolicies((spaced,)), ()
    )
    small = packed_policy_size(SessionPolicies((compact,)), ())
    tags = [(f"k{i}", secrets.token_hex(40)) for i in range(20)]
    assert small < packed_policy_size(SessionPolicies((compact,)), tags) <= 100
    with pytest.raises(PackedPolicyTooLarge):
        packed_policy_size(SessionPolicies(), [(f"k{i}", secrets.token_hex(128)) for i in range(50)])


@given(st.text(max_size=300))
def test_any_policy_text_is_a_policy_or_an_aws_error(text):
    from ironkeep.errors import AWSError

    try:
        out = session_policies({"Policy": text} if text else {})
    except AWSError as error:
        assert error.code in ("MalformedPolicyDocument", "ValidationError")
    else:
        assert out.documents == ((text,) if text else ())


def test_session_policy_plaintext_limit_counts_policy_arns():
    arns = [{"arn": f"arn:aws:iam::123456789012:policy/{'p' * 150}{i}"} for i in range(10)]
    doc = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    )
    assert session_policies({"Policy": doc, "PolicyArns": arns[:5]}).arns
    with pytest.raises(ValidationError):
        session_policies({"Policy": doc + " " * 1200, "PolicyArns": arns})
    with pytest.raises(ValidationError):
        session_policies({"PolicyArns": [*arns, {"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]})


def test_policy_arns_limit_counts_the_entries_sent():
    """Eleven entries are refused even when they name one policy (the list's length is checked)."""
    same = {"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}
    assert session_policies({"PolicyArns": [same] * 10}).arns == (same["arn"],)
    with pytest.raises(ValidationError):
        session_policies({"PolicyArns": [same] * 11})
