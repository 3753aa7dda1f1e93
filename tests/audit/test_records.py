"""CloudTrail event records: the fields, identities and elements AWS writes for IAM and STS calls."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ironkeep.audit.elements import cloudtrail_name, java_date
from ironkeep.audit.records import (
    HIDDEN,
    Caller,
    CallRecordInput,
    ResourceRef,
    SessionIssuer,
    build_record,
    event_source,
    resource_type,
    user_identity,
)

ACCOUNT = "123456789012"
WHEN = datetime(2019, 10, 2, 23, 12, 29, tzinfo=UTC)
ALICE = Caller(
    "IAMUser",
    principal_id="AIDAEXAMPLEALICE0001",
    arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
    account_id=ACCOUNT,
    user_name="alice",
)


def call(service: str, operation: str, **fields: Any) -> CallRecordInput:
    base: dict[str, Any] = {
        "service": service,
        "operation": operation,
        "time": WHEN,
        "request_id": "5c9e1a3e-0000-4000-8000-000000000001",
        "recipient_account_id": ACCOUNT,
        "read_only": False,
        "caller": ALICE,
        "access_key_id": "AKIAEXAMPLEALICE0001",
        "region": "eu-west-1",
        "source_ip": "203.0.113.7",
        "user_agent": "aws-cli/2.15.0",
    }
    base.update(fields)
    return CallRecordInput(**base)


def test_create_user_record_has_cloudtrails_fields_in_order() -> None:
    record = build_record(
        call(
            "iam",
            "CreateUser",
            parameters={"UserName": "bob", "Path": "/eng/", "Tags": [{"Key": "team", "Value": "x"}]},
            output={
                "User": {
                    "Path": "/eng/",
                    "UserName": "bob",
                    "UserId": "AIDAEXAMPLEBOB000001",
                    "Arn": f"arn:aws:iam::{ACCOUNT}:user/eng/bob",
                    "CreateDate": WHEN,
                }
            },
        )
    )
    assert list(record) == [
        "eventVersion",
        "userIdentity",
        "eventTime",
        "eventSource",
        "eventName",
        "awsRegion",
        "sourceIPAddress",
        "userAgent",
        "requestParameters",
        "responseElements",
        "requestID",
        "eventID",
        "readOnly",
        "resources",
        "eventType",
        "managementEvent",
        "recipientAccountId",
        "eventCategory",
    ]
    assert record["eventVersion"] == "1.11"
    assert record["eventTime"] == "2019-10-02T23:12:29Z"
    assert record["eventSource"] == "iam.amazonaws.com"
    assert record["awsRegion"] == "us-east-1"  # IAM is global, whatever region the client named
    assert record["requestParameters"] == {
        "userName": "bob",
        "path": "/eng/",
        "tags": [{"key": "team", "value": "x"}],
    }
    assert record["responseElements"] == {
        "user": {
            "path": "/eng/",
            "userName": "bob",
            "userId": "AIDAEXAMPLEBOB000001",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/eng/bob",
            "createDate": "Oct 2, 2019, 11:12:29 PM",
        }
    }
    assert record["resources"] == [
        {"accountId": ACCOUNT, "type": "AWS::IAM::User", "ARN": f"arn:aws:iam::{ACCOUNT}:user/eng/bob"}
    ]
    assert (record["eventType"], record["managementEvent"], record["eventCategory"]) == (
        "AwsApiCall",
        True,
        "Management",
    )
    assert record["readOnly"] is False
    assert uuid.UUID(record["eventID"]).version == 7
    assert "errorCode" not in record and "errorMessage" not in record
    json.dumps(record)  # plain JSON


def test_read_only_calls_log_no_response_and_null_parameters_when_none() -> None:
    record = build_record(
        call("iam", "ListUsers", read_only=True, output={"Users": [], "IsTruncated": False})
    )
    assert record["requestParameters"] is None
    assert record["responseElements"] is None
    assert record["readOnly"] is True
    assert "resources" not in record
    caller = build_record(call("sts", "GetCallerIdentity", read_only=True, output={"Account": ACCOUNT}))
    assert caller["responseElements"] is None
    assert caller["awsRegion"] == "eu-west-1"  # STS logs the request's region


def test_assume_role_logs_credentials_without_secret_or_token() -> None:
    record = build_record(
        call(
            "sts",
            "AssumeRole",
            read_only=True,
            parameters={
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/Admin",
                "RoleSessionName": "ops",
                "DurationSeconds": 900,
                "SerialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/alice",
                "TokenCode": "123456",
            },
            output={
                "Credentials": {
                    "AccessKeyId": "ASIAEXAMPLE000000001",
                    "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                    "SessionToken": "FwoGZXIvYXdzEXAMPLE",
                    "Expiration": WHEN + timedelta(hours=1),
                },
                "AssumedRoleUser": {
                    "AssumedRoleId": "AROAEXAMPLE000000001:ops",
                    "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/ops",
                },
            },
        )
    )
    assert record["requestParameters"] == {
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/Admin",
        "roleSessionName": "ops",
        "durationSeconds": 900,
        "serialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/alice",
    }
    assert record["responseElements"] == {
        "credentials": {"accessKeyId": "ASIAEXAMPLE000000001", "expiration": "Oct 3, 2019, 12:12:29 AM"},
        "assumedRoleUser": {
            "assumedRoleId": "AROAEXAMPLE000000001:ops",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/ops",
        },
    }
    assert record["resources"] == [
        {"accountId": ACCOUNT, "type": "AWS::IAM::Role", "ARN": f"arn:aws:iam::{ACCOUNT}:role/Admin"}
    ]
    assert record["eventSource"] == "sts.amazonaws.com"
    assert record["awsRegion"] == "eu-west-1"


def test_create_access_key_never_logs_the_secret() -> None:
    output = {
        "AccessKey": {
            "UserName": "bob",
            "AccessKeyId": "AKIAEXAMPLEBOB000001",
            "Status": "Active",
            "SecretAccessKey": "bobs-secret",
            "CreateDate": WHEN,
        }
    }
    record = build_record(call("iam", "CreateAccessKey", parameters={"UserName": "bob"}, output=output))
    assert record["responseElements"] == {
        "accessKey": {
            "userName": "bob",
            "accessKeyId": "AKIAEXAMPLEBOB000001",
            "status": "Active",
            "createDate": "Oct 2, 2019, 11:12:29 PM",
        }
    }
    own = build_record(call("iam", "CreateAccessKey", parameters={}, output=output))
    assert own["requestParameters"] is None  # root (or a user) creating its own key


def test_failure_logs_error_and_scrubs_echoed_secrets() -> None:
    record = build_record(
        call(
            "iam",
            "ChangePassword",
            parameters={"OldPassword": "hunter2!", "NewPassword": "correct horse"},
            output={"ignored": True},
            error_code="PasswordPolicyViolation",
            error_message="Password 'correct horse' does not meet the policy; 'hunter2!' was the old one",
        )
    )
    assert record["errorCode"] == "PasswordPolicyViolation"
    assert (
        record["errorMessage"] == f"Password '{HIDDEN}' does not meet the policy; '{HIDDEN}' was the old one"
    )
    assert record["requestParameters"] is None
    assert record["responseElements"] is None
    keys = list(record)
    assert keys.index("errorCode") == keys.index("userAgent") + 1
    assert keys.index("errorMessage") == keys.index("errorCode") + 1


def test_mfa_codes_are_dropped_and_serial_numbers_kept() -> None:
    record = build_record(
        call(
            "iam",
            "EnableMFADevice",
            parameters={
                "UserName": "alice",
                "SerialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/alice",
                "AuthenticationCode1": "123456",
                "AuthenticationCode2": "654321",
            },
        )
    )
    assert record["requestParameters"] == {
        "userName": "alice",
        "serialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/alice",
    }


def test_saml_and_web_identity_log_identifiers_not_tokens() -> None:
    saml = build_record(
        call(
            "sts",
            "AssumeRoleWithSAML",
            caller=Caller(
                "SAMLUser",
                principal_id="SbdGOnUkh1i4+EXAMPLExL/jEvs=:SamlExample",
                user_name="SamlExample",
                identity_provider="SbdGOnUkh1i4+EXAMPLExL/jEvs=",
            ),
            access_key_id=None,
            read_only=True,
            saml_assertion_id="_c0046cEXAMPLEb9d4b8e",
            parameters={
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/SAMLRole",
                "PrincipalArn": f"arn:aws:iam::{ACCOUNT}:saml-provider/Shibboleth",
                "SAMLAssertion": "PHNhbWxwOlJlc3BvbnNlIHNlY3JldA==",
                "DurationSeconds": 3600,
            },
            output={"Subject": "SamlExample", "Audience": "https://signin.aws.amazon.com/saml"},
        )
    )
    assert saml["userIdentity"] == {
        "type": "SAMLUser",
        "principalId": "SbdGOnUkh1i4+EXAMPLExL/jEvs=:SamlExample",
        "userName": "SamlExample",
        "identityProvider": "SbdGOnUkh1i4+EXAMPLExL/jEvs=",
    }
    assert saml["requestParameters"] == {
        "sAMLAssertionID": "_c0046cEXAMPLEb9d4b8e",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/SAMLRole",
        "principalArn": f"arn:aws:iam::{ACCOUNT}:saml-provider/Shibboleth",
        "durationSeconds": 3600,
    }
    assert [r["type"] for r in saml["resources"]] == ["AWS::IAM::Role", "AWS::IAM::SAMLProvider"]
    web = build_record(
        call(
            "sts",
            "AssumeRoleWithWebIdentity",
            caller=Caller(
                "WebIdentityUser",
                principal_id="accounts.google.com:app.apps.googleusercontent.com:1234",
                user_name="1234",
                identity_provider="accounts.google.com",
            ),
            read_only=True,
            parameters={
                "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/Web",
                "RoleSessionName": "s",
                "WebIdentityToken": "eyJ.x.y",
            },
            output={
                "SubjectFromWebIdentityToken": "1234",
                "Provider": "accounts.google.com",
                "Audience": "app.apps.googleusercontent.com",
            },
        )
    )
    assert "eyJ" not in json.dumps(web)
    assert web["responseElements"] == {
        "subjectFromWebIdentityToken": "1234",
        "provider": "accounts.google.com",
        "audience": "app.apps.googleusercontent.com",
    }


def test_assumed_role_identity_has_session_context() -> None:
    caller = Caller(
        "AssumedRole",
        principal_id="AROAEXAMPLE000000001:ops",
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/ops",
        account_id=ACCOUNT,
        session_issuer=SessionIssuer(
            "Role", "AROAEXAMPLE000000001", f"arn:aws:iam::{ACCOUNT}:role/Admin", ACCOUNT, "Admin"
        ),
        session_created=datetime(2019, 10, 2, 22, 0, tzinfo=timezone(timedelta(hours=2))),
        mfa_authenticated=True,
        source_identity="alice",
    )
    assert user_identity(caller, "ASIAEXAMPLE000000001") == {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE000000001:ops",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/ops",
        "accountId": ACCOUNT,
        "accessKeyId": "ASIAEXAMPLE000000001",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLE000000001",
                "arn": f"arn:aws:iam::{ACCOUNT}:role/Admin",
                "accountId": ACCOUNT,
                "userName": "Admin",
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2019-10-02T20:00:00Z", "mfaAuthenticated": "true"},
            "sourceIdentity": "alice",
        },
    }


def test_other_identities() -> None:
    root = Caller("Root", principal_id=ACCOUNT, arn=f"arn:aws:iam::{ACCOUNT}:root", account_id=ACCOUNT)
    assert user_identity(root, "AKIAROOT") == {
        "type": "Root",
        "principalId": ACCOUNT,
        "arn": f"arn:aws:iam::{ACCOUNT}:root",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAROOT",
    }
    session_user = Caller(
        "IAMUser",
        principal_id="AIDA1",
        arn="arn:aws:iam::1:user/a",
        account_id="1",
        user_name="a",
        session_created=WHEN,
    )
    assert user_identity(session_user, "ASIA1")["sessionContext"] == {
        "sessionIssuer": {},
        "webIdFederationData": {},
        "attributes": {"creationDate": "2019-10-02T23:12:29Z", "mfaAuthenticated": "false"},
    }
    federated = Caller(
        "FederatedUser",
        principal_id=f"{ACCOUNT}:partner",
        arn=f"arn:aws:sts::{ACCOUNT}:federated-user/partner",
        account_id=ACCOUNT,
        session_issuer=SessionIssuer(
            "IAMUser", "AIDA1", f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, "alice"
        ),
        session_created=WHEN,
    )
    identity = user_identity(federated, "ASIA2")
    assert identity["sessionContext"]["sessionIssuer"]["type"] == "IAMUser"
    assert "userName" not in identity
    assert user_identity(Caller("AWSService", invoked_by="signin.amazonaws.com"), None) == {
        "type": "AWSService",
        "invokedBy": "signin.amazonaws.com",
    }
    # failed authentication: what is known and nothing more
    assert user_identity(None, "AKIAUNKNOWN") == {"type": "Unknown", "accessKeyId": "AKIAUNKNOWN"}
    assert user_identity(Caller("Unknown", account_id=ACCOUNT), "AKIAX") == {
        "type": "Unknown",
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAX",
    }
    with pytest.raises(ValueError):
        Caller("Admin")


def test_names_dates_sources_and_resource_types() -> None:
    assert [
        cloudtrail_name(n) for n in ("UserName", "SAMLAssertionID", "PolicyArn", "SerialNumber", "MFA")
    ] == [
        "userName",
        "sAMLAssertionID",
        "policyArn",
        "serialNumber",
        "mFA",
    ]
    assert java_date(datetime(2019, 10, 2, 23, 12, 29, tzinfo=UTC)) == "Oct 2, 2019, 11:12:29 PM"
    assert java_date(datetime(2020, 1, 31, 0, 5, 9, tzinfo=UTC)) == "Jan 31, 2020, 12:05:09 AM"
    assert java_date(datetime(2020, 6, 1, 12, 0, 0, tzinfo=UTC)) == "Jun 1, 2020, 12:00:00 PM"
    assert (
        java_date(datetime(2020, 6, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=3))))
        == "May 31, 2020, 10:00:00 PM"
    )
    assert event_source("iam") == "iam.amazonaws.com"
    assert event_source("cloudtrail") == "cloudtrail.amazonaws.com"
    assert event_source("accessanalyzer") == "access-analyzer.amazonaws.com"
    assert resource_type(f"arn:aws:iam::{ACCOUNT}:policy/team/ReadOnly") == "AWS::IAM::Policy"
    assert resource_type(f"arn:aws:iam::{ACCOUNT}:oidc-provider/example.com") == "AWS::IAM::OIDCProvider"
    assert resource_type(f"arn:aws:iam::{ACCOUNT}:root") is None
    assert resource_type("not-an-arn") is None


def test_unknown_members_are_not_logged_and_given_resources_come_first() -> None:
    record = build_record(
        call(
            "iam",
            "AttachUserPolicy",
            parameters={
                "UserName": "bob",
                "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
                "Extra": "x",
            },
            resources=(ResourceRef("AWS::IAM::User", f"arn:aws:iam::{ACCOUNT}:user/bob", ACCOUNT),),
            from_console=True,
        )
    )
    assert record["requestParameters"] == {
        "userName": "bob",
        "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
    }
    assert record["resources"] == [
        {"accountId": ACCOUNT, "type": "AWS::IAM::User", "ARN": f"arn:aws:iam::{ACCOUNT}:user/bob"},
        {"type": "AWS::IAM::Policy", "ARN": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
    ]
    assert record["sessionCredentialFromConsole"] == "true"


def test_cloudtrail_lookup_events_is_logged_too() -> None:
    record = build_record(
        call(
            "cloudtrail",
            "LookupEvents",
            read_only=True,
            parameters={
                "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}],
                "StartTime": WHEN,
                "MaxResults": 5,
            },
        )
    )
    assert record["eventSource"] == "cloudtrail.amazonaws.com"
    assert record["awsRegion"] == "eu-west-1"
    assert record["requestParameters"] == {
        "lookupAttributes": [{"attributeKey": "EventName", "attributeValue": "CreateUser"}],
        "startTime": "Oct 2, 2019, 11:12:29 PM",
        "maxResults": 5,
    }


def test_unknown_operation_logs_no_elements_and_event_ids_differ() -> None:
    first = build_record(call("iam", "NoSuchOperation", parameters={"Password": "x"}))
    second = build_record(call("iam", "NoSuchOperation", parameters={"Password": "x"}))
    assert first["requestParameters"] is None
    assert first["eventID"] != second["eventID"]
    fixed = build_record(call("iam", "ListUsers", event_id="e-1"))
    assert fixed["eventID"] == "e-1"


def test_event_ids_are_uuids_that_sort_by_time() -> None:
    """Version 7 layout: a later millisecond sorts later, whatever the random bits; unique."""
    from ironkeep.audit.records import new_event_id

    times = [0, 1_000_000, 1_700_000_000_000_000_000, 1_700_000_000_001_000_000, (2**48 - 1) * 1_000_000]
    ids = [new_event_id(t) for t in times]
    assert ids == sorted(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert ids[2][:13] == "018bcfe5-6800"  # 1,700,000,000,000 ms in the first 48 bits
    assert len({new_event_id() for _ in range(10_000)}) == 10_000


@given(
    when=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
    )
)
def test_an_event_id_tells_its_events_second(when: datetime) -> None:
    """``event_id_at`` puts the event's own millisecond in the id, and ``event_id_second`` reads
    back the second: a look-up by EventId finds a run's records in that second's rows."""
    from ironkeep.audit.records import event_id_at, event_id_second

    event_id = event_id_at(when)
    assert uuid.UUID(event_id).version == 7
    assert event_id_second(event_id) == when.replace(microsecond=0)
    record = build_record(call("iam", "GetUser", time=when))
    assert event_id_second(record["eventID"]) == when.replace(microsecond=0)


def test_only_ids_the_trail_makes_tell_a_second() -> None:
    from ironkeep.audit.records import event_id_at, event_id_second

    made = event_id_at(datetime(2026, 11, 30, 1, 2, 3, 999_999, tzinfo=UTC))
    assert event_id_second(made) == datetime(2026, 11, 30, 1, 2, 3, tzinfo=UTC)
    for other in (str(uuid.UUID(int=7, version=4)), made.upper(), made[:-1], made + "0", "", "e-1"):
        assert event_id_second(other) is None


@given(
    value=st.text(),
    operation=st.sampled_from(["GetUser", "CreateUser", "TagUser", "NoSuchOperation"]),
    failed=st.booleans(),
)
def test_a_records_event_id_is_read_from_its_text(value: str, operation: str, failed: bool) -> None:
    """``record_event_id`` finds a record's own ``eventID`` in its text, whatever the parameters
    (even text shaped like an ``eventID`` member) and whether or not the call failed."""
    import orjson

    from ironkeep.audit.lookup import record_event_id

    parameters = {"UserName": value, "Tags": [{"Key": f'"eventID":"{value}"', "Value": value}]}
    fields: dict[str, Any] = {"parameters": parameters, "output": {"User": {"UserName": value}}}
    if failed:
        fields.update(error_code="NoSuchEntity", error_message=f'"eventID":"{value}"')
    record = build_record(call("iam", operation, **fields))
    assert record_event_id(orjson.dumps(record).decode()) == record["eventID"]
