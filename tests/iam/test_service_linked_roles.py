"""Service-linked roles through boto3 and the AWS CLI against the real server.

Service-linked role names are fixed by their service, and the server is shared by every test file
of a run: each test that creates one deletes it again, and uses a service no other test uses.
"""

import json
import re
import uuid

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from iam_helpers import error_of as error
from ironkeep.errors import AWSError
from ironkeep.model import aws_policies
from ironkeep.model.names import is_valid_name
from ironkeep.services.iam_service_linked_roles import KNOWN_SERVICES, linked_service, role_name_for

TASK_ID = re.compile(r"^task/aws-service-role/(?P<service>[^/]+)/(?P<role>[^/]+)/[0-9a-f-]{36}$")


def test_create_service_linked_role_shape(iam, server):
    role = iam.create_service_linked_role(
        AWSServiceName="elasticbeanstalk.amazonaws.com", Description="for beanstalk"
    )["Role"]
    try:
        assert role["RoleName"] == "AWSServiceRoleForElasticBeanstalk"
        assert role["Path"] == "/aws-service-role/elasticbeanstalk.amazonaws.com/"
        assert role["Arn"] == (
            f"arn:aws:iam::{server.account_id}:role/aws-service-role/"
            "elasticbeanstalk.amazonaws.com/AWSServiceRoleForElasticBeanstalk"
        )
        assert role["RoleId"].startswith("AROA")
        assert role["Description"] == "for beanstalk"
        assert role["AssumeRolePolicyDocument"] == {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "elasticbeanstalk.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        fetched = iam.get_role(RoleName="AWSServiceRoleForElasticBeanstalk")["Role"]
        assert fetched["RoleId"] == role["RoleId"]
        with pytest.raises(ClientError) as excinfo:
            iam.create_service_linked_role(AWSServiceName="elasticbeanstalk.amazonaws.com")
        assert error(excinfo) == (
            "InvalidInput",
            "Service role name AWSServiceRoleForElasticBeanstalk has been taken in this account, "
            "please try a different suffix.",
        )
    finally:
        iam.delete_service_linked_role(RoleName="AWSServiceRoleForElasticBeanstalk")


def test_custom_suffix(iam):
    suffix = uuid.uuid4().hex[:8]
    role = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com", CustomSuffix=suffix)[
        "Role"
    ]
    try:
        assert role["RoleName"] == f"AWSServiceRoleForAutoScaling_{suffix}"
        assert role["Path"] == "/aws-service-role/autoscaling.amazonaws.com/"
    finally:
        iam.delete_service_linked_role(RoleName=role["RoleName"])
    with pytest.raises(ClientError) as excinfo:
        iam.create_service_linked_role(AWSServiceName="es.amazonaws.com", CustomSuffix="x")
    assert error(excinfo) == ("InvalidInput", "Custom suffix is not allowed for es.amazonaws.com")


def test_not_a_service_principal_is_invalid_input(iam):
    with pytest.raises(ClientError) as excinfo:
        iam.create_service_linked_role(AWSServiceName="not-a-service")
    assert error(excinfo)[0] == "InvalidInput"


def test_service_linked_role_is_protected(iam):
    iam.create_service_linked_role(AWSServiceName="trustedadvisor.amazonaws.com")
    name = "AWSServiceRoleForTrustedAdvisor"
    message = (
        f"Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS"
    )
    try:
        for call, kwargs in (
            (iam.delete_role, {}),
            (iam.update_assume_role_policy, {"PolicyDocument": json.dumps({"Version": "2012-10-17"})}),
            (iam.update_role, {"MaxSessionDuration": 7200}),
        ):
            with pytest.raises(ClientError) as excinfo:
                call(RoleName=name, **kwargs)
            assert error(excinfo) == ("UnmodifiableEntity", message)
        profile = f"slr-{uuid.uuid4().hex[:8]}"
        iam.create_instance_profile(InstanceProfileName=profile)
        with pytest.raises(ClientError) as excinfo:
            iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=name)
        assert error(excinfo)[0] == "UnmodifiableEntity"
        # the description stays the customer's to edit
        assert iam.update_role_description(RoleName=name, Description="mine")["Role"]["Description"] == "mine"
    finally:
        iam.delete_service_linked_role(RoleName=name)


def test_service_linked_role_carries_the_services_policy(iam):
    iam.create_service_linked_role(AWSServiceName="spotfleet.amazonaws.com")
    name = "AWSServiceRoleForEC2SpotFleet"
    try:
        attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        assert [p["PolicyArn"] for p in attached] == [
            "arn:aws:iam::aws:policy/aws-service-role/AWSEC2SpotFleetServiceRolePolicy"
        ]
    finally:
        iam.delete_service_linked_role(RoleName=name)


def test_delete_service_linked_role_and_deletion_status(iam):
    role = iam.create_service_linked_role(AWSServiceName="ssm.amazonaws.com")["Role"]
    task_id = iam.delete_service_linked_role(RoleName=role["RoleName"])["DeletionTaskId"]
    match = TASK_ID.match(task_id)
    assert match and match["service"] == "ssm.amazonaws.com" and match["role"] == "AWSServiceRoleForAmazonSSM"
    status = iam.get_service_linked_role_deletion_status(DeletionTaskId=task_id)
    assert status["Status"] == "SUCCEEDED" and "Reason" not in status
    with pytest.raises(ClientError) as excinfo:
        iam.get_role(RoleName=role["RoleName"])
    assert error(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.delete_service_linked_role(RoleName=role["RoleName"])
    assert error(excinfo)[0] == "NoSuchEntity"


def test_delete_service_linked_role_refuses_ordinary_roles(iam):
    name = f"plain-{uuid.uuid4().hex[:8]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    with pytest.raises(ClientError) as excinfo:
        iam.delete_service_linked_role(RoleName=name)
    assert error(excinfo)[0] == "NoSuchEntity"
    iam.get_role(RoleName=name)  # still there


def test_deletion_status_of_unknown_or_malformed_tasks(iam):
    unknown = f"task/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM/{uuid.uuid4()}"
    with pytest.raises(ClientError) as excinfo:
        iam.get_service_linked_role_deletion_status(DeletionTaskId=unknown)
    assert error(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.get_service_linked_role_deletion_status(DeletionTaskId="nonsense")
    assert error(excinfo)[0] == "InvalidInput"


def test_aws_cli_service_linked_role(server):
    result = server.aws("iam", "create-service-linked-role", "--aws-service-name", "guardduty.amazonaws.com")
    assert result.returncode == 0, result.stderr
    role = json.loads(result.stdout)["Role"]
    assert role["RoleName"] == "AWSServiceRoleForAmazonGuardDuty"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "guardduty.amazonaws.com"
    }
    result = server.aws("iam", "delete-service-linked-role", "--role-name", role["RoleName"])
    assert result.returncode == 0, result.stderr
    task_id = json.loads(result.stdout)["DeletionTaskId"]
    result = server.aws("iam", "get-service-linked-role-deletion-status", "--deletion-task-id", task_id)
    assert json.loads(result.stdout)["Status"] == "SUCCEEDED"


def test_every_known_service_names_an_existing_aws_managed_policy():
    for service, linked in KNOWN_SERVICES.items():
        assert linked.role_name.startswith("AWSServiceRoleFor"), service
        assert aws_policies.get(f"arn:aws:iam::aws:policy/aws-service-role/{linked.policy}") is not None, (
            service
        )


def test_names_for_services_not_in_the_table():
    assert linked_service("my-new-svc.amazonaws.com").role_name == "AWSServiceRoleForMyNewSvc"
    assert role_name_for("ecs.amazonaws.com", None) == "AWSServiceRoleForECS"
    assert role_name_for("autoscaling.amazonaws.com", "x1") == "AWSServiceRoleForAutoScaling_x1"


@given(
    service=st.from_regex(re.compile(r"[\w+=,.@-]{1,128}", re.ASCII), fullmatch=True)
    | st.from_regex(r"[a-z0-9-]{1,120}\.amazonaws\.com", fullmatch=True),
    suffix=st.none() | st.from_regex(re.compile(r"[\w+=,.@-]{1,64}", re.ASCII), fullmatch=True),
)
def test_any_service_name_gives_a_valid_role_name_or_invalid_input(service, suffix):
    """AWSServiceName and CustomSuffix as the model's (Java, ASCII) patterns let them through: a role name IAM accepts,
    or InvalidInput; never a name the store cannot hold."""
    try:
        name = role_name_for(service, suffix)
    except AWSError as exc:
        assert exc.code == "InvalidInput"
    else:
        assert is_valid_name(name, 64) and name.startswith("AWSServiceRoleFor")
