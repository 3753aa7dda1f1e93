"""Console passwords: CreateLoginProfile, GetLoginProfile, UpdateLoginProfile, DeleteLoginProfile
and ChangePassword.

Passwords are kept only as argon2id hashes (:class:`~ironkeep.auth.passwords.Argon2idHasher`);
no response, log line or audit record carries a password or its hash. Every new password must
satisfy the account password policy, or IAM's default policy when the account has none
(PasswordPolicyViolation).

ChangePassword is an IAM user's own call: root and role sessions get InvalidUserType. When the
account password policy has ``AllowUsersToChangePassword``, IAM lets every user change its own
password without a policy that allows ``iam:ChangePassword`` (an explicit deny still wins);
otherwise the caller's policies must allow it on its own user ARN. With the policy's
``PasswordReusePrevention`` of N, ChangePassword refuses the user's last N passwords: the current one
and the N - 1 before it (every password change keeps the hash it replaces, up to 23; deleting the
login profile forgets them).
"""

from __future__ import annotations

import functools
from typing import Any

from ironkeep.auth.errors import PasswordPolicyViolation
from ironkeep.auth.passwords import IAM_SYMBOLS, Argon2idHasher, enforce_password_policy
from ironkeep.errors import AccessDenied, AWSError, EntityAlreadyExists, InvalidInput, ValidationError
from ironkeep.model import LoginProfile, PasswordPolicy, User
from ironkeep.model.arns import user_arn
from ironkeep.services import authz, common
from ironkeep.services.context import CallContext
from ironkeep.services.registry import operation
from ironkeep.store import accounts, login_profiles, users

# IAM's default password policy, for an account without one of its own (IAM User Guide,
# "Set an account password policy for IAM users"): at least 8 characters, with at least three
# of uppercase letters, lowercase letters, numbers and symbols.
DEFAULT_MINIMUM_LENGTH = 8
DEFAULT_REQUIRED_KINDS = 3


class InvalidUserType(AWSError):
    code = "InvalidUserType"
    status = 400


@functools.cache
def hasher() -> Argon2idHasher:
    return Argon2idHasher()


def character_kinds(password: str) -> int:
    """How many of IAM's four kinds of character (upper, lower, digit, symbol) ``password`` has."""
    tests = (str.isupper, str.islower, str.isdigit, IAM_SYMBOLS.__contains__)
    return sum(1 for test in tests if any(test(ch) and ch.isascii() for ch in password))


def check_new_password(password: str, policy: PasswordPolicy | None) -> None:
    """PasswordPolicyViolation unless ``password`` satisfies the account's policy (or IAM's default)."""
    if policy is not None:
        enforce_password_policy(password, policy)
    elif len(password) < DEFAULT_MINIMUM_LENGTH or character_kinds(password) < DEFAULT_REQUIRED_KINDS:
        raise PasswordPolicyViolation()


def account_policy(ctx: CallContext) -> PasswordPolicy | None:
    account = accounts.get(ctx.tx, ctx.account_id)
    return None if account is None else account.password_policy


def _own_user_name(ctx: CallContext) -> str:
    if ctx.caller.user_name is None:
        raise InvalidInput("Must specify userName when calling with non-User credentials")
    return ctx.caller.user_name


def _user(ctx: CallContext, params: dict[str, Any]) -> User:
    return users.require(ctx.tx, ctx.account_id, params.get("UserName") or _own_user_name(ctx))


def profile_resource(ctx: CallContext, params: dict[str, Any]) -> str:
    """The user's ARN (the caller's own when ``UserName`` is left out)."""
    name = params.get("UserName") or ctx.caller.user_name
    if not name:
        return ctx.caller.arn
    found = users.get(ctx.tx, ctx.account_id, name)
    return user_arn(ctx.account_id, found.path if found is not None else "/", name)


def profile_shape(profile: LoginProfile) -> dict[str, Any]:
    return {
        "UserName": profile.user_name,
        "CreateDate": common.utc(profile.created),
        "PasswordResetRequired": profile.password_reset_required,
    }


def _required_password(params: dict[str, Any], member: str = "password") -> str:
    password = params.get("Password")
    if password is None:
        raise ValidationError(
            f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: "
            "Member must not be null"
        )
    return str(password)


@operation("iam", "CreateLoginProfile", resource=profile_resource)
def create_login_profile(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    user = _user(ctx, params)
    if login_profiles.get(ctx.tx, user) is not None:
        raise EntityAlreadyExists(f"Login Profile for user {user.name} already exists.")
    password = _required_password(params)
    check_new_password(password, account_policy(ctx))
    reset = bool(params.get("PasswordResetRequired", False))
    profile = login_profiles.create(ctx.tx, user, hasher().hash(password), reset, ctx.now)
    return {"LoginProfile": profile_shape(profile)}


@operation("iam", "GetLoginProfile", resource=profile_resource)
def get_login_profile(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    return {"LoginProfile": profile_shape(login_profiles.require(ctx.tx, _user(ctx, params)))}


@operation("iam", "UpdateLoginProfile", resource=profile_resource)
def update_login_profile(ctx: CallContext, params: dict[str, Any]) -> None:
    user = _user(ctx, params)
    login_profiles.require(ctx.tx, user)
    password = params.get("Password")
    new_hash = None
    if password is not None:
        check_new_password(password, account_policy(ctx))
        new_hash = hasher().hash(password)
    reset = params.get("PasswordResetRequired")
    login_profiles.update(
        ctx.tx,
        user,
        password_hash=new_hash,
        reset_required=None if reset is None else bool(reset),
        changed=ctx.now,
    )


@operation("iam", "DeleteLoginProfile", resource=profile_resource)
def delete_login_profile(ctx: CallContext, params: dict[str, Any]) -> None:
    login_profiles.delete(ctx.tx, _user(ctx, params))


def _authorize_change_password(ctx: CallContext, resource: str, policy: PasswordPolicy | None) -> None:
    """The caller's policies decide, except that the account policy's AllowUsersToChangePassword
    grants the call to every user on its own password unless a policy explicitly denies it."""
    try:
        authz.check(ctx, "iam:ChangePassword", resource)
    except AccessDenied as denied:
        if policy is None or not policy.allow_users_to_change_password or "explicit deny" in denied.message:
            raise


@operation("iam", "ChangePassword", resource=lambda ctx, params: ctx.caller.arn, authorize=False)
def change_password(ctx: CallContext, params: dict[str, Any]) -> None:
    caller = ctx.caller
    if caller.kind != "IAMUser" or caller.user_name is None:  # root, role and federated sessions
        raise InvalidUserType("Only IAM users can change their own password with ChangePassword.")
    user = users.require(ctx.tx, ctx.account_id, _own_user_name(ctx))
    policy = account_policy(ctx)
    _authorize_change_password(ctx, user.arn, policy)
    profile = login_profiles.require(ctx.tx, user)
    old, new = params["OldPassword"], params["NewPassword"]
    if not hasher().verify(profile.password_hash, old):
        raise AccessDenied("The old password is incorrect.")
    check_new_password(new, policy)
    if policy is not None and policy.password_reuse_prevention:
        # the user's last N passwords: the current one and the N - 1 before it
        remembered = (profile.password_hash, *profile.previous_password_hashes)
        if any(hasher().verify(known, new) for known in remembered[: policy.password_reuse_prevention]):
            raise PasswordPolicyViolation()
    login_profiles.update(
        ctx.tx, user, password_hash=hasher().hash(new), reset_required=False, changed=ctx.now
    )
