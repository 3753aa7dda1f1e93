"""Who a request comes from, and what that principal's policies are.

``authenticate`` turns an access key id into a :class:`Caller` and the key's secret in one indexed
query (the key, its user and the account's generation). ``principal_policies`` returns the
caller's identity policies and boundary, compiled by the engine and cached per principal until the
account's generation moves (every write in an account bumps it, in the write's own transaction),
so a steady stream of calls costs no policy queries and every node sees changes at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, select, update

from ironkeep.auth.errors import InvalidClientTokenId
from ironkeep.auth.keys import is_temporary_access_key_id
from ironkeep.auth.secrets import SecretBox
from ironkeep.auth.session_tokens import SessionContext, SessionKind, open_token
from ironkeep.engine import PolicySet, compile_policy_set
from ironkeep.model import aws_policies
from ironkeep.model.arns import root_arn
from ironkeep.services.context import Caller
from ironkeep.services.session_keys import SessionKeys
from ironkeep.store import principals as store_principals
from ironkeep.store import schema as t
from ironkeep.store.prepared import Prepared

KEY_USE_GRANULARITY = timedelta(seconds=60)
_V = TypeVar("_V")


@dataclass(frozen=True)
class PrincipalPolicies:
    identity: tuple[str, ...]
    permissions_boundary: str | None
    session: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    policy_set: PolicySet | None = None


def secret_aad(access_key_id: str) -> bytes:
    return f"access-key:{access_key_id}".encode()


class Principals:
    def __init__(self, store: Any, box: SecretBox, cache_size: int = 10_000) -> None:
        self.store = store
        self.box = box
        self._cache: dict[str, tuple[int, PrincipalPolicies]] = {}
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._key_use: dict[str, tuple[datetime | None, str | None, str | None]] = {}
        self._secrets: dict[tuple[str, bytes], str] = {}
        # a long-term key's Caller by what its row says, built once (a Caller is immutable and a
        # frozen dataclass costs ~4 us to build): a steady caller's requests share one object
        self._callers: dict[tuple[Any, ...], Caller] = {}
        self.session_keys = SessionKeys(box)
        self.audit_writer: Any = None  # set by the pipeline: services.audit_trail.AuditWriter or None
        self.lookup_token_key: bytes | None = None  # set by the server: LookupEvents' NextToken key

    # -- authentication -------------------------------------------------------------------------

    def authenticate(
        self, tx: Connection, access_key_id: str, session_token: str | None, now: datetime
    ) -> tuple[Caller, str]:
        if is_temporary_access_key_id(access_key_id):
            return self._authenticate_session(tx, access_key_id, session_token, now)
        if session_token:  # a long-term key with a session token (a stale AWS_SESSION_TOKEN): AWS refuses it
            raise InvalidClientTokenId()
        row = _KEY_QUERY.first(tx, {"key": access_key_id})
        if row is None or row.status != "Active":
            raise InvalidClientTokenId()
        secret = self._secret(access_key_id, row.secret_sealed)
        self._key_use[access_key_id] = (row.last_used_at, row.last_used_region, row.last_used_service)
        facts = (
            access_key_id,
            row.account_id,
            row.user_id,
            row.user_arn,
            row.user_name,
            row.user_path,
            row.generation,
        )
        caller = self._callers.get(facts)
        if caller is None:
            caller = self._remember(self._callers, facts, _key_caller(*facts))
        return caller, secret

    def _secret(self, access_key_id: str, sealed: bytes) -> str:
        """The key's secret, opened once per sealed value: a key's secret never changes, and the
        sealed bytes it is cached under come from this request's own read of the key."""
        cache_key = (access_key_id, bytes(sealed))
        secret = self._secrets.get(cache_key)
        if secret is None:
            secret = self._remember(
                self._secrets, cache_key, self.box.open(sealed, aad=secret_aad(access_key_id)).decode()
            )
        return secret

    def _authenticate_session(
        self, tx: Connection, access_key_id: str, session_token: str | None, now: datetime
    ) -> tuple[Caller, str]:
        """Temporary credentials: the sealed token carries the session; no key row to read."""
        if not session_token:
            raise InvalidClientTokenId()
        opened = open_token(
            session_token, access_key_id, lambda key_id: self.session_keys.lookup(tx, key_id, now), now
        )
        session = opened.context
        generation = _GENERATION.scalar(tx, {"account": session.account_id})
        if generation is None:
            raise InvalidClientTokenId()
        user_name = None
        if session.kind is SessionKind.IAM_USER:
            user_name = session.principal_arn.rsplit("/", 1)[-1]
        caller = Caller(
            account_id=session.account_id,
            arn=session.principal_arn,
            principal_id=session.principal_id,
            kind=session.kind.value,
            access_key_id=access_key_id,
            user_name=user_name,
            generation=generation,
            session=session,
        )
        return caller, opened.secret_access_key

    def note_key_use(self, access_key_id: str, now: datetime, region: str, service: str) -> None:
        """Record GetAccessKeyLastUsed's data, at most once a minute per key and place."""
        if access_key_id not in self._key_use:
            return  # temporary credentials have no key row
        last_at, last_region, last_service = self._key_use.pop(access_key_id, (None, None, None))
        if last_at is not None:
            if last_at.tzinfo is None:
                last_at = last_at.replace(tzinfo=now.tzinfo)
            if now - last_at < KEY_USE_GRANULARITY and last_region == region and last_service == service:
                return
        with self.store.transaction() as tx:
            tx.execute(
                update(t.access_keys)
                .where(t.access_keys.c.id == access_key_id)
                .values(last_used_at=now, last_used_region=region, last_used_service=service)
            )

    # -- authorization material ------------------------------------------------------------------

    def principal_policies(self, tx: Connection, caller: Caller) -> PrincipalPolicies:
        cache_key = caller.access_key_id if caller.is_session else caller.arn
        cached = self._cache.get(cache_key)
        if cached is not None and cached[0] == caller.generation:
            return cached[1]
        session: SessionContext | None = caller.session
        session_docs: tuple[str, ...] = ()
        material = _material(tx, caller)
        tags = dict(material.tags)
        if session is not None:
            session_docs = tuple(session.session_policies) + tuple(
                managed_policy_documents(tx, list(session.policy_arns))
            )
            for key, value in session.tags:  # session tags override the role's own, regardless of case
                for existing in [k for k in tags if k.lower() == key.lower()]:
                    del tags[existing]
                tags[key] = value
            if (session.session_policies or session.policy_arns) and not session_docs:
                session_docs = (_ALLOWS_NOTHING,)  # its session policies are gone: nothing is allowed
        material = PrincipalPolicies(
            identity=material.identity,
            permissions_boundary=material.permissions_boundary,
            session=session_docs,
            tags=tags,
            policy_set=compile_policy_set(
                identity=list(material.identity),
                permissions_boundary=material.permissions_boundary,
                session=list(session_docs),
            ),
        )
        self._remember(self._cache, cache_key, (caller.generation, material))
        return material

    def _remember(self, cache: dict[Any, _V], key: Any, value: _V) -> _V:
        """Put ``value`` in one of the caches (emptied when full: they refill from the store in one
        request each) and return it."""
        with self._lock:
            if len(cache) >= self._cache_size:
                cache.clear()
            cache[key] = value
        return value


def _key_caller(
    access_key_id: str,
    account_id: str,
    user_id: str | None,
    user_arn: str | None,
    user_name: str | None,
    user_path: str | None,
    generation: int,
) -> Caller:
    """The Caller of a long-term access key: the root user's (a key of no user) or an IAM user's."""
    root = user_id is None
    return Caller(
        account_id=account_id,
        arn=root_arn(account_id) if root else str(user_arn),
        principal_id=account_id if root else str(user_id),
        kind="Root" if root else "IAMUser",
        access_key_id=access_key_id,
        user_name=user_name,
        user_path=user_path or "/",
        generation=generation,
    )


def _key_query() -> Any:
    return (
        select(
            t.access_keys.c.status,
            t.access_keys.c.secret_sealed,
            t.access_keys.c.last_used_at,
            t.access_keys.c.last_used_region,
            t.access_keys.c.last_used_service,
            t.access_keys.c.account_id,
            t.accounts.c.generation,
            t.users.c.id.label("user_id"),
            t.users.c.name.label("user_name"),
            t.users.c.path.label("user_path"),
            t.users.c.arn.label("user_arn"),
        )
        .join(t.accounts, t.accounts.c.id == t.access_keys.c.account_id)
        .outerjoin(t.users, t.users.c.id == t.access_keys.c.user_id)
    )


_KEY_QUERY = Prepared(_key_query().where(t.access_keys.c.id == bindparam("key")))
_GENERATION = Prepared(select(t.accounts.c.generation).where(t.accounts.c.id == bindparam("account")))


def managed_policy_documents(tx: Connection, arns: list[str]) -> list[str]:
    """The default version's document of each ARN (AWS-managed from the catalogue)."""
    docs: list[str] = []
    customer = []
    for arn in arns:
        aws = aws_policies.get(arn)
        if aws is not None:
            docs.append(aws.document)
        else:
            customer.append(arn)
    if customer:
        rows = tx.execute(
            select(t.policy_versions.c.document)
            .join(t.managed_policies, t.managed_policies.c.id == t.policy_versions.c.policy_id)
            .where(
                t.managed_policies.c.arn.in_(customer),
                t.policy_versions.c.version_id == t.managed_policies.c.default_version_id,
            )
        )
        docs.extend(row.document for row in rows)
    return docs


# a session policy that allows nothing (for a session whose managed session policies were deleted)
_ALLOWS_NOTHING = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ironkeep:NoAction","Resource":"*"}]}'
)
_USER_NAME_BY_ID = select(t.users.c.name).where(t.users.c.id == bindparam("id"))
_NO_POLICIES = PrincipalPolicies(identity=(), permissions_boundary=None)


def _material(tx: Connection, caller: Caller) -> PrincipalPolicies:
    """The caller's identity policies, boundary and tags, from the same loader the policy simulator
    uses (:mod:`ironkeep.store.principals`), so a simulation and enforcement never differ."""
    session: SessionContext | None = caller.session
    if session is None:
        found = store_principals.load_authz(tx, caller.account_id, caller.user_name or "")
    elif session.issuer_id is None:
        return _NO_POLICIES
    elif session.kind is SessionKind.ASSUMED_ROLE:
        role_name = (session.role_arn or "").rsplit("/", 1)[-1]
        found = store_principals.load_role_authz(tx, session.account_id, role_name)
        if found is not None and found.principal.id != session.issuer_id:
            found = None  # the role was deleted and re-created: the old sessions are not its own
    else:  # GetSessionToken / GetFederationToken: the issuing user's policies
        user_name = tx.execute(_USER_NAME_BY_ID, {"id": session.issuer_id}).scalar()
        found = store_principals.load_authz(tx, session.account_id, user_name) if user_name else None
    if found is None:
        return _NO_POLICIES
    return PrincipalPolicies(
        identity=found.identity, permissions_boundary=found.permissions_boundary, tags=dict(found.tags)
    )
