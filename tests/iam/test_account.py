"""Account settings through boto3 and the AWS CLI, on SQLite and PostgreSQL: the password policy,
the account summary and the account alias. These are account-wide: every test puts back what it
changed."""

import json

import pytest
from botocore.exceptions import ClientError

from iam_helpers import error_of, unique, unvalidated

DEFAULTS = {
    "MinimumPasswordLength": 6,
    "RequireSymbols": False,
    "RequireNumbers": False,
    "RequireUppercaseCharacters": False,
    "RequireLowercaseCharacters": False,
    "AllowUsersToChangePassword": False,
    "ExpirePasswords": False,
}


def test_password_policy_update_get_delete(iam, server):
    missing = ("NoSuchEntity", f"The Password Policy with domain name {server.account_id} cannot be found.")
    with pytest.raises(ClientError) as excinfo:
        iam.get_account_password_policy()
    assert error_of(excinfo) == missing
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    iam.update_account_password_policy(
        MinimumPasswordLength=14,
        RequireSymbols=True,
        RequireUppercaseCharacters=True,
        AllowUsersToChangePassword=True,
        MaxPasswordAge=90,
        PasswordReusePrevention=24,
        HardExpiry=False,
    )
    try:
        policy = iam.get_account_password_policy()["PasswordPolicy"]
        assert policy == {
            **DEFAULTS,
            "MinimumPasswordLength": 14,
            "RequireSymbols": True,
            "RequireUppercaseCharacters": True,
            "AllowUsersToChangePassword": True,
            "MaxPasswordAge": 90,
            "ExpirePasswords": True,
            "PasswordReusePrevention": 24,
            "HardExpiry": False,
        }
        # a member left out takes its default again: the update replaces the whole policy
        iam.update_account_password_policy(RequireNumbers=True)
        assert iam.get_account_password_policy()["PasswordPolicy"] == {**DEFAULTS, "RequireNumbers": True}
    finally:
        iam.delete_account_password_policy()
    with pytest.raises(ClientError) as excinfo:
        iam.get_account_password_policy()
    assert error_of(excinfo) == missing
    with pytest.raises(ClientError) as excinfo:
        iam.delete_account_password_policy()
    assert error_of(excinfo) == missing


def test_password_policy_values_are_validated(iam, server):
    raw = unvalidated(server)
    for bad in ({"MinimumPasswordLength": 5}, {"MaxPasswordAge": 1096}, {"PasswordReusePrevention": 25}):
        with pytest.raises(ClientError) as excinfo:
            raw.update_account_password_policy(**bad)
        assert error_of(excinfo)[0] == "ValidationError"
    with pytest.raises(ClientError):
        iam.get_account_password_policy()  # nothing was stored


SUMMARY_KEYS = {
    "Users", "UsersQuota", "Groups", "GroupsQuota", "Roles", "RolesQuota", "Policies", "PoliciesQuota",
    "InstanceProfiles", "InstanceProfilesQuota", "ServerCertificates", "ServerCertificatesQuota",
    "PolicyVersionsInUse", "PolicyVersionsInUseQuota", "VersionsPerPolicyQuota", "PolicySizeQuota",
    "AccessKeysPerUserQuota", "GroupsPerUserQuota", "SigningCertificatesPerUserQuota",
    "AttachedPoliciesPerUserQuota", "AttachedPoliciesPerGroupQuota", "AttachedPoliciesPerRoleQuota",
    "UserPolicySizeQuota", "GroupPolicySizeQuota", "RolePolicySizeQuota", "AssumeRolePolicySizeQuota",
    "AccountMFAEnabled", "AccountAccessKeysPresent", "AccountSigningCertificatesPresent",
    "MFADevices", "MFADevicesInUse", "Providers", "GlobalEndpointTokenVersion",
}  # fmt: skip


def test_account_summary_counts_what_exists(iam):
    before = iam.get_account_summary()["SummaryMap"]
    assert set(before) == SUMMARY_KEYS
    assert all(isinstance(value, int) for value in before.values())
    assert before["UsersQuota"] == 5000 and before["GroupsQuota"] == 300
    assert before["AccessKeysPerUserQuota"] == 2 and before["GroupsPerUserQuota"] == 10
    assert before["AttachedPoliciesPerUserQuota"] == 10 and before["VersionsPerPolicyQuota"] == 5
    assert before["UserPolicySizeQuota"] == 2048 and before["RolePolicySizeQuota"] == 10240
    assert before["GroupPolicySizeQuota"] == 5120 and before["PolicySizeQuota"] == 6144
    assert before["AccountAccessKeysPresent"] == 1  # the root user's key signs these requests

    user, group = unique("counted"), unique("counted")
    iam.create_user(UserName=user)
    iam.create_group(GroupName=group)
    after = iam.get_account_summary()["SummaryMap"]
    # other tests may add entities meanwhile, never remove ours
    assert after["Users"] >= before["Users"] + 1 and after["Groups"] >= before["Groups"] + 1
    iam.delete_user(UserName=user)
    iam.delete_group(GroupName=group)
    users = len(list(u for p in iam.get_paginator("list_users").paginate() for u in p["Users"]))
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["Users"] == users


def test_account_alias_create_list_delete(iam):
    alias, other = unique("ironkeep"), unique("ironkeep-b")
    assert iam.list_account_aliases()["AccountAliases"] == []
    iam.create_account_alias(AccountAlias=alias)
    try:
        listed = iam.list_account_aliases()
        assert listed["AccountAliases"] == [alias] and listed["IsTruncated"] is False
        iam.create_account_alias(AccountAlias=other)  # one alias per account: the new one replaces it
        assert iam.list_account_aliases()["AccountAliases"] == [other]
        with pytest.raises(ClientError) as excinfo:
            iam.delete_account_alias(AccountAlias=alias)
        assert error_of(excinfo) == ("NoSuchEntity", f"The account alias {alias} cannot be found.")
    finally:
        iam.delete_account_alias(AccountAlias=other)
    assert iam.list_account_aliases()["AccountAliases"] == []


def test_account_alias_pattern(iam, server):
    raw = unvalidated(server)
    for bad in ("Upper-Case", "double--hyphen", "-leading", "trailing-", "ab", "under_score", "x" * 64):
        with pytest.raises(ClientError) as excinfo:
            raw.create_account_alias(AccountAlias=bad)
        assert error_of(excinfo)[0] == "ValidationError", bad
    assert iam.list_account_aliases()["AccountAliases"] == []


def test_account_settings_need_permission(iam, server):
    name = unique("plain")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    own = server.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    for call in (own.get_account_summary, own.list_account_aliases, own.get_account_password_policy):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo)[0] == "AccessDenied"
    with pytest.raises(ClientError) as excinfo:
        own.create_account_alias(AccountAlias=unique("denied"))
    assert error_of(excinfo)[0] == "AccessDenied"
    assert iam.list_account_aliases()["AccountAliases"] == []


def test_aws_cli_account(server):
    result = server.aws("iam", "get-account-summary")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["SummaryMap"]["UsersQuota"] == 5000
    alias = unique("cli-alias")
    assert server.aws("iam", "create-account-alias", "--account-alias", alias).returncode == 0
    try:
        result = server.aws("iam", "list-account-aliases")
        assert json.loads(result.stdout)["AccountAliases"] == [alias]
    finally:
        assert server.aws("iam", "delete-account-alias", "--account-alias", alias).returncode == 0


def test_account_alias_is_unique_across_accounts(tmp_path):
    """Two accounts in one store (the server runs one): the handlers themselves, on SQLite."""
    from datetime import UTC, datetime

    from ironkeep.errors import EntityAlreadyExists
    from ironkeep.services import iam_account
    from ironkeep.services.context import CallContext, Caller
    from ironkeep.store import Store, accounts

    store = Store.open(f"sqlite:///{tmp_path / 'accounts.db'}")
    store.migrate()
    now = datetime.now(UTC)

    def as_root(tx, account: str) -> CallContext:
        caller = Caller(
            account_id=account,
            arn=f"arn:aws:iam::{account}:root",
            principal_id=account,
            kind="Root",
            access_key_id="",
        )
        return CallContext(caller=caller, tx=tx, now=now, region="us-east-1", request_id="test")

    first, second = "111111111111", "222222222222"
    with store.transaction() as tx:
        accounts.create(tx, first, now)
        accounts.create(tx, second, now)
        iam_account.create_account_alias(as_root(tx, first), {"AccountAlias": "shared-name"})
    with store.transaction() as tx, pytest.raises(EntityAlreadyExists) as excinfo:
        iam_account.create_account_alias(as_root(tx, second), {"AccountAlias": "shared-name"})
    assert excinfo.value.message == "The account alias shared-name already exists."
    with store.transaction() as tx:
        assert iam_account.list_account_aliases(as_root(tx, second), {})["AccountAliases"] == []
        assert iam_account.list_account_aliases(as_root(tx, first), {})["AccountAliases"] == ["shared-name"]
        iam_account.delete_account_alias(as_root(tx, first), {"AccountAlias": "shared-name"})
        iam_account.create_account_alias(as_root(tx, second), {"AccountAlias": "shared-name"})  # free again
    store.engine.dispose()
