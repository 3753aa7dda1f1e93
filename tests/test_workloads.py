"""Workload credentials: an unmodified boto3 given only the EC2 or container variables gets the
role's credentials from Ironkeep, calls Ironkeep as the role, and refreshes them before expiry."""

import json
import os
import subprocess
import sys
import textwrap
import uuid

import pytest

from conftest import BACKENDS
from serverproc import drop_schema, pg_available, start_server

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


@pytest.fixture(scope="module", params=BACKENDS)
def wl_server(request, tmp_path_factory):
    if request.param == "postgresql" and not pg_available():
        pytest.fail("PostgreSQL is not reachable")
    # 900-second credentials: boto3 refreshes anything that expires within 15 minutes
    srv, schema = start_server(
        tmp_path_factory.mktemp("wl"),
        request.param,
        extra_env={"IRONKEEP_WORKLOAD_CREDENTIAL_SECONDS": "900"},
    )
    yield srv
    srv.stop()
    if schema:
        drop_schema(schema)


def _register(server, *args):
    result = server.ironkeep("workloads", "register", "--endpoint", server.endpoint, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _run_boto3_as_workload(env_vars):
    """A fresh process with nothing but the provider's variables: boto3 must find the credentials."""
    script = textwrap.dedent(
        """
        import boto3, json
        from botocore.exceptions import ClientError
        session = boto3.Session(region_name="us-east-1")
        first = session.get_credentials().get_frozen_credentials().access_key
        iam = session.client("iam", endpoint_url=ENDPOINT)
        try:
            iam.list_users()
            outcome = "allowed"
        except ClientError as error:
            outcome = error.response["Error"]["Code"] + ": " + error.response["Error"]["Message"]
        second = session.get_credentials().get_frozen_credentials().access_key
        print(json.dumps({"first": first, "second": second, "outcome": outcome}))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(env_vars)
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    endpoint = env_vars.pop("_ENDPOINT")
    env.pop("_ENDPOINT", None)
    result = subprocess.run(
        [sys.executable, "-c", script.replace("ENDPOINT", repr(endpoint))],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("provider", ["ec2", "container"])
def test_boto3_gets_role_credentials_and_refreshes_them(wl_server, provider):
    iam = wl_server.client("iam")
    role = f"wl-{uuid.uuid4().hex[:8]}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    name = f"app-{uuid.uuid4().hex[:8]}"
    reg = _register(wl_server, "--name", name, "--role", role)
    assert reg["RoleArn"].endswith(f":role/{role}")
    env_vars = dict(reg["Environment"][provider])
    env_vars["_ENDPOINT"] = wl_server.endpoint
    out = _run_boto3_as_workload(env_vars)
    assert out["first"].startswith("ASIA")
    # the role has no policy: the call is made as the role session, and denied by the engine
    assert out["outcome"].startswith("AccessDenied: User: arn:aws:sts::123456789012:assumed-role/")
    assert f"assumed-role/{role}/{name} is not authorized to perform: iam:ListUsers" in out["outcome"]
    assert out["second"].startswith("ASIA")
    if provider == "container":
        # 900-second credentials are inside boto3's 15-minute refresh window: each use fetches new
        # ones. (For IMDS credentials botocore first stretches a near expiry by 12 to 20 minutes,
        # its "static stability" rule, so the refresh cannot be seen within one test.)
        assert out["second"] != out["first"]


def test_workload_through_an_instance_profile_and_revocation(wl_server):
    iam = wl_server.client("iam")
    role, profile = f"wlp-{uuid.uuid4().hex[:8]}", f"prof-{uuid.uuid4().hex[:8]}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    iam.create_instance_profile(InstanceProfileName=profile)
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    name = f"vm-{uuid.uuid4().hex[:8]}"
    reg = _register(wl_server, "--name", name, "--instance-profile", profile)
    assert reg["InstanceProfileArn"].endswith(f":instance-profile/{profile}")

    import urllib.error
    import urllib.request

    def container_get(token):
        request = urllib.request.Request(
            f"{wl_server.endpoint}/workloads/credentials", headers={"Authorization": token}
        )
        return urllib.request.urlopen(request, timeout=10)

    body = json.loads(container_get(reg["Token"]).read())
    assert body["AccessKeyId"].startswith("ASIA") and body["RoleArn"] == reg["RoleArn"]

    listed = json.loads(wl_server.ironkeep("workloads", "list").stdout)["Workloads"]
    assert any(w["name"] == name and w["revoked"] is None for w in listed)

    revoked = wl_server.ironkeep("workloads", "revoke", "--name", name)
    assert revoked.returncode == 0, revoked.stderr
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        container_get(reg["Token"])
    assert excinfo.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        container_get("ikw_not-a-token")
    assert excinfo.value.code == 401


def test_imds_requires_its_session_token(wl_server):
    import urllib.error
    import urllib.request

    iam = wl_server.client("iam")
    role = f"wli-{uuid.uuid4().hex[:8]}"
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    reg = _register(wl_server, "--name", f"imds-{uuid.uuid4().hex[:8]}", "--role", role)
    base = reg["Environment"]["ec2"]["AWS_EC2_METADATA_SERVICE_ENDPOINT"]
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(base + "latest/meta-data/iam/security-credentials/", timeout=10)
    assert excinfo.value.code == 401
    put = urllib.request.Request(
        base + "latest/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
    )
    token = urllib.request.urlopen(put, timeout=10).read().decode()
    listed = urllib.request.Request(
        base + "latest/meta-data/iam/security-credentials/", headers={"X-aws-ec2-metadata-token": token}
    )
    assert urllib.request.urlopen(listed, timeout=10).read().decode() == role
    creds_req = urllib.request.Request(
        base + f"latest/meta-data/iam/security-credentials/{role}",
        headers={"X-aws-ec2-metadata-token": token},
    )
    creds = json.loads(urllib.request.urlopen(creds_req, timeout=10).read())
    assert (
        creds["Code"] == "Success" and creds["Type"] == "AWS-HMAC" and creds["AccessKeyId"].startswith("ASIA")
    )
