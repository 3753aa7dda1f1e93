"""IAM's Organizations operations answered for an account outside any organization (Ironkeep has no
Organizations): centralized root access and the Organizations access report."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from ironkeep.services.iam_organizations import (
    AccountNotManagementOrDelegatedAdministratorException,
    CallerIsNotManagementAccountException,
    Organization,
    OrganizationNotFoundException,
    OrganizationNotInAllFeaturesModeException,
    ServiceAccessNotEnabledException,
    check_root_access_caller,
    report_failure,
)

PATH = "o-a1b2c3d4e5/r-f6g7h8i9j0example/ou-rge0-awsabcde/123456789012"
MANAGEMENT, MEMBER, ADMIN = "111111111111", "222222222222", "333333333333"


def error(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as excinfo:
        call(**kwargs)
    return excinfo.value.response


@pytest.mark.parametrize(
    "operation",
    [
        "list_organizations_features",
        "enable_organizations_root_credentials_management",
        "disable_organizations_root_credentials_management",
        "enable_organizations_root_sessions",
        "disable_organizations_root_sessions",
    ],
)
def test_centralized_root_access_needs_an_organization(iam, operation):
    response = error(getattr(iam, operation))
    assert response["Error"]["Code"] == "OrganizationNotFoundException"
    assert response["Error"]["Message"] == (
        "The request was rejected because no organization is associated with your account."
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_user_without_permission_is_denied_before_the_organization_is_looked_at(server, iam):
    name = f"org-{uuid.uuid4().hex[:10]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    client = server.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    assert error(client.list_organizations_features)["Error"]["Code"] == "AccessDenied"


def test_the_organizations_access_report_fails_outside_an_organization(iam):
    job = iam.generate_organizations_access_report(EntityPath=PATH, OrganizationsPolicyId="p-12345678")[
        "JobId"
    ]
    assert len(job) == 36
    report = iam.get_organizations_access_report(JobId=job)
    assert report["JobStatus"] == "FAILED"
    assert report["ErrorDetails"] == {
        "Code": "OrganizationNotFoundException",
        "Message": "The request was rejected because no organization is associated with your account.",
    }
    assert report["JobCompletionDate"] >= report["JobCreationDate"]
    assert "AccessDetails" not in report


def test_organizations_access_report_errors(iam):
    assert (
        error(iam.get_organizations_access_report, JobId=str(uuid.uuid4()))["Error"]["Code"] == "NoSuchEntity"
    )
    bad = error(iam.generate_organizations_access_report, EntityPath="not-an-organizations-path")
    assert bad["Error"]["Code"] == "ValidationError"
    # a job of another kind is not an Organizations report
    other = iam.generate_service_last_accessed_details(Arn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")[
        "JobId"
    ]
    assert error(iam.get_organizations_access_report, JobId=other)["Error"]["Code"] == "NoSuchEntity"


def test_through_the_aws_cli(server):
    out = server.aws("iam", "list-organizations-features")
    assert out.returncode != 0 and "OrganizationNotFoundException" in out.stderr
    out = server.aws("iam", "generate-organizations-access-report", "--entity-path", PATH)
    assert out.returncode == 0, out.stderr
    job = json.loads(out.stdout)["JobId"]
    out = server.aws("iam", "get-organizations-access-report", "--job-id", job)
    assert json.loads(out.stdout)["JobStatus"] == "FAILED"


# the checks in AWS's order, for the organizations Ironkeep will have


def test_the_checks_run_in_order():
    org = Organization(id="o-a1b2c3d4e5", management_account_id=MANAGEMENT, trusted_access=True)
    with pytest.raises(OrganizationNotFoundException):
        check_root_access_caller(None, MANAGEMENT, enabling=False)
    partial = Organization(id=org.id, management_account_id=MANAGEMENT, all_features=False)
    with pytest.raises(OrganizationNotInAllFeaturesModeException):
        check_root_access_caller(partial, MANAGEMENT, enabling=True)
    with pytest.raises(CallerIsNotManagementAccountException):
        check_root_access_caller(org, MEMBER, enabling=True)
    with pytest.raises(AccountNotManagementOrDelegatedAdministratorException):
        check_root_access_caller(org, MEMBER, enabling=False)
    delegated = Organization(id=org.id, management_account_id=MANAGEMENT, delegated_administrator=ADMIN)
    with pytest.raises(ServiceAccessNotEnabledException):
        check_root_access_caller(delegated, ADMIN, enabling=False)
    assert check_root_access_caller(org, MANAGEMENT, enabling=True) is org


def test_report_failures():
    org = Organization(id="o-a1b2c3d4e5", management_account_id=MANAGEMENT, trusted_access=True)
    assert report_failure(None, MANAGEMENT, PATH)["Code"] == "OrganizationNotFoundException"
    assert report_failure(org, MANAGEMENT, "o-zzzzzzzzzz/r-abcd")["Code"] == "InvalidInput"
    assert report_failure(org, MEMBER, PATH)["Code"] == "CallerIsNotManagementAccountException"
