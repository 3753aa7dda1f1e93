"""Console passwords (login profiles) and ChangePassword through boto3 and the AWS CLI, on SQLite
and PostgreSQL. The account password policy is shared state: tests that set it remove it again."""

import json
from contextlib import contextmanager

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from iam_helpers import error_of, unique
from ironkeep.auth.errors import PasswordPolicyViolation
from ironkeep.model import PasswordPolicy
from ironkeep.services.iam_login_profiles import check_new_password

GOOD = "Corr3ct-Horse-Battery"  # meets IAM's default policy and the policies set below


@contextmanager
def password_policy(iam, **policy):
    iam.update_account_password_policy(**policy)
    try:
        yield
    finally:
        iam.delete_account_password_policy()


def user_with_password(iam, server, password: str = GOOD, **extra):
    """A user with a console password and an access key; returns (name, its own IAM client)."""
    name = unique("console")
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=password, **extra)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, server.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])


def test_create_get_update_delete_login_profile(iam, server):
    name = unique("console")
    iam.create_user(UserName=name)
    created = iam.create_login_profile(UserName=name, Password=GOOD, PasswordResetRequired=True)[
        "LoginProfile"
    ]
    assert created["UserName"] == name and created["PasswordResetRequired"] is True
    assert created["CreateDate"].tzinfo is not None
    assert set(created) == {"UserName", "CreateDate", "PasswordResetRequired"}  # no password, no hash

    fetched = iam.get_login_profile(UserName=name.upper())["LoginProfile"]
    assert fetched == created

    iam.update_login_profile(UserName=name, PasswordResetRequired=False)
    assert iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"] is False
    iam.update_login_profile(UserName=name, Password="An0ther-Secret!", PasswordResetRequired=True)
    assert iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"] is True

    with pytest.raises(ClientError) as excinfo:
        iam.create_login_profile(UserName=name, Password=GOOD)
    assert error_of(excinfo) == ("EntityAlreadyExists", f"Login Profile for user {name} already exists.")
    with pytest.raises(ClientError) as excinfo:
        iam.delete_user(UserName=name)
    assert error_of(excinfo) == ("DeleteConflict", "Cannot delete entity, must delete login profile first.")

    iam.delete_login_profile(UserName=name)
    with pytest.raises(ClientError) as excinfo:
        iam.get_login_profile(UserName=name)
    assert error_of(excinfo) == ("NoSuchEntity", f"Login Profile for User {name} cannot be found.")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as excinfo:
        iam.delete_login_profile(UserName=name)
    assert error_of(excinfo)[0] == "NoSuchEntity"
    with pytest.raises(ClientError) as excinfo:
        iam.update_login_profile(UserName=name, Password=GOOD)
    assert error_of(excinfo)[0] == "NoSuchEntity"
    iam.delete_user(UserName=name)

    # passwords never reach the server's log
    assert GOOD not in server.log() and "An0ther-Secret!" not in server.log()


def test_login_profile_for_missing_user(iam):
    missing = unique("nobody")
    with pytest.raises(ClientError) as excinfo:
        iam.create_login_profile(UserName=missing, Password=GOOD)
    assert error_of(excinfo) == ("NoSuchEntity", f"The user with name {missing} cannot be found.")
    with pytest.raises(ClientError) as excinfo:
        iam.get_login_profile(UserName=missing)
    assert error_of(excinfo)[0] == "NoSuchEntity"


def test_default_password_policy_applies_without_an_account_policy(iam):
    name = unique("weak")
    iam.create_user(UserName=name)
    for weak in ("short1A", "alllowercaseletters", "lowercase-and-symbols"):
        with pytest.raises(ClientError) as excinfo:
            iam.create_login_profile(UserName=name, Password=weak)
        assert error_of(excinfo) == (
            "PasswordPolicyViolation",
            "Password does not conform to the account password policy.",
        )
    iam.create_login_profile(UserName=name, Password="lower-and-digits-1")  # three kinds of character
    with pytest.raises(ClientError) as excinfo:
        iam.update_login_profile(UserName=name, Password="weak")
    assert error_of(excinfo)[0] == "PasswordPolicyViolation"


def test_account_password_policy_is_enforced(iam):
    name = unique("strict")
    iam.create_user(UserName=name)
    with password_policy(iam, MinimumPasswordLength=16, RequireSymbols=True, RequireNumbers=True):
        for bad in ("Sh0rt!", "NoNumbersInThis-Password", "N0SymbolsInThisPassword"):
            with pytest.raises(ClientError) as excinfo:
                iam.create_login_profile(UserName=name, Password=bad)
            assert error_of(excinfo)[0] == "PasswordPolicyViolation"
        iam.create_login_profile(UserName=name, Password="l0ng-enough-and-mixed")
        with pytest.raises(ClientError) as excinfo:
            iam.update_login_profile(UserName=name, Password="Sh0rt!")
        assert error_of(excinfo)[0] == "PasswordPolicyViolation"
    # with the account policy gone, IAM's default policy applies again
    iam.update_login_profile(UserName=name, Password="Sh0rt!xy")


def test_change_password_with_the_users_own_credentials(iam, server):
    name, own = user_with_password(iam, server, PasswordResetRequired=True)
    with password_policy(iam, MinimumPasswordLength=10, AllowUsersToChangePassword=True):
        own.change_password(OldPassword=GOOD, NewPassword="N3w-Password-1")
        assert iam.get_login_profile(UserName=name)["LoginProfile"]["PasswordResetRequired"] is False

        with pytest.raises(ClientError) as excinfo:  # the old password no longer matches
            own.change_password(OldPassword=GOOD, NewPassword="N3w-Password-2")
        assert error_of(excinfo)[0] == "AccessDenied"
        with pytest.raises(ClientError) as excinfo:
            own.change_password(OldPassword="N3w-Password-1", NewPassword="short")
        assert error_of(excinfo)[0] == "PasswordPolicyViolation"
        own.change_password(OldPassword="N3w-Password-1", NewPassword="N3w-Password-2")


def test_change_password_reuse_prevention(iam, server):
    _, own = user_with_password(iam, server)
    with password_policy(iam, AllowUsersToChangePassword=True, PasswordReusePrevention=3):
        with pytest.raises(ClientError) as excinfo:
            own.change_password(OldPassword=GOOD, NewPassword=GOOD)
        assert error_of(excinfo)[0] == "PasswordPolicyViolation"


def test_reuse_prevention_remembers_the_last_n_passwords(iam, server):
    """With PasswordReusePrevention=3, the current password and the two before it are refused; the
    one before those is free again. The admin's UpdateLoginProfile counts as a change too."""
    name, own = user_with_password(iam, server)
    first, second, third, fourth = (f"Pass-{n}-word-{n}x" for n in range(1, 5))
    with password_policy(iam, AllowUsersToChangePassword=True, PasswordReusePrevention=3):
        own.change_password(OldPassword=GOOD, NewPassword=first)
        own.change_password(OldPassword=first, NewPassword=second)
        for remembered in (GOOD, first, second):
            with pytest.raises(ClientError) as excinfo:
                own.change_password(OldPassword=second, NewPassword=remembered)
            assert error_of(excinfo)[0] == "PasswordPolicyViolation"
        iam.update_login_profile(UserName=name, Password=third)  # GOOD is now the 4th back
        own.change_password(OldPassword=third, NewPassword=GOOD)
        with pytest.raises(ClientError) as excinfo:  # third and second are still among the last 3
            own.change_password(OldPassword=GOOD, NewPassword=second)
        assert error_of(excinfo)[0] == "PasswordPolicyViolation"
        own.change_password(OldPassword=GOOD, NewPassword=fourth)
    with password_policy(iam, AllowUsersToChangePassword=True, PasswordReusePrevention=1):
        own.change_password(OldPassword=fourth, NewPassword=GOOD)  # only the current one counts


def test_change_password_needs_permission_unless_the_account_allows_it(iam, server):
    name, own = user_with_password(iam, server)
    with pytest.raises(ClientError) as excinfo:  # no account policy, no identity policy
        own.change_password(OldPassword=GOOD, NewPassword="Fresh-Passw0rd")
    code, message = error_of(excinfo)
    assert code == "AccessDenied"
    assert f"iam:ChangePassword on resource: arn:aws:iam::{server.account_id}:user/{name}" in message

    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "iam:ChangePassword", "Resource": "*"}],
    }
    with password_policy(iam, AllowUsersToChangePassword=True):
        iam.put_user_policy(UserName=name, PolicyName="deny", PolicyDocument=json.dumps(deny))
        with pytest.raises(ClientError) as excinfo:  # an explicit deny still wins
            own.change_password(OldPassword=GOOD, NewPassword="Fresh-Passw0rd")
        assert error_of(excinfo)[0] == "AccessDenied"
        iam.delete_user_policy(UserName=name, PolicyName="deny")
        own.change_password(OldPassword=GOOD, NewPassword="Fresh-Passw0rd")

    allow = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "iam:ChangePassword",
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            }
        ],
    }
    iam.put_user_policy(UserName=name, PolicyName="allow", PolicyDocument=json.dumps(allow))
    own.change_password(OldPassword="Fresh-Passw0rd", NewPassword="Fresher-Passw0rd")


def test_change_password_errors(iam, server):
    with pytest.raises(ClientError) as excinfo:  # root has no IAM login profile to change
        iam.change_password(OldPassword=GOOD, NewPassword="Whatever-Passw0rd")
    assert error_of(excinfo)[0] == "InvalidUserType"

    name = unique("nopassword")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    own = server.client("iam", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    with password_policy(iam, AllowUsersToChangePassword=True):
        with pytest.raises(ClientError) as excinfo:
            own.change_password(OldPassword=GOOD, NewPassword="Whatever-Passw0rd")
        assert error_of(excinfo) == ("NoSuchEntity", f"Login Profile for User {name} cannot be found.")


def test_aws_cli_login_profile(server):
    name = unique("cli-console")
    assert server.aws("iam", "create-user", "--user-name", name).returncode == 0
    result = server.aws(
        "iam", "create-login-profile", "--user-name", name, "--password", GOOD, "--password-reset-required"
    )
    assert result.returncode == 0, result.stderr
    profile = json.loads(result.stdout)["LoginProfile"]
    assert profile["UserName"] == name and profile["PasswordResetRequired"] is True
    result = server.aws("iam", "create-login-profile", "--user-name", name, "--password", "weak")
    assert result.returncode != 0 and "EntityAlreadyExists" in result.stderr


# IAM's password alphabet (the model's pattern): tab, line feed, carriage return, U+0020..U+00FF.
PASSWORDS = st.text(alphabet=st.sampled_from("\t\n\r" + "".join(map(chr, range(0x20, 0x100)))), max_size=40)
SYMBOLS = set("!@#$%^&*()_+-=[]{}|'")


def kinds(password: str) -> int:
    return sum(
        (
            any("A" <= c <= "Z" for c in password),
            any("a" <= c <= "z" for c in password),
            any("0" <= c <= "9" for c in password),
            any(c in SYMBOLS for c in password),
        )
    )


def accepted(password: str, policy: PasswordPolicy | None) -> bool:
    try:
        check_new_password(password, policy)
    except PasswordPolicyViolation:
        return False
    return True


@given(PASSWORDS)
def test_default_policy_is_eight_characters_of_three_kinds(password):
    assert accepted(password, None) == (len(password) >= 8 and kinds(password) >= 3)


@given(PASSWORDS, st.integers(6, 20), st.booleans(), st.booleans())
def test_account_policy_replaces_the_default(password, length, symbols, numbers):
    policy = PasswordPolicy(minimum_password_length=length, require_symbols=symbols, require_numbers=numbers)
    expected = (
        len(password) >= length
        and (not symbols or any(c in SYMBOLS for c in password))
        and (not numbers or any("0" <= c <= "9" for c in password))
    )
    assert accepted(password, policy) == expected


def test_audit_trail_never_holds_a_password_or_secret(iam, server):
    name = unique("audited")
    iam.create_user(UserName=name)
    iam.create_login_profile(UserName=name, Password=GOOD)
    secret = iam.create_access_key(UserName=name)["AccessKey"]["SecretAccessKey"]
    trail = server.client("cloudtrail")
    records = []
    for event_name in ("CreateLoginProfile", "CreateAccessKey"):
        found = trail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}]
        )
        records += [event["CloudTrailEvent"] for event in found["Events"]]
    ours = [record for record in records if name in record]
    assert len(ours) == 2  # both calls are on the trail ...
    for record in ours:  # ... without the password, its hash or the secret key
        assert GOOD not in record and "$argon2" not in record and secret not in record
