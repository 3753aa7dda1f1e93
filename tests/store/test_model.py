"""The model's pure rules: ARNs, names, paths, sizes, password policy fields."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ironkeep.model import PasswordPolicy
from ironkeep.model.arns import iam_arn, parse_iam_arn, policy_arn, role_arn, user_arn
from ironkeep.model.limits import policy_size
from ironkeep.model.names import is_valid_name, is_valid_path, name_key

NAME_CHARS = "abcXYZ019_+=,.@-"
names = st.text(alphabet=NAME_CHARS, min_size=1, max_size=64)
segments = st.text(alphabet="abcXYZ019_-.", min_size=1, max_size=8)
paths = st.lists(segments, max_size=4).map(lambda parts: "/" + "".join(p + "/" for p in parts))
accounts = st.from_regex(r"\d{12}", fullmatch=True) | st.just("aws")


@given(accounts, st.sampled_from(["user", "group", "role", "policy", "instance-profile"]), paths, names)
def test_an_arn_parses_back_into_its_parts(account: str, kind: str, path: str, name: str) -> None:
    arn = iam_arn(account, kind, path, name)
    assert parse_iam_arn(arn) == (account, kind, path, name)
    assert is_valid_path(path) and is_valid_name(name, 64)


def test_arns_as_aws_writes_them() -> None:
    assert user_arn("123456789012", "/division_abc/subdivision_xyz/", "Bob") == (
        "arn:aws:iam::123456789012:user/division_abc/subdivision_xyz/Bob"
    )
    assert role_arn("123456789012", "/", "S3Access") == "arn:aws:iam::123456789012:role/S3Access"
    assert (
        policy_arn("aws", "/service-role/", "AWSLambdaRole")
        == "arn:aws:iam::aws:policy/service-role/AWSLambdaRole"
    )
    for bad in (
        "arn:aws:iam::123456789012:root",
        "arn:aws:s3:::bucket/key",
        "arn:aws:iam::1:user/",
        "nonsense",
    ):
        assert parse_iam_arn(bad) is None


def test_name_and_path_rules() -> None:
    assert is_valid_name("a.b@c+d=e,f-g_h", 64)
    assert (
        not is_valid_name("has space", 64) and not is_valid_name("", 64) and not is_valid_name("x" * 65, 64)
    )
    assert not is_valid_name("é", 64)  # IAM's \w is ASCII
    assert (
        is_valid_path("/") and is_valid_path("/a/b/") and not is_valid_path("/a") and not is_valid_path("a/")
    )
    assert name_key("Admins") == name_key("ADMINS") == "admins"


@given(st.text())
def test_policy_size_ignores_white_space(text: str) -> None:
    assert policy_size(text) == len("".join(text.split()))


def test_password_policy_speaks_iams_field_names() -> None:
    policy = PasswordPolicy(minimum_password_length=14, require_numbers=True, max_password_age=30)
    aws = policy.to_aws()
    assert aws["MinimumPasswordLength"] == 14 and aws["RequireNumbers"] is True
    assert aws["ExpirePasswords"] is True and "HardExpiry" not in aws
    assert PasswordPolicy.from_aws(aws) == policy
    assert PasswordPolicy().expire_passwords is False
