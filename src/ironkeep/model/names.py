"""IAM's name and path rules, checked as IAM checks them (after the protocol's model checks)."""

from __future__ import annotations

import re

from ironkeep.errors import ValidationError

NAME_PATTERN = re.compile(r"^[\w+=,.@-]+$", re.ASCII)
PATH_PATTERN = re.compile(r"^(/|/[\x21-\x7e]+/)$")


def check_name(value: str, member: str, *, max_length: int) -> str:
    """``member`` is the lower-camel member name AWS quotes (``userName``)."""
    if not value or len(value) > max_length or not NAME_PATTERN.match(value):
        raise ValidationError(
            f"The specified value for {member} is invalid. It must contain only alphanumeric characters "
            "and/or the following: +=,.@_-"
        )
    return value


def check_path(value: str | None, member: str = "path") -> str:
    path = value if value is not None else "/"
    if len(path) > 512 or not PATH_PATTERN.match(path):
        raise ValidationError(
            f"The specified value for {member} is invalid. It must begin and end with / and contain only "
            "alphanumeric characters and/or / characters."
        )
    return path


def check_path_prefix(value: str | None) -> str:
    prefix = value if value is not None else "/"
    if not prefix.startswith("/") or len(prefix) > 512:
        raise ValidationError(
            "The specified value for pathPrefix is invalid. It must begin with / and contain only alphanumeric "
            "characters and/or / characters."
        )
    return prefix


def name_key(name: str) -> str:
    """The key IAM names are unique by within an account: the name regardless of case."""
    return name.lower()


def is_valid_name(name: str, max_length: int) -> bool:
    return 0 < len(name) <= max_length and NAME_PATTERN.match(name) is not None


def is_valid_path(path: str) -> bool:
    return len(path) <= 512 and PATH_PATTERN.match(path) is not None
