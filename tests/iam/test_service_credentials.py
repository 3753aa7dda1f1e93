"""Service-specific credentials through boto3 and the AWS CLI against the real server, on SQLite
and PostgreSQL (Git credentials, Keyspaces passwords, Bedrock API keys), and on the handlers for
what needs another clock (API keys that expire) or a look at the stored row (the sealed secret)."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select

from iam.test_credential_report import _root_context
from iam.test_server_certificates import RawBodies
from iam.test_ssh_keys import error_of, own_client, unique
from ironkeep.auth.errors import SealedSecretError
from ironkeep.services import iam_service_credentials as ssc
from ironkeep.store import schema
from ironkeep.store import users as store_users

CODECOMMIT = "codecommit.amazonaws.com"
BEDROCK = "bedrock.amazonaws.com"


@pytest.fixture()
def user(iam) -> str:
    name = unique("gituser")
    iam.create_user(UserName=name)
    return name


def test_git_credentials_shape_names_and_quota(server, iam, user) -> None:
    first = iam.create_service_specific_credential(UserName=user, ServiceName=CODECOMMIT)[
        "ServiceSpecificCredential"
    ]
    assert re.fullmatch(r"ACCA[A-Z2-7]{17}", first["ServiceSpecificCredentialId"])
    assert first["UserName"] == user
    assert first["ServiceName"] == CODECOMMIT
    assert first["ServiceUserName"] == f"{user}-at-{server.account_id}"
    assert len(base64.b64decode(first["ServicePassword"], validate=True)) == 32
    assert first["Status"] == "Active"
    assert first["CreateDate"].tzinfo is not None
    assert not {"ExpirationDate", "ServiceCredentialAlias", "ServiceCredentialSecret"} & set(first)
    second = iam.create_service_specific_credential(UserName=user, ServiceName=CODECOMMIT)[
        "ServiceSpecificCredential"
    ]
    assert second["ServiceUserName"] == f"{user}+1-at-{server.account_id}"
    assert second["ServicePassword"] != first["ServicePassword"]
    with pytest.raises(ClientError) as excinfo:
        iam.create_service_specific_credential(UserName=user, ServiceName=CODECOMMIT)
    assert error_of(excinfo) == (
        "LimitExceeded",
        "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: 2",
    )
    # the quota is per service
    iam.create_service_specific_credential(UserName=user, ServiceName="cassandra.amazonaws.com")


def test_bedrock_api_key_with_an_expiration(server, iam, user) -> None:
    made = iam.create_service_specific_credential(UserName=user, ServiceName=BEDROCK, CredentialAgeDays=30)[
        "ServiceSpecificCredential"
    ]
    assert made["ServiceCredentialAlias"] == f"{user}-at-{server.account_id}"
    assert made["ServiceCredentialSecret"].startswith("ABSK")
    decoded = base64.b64decode(made["ServiceCredentialSecret"][4:]).decode()
    assert decoded.startswith(made["ServiceCredentialAlias"] + ":")
    assert made["ExpirationDate"] - made["CreateDate"] == timedelta(days=30)
    assert "ServicePassword" not in made and "ServiceUserName" not in made
    listed = iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]
    assert listed[0]["ExpirationDate"] == made["ExpirationDate"]
    assert listed[0]["ServiceCredentialAlias"] == made["ServiceCredentialAlias"]
    assert listed[0]["Status"] == "Active"
    forever = iam.create_service_specific_credential(UserName=user, ServiceName=BEDROCK)[
        "ServiceSpecificCredential"
    ]
    assert "ExpirationDate" not in forever


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"ServiceName": "s3.amazonaws.com"}, "NotSupportedService"),
        ({"ServiceName": CODECOMMIT, "CredentialAgeDays": 5}, "InvalidInput"),
    ],
    ids=["unsupported", "age-for-git"],
)
def test_create_errors(iam, user, params: dict, code: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        iam.create_service_specific_credential(UserName=user, **params)
    assert error_of(excinfo)[0] == code
    assert iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"] == []


def test_create_for_a_missing_user(iam) -> None:
    missing = unique("nobody")
    with pytest.raises(ClientError) as excinfo:
        iam.create_service_specific_credential(UserName=missing, ServiceName=CODECOMMIT)
    assert error_of(excinfo) == ("NoSuchEntity", f"The user with name {missing} cannot be found.")


def test_list_never_shows_a_password_or_secret(iam, user) -> None:
    git = iam.create_service_specific_credential(UserName=user, ServiceName=CODECOMMIT)[
        "ServiceSpecificCredential"
    ]
    key = iam.create_service_specific_credential(UserName=user, ServiceName=BEDROCK)[
        "ServiceSpecificCredential"
    ]
    raw = RawBodies(iam)
    listed = iam.list_service_specific_credentials(UserName=user)["ServiceSpecificCredentials"]
    assert [c["ServiceSpecificCredentialId"] for c in listed] == [
        git["ServiceSpecificCredentialId"],
        key["ServiceSpecificCredentialId"],
    ]
    assert set(listed[0]) == {
        "UserName",
        "Status",
        "ServiceUserName",
        "CreateDate",
        "ServiceSpecificCredentialId",
        "ServiceName",
    }
    assert git["ServicePassword"] not in raw.bodies[0]
    assert key["ServiceCredentialSecret"] not in raw.bodies[0]
    assert "ServicePassword" not in raw.bodies[0] and "ServiceCredentialSecret" not in raw.bodies[0]


def test_list_filters_pages_and_all_users(server, iam, user) -> None:
    iam.create_service_specific_credential(UserName=user, ServiceName=CODECOMMIT)
    iam.create_service_specific_credential(UserName=user, ServiceName=BEDROCK)
    by_service = iam.list_service_specific_credentials(UserName=user, ServiceName=BEDROCK)
    assert [c["ServiceName"] for c in by_service["ServiceSpecificCredentials"]] == [BEDROCK]
    page = iam.list_service_specific_credentials(UserName=user, MaxItems=1)
    assert page["IsTruncated"] is True
    rest = iam.list_service_specific_credentials(UserName=user, Marker=page["Marker"])
    assert [
        c["ServiceName"] for c in page["ServiceSpecificCredentials"] + rest["ServiceSpecificCredentials"]
    ] == [
        CODECOMMIT,
        BEDROCK,
    ]
    other = unique("gituser")
    iam.create_user(UserName=other)
    iam.create_service_specific_credential(UserName=other, ServiceName=BEDROCK)
    everyone = iam.list_service_specific_credentials(AllUsers=True, ServiceName=BEDROCK, MaxItems=1000)
    owners = {c["UserName"] for c in everyone["ServiceSpecificCredentials"]}
    assert {user, other} <= owners
    assert {c["ServiceName"] for c in everyone["ServiceSpecificCredentials"]} == {BEDROCK}
    with pytest.raises(ClientError) as excinfo:
        iam.list_service_specific_credentials(UserName=user, AllUsers=True)
    assert error_of(excinfo)[0] == "InvalidInput"
    with pytest.raises(ClientError) as excinfo:
        iam.list_service_specific_credentials(UserName=user, ServiceName="ec2.amazonaws.com")
    assert error_of(excinfo)[0] == "NotSupportedService"


def test_a_user_manages_its_own_without_user_name(server, iam) -> None:
    actions = [
        "iam:CreateServiceSpecificCredential",
        "iam:ListServiceSpecificCredentials",
        "iam:ResetServiceSpecificCredential",
        "iam:UpdateServiceSpecificCredential",
        "iam:DeleteServiceSpecificCredential",
    ]
    name, client = own_client(server, iam, actions)
    made = client.create_service_specific_credential(UserName=name, ServiceName=CODECOMMIT)[
        "ServiceSpecificCredential"
    ]
    cred_id = made["ServiceSpecificCredentialId"]
    assert [
        c["ServiceSpecificCredentialId"]
        for c in client.list_service_specific_credentials()["ServiceSpecificCredentials"]
    ] == [cred_id]
    reset = client.reset_service_specific_credential(ServiceSpecificCredentialId=cred_id)[
        "ServiceSpecificCredential"
    ]
    assert reset["ServicePassword"] != made["ServicePassword"]
    assert {k: v for k, v in reset.items() if k != "ServicePassword"} == {
        k: v for k, v in made.items() if k != "ServicePassword"
    }
    client.update_service_specific_credential(ServiceSpecificCredentialId=cred_id, Status="Inactive")
    assert client.list_service_specific_credentials()["ServiceSpecificCredentials"][0]["Status"] == "Inactive"
    client.delete_service_specific_credential(ServiceSpecificCredentialId=cred_id)
    assert client.list_service_specific_credentials()["ServiceSpecificCredentials"] == []
    with pytest.raises(ClientError) as excinfo:  # root is no IAM user: it must name one
        iam.list_service_specific_credentials()
    assert error_of(excinfo)[0] == "InvalidInput"


def test_reset_update_delete_errors_and_delete_user_conflict(iam, user) -> None:
    made = iam.create_service_specific_credential(UserName=user, ServiceName=BEDROCK)[
        "ServiceSpecificCredential"
    ]
    cred_id = made["ServiceSpecificCredentialId"]
    reset = iam.reset_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cred_id)
    secret = reset["ServiceSpecificCredential"]["ServiceCredentialSecret"]
    assert secret.startswith("ABSK") and secret != made["ServiceCredentialSecret"]
    with pytest.raises(ClientError) as excinfo:
        iam.update_service_specific_credential(
            UserName=user, ServiceSpecificCredentialId=cred_id, Status="Expired"
        )
    assert error_of(excinfo)[0] == "InvalidInput"
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName=user)
    assert error_of(excinfo) == (
        "DeleteConflict",
        "Cannot delete entity, must delete service-specific credentials first.",
    )
    iam.delete_service_specific_credential(UserName=user, ServiceSpecificCredentialId=cred_id)
    missing = "ACCAAAAAAAAAAAAAAAAAA"
    for call, extra in (
        (iam.reset_service_specific_credential, {}),
        (iam.update_service_specific_credential, {"Status": "Active"}),
        (iam.delete_service_specific_credential, {}),
    ):
        for cred in (cred_id, missing):
            with pytest.raises(ClientError) as excinfo:
                call(UserName=user, ServiceSpecificCredentialId=cred, **extra)
            assert error_of(excinfo) == (
                "NoSuchEntity",
                f"The Service Specific Credential with id {cred} cannot be found.",
            )
    iam.delete_user(UserName=user)


def test_through_the_aws_cli(server, iam, user) -> None:
    result = server.aws(
        "iam", "create-service-specific-credential", "--user-name", user, "--service-name", CODECOMMIT
    )
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)["ServiceSpecificCredential"]
    assert made["ServiceUserName"] == f"{user}-at-{server.account_id}"
    result = server.aws("iam", "list-service-specific-credentials", "--user-name", user)
    assert result.returncode == 0, result.stderr
    assert made["ServicePassword"] not in result.stdout
    listed = json.loads(result.stdout)["ServiceSpecificCredentials"]
    assert [c["ServiceSpecificCredentialId"] for c in listed] == [made["ServiceSpecificCredentialId"]]


# ---------------------------------------------------------------------------------------------
# on the handlers


T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_an_api_key_reads_expired_after_its_age(store, account) -> None:
    with store.transaction() as tx:
        store_users.create(tx, account, "erin", "/", "AIDA00000000000000001", T0)
        made = ssc.create_service_specific_credential(
            _root_context(tx, account, T0),
            {"UserName": "erin", "ServiceName": BEDROCK, "CredentialAgeDays": 1},
        )["ServiceSpecificCredential"]
    assert made["ExpirationDate"] == T0 + timedelta(days=1)
    for now, status in ((T0 + timedelta(hours=23), "Active"), (T0 + timedelta(days=1, seconds=1), "Expired")):
        with store.transaction() as tx:
            listed = ssc.list_service_specific_credentials(
                _root_context(tx, account, now), {"UserName": "erin"}
            )
        assert [c["Status"] for c in listed["ServiceSpecificCredentials"]] == [status]
    with store.transaction() as tx:
        ssc.delete_service_specific_credential(
            _root_context(tx, account, T0),
            {"UserName": "erin", "ServiceSpecificCredentialId": made["ServiceSpecificCredentialId"]},
        )
        assert (
            tx.execute(
                select(schema.tags).where(schema.tags.c.resource_id == made["ServiceSpecificCredentialId"])
            ).all()
            == []
        )


def test_the_stored_password_is_sealed_to_its_credential(store, account) -> None:
    with store.transaction() as tx:
        store_users.create(tx, account, "frank", "/", "AIDA00000000000000002", T0)
        ctx = _root_context(tx, account, T0)
        box = ctx.services.box
        made = ssc.create_service_specific_credential(ctx, {"UserName": "frank", "ServiceName": CODECOMMIT})[
            "ServiceSpecificCredential"
        ]
        row = tx.execute(select(schema.service_specific_credentials)).one()
    sealed = bytes(row.password_sealed)
    assert made["ServicePassword"].encode() not in sealed
    assert box.open(sealed, aad=ssc.secret_aad(row.id)).decode() == made["ServicePassword"]
    with pytest.raises(SealedSecretError):
        box.open(sealed, aad=ssc.secret_aad("ACCAOTHERCREDENTIAL00"))
