"""Managed policies: versions, defaults, attachments, quotas and IAM's delete conflicts."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import delete, insert, update

from conftest_store import NOW
from ironkeep.errors import DeleteConflict, LimitExceeded, NoSuchEntity
from ironkeep.store import access_keys as keys
from ironkeep.store import (
    attachments,
    groups,
    inline_policies,
    login_profiles,
    policies,
    roles,
    schema,
    users,
)

DOC = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'
TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def test_versions_count_up_never_reuse_and_stop_at_five(store, account) -> None:
    with store.transaction() as tx:
        policy = policies.create(tx, account, "p", "/", "ANPA00000000000000001", DOC, NOW, "the description")
        assert policy.default_version_id == "v1" and policy.description == "the description"
        for _ in range(4):
            policies.create_version(tx, policy, DOC.replace("GetObject", "PutObject"), False, NOW)
        with pytest.raises(LimitExceeded, match="up to 5 versions"):
            policies.create_version(tx, policy, DOC, False, NOW)
    with store.transaction() as tx:
        assert [v.version_id for v in policies.list_versions(tx, policy)] == ["v5", "v4", "v3", "v2", "v1"]
        policies.delete_version(tx, policy, "v5")
        made = policies.create_version(tx, policy, DOC, True, NOW)
        assert made.version_id == "v6" and made.is_default
        assert policies.require(tx, account, policy.arn).default_version_id == "v6"
        with pytest.raises(DeleteConflict, match=re.escape("Cannot delete the default version of a policy.")):
            policies.delete_version(tx, policy, "v6")
        with pytest.raises(NoSuchEntity, match="version v5 does not exist"):
            policies.delete_version(tx, policy, "v5")
        policies.set_default_version(tx, policy, "v2", NOW)
        assert policies.default_version(tx, policy).version_id == "v2"
        assert [v.is_default for v in policies.list_versions(tx, policy)] == [
            False,
            False,
            False,
            True,
            False,
        ]
        with pytest.raises(NoSuchEntity):
            policies.set_default_version(tx, policy, "v9", NOW)


def test_aws_managed_policies_come_from_the_catalogue(store, account) -> None:
    with store.transaction(write=False) as tx:
        admin = policies.require(tx, account, ADMIN)
        assert admin.is_aws_managed and admin.name == "AdministratorAccess" and admin.account_id == "aws"
        default = policies.default_version(tx, admin)
        assert default.version_id == admin.default_version_id and '"*"' in default.document
        assert policies.list_versions(tx, admin) == [default]
        assert policies.get(tx, account, "arn:aws:iam::aws:policy/NoSuchPolicyAtAll") is None
        # another account's customer policy is not visible
        assert policies.get(tx, account, "arn:aws:iam::210987654321:policy/p") is None


def test_attachments_count_stop_at_the_quota_and_block_deletion(store, account) -> None:
    with store.transaction() as tx:
        alice = users.create(tx, account, "alice", "/", "AIDA00000000000000001", NOW)
        team = groups.create(tx, account, "team", "/", "AGPA00000000000000001", NOW)
        policy = policies.create(tx, account, "p", "/", "ANPA00000000000000001", DOC, NOW)
        attachments.attach(tx, alice, policy, NOW)
        attachments.attach(tx, alice, policy, NOW)  # twice is once
        attachments.attach(tx, team, policy, NOW)
        attachments.attach(tx, alice, policies.require(tx, account, ADMIN), NOW)
        assert policies.require(tx, account, policy.arn).attachment_count == 2
        assert policies.require(tx, account, ADMIN).attachment_count == 1
        assert [p.name for p in attachments.attached(tx, alice)[0]] == ["AdministratorAccess", "p"]
        attached_users, attached_groups, attached_roles = attachments.entities_for_policy(
            tx, account, policy.arn
        )
        assert ([u.name for u in attached_users], [g.name for g in attached_groups], attached_roles) == (
            ["alice"],
            ["team"],
            [],
        )
        with pytest.raises(DeleteConflict, match=re.escape("Cannot delete a policy attached to entities.")):
            policies.delete(tx, policy)
        aws = [
            policies.require(tx, account, p.arn)
            for p in policies.list(tx, account, scope="AWS", max_items=20)[0]
            if p.arn != ADMIN
        ]
        for extra in aws[: 10 - 2]:
            attachments.attach(tx, alice, extra, NOW)
        with pytest.raises(LimitExceeded, match="Cannot exceed quota for PoliciesPerUser: 10"):
            attachments.attach(tx, alice, aws[10], NOW)
        attachments.detach(tx, alice, policy.arn)
        with pytest.raises(NoSuchEntity, match=re.escape(f"Policy {policy.arn} was not found.")):
            attachments.detach(tx, alice, policy.arn)
        attachments.detach(tx, team, policy.arn)
        policies.create_version(tx, policy, DOC, False, NOW)
        with pytest.raises(DeleteConflict, match="more than one version"):
            policies.delete(tx, policy)
        policies.delete_version(tx, policy, "v2")
        policies.delete(tx, policy)
        assert policies.get(tx, account, policy.arn) is None


def test_boundary_usage_is_counted(store, account) -> None:
    with store.transaction() as tx:
        policy = policies.create(tx, account, "fence", "/", "ANPA00000000000000001", DOC, NOW)
        alice = users.create(tx, account, "alice", "/", "AIDA00000000000000001", NOW)
        role = roles.create(tx, account, "r", "/", "AROA00000000000000001", TRUST, NOW)
        users.set_permissions_boundary(tx, alice, policy.arn)
        updated = roles.set_permissions_boundary(tx, role, policy.arn)
        assert updated.permissions_boundary_arn == policy.arn
        assert policies.require(tx, account, policy.arn).permissions_boundary_usage_count == 2
        assert users.set_permissions_boundary(tx, alice, None).permissions_boundary_arn is None


def test_inline_policies_add_replace_and_their_size_quota(store, account) -> None:
    with store.transaction() as tx:
        alice = users.create(tx, account, "alice", "/", "AIDA00000000000000001", NOW)
        inline_policies.put(tx, alice, "Read", DOC)
        inline_policies.put(tx, alice, "read", DOC.replace("GetObject", "ListBucket"))  # same name: replaced
        got = inline_policies.require(tx, alice, "READ")
        assert (got.name, "ListBucket" in got.document) == ("read", True)
        big = '{"Statement":[{"Effect":"Allow","Action":"s3:%s","Resource":"*"}]}' % ("x" * 1900)
        with pytest.raises(LimitExceeded, match="Maximum policy size of 2048 bytes exceeded for user alice"):
            inline_policies.put(tx, alice, "big", big)
        inline_policies.put(tx, alice, "read", big)  # replacing frees the old one's size
        inline_policies.delete(tx, alice, "READ")
        with pytest.raises(NoSuchEntity, match=re.escape("The user policy with name READ cannot be found.")):
            inline_policies.delete(tx, alice, "READ")


def test_deleting_a_user_needs_everything_removed_first_in_iams_order(store, account) -> None:
    with store.transaction() as tx:
        alice = users.create(tx, account, "alice", "/", "AIDA00000000000000001", NOW)
        team = groups.create(tx, account, "team", "/", "AGPA00000000000000001", NOW)
        login_profiles.create(tx, alice, "$argon2id$hash", False, NOW)
        keys.create(tx, account, alice, "AKIAAAAAAAAAAAAAAAA1", b"sealed", NOW)
        inline_policies.put(tx, alice, "p", DOC)
        attachments.attach(tx, alice, policies.require(tx, account, ADMIN), NOW)
        groups.add_user(tx, team, alice, NOW)
        tx.execute(
            insert(schema.mfa_devices).values(
                serial_number=f"arn:aws:iam::{account}:mfa/alice",
                account_id=account,
                name="alice",
                name_lower="alice",
                path="/",
                seed_sealed=b"seed",
                user_id=alice.id,
                enabled_at=NOW,
                created_at=NOW,
            )
        )
        mfa = schema.mfa_devices.c
        steps = [
            ("login profile", lambda: login_profiles.delete(tx, alice)),
            ("access keys", lambda: keys.delete(tx, account, alice, "AKIAAAAAAAAAAAAAAAA1")),
            ("delete policies", lambda: inline_policies.delete(tx, alice, "p")),
            ("detach all policies", lambda: attachments.detach(tx, alice, ADMIN)),
            (
                "delete MFA device",
                lambda: tx.execute(
                    update(schema.mfa_devices).where(mfa.user_id == alice.id).values(user_id=None)
                ),
            ),
            ("remove users from group", lambda: groups.remove_user(tx, team, alice)),
        ]
        for words, undo in steps:
            with pytest.raises(DeleteConflict, match=words):
                users.delete(tx, alice)
            undo()
        users.delete(tx, alice)
        assert users.get(tx, account, "alice") is None


def test_roles_and_the_instance_profiles_holding_them(store, account) -> None:
    with store.transaction() as tx:
        role = roles.create(
            tx, account, "Web", "/app/", "AROA00000000000000001", TRUST, NOW, description="web"
        )
        assert (role.max_session_duration, role.description, role.arn) == (
            3600,
            "web",
            f"arn:aws:iam::{account}:role/app/Web",
        )
        changed = roles.update(tx, role, max_session_duration=7200)
        assert (changed.max_session_duration, changed.description) == (7200, "web")
        assert roles.update(tx, changed, description=None).description is None
        assert roles.update_assume_role_policy(tx, role, DOC).assume_role_policy == DOC
        roles.note_used(tx, role.id, NOW, "eu-west-1")
        assert roles.require(tx, account, "web").last_used_region == "eu-west-1"
        # a role in an instance profile (rows as the IAM service writes them) cannot be deleted
        profile_id = "AIPA00000000000000001"
        tx.execute(
            insert(schema.instance_profiles).values(
                id=profile_id,
                account_id=account,
                name="WebProfile",
                name_lower="webprofile",
                path="/",
                arn=f"arn:aws:iam::{account}:instance-profile/WebProfile",
                created_at=NOW,
            )
        )
        tx.execute(
            insert(schema.instance_profile_roles).values(instance_profile_id=profile_id, role_id=role.id)
        )
        with pytest.raises(DeleteConflict, match="must remove roles from instance profile first"):
            roles.delete(tx, role)
        tx.execute(
            delete(schema.instance_profile_roles).where(schema.instance_profile_roles.c.role_id == role.id)
        )
        roles.delete(tx, role)
        assert roles.get(tx, account, "web") is None
