"""IAM OpenID Connect providers: Create/Get/List/Delete, client ids, thumbprints and tags.

A provider is identified by its issuer URL: the ARN is ``arn:aws:iam::ACCT:oidc-provider/`` plus the
URL without its scheme (``token.actions.githubusercontent.com``, ``example.com/tenant``), and
GetOpenIDConnectProvider's ``Url`` is that same scheme-less form, as AWS returns it. The URL must be
``https://``; an ``http://`` URL is accepted only for a loopback host (127.0.0.0/8, ::1, localhost)
and only when ``IRONKEEP_ALLOW_INSECURE_OIDC_LOOPBACK=1`` is set, which is what a test IdP on
127.0.0.1 needs (see :mod:`ironkeep.services.sts_federation` for how tokens are then verified).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from ironkeep.errors import EntityAlreadyExists, InvalidInput, LimitExceeded, NoSuchEntity
from ironkeep.services import common
from ironkeep.services.context import CallContext
from ironkeep.services.registry import operation
from ironkeep.store import schema as t

TAG_KIND = "oidc-provider"
PROVIDERS_PER_ACCOUNT = 100  # IAM quota "OpenIdConnectProvidersPerAccount"
CLIENT_IDS_PER_PROVIDER = 100
THUMBPRINTS_PER_PROVIDER = 5
INSECURE_LOOPBACK_ENV = "IRONKEEP_ALLOW_INSECURE_OIDC_LOOPBACK"
_HEX40 = re.compile(r"[0-9A-Fa-f]{40}")
_ARN = re.compile(r"arn:aws:iam::(\d{12}):oidc-provider/(.+)")


def insecure_loopback_allowed() -> bool:
    return os.environ.get(INSECURE_LOOPBACK_ENV, "") == "1"


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_url(url: str) -> str:
    """The canonical issuer URL (scheme and host lower-cased, no trailing slash); InvalidInput if unusable."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidInput("Invalid URL: not a URL") from None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme == "http" and insecure_loopback_allowed() and is_loopback_host(host):
        pass
    elif scheme != "https":
        raise InvalidInput("Invalid URL: the URL must begin with https://")
    if not host or parts.query or parts.fragment or parts.username or parts.password or "?" in url:
        raise InvalidInput("Invalid URL: a host is required; user info, query and fragment are not allowed")
    if any(ch.isspace() for ch in url):
        raise InvalidInput("Invalid URL: white space is not allowed")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def url_key(url: str) -> str:
    """The URL without its scheme: the ARN's resource part, GetOpenIDConnectProvider's ``Url``, and
    the prefix of the provider's condition keys (``example.com:aud``)."""
    return url.split("://", 1)[1]


def provider_arn(account_id: str, url: str) -> str:
    return f"arn:aws:iam::{account_id}:oidc-provider/{url_key(url)}"


def find_provider_by_url(tx: Connection, account_id: str, url: str) -> Row[Any] | None:
    """The provider of ``account_id`` whose issuer is ``url`` (an ``iss`` claim), if any."""
    try:
        wanted = normalize_url(url)
    except InvalidInput:
        return None
    return tx.execute(
        select(t.oidc_providers).where(
            t.oidc_providers.c.account_id == account_id,
            t.oidc_providers.c.arn == provider_arn(account_id, wanted),
        )
    ).first()


def _get(ctx: CallContext, arn: str) -> Row[Any]:
    match = _ARN.fullmatch(arn)
    row = None
    if match is not None and match.group(1) == ctx.account_id:
        row = ctx.tx.execute(
            select(t.oidc_providers).where(
                t.oidc_providers.c.account_id == ctx.account_id, t.oidc_providers.c.arn == arn
            )
        ).first()
    if row is None:
        raise NoSuchEntity(f"OpenIDConnect Provider not found for arn {arn}")
    return row


def _thumbprints(values: list[str]) -> list[str]:
    if len(values) > THUMBPRINTS_PER_PROVIDER:
        raise LimitExceeded(
            f"Cannot exceed quota for ThumbprintsPerOpenIdConnectProvider: {THUMBPRINTS_PER_PROVIDER}"
        )
    for value in values:
        if not _HEX40.fullmatch(value):
            raise InvalidInput(f"Thumbprint {value} is not a 40-character hexadecimal string")
    return list(dict.fromkeys(v.lower() for v in values))


def _client_ids(values: list[str]) -> list[str]:
    ids = list(dict.fromkeys(values))
    if len(ids) > CLIENT_IDS_PER_PROVIDER:
        raise LimitExceeded(
            f"Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: {CLIENT_IDS_PER_PROVIDER}"
        )
    return ids


def _resource(ctx: CallContext, params: dict[str, Any]) -> str:
    arn = params.get("OpenIDConnectProviderArn")
    if arn:
        return str(arn)
    try:
        return provider_arn(ctx.account_id, normalize_url(params.get("Url") or ""))
    except InvalidInput:
        return f"arn:aws:iam::{ctx.account_id}:oidc-provider/*"


@operation("iam", "CreateOpenIDConnectProvider", resource=_resource)
def create_open_id_connect_provider(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    url = normalize_url(params["Url"])
    arn = provider_arn(ctx.account_id, url)
    client_ids = _client_ids(params.get("ClientIDList", []))
    thumbprints = _thumbprints(params.get("ThumbprintList", []))
    tags = common.check_tags(params.get("Tags", []))
    owned = t.oidc_providers.c.account_id == ctx.account_id
    if ctx.tx.execute(select(t.oidc_providers.c.arn).where(owned, t.oidc_providers.c.arn == arn)).first():
        raise EntityAlreadyExists(f"Provider with url {url} already exists.")
    count = ctx.tx.execute(select(func.count()).select_from(t.oidc_providers).where(owned)).scalar() or 0
    if count >= PROVIDERS_PER_ACCOUNT:
        raise LimitExceeded(
            f"Cannot exceed quota for OpenIdConnectProvidersPerAccount: {PROVIDERS_PER_ACCOUNT}"
        )
    ctx.tx.execute(
        insert(t.oidc_providers).values(
            arn=arn,
            account_id=ctx.account_id,
            url=url,
            client_ids=json.dumps(client_ids),
            thumbprints=json.dumps(thumbprints),
            created_at=ctx.now,
        )
    )
    common.put_tags(ctx.tx, TAG_KIND, arn, tags)
    out: dict[str, Any] = {"OpenIDConnectProviderArn": arn}
    stored = common.get_tags(ctx.tx, TAG_KIND, arn)
    if stored:
        out["Tags"] = stored
    return out


@operation("iam", "GetOpenIDConnectProvider", resource=_resource)
def get_open_id_connect_provider(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = _get(ctx, params["OpenIDConnectProviderArn"])
    out: dict[str, Any] = {
        "Url": url_key(row.url),
        "ClientIDList": json.loads(row.client_ids),
        "ThumbprintList": json.loads(row.thumbprints),
        "CreateDate": common.utc(row.created_at),
    }
    tags = common.get_tags(ctx.tx, TAG_KIND, row.arn)
    if tags:
        out["Tags"] = tags
    return out


@operation("iam", "ListOpenIDConnectProviders")
def list_open_id_connect_providers(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    rows = ctx.tx.execute(
        select(t.oidc_providers.c.arn)
        .where(t.oidc_providers.c.account_id == ctx.account_id)
        .order_by(t.oidc_providers.c.arn)
    )
    return {"OpenIDConnectProviderList": [{"Arn": row.arn} for row in rows]}


@operation("iam", "DeleteOpenIDConnectProvider", resource=_resource)
def delete_open_id_connect_provider(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _get(ctx, params["OpenIDConnectProviderArn"])
    common.drop_tags(ctx.tx, TAG_KIND, row.arn)
    ctx.tx.execute(delete(t.oidc_providers).where(t.oidc_providers.c.arn == row.arn))


def _set(ctx: CallContext, row: Row[Any], **values: list[str]) -> None:
    ctx.tx.execute(
        update(t.oidc_providers)
        .where(t.oidc_providers.c.arn == row.arn)
        .values(**{name: json.dumps(value) for name, value in values.items()})
    )


def _locked(ctx: CallContext, arn: str) -> Row[Any]:
    """The provider row, locked on PostgreSQL so that concurrent list edits do not lose one another."""
    _get(ctx, arn)
    return ctx.tx.execute(
        select(t.oidc_providers).where(t.oidc_providers.c.arn == arn).with_for_update()
    ).one()


@operation("iam", "AddClientIDToOpenIDConnectProvider", resource=_resource)
def add_client_id_to_open_id_connect_provider(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _locked(ctx, params["OpenIDConnectProviderArn"])
    ids = json.loads(row.client_ids)
    if params["ClientID"] not in ids:  # adding a client id that is already there changes nothing
        _set(ctx, row, client_ids=_client_ids([*ids, params["ClientID"]]))


@operation("iam", "RemoveClientIDFromOpenIDConnectProvider", resource=_resource)
def remove_client_id_from_open_id_connect_provider(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _locked(ctx, params["OpenIDConnectProviderArn"])
    ids = json.loads(row.client_ids)
    if params["ClientID"] in ids:  # removing one that is not there is not an error
        _set(ctx, row, client_ids=[i for i in ids if i != params["ClientID"]])


@operation("iam", "UpdateOpenIDConnectProviderThumbprint", resource=_resource)
def update_open_id_connect_provider_thumbprint(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _locked(ctx, params["OpenIDConnectProviderArn"])
    _set(ctx, row, thumbprints=_thumbprints(params["ThumbprintList"]))


@operation("iam", "TagOpenIDConnectProvider", resource=_resource)
def tag_open_id_connect_provider(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _get(ctx, params["OpenIDConnectProviderArn"])
    common.put_tags(ctx.tx, TAG_KIND, row.arn, params["Tags"])


@operation("iam", "UntagOpenIDConnectProvider", resource=_resource)
def untag_open_id_connect_provider(ctx: CallContext, params: dict[str, Any]) -> None:
    row = _get(ctx, params["OpenIDConnectProviderArn"])
    common.remove_tags(ctx.tx, TAG_KIND, row.arn, params["TagKeys"])


@operation("iam", "ListOpenIDConnectProviderTags", resource=_resource)
def list_open_id_connect_provider_tags(ctx: CallContext, params: dict[str, Any]) -> dict[str, Any]:
    row = _get(ctx, params["OpenIDConnectProviderArn"])
    return common.paginate(
        common.get_tags(ctx.tx, TAG_KIND, row.arn), params, lambda tag: tag["Key"].lower(), "Tags"
    )
