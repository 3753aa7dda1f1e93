"""IAM OpenID Connect providers through boto3 and the AWS CLI, on SQLite and PostgreSQL."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from iam_helpers import error_code

ACCOUNT = "123456789012"
THUMB = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"


def host() -> str:
    return f"idp-{uuid.uuid4().hex[:10]}.example.com"


def test_create_get_list_delete(iam):
    name = host()
    created = iam.create_open_id_connect_provider(
        Url=f"https://{name}/tenant/",
        ClientIDList=["client-a", "client-b", "client-a"],
        ThumbprintList=[THUMB.upper()],
        Tags=[{"Key": "team", "Value": "blue"}],
    )
    arn = created["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/{name}/tenant"
    assert created["Tags"] == [{"Key": "team", "Value": "blue"}]

    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == f"{name}/tenant"  # AWS returns the URL without its scheme
    assert got["ClientIDList"] == ["client-a", "client-b"]
    assert got["ThumbprintList"] == [THUMB]
    assert got["Tags"] == [{"Key": "team", "Value": "blue"}]
    assert got["CreateDate"].tzinfo is not None

    assert {"Arn": arn} in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]

    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with pytest.raises(ClientError) as excinfo:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert error_code(excinfo) == "NoSuchEntity"
    assert excinfo.value.response["Error"]["Message"] == f"OpenIDConnect Provider not found for arn {arn}"
    assert {"Arn": arn} not in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    with pytest.raises(ClientError) as excinfo:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert error_code(excinfo) == "NoSuchEntity"


def test_thumbprints_are_optional_and_url_is_unique(iam):
    name = host()
    arn = iam.create_open_id_connect_provider(Url=f"https://{name}")["OpenIDConnectProviderArn"]
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["ThumbprintList"] == [] and got["ClientIDList"] == []
    assert "Tags" not in got
    with pytest.raises(ClientError) as excinfo:
        iam.create_open_id_connect_provider(Url=f"https://{name.upper()}/")
    assert error_code(excinfo) == "EntityAlreadyExists"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example.com",  # not https (plain http only for loopback test IdPs, when enabled)
        "http://127.0.0.1:9000",  # not enabled on this server
        "https://idp.example.com/?a=1",
        "https://idp.example.com/#frag",
        "https://user@idp.example.com",
        "idp.example.com",
        "https://",
    ],
)
def test_bad_urls_are_invalid_input(iam, url):
    with pytest.raises(ClientError) as excinfo:
        iam.create_open_id_connect_provider(Url=url)
    assert error_code(excinfo) == "InvalidInput"


def test_thumbprints_must_be_hex(iam):
    with pytest.raises(ClientError) as excinfo:
        iam.create_open_id_connect_provider(Url=f"https://{host()}", ThumbprintList=["z" * 40])
    assert error_code(excinfo) == "InvalidInput"


def test_client_ids_add_and_remove(iam):
    arn = iam.create_open_id_connect_provider(Url=f"https://{host()}", ClientIDList=["one"])[
        "OpenIDConnectProviderArn"
    ]
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="two")
    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="two")  # no-op
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["one", "two"]
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="one")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="absent")
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["two"]
    missing = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host()}"
    for call in (
        iam.add_client_id_to_open_id_connect_provider,
        iam.remove_client_id_from_open_id_connect_provider,
    ):
        with pytest.raises(ClientError) as excinfo:
            call(OpenIDConnectProviderArn=missing, ClientID="x")
        assert error_code(excinfo) == "NoSuchEntity"


def test_client_id_quota(iam):
    ids = [f"c{i}" for i in range(100)]
    arn = iam.create_open_id_connect_provider(Url=f"https://{host()}", ClientIDList=ids)[
        "OpenIDConnectProviderArn"
    ]
    with pytest.raises(ClientError) as excinfo:
        iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="c100")
    assert error_code(excinfo) == "LimitExceeded"
    assert len(iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"]) == 100


def test_update_thumbprint(iam):
    arn = iam.create_open_id_connect_provider(Url=f"https://{host()}", ThumbprintList=[THUMB])[
        "OpenIDConnectProviderArn"
    ]
    new = ["a" * 40, "b" * 40]
    iam.update_open_id_connect_provider_thumbprint(OpenIDConnectProviderArn=arn, ThumbprintList=new)
    assert iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ThumbprintList"] == new
    with pytest.raises(ClientError) as excinfo:
        iam.update_open_id_connect_provider_thumbprint(
            OpenIDConnectProviderArn=arn, ThumbprintList=["g" * 40]
        )
    assert error_code(excinfo) == "InvalidInput"
    with pytest.raises(ClientError) as excinfo:
        iam.update_open_id_connect_provider_thumbprint(
            OpenIDConnectProviderArn=f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host()}", ThumbprintList=new
        )
    assert error_code(excinfo) == "NoSuchEntity"


def test_tags(iam):
    arn = iam.create_open_id_connect_provider(Url=f"https://{host()}")["OpenIDConnectProviderArn"]
    iam.tag_open_id_connect_provider(
        OpenIDConnectProviderArn=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "A", "Value": "1"}]
    )
    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "a", "Value": "one"}])
    listed = iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)
    assert listed["Tags"] == [{"Key": "a", "Value": "one"}, {"Key": "b", "Value": "2"}]
    assert listed["IsTruncated"] is False
    page = iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn, MaxItems=1)
    assert page["IsTruncated"] is True and page["Tags"] == [{"Key": "a", "Value": "one"}]
    rest = iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn, Marker=page["Marker"])
    assert rest["Tags"] == [{"Key": "b", "Value": "2"}]
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["A"])
    assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"] == [
        {"Key": "b", "Value": "2"}
    ]
    with pytest.raises(ClientError) as excinfo:
        iam.tag_open_id_connect_provider(
            OpenIDConnectProviderArn=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)]
        )
    assert error_code(excinfo) == "LimitExceeded"
    missing = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{host()}"
    for call, extra in (
        (iam.tag_open_id_connect_provider, {"Tags": [{"Key": "k", "Value": "v"}]}),
        (iam.untag_open_id_connect_provider, {"TagKeys": ["k"]}),
        (iam.list_open_id_connect_provider_tags, {}),
    ):
        with pytest.raises(ClientError) as excinfo:
            call(OpenIDConnectProviderArn=missing, **extra)
        assert error_code(excinfo) == "NoSuchEntity"


def test_deleted_provider_loses_its_tags(iam):
    url = f"https://{host()}"
    arn = iam.create_open_id_connect_provider(Url=url, Tags=[{"Key": "k", "Value": "v"}])[
        "OpenIDConnectProviderArn"
    ]
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    again = iam.create_open_id_connect_provider(Url=url)
    assert again["OpenIDConnectProviderArn"] == arn and "Tags" not in again


def test_aws_cli(server):
    name = host()
    created = server.aws(
        "iam", "create-open-id-connect-provider", "--url", f"https://{name}",
        "--client-id-list", "sts.amazonaws.com", "--thumbprint-list", THUMB,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    arn = json.loads(created.stdout)["OpenIDConnectProviderArn"]
    got = server.aws("iam", "get-open-id-connect-provider", "--open-id-connect-provider-arn", arn)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["ClientIDList"] == ["sts.amazonaws.com"]
    server.client("iam").delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)


def test_calls_are_authorized_against_the_provider_arn(server, iam):
    allowed = iam.create_open_id_connect_provider(Url=f"https://{host()}")["OpenIDConnectProviderArn"]
    other = iam.create_open_id_connect_provider(Url=f"https://{host()}")["OpenIDConnectProviderArn"]
    user = f"oidc-reader-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    statement = {"Effect": "Allow", "Action": "iam:GetOpenIDConnectProvider", "Resource": allowed}
    iam.put_user_policy(
        UserName=user,
        PolicyName="one-provider",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = server.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assert as_user.get_open_id_connect_provider(OpenIDConnectProviderArn=allowed)["ClientIDList"] == []
    with pytest.raises(ClientError) as excinfo:
        as_user.get_open_id_connect_provider(OpenIDConnectProviderArn=other)
    assert error_code(excinfo) == "AccessDenied"
    assert f"iam:GetOpenIDConnectProvider on resource: {other}" in excinfo.value.response["Error"]["Message"]
