"""Service last accessed data: GenerateServiceLastAccessedDetails, GetServiceLastAccessedDetails and
GetServiceLastAccessedDetailsWithEntities, from the policies and the audit trail."""

import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from iam_helpers import unique


def policy(*actions: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}],
        }
    )


def make_user(server, iam, **kwargs):
    name = unique("la-user")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = server.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    return name, arn, client, key


def report(iam, arn, granularity="SERVICE_LEVEL"):
    job = iam.generate_service_last_accessed_details(Arn=arn, Granularity=granularity)["JobId"]
    assert len(job) == 36
    return job, iam.get_service_last_accessed_details(JobId=job)


def by_namespace(details):
    return {s["ServiceNamespace"]: s for s in details["ServicesLastAccessed"]}


def test_a_users_call_shows_as_its_last_access_of_iam(server, iam):
    name, arn, client, _ = make_user(server, iam)
    iam.put_user_policy(
        UserName=name, PolicyName="p", PolicyDocument=policy("iam:ListUsers", "sts:GetCallerIdentity")
    )
    before = time.time()
    client.list_users(MaxItems=1)
    job, details = report(iam, arn)
    assert details["JobStatus"] == "COMPLETED"
    assert details["JobType"] == "SERVICE_LEVEL"
    assert details["JobCompletionDate"] >= details["JobCreationDate"]
    services = by_namespace(details)
    assert set(services) == {"iam", "sts"}  # exactly what the policy allows
    used = services["iam"]
    assert used["ServiceName"] == "AWS Identity and Access Management (IAM)"
    assert used["LastAuthenticatedEntity"] == arn
    assert used["LastAuthenticated"].timestamp() >= int(before) - 1
    assert used["LastAuthenticatedRegion"] == "us-east-1"
    assert used["TotalAuthenticatedEntities"] == 1
    assert "TrackedActionsLastAccessed" not in used
    unused = services["sts"]  # allowed, never called
    assert "LastAuthenticated" not in unused and unused["TotalAuthenticatedEntities"] == 0
    entities = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="iam")
    assert entities["JobStatus"] == "COMPLETED"
    [entry] = entities["EntityDetailsList"]
    assert entry["EntityInfo"] == {
        "Arn": arn,
        "Name": name,
        "Type": "USER",
        "Id": entry["EntityInfo"]["Id"],
        "Path": "/",
    }
    assert entry["EntityInfo"]["Id"].startswith("AIDA")
    assert entry["LastAuthenticated"] == used["LastAuthenticated"]


def test_the_region_of_the_newest_call(server, iam):
    import boto3

    name, arn, _, key = make_user(server, iam)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy("sts:GetCallerIdentity"))
    sts = boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name="eu-west-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    sts.get_caller_identity()
    _, details = report(iam, arn)
    used = by_namespace(details)["sts"]
    assert used["LastAuthenticatedEntity"] == arn
    assert used["LastAuthenticatedRegion"] == "eu-west-1"


def test_action_level_tracks_the_actions_called(server, iam):
    name, arn, client, _ = make_user(server, iam)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy("iam:ListUsers", "iam:GetUser"))
    client.list_users(MaxItems=1)
    with pytest.raises(ClientError):  # a denied attempt is an access too, as in AWS
        client.list_roles()
    _, details = report(iam, arn, "ACTION_LEVEL")
    assert details["JobType"] == "ACTION_LEVEL"
    tracked = {a["ActionName"]: a for a in by_namespace(details)["iam"]["TrackedActionsLastAccessed"]}
    assert set(tracked) == {"GetUser", "ListUsers"}
    assert tracked["ListUsers"]["LastAccessedEntity"] == arn
    assert tracked["ListUsers"]["LastAccessedRegion"] == "us-east-1"
    assert "LastAccessedTime" in tracked["ListUsers"]
    assert "LastAccessedTime" not in tracked["GetUser"]


def test_a_recreated_user_does_not_inherit_the_old_ones_activity(server, iam):
    name, arn, client, key = make_user(server, iam)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy("iam:ListUsers"))
    client.list_users(MaxItems=1)
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    iam.delete_user_policy(UserName=name, PolicyName="p")
    iam.delete_user(UserName=name)
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy("iam:ListUsers"))
    _, details = report(iam, arn)
    assert "LastAuthenticated" not in by_namespace(details)["iam"]


def test_wildcards_and_not_action_grant_whole_catalogue_services(server, iam):
    name = unique("la-wild")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"},
            {"Effect": "Allow", "Action": "ec2:DescribeInstances", "Resource": "*"},
            {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"},
        ],
    }
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(document))
    _, details = report(iam, arn)
    assert set(by_namespace(details)) == {"s3", "ec2"}
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(document))
    job, first = report(iam, arn)
    assert first["IsTruncated"] and len(first["ServicesLastAccessed"]) == 100
    namespaces = list(by_namespace(first))
    marker = first["Marker"]
    while marker:
        page = iam.get_service_last_accessed_details(JobId=job, Marker=marker, MaxItems=200)
        namespaces += [s["ServiceNamespace"] for s in page["ServicesLastAccessed"]]
        marker = page.get("Marker")
    assert "iam" not in namespaces and {"s3", "sts", "ec2"} <= set(namespaces)
    assert namespaces == sorted(namespaces) and len(namespaces) > 300


def test_a_roles_sessions_and_a_groups_members_count(server, iam):
    name, user_arn, _client, key = make_user(server, iam)
    role_name, group_name = unique("la-role"), unique("la-group")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}],
    }
    role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role_name, PolicyName="p", PolicyDocument=policy("iam:ListRoles"))
    iam.create_group(GroupName=group_name)
    iam.add_user_to_group(GroupName=group_name, UserName=name)
    managed = iam.create_policy(PolicyName=unique("la-pol"), PolicyDocument=policy("sts:AssumeRole"))[
        "Policy"
    ]["Arn"]
    iam.attach_group_policy(GroupName=group_name, PolicyArn=managed)
    time.sleep(0.2)
    sts = server.client("sts", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")["Credentials"]
    session = server.client(
        "iam", key=creds["AccessKeyId"], secret=creds["SecretAccessKey"], token=creds["SessionToken"]
    )
    session.list_roles(MaxItems=1)

    _, role_report = report(iam, role_arn)
    assert set(by_namespace(role_report)) == {"iam"}
    assert by_namespace(role_report)["iam"]["LastAuthenticatedEntity"] == role_arn

    job, group_report = report(iam, f"arn:aws:iam::{server.account_id}:group/{group_name}")
    assert set(by_namespace(group_report)) == {"sts"}
    assert by_namespace(group_report)["sts"]["LastAuthenticatedEntity"] == user_arn
    [member] = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="sts")[
        "EntityDetailsList"
    ]
    assert member["EntityInfo"]["Arn"] == user_arn and "LastAuthenticated" in member

    job, policy_report = report(iam, managed)
    assert by_namespace(policy_report)["sts"]["LastAuthenticatedEntity"] == user_arn
    # the user belongs to the group the policy is attached to; it never called iam through it
    [entry] = iam.get_service_last_accessed_details_with_entities(JobId=job, ServiceNamespace="iam")[
        "EntityDetailsList"
    ]
    assert entry["EntityInfo"]["Type"] == "USER" and "LastAuthenticated" not in entry


def test_errors(server, iam):
    account = server.account_id

    def code(call, **kwargs):
        with pytest.raises(ClientError) as excinfo:
            call(**kwargs)
        return excinfo.value.response["Error"]["Code"]

    generate = iam.generate_service_last_accessed_details
    assert code(generate, Arn=f"arn:aws:iam::{account}:user/{unique('nobody')}") == "NoSuchEntity"
    assert code(generate, Arn=f"arn:aws:iam::{account}:policy/{unique('nothing')}") == "NoSuchEntity"
    assert code(generate, Arn=f"arn:aws:s3:::bucket-{uuid.uuid4().hex}") == "InvalidInput"
    assert (
        code(generate, Arn=f"arn:aws:iam::{account}:instance-profile/x-{uuid.uuid4().hex}") == "InvalidInput"
    )
    missing = str(uuid.uuid4())
    assert code(iam.get_service_last_accessed_details, JobId=missing) == "NoSuchEntity"
    assert (
        code(iam.get_service_last_accessed_details_with_entities, JobId=missing, ServiceNamespace="iam")
        == "NoSuchEntity"
    )


def test_through_the_aws_cli(server, iam):
    name = unique("la-cli")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy("cloudtrail:LookupEvents"))
    out = server.aws("iam", "generate-service-last-accessed-details", "--arn", arn)
    assert out.returncode == 0, out.stderr
    job = json.loads(out.stdout)["JobId"]
    out = server.aws("iam", "get-service-last-accessed-details", "--job-id", job)
    assert out.returncode == 0, out.stderr
    [service] = json.loads(out.stdout)["ServicesLastAccessed"]
    assert service["ServiceNamespace"] == "cloudtrail"
