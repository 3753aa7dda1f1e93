"""The request the engine decides on, and its condition-key context (built lazily).

Keys that describe the principal and the resource are derived when the request lacks them:
``aws:username`` (IAM users only), ``aws:userid``, ``aws:PrincipalArn`` (for a role session: the
role's ARN), ``aws:PrincipalAccount``, ``aws:PrincipalType``, ``aws:PrincipalTag/*``,
``aws:PrincipalIsAWSService``, ``aws:PrincipalServiceName`` and ``aws:ResourceAccount``.
Condition keys are case-insensitive; values keep their case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any

__all__ = ["EvalContext", "Principal", "PrincipalInfo", "Request", "derivable", "principal_info"]

Values = tuple[str, ...]


@dataclass(slots=True)
class Principal:
    """Who asks. ``arn`` for IAM principals; ``service`` (``lambda.amazonaws.com``) for services."""

    arn: str | None = None
    id: str | None = None
    tags: Mapping[str, str] | None = None
    service: str | None = None


@dataclass(slots=True)
class Request:
    """May ``principal`` perform ``action`` on ``resource`` in this ``context``?"""

    principal: Principal
    action: str
    resource: str = "*"
    resource_account: str | None = None
    context: Mapping[str, Any] | None = field(default=None)
    management_account: str | None = None


class PrincipalInfo:
    """What the engine needs to know about a principal, parsed once from its ARN."""

    __slots__ = (
        "account", "arn", "derived", "identities", "kind", "name", "principal_arn", "principal_type",
        "role_name", "service", "service_linked",
    )  # fmt: skip

    def __init__(self, arn: str | None, service: str | None) -> None:
        self.arn = arn
        self.service = service.lower() if service else None
        self.account: str | None = None
        self.name: str | None = None
        self.role_name: str | None = None
        self.service_linked = False
        # "anonymous": neither ARN nor service (an unsigned request, e.g. to a public S3 bucket)
        self.kind = "service" if service else "unknown" if arn else "anonymous"
        self.principal_arn = arn
        self.principal_type = "AWSService" if service else "Unknown" if arn else "Anonymous"
        if service or not arn:
            self.identities: frozenset[str] = frozenset()
            self.derived = self._static_keys()
            return
        parts = arn.split(":", 5)
        if len(parts) == 6:
            self.account = parts[4] or None
            resource = parts[5]
            svc = parts[2]
            if svc == "iam" and resource == "root":
                self.kind, self.principal_type = "root", "Account"
            elif svc == "iam" and resource.startswith("user/"):
                self.kind, self.principal_type = "user", "User"
                self.name = resource.rsplit("/", 1)[1]
            elif svc == "iam" and resource.startswith("role/"):
                self.kind, self.principal_type = "role", "AssumedRole"
                self.role_name = resource.rsplit("/", 1)[1]
                self.service_linked = resource.startswith("role/aws-service-role/")
            elif svc == "sts" and resource.startswith("assumed-role/"):
                self.kind, self.principal_type = "assumed-role", "AssumedRole"
                self.role_name = resource.split("/")[1]
                self.principal_arn = f"arn:{parts[1]}:iam::{self.account}:role/{self.role_name}"
            elif svc == "sts" and resource.startswith("federated-user/"):
                self.kind, self.principal_type = "federated-user", "FederatedUser"
                self.name = resource.split("/", 1)[1]
        if self.role_name and self.role_name.startswith("AWSServiceRoleFor"):
            self.service_linked = True
        self.identities = frozenset(x for x in (arn, self.principal_arn) if x)
        self.derived = self._static_keys()

    def _static_keys(self) -> dict[str, str]:
        """The derived keys that depend on the ARN alone (the request's own keys override them)."""
        keys = {"aws:principalisawsservice": "true" if self.kind == "service" else "false"}
        if self.principal_arn:
            keys["aws:principalarn"] = self.principal_arn
        if self.account:
            keys["aws:principalaccount"] = self.account
        if self.kind not in ("unknown", "service"):  # Account, User, FederatedUser, AssumedRole, Anonymous
            keys["aws:principaltype"] = self.principal_type
        if self.kind == "user" and self.name:
            keys["aws:username"] = self.name
        if self.service:
            keys["aws:principalservicename"] = self.service
        return keys


@lru_cache(maxsize=4096)
def principal_info(arn: str | None, service: str | None) -> PrincipalInfo:
    return PrincipalInfo(arn, service)


def _one(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _values(value: Any) -> Values | None:
    if isinstance(value, str):
        return (value,)
    if value is None:
        return None
    if isinstance(value, Sequence):
        return tuple(_one(v) for v in value if v is not None)
    return (_one(value),)


@lru_cache(maxsize=4096)
def _names(keys: tuple[str, ...]) -> dict[str, str]:
    """Lowercased key -> the key as the request spelled it (a later spelling wins). Shared: never
    mutated."""
    return {key.lower(): key for key in keys}


_NONE: Mapping[str, Any] = MappingProxyType({})


def derivable(key: str) -> bool:
    """Whether ``key`` (lowercased) may be derived from the request when neither the request's
    context nor the principal's ARN gives it (see :meth:`EvalContext._derive`)."""
    return key in ("aws:userid", "aws:resourceaccount") or key.startswith("aws:principaltag/")


class EvalContext:
    """The request's condition keys: given ones (case-insensitive) first, then derived ones.

    ``given`` is the request's context as it came and ``names`` maps a lowercased key to its
    spelling there, so that a lookup is ``given[names[key]]``, else ``derived[key]`` (the keys
    that depend on the principal's ARN alone), else :meth:`peek` derives it. ``peek`` gives the
    values as a tuple and remembers them. Records the keys that policies asked for but the
    request lacked (``missing``).
    """

    __slots__ = ("derived", "given", "info", "missing", "names", "request", "resource_account", "seen")

    def __init__(self, request: Request, info: PrincipalInfo, resource_account: str | None) -> None:
        self.request = request
        self.info = info
        self.resource_account = resource_account
        self.derived = info.derived
        given = request.context
        self.given: Mapping[str, Any] = given if given else _NONE
        self.names: Mapping[str, str] = _names(tuple(given)) if given else _NONE
        self.seen: dict[str, Values | None] | None = None  # lowercased key -> values (by peek)
        self.missing: dict[str, str] | None = None

    def peek(self, key: str) -> Values | None:
        """Values of ``key`` (lowercased): given ones, else derived ones."""
        seen = self.seen
        if seen is None:
            seen = self.seen = {}
        elif key in seen:
            return seen[key]
        name = self.names.get(key)
        if name is not None:
            values = self.given[name]
            if values is not None and values.__class__ is not tuple:
                values = _values(values)
        else:
            value = self.derived.get(key)
            values = (value,) if value is not None else self._derive(key)
        seen[key] = values
        return values

    def get(self, key: str, name: str) -> Values | None:
        """Like :meth:`peek`, and records a missing key (``name``: as the policy wrote it)."""
        values = self.peek(key)
        if values is None:
            self.record_missing(key, name)
        return values

    def record_missing(self, key: str, name: str) -> None:
        missing = self.missing
        if missing is None:
            missing = self.missing = {}
        missing.setdefault(key, name)

    def scalar(self, key: str, name: str) -> str | None:
        """A single value for policy variables; multivalued keys do not resolve."""
        values = self.get(key, name)
        return values[0] if values is not None and len(values) == 1 else None

    def _derive(self, key: str) -> Values | None:
        """Keys that depend on more than the principal's ARN (those are in ``info.derived``)."""
        info = self.info
        principal = self.request.principal
        if key == "aws:userid":
            if principal.id:
                return (principal.id,)
            if info.kind == "root" and info.account:
                return (info.account,)
            if info.kind == "federated-user" and info.account:
                return (f"{info.account}:{info.name}",)
            return None
        if key == "aws:resourceaccount":
            return (self.resource_account,) if self.resource_account else None
        if key.startswith("aws:principaltag/") and principal.tags:
            wanted = key[len("aws:principaltag/") :]
            for tag, value in principal.tags.items():
                if tag.lower() == wanted:
                    return (value,)
        return None

    def missing_keys(self) -> tuple[str, ...]:
        """The missing keys as the policies wrote them, sorted, each once."""
        return _sorted_names(tuple(self.missing.values())) if self.missing else ()


@lru_cache(maxsize=1024)
def _sorted_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """Sorted and each once; one shared tuple per content (decisions keep it: fewer objects)."""
    return tuple(sorted(set(names)))
