"""Service-linked roles: CreateServiceLinkedRole, DeleteServiceLinkedRole,
GetServiceLinkedRoleDeletionStatus.

A service-linked role is named by its service (``AWSServiceRoleForECS``; a CustomSuffix, where
the service allows one, follows an underscore), lives under ``/aws-service-role/<service>/``,
trusts that service principal with ``sts:AssumeRole`` and carries the service's AWS-managed
permissions policy. Only the service may change it (see iam_roles.check_modifiable).

Deletion is immediate here (AWS runs it as a task): the task is recorded as SUCCEEDED in
``service_linked_role_deletions`` so that GetServiceLinkedRoleDeletionStatus can report it.
Task ids have AWS's form ``task/aws-service-role/<service>/<role name>/<uuid>``.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, NamedTuple

from sqlalchemy import delete, insert, select

from ironkeep.errors import NoSuchEntity
from ironkeep.model import aws_policies, limits
from ironkeep.model.arns import role_arn
from ironkeep.services import common
from ironkeep.services.context import CallContext
from ironkeep.services.entities import find_role
from ironkeep.services.iam_roles import (
    SERVICE_LINKED_PATH,
    authorize,
    authorized_role,
    check_deletable,
    drop_role,
    insert_role,
    is_service_linked,
    role_resource,
    role_shape,
)
from ironkeep.services.registry import operation
from ironkeep.store import schema as t

ROLE_PREFIX = "AWSServiceRoleFor"


class LinkedService(NamedTuple):
    role_name: str  # the full role name without a custom suffix
    policy: str | None  # the AWS-managed policy name under /aws-service-role/
    custom_suffix: bool  # whether the service accepts a CustomSuffix


def _s(name: str, policy: str | None, custom_suffix: bool = False) -> LinkedService:
    return LinkedService(ROLE_PREFIX + name, policy, custom_suffix)


# Services' own names for their service-linked roles (from each service's documentation).
KNOWN_SERVICES: dict[str, LinkedService] = {
    "access-analyzer.amazonaws.com": _s("AccessAnalyzer", "AccessAnalyzerServiceRolePolicy"),
    "autoscaling.amazonaws.com": _s("AutoScaling", "AutoScalingServiceRolePolicy", True),
    "backup.amazonaws.com": _s("Backup", "AWSBackupServiceLinkedRolePolicyForBackup"),
    "cloudtrail.amazonaws.com": _s("CloudTrail", "CloudTrailServiceRolePolicy"),
    "config.amazonaws.com": _s("Config", "AWSConfigServiceRolePolicy"),
    "custom-resource.application-autoscaling.amazonaws.com": _s(
        "ApplicationAutoScaling_CustomResource", "AWSApplicationAutoScalingCustomResourcePolicy"
    ),
    "dynamodb.application-autoscaling.amazonaws.com": _s(
        "ApplicationAutoScaling_DynamoDBTable", "AWSApplicationAutoscalingDynamoDBTablePolicy"
    ),
    "ecs.amazonaws.com": _s("ECS", "AmazonECSServiceRolePolicy"),
    "ecs.application-autoscaling.amazonaws.com": _s(
        "ApplicationAutoScaling_ECSService", "AWSApplicationAutoscalingECSServicePolicy"
    ),
    "eks.amazonaws.com": _s("AmazonEKS", "AmazonEKSServiceRolePolicy"),
    "eks-fargate.amazonaws.com": _s("AmazonEKSForFargate", "AmazonEKSForFargateServiceRolePolicy"),
    "eks-nodegroup.amazonaws.com": _s("AmazonEKSNodegroup", "AWSServiceRoleForAmazonEKSNodegroup"),
    "elasticache.amazonaws.com": _s("ElastiCache", "ElastiCacheServiceRolePolicy"),
    "elasticbeanstalk.amazonaws.com": _s("ElasticBeanstalk", "AWSElasticBeanstalkServiceRolePolicy"),
    "elasticloadbalancing.amazonaws.com": _s(
        "ElasticLoadBalancing", "AWSElasticLoadBalancingServiceRolePolicy"
    ),
    "elasticmapreduce.amazonaws.com": _s("EMRCleanup", "AmazonEMRCleanupPolicy"),
    "es.amazonaws.com": _s("AmazonElasticsearchService", "AmazonElasticsearchServiceRolePolicy"),
    "events.amazonaws.com": _s("CloudWatchEvents", "CloudWatchEventsServiceRolePolicy"),
    "fsx.amazonaws.com": _s("AmazonFSx", "AmazonFSxServiceRolePolicy"),
    "globalaccelerator.amazonaws.com": _s("GlobalAccelerator", "AWSGlobalAcceleratorSLRPolicy"),
    "guardduty.amazonaws.com": _s("AmazonGuardDuty", "AmazonGuardDutyServiceRolePolicy"),
    "inspector2.amazonaws.com": _s("AmazonInspector2", "AmazonInspector2ServiceRolePolicy"),
    "kafka.amazonaws.com": _s("Kafka", "KafkaServiceRolePolicy"),
    "lex.amazonaws.com": _s("LexBots", "LexBotPolicy"),
    "macie.amazonaws.com": _s("AmazonMacie", "AmazonMacieServiceRolePolicy"),
    "ops.apigateway.amazonaws.com": _s("APIGateway", "APIGatewayServiceRolePolicy"),
    "opensearchservice.amazonaws.com": _s("AmazonOpenSearchService", "AmazonOpenSearchServiceRolePolicy"),
    "organizations.amazonaws.com": _s("Organizations", "AWSOrganizationsServiceTrustPolicy"),
    "rds.amazonaws.com": _s("RDS", "AmazonRDSServiceRolePolicy"),
    "redshift.amazonaws.com": _s("Redshift", "AmazonRedshiftServiceLinkedRolePolicy"),
    "replicator.lambda.amazonaws.com": _s("LambdaReplicator", "AWSLambdaReplicator"),
    "securityhub.amazonaws.com": _s("SecurityHub", "AWSSecurityHubServiceRolePolicy"),
    "spot.amazonaws.com": _s("EC2Spot", "AWSEC2SpotServiceRolePolicy"),
    "spotfleet.amazonaws.com": _s("EC2SpotFleet", "AWSEC2SpotFleetServiceRolePolicy"),
    "ssm.amazonaws.com": _s("AmazonSSM", "AmazonSSMServiceRolePolicy"),
    "sso.amazonaws.com": _s("SSO", "AWSSSOServiceRolePolicy"),
    "support.amazonaws.com": _s("Support", "AWSSupportServiceRolePolicy"),
    "transitgateway.amazonaws.com": _s("VPCTransitGateway", "AWSVPCTransitGatewayServiceRolePolicy"),
    "trustedadvisor.amazonaws.com": _s("TrustedAdvisor", "AWSTrustedAdvisorServiceRolePolicy"),
}

_SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com$")
_TASK_ID = re.compile(
    r"^task/aws-service-role/(?P<service>[^/]+)/(?P<role>[\w+=,.@-]+)/"
    r"(?P<uuid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)


def linked_service(service: str) -> LinkedService:
    """What IAM knows of ``service``; for a service not in the table, a name derived from the
    principal's first label (``my-svc.amazonaws.com`` → ``AWSServiceRoleForMySvc``)."""
    known = KNOWN_SERVICES.get(service)
    if known is not None:
        return known
    if not _SERVICE_PRINCIPAL.match(service):
        raise common.InvalidInput(
            f"Invalid AWSServiceName {service}: it must be a service principal such as "
            "elasticbeanstalk.amazonaws.com"
        )
    label = service.split(".", 1)[0]
    words = "".join(word[:1].upper() + word[1:] for word in re.split(r"[^a-z0-9]+", label) if word)
    return LinkedService(ROLE_PREFIX + words, None, True)


def role_name_for(service: str, custom_suffix: str | None) -> str:
    """The role's name: the service's own, then ``_<CustomSuffix>`` where the service takes one."""
    linked = linked_service(service)
    name = linked.role_name
    if custom_suffix:
        if not linked.custom_suffix:
            raise common.InvalidInput(f"Custom suffix is not allowed for {service}")
        name = f"{name}_{custom_suffix}"
    if len(name) > limits.ROLE_NAME_MAX:
        raise common.InvalidInput(
            f"The role name {name} would be longer than {limits.ROLE_NAME_MAX} characters."
        )
    return name


def trust_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        },
        separators=(",", ":"),
    )


@operation("iam", "CreateServiceLinkedRole", authorize=False)
def create_service_linked_role(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    service = params["AWSServiceName"]
    path = f"{SERVICE_LINKED_PATH}{service}/"
    name = role_name_for(service, params.get("CustomSuffix"))
    authorize(
        ctx,
        "iam:CreateServiceLinkedRole",
        role_arn(ctx.account_id, path, name),
        extra={"iam:AWSServiceName": service},
    )
    if find_role(ctx.tx, ctx.account_id, name) is not None:
        raise common.InvalidInput(
            f"Service role name {name} has been taken in this account, please try a different suffix."
        )
    row = insert_role(
        ctx, name=name, path=path, document=trust_policy(service), description=params.get("Description")
    )
    policy = linked_service(service).policy
    policy_arn = f"arn:aws:iam::aws:policy{SERVICE_LINKED_PATH}{policy}" if policy else None
    if policy_arn is not None and aws_policies.get(policy_arn) is not None:
        ctx.tx.execute(
            insert(t.policy_attachments).values(
                account_id=ctx.account_id,
                policy_arn=policy_arn,
                principal_kind="role",
                principal_id=row.id,
                attached_at=ctx.now,
            )
        )
    return {"Role": role_shape(ctx.tx, row, view="create")}


@operation("iam", "DeleteServiceLinkedRole", resource=role_resource, authorize=False)
def delete_service_linked_role(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = authorized_role(ctx, "iam:DeleteServiceLinkedRole", params["RoleName"])
    if not is_service_linked(row):
        raise NoSuchEntity(f"The role with name {row.name} is not a service-linked role.")
    service = row.path[len(SERVICE_LINKED_PATH) :].strip("/")
    # the service's own policy goes with the role; anything else still blocks the deletion
    ctx.tx.execute(
        delete(t.policy_attachments).where(
            t.policy_attachments.c.principal_kind == "role",
            t.policy_attachments.c.principal_id == row.id,
            t.policy_attachments.c.policy_arn.startswith(f"arn:aws:iam::aws:policy{SERVICE_LINKED_PATH}"),
        )
    )
    check_deletable(ctx, row)
    drop_role(ctx, row)
    task_id = f"task{SERVICE_LINKED_PATH}{service}/{row.name}/{uuid.uuid4()}"
    ctx.tx.execute(
        insert(t.service_linked_role_deletions).values(
            task_id=task_id, account_id=ctx.account_id, status="SUCCEEDED", reason=None, created_at=ctx.now
        )
    )
    return {"DeletionTaskId": task_id}


def deletion_task_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    """A deletion task is authorized against the ARN of the role it deletes."""
    match = _TASK_ID.match(params["DeletionTaskId"])
    if match is None:
        return role_arn(ctx.account_id, SERVICE_LINKED_PATH, "*")
    return role_arn(ctx.account_id, f"{SERVICE_LINKED_PATH}{match['service']}/", match["role"])


@operation("iam", "GetServiceLinkedRoleDeletionStatus", resource=deletion_task_resource)
def get_service_linked_role_deletion_status(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    task_id = params["DeletionTaskId"]
    if _TASK_ID.match(task_id) is None:
        raise common.InvalidInput(
            f"Invalid DeletionTaskId {task_id}: it must look like "
            "task/aws-service-role/<service>/<role name>/<id>"
        )
    row = ctx.tx.execute(
        select(t.service_linked_role_deletions).where(
            t.service_linked_role_deletions.c.task_id == task_id,
            t.service_linked_role_deletions.c.account_id == ctx.account_id,
        )
    ).first()
    if row is None:
        raise NoSuchEntity(f"Deletion task {task_id} cannot be found.")
    out: dict[str, Any] = {"Status": row.status}
    if row.reason:
        out["Reason"] = {"Reason": row.reason}
    return out
