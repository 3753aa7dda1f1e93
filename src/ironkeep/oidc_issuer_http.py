"""The OpenID Connect endpoints of each account's outbound token issuer, as Starlette routes.

``GET /oidc/<account>/.well-known/openid-configuration`` serves the discovery document and
``GET /oidc/<account>/.well-known/jwks.json`` the public keys GetWebIdentityToken signs with, for
every account whose issuer is published (enabled, or disabled less than a token lifetime ago: see
:mod:`ironkeep.services.iam_outbound_federation`). Anything else is 404. Both are public and
unauthenticated, as an OIDC issuer's must be, and carry nothing secret.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ironkeep.services import iam_outbound_federation as outbound

CACHE_SECONDS = 300
_HEADERS = {"cache-control": f"public, max-age={CACHE_SECONDS}"}


def routes(store: Any, clock: Callable[[], datetime] | None = None) -> list[Route]:
    """The issuer's two routes over ``store`` (an :class:`ironkeep.store.Store`)."""
    now = clock or (lambda: datetime.now(UTC))

    def published(account: str) -> outbound.Federation | None:
        with store.transaction(write=False) as tx:
            state = outbound.federation(tx, account)
        return state if state is not None and state.published(now()) else None

    def configuration(request: Request) -> Response:
        state = published(request.path_params["account"])
        if state is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return JSONResponse(outbound.discovery_document(state.issuer), headers=_HEADERS)

    def keys(request: Request) -> Response:
        account = request.path_params["account"]
        if published(account) is None:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        with store.transaction(write=False) as tx:
            body = outbound.jwks(tx, account)
        return JSONResponse(body, headers=_HEADERS)

    return [
        Route("/oidc/{account}/.well-known/openid-configuration", configuration, methods=["GET"]),
        Route("/oidc/{account}/.well-known/jwks.json", keys, methods=["GET"]),
    ]
