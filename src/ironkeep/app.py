"""The HTTP application: one request pipeline for every API.

parse -> authenticate (SigV4) -> decode (AWS Query) -> authorize (the engine) -> execute -> audit
-> render. Exceptions become AWS error responses in exactly one place, :func:`Pipeline.handle`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HTTPRequest
from starlette.responses import Response
from starlette.routing import Route

from ironkeep.auth.sigv4 import parse_signed_request, verify_signature
from ironkeep.errors import AWSError, InternalFailure
from ironkeep.protocol import InvalidAction, decode_form, decode_query, render_error, render_response
from ironkeep.services import authz, registry
from ironkeep.services.context import CallContext
from ironkeep.services.principals import Principals

log = logging.getLogger("ironkeep")

SERVICES = frozenset({"iam", "sts"})
_XML = "text/xml"


@dataclass(frozen=True, slots=True)
class RawRequest:
    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes
    source_ip: str
    secure: bool


class Pipeline:
    """Everything a request needs that outlives it: the store and the principals' cache."""

    def __init__(self, store: Any, principals: Principals, clock: Any = None) -> None:
        self.store = store
        self.principals = principals
        self.clock = clock or (lambda: datetime.now(UTC))

    def handle(self, raw: RawRequest) -> tuple[int, bytes]:
        request_id = str(uuid.uuid4())
        service = "iam"
        try:
            signed = parse_signed_request(raw.method, raw.path, raw.query_string, raw.headers, raw.body)
            if signed.service in SERVICES:
                service = signed.service
            params = _params(raw)
            now = self.clock()
            with self.store.transaction() as tx:
                caller, secret = self.principals.authenticate(tx, signed.access_key_id, signed.session_token)
                verify_signature(signed, secret, now, allowed_services=SERVICES)
                operation_name, inputs = decode_query(service, params)
                op = registry.find(service, operation_name)
                if op is None:
                    raise InvalidAction(
                        f"Could not find operation {operation_name} for version {params.get('Version', '')}"
                    )
                ctx = CallContext(
                    caller=caller,
                    tx=tx,
                    now=now,
                    region=signed.region,
                    request_id=request_id,
                    source_ip=raw.source_ip,
                    user_agent=raw.headers.get("user-agent", ""),
                    secure_transport=raw.secure,
                    services=self.principals,
                )
                self.principals.note_key_use(tx, signed.access_key_id, now, signed.region, service)
                if op.authorize:
                    authz.check(ctx, op.action, op.resource(ctx, inputs))
                output = op.func(ctx, inputs)
            return 200, render_response(service, operation_name, output, request_id)
        except AWSError as error:
            return render_error(service, error, request_id)
        except Exception:
            log.exception("request %s failed", request_id)
            return render_error(
                service, InternalFailure("We encountered an internal error. Please try again."), request_id
            )


def _params(raw: RawRequest) -> dict[str, str]:
    params: dict[str, str] = {}
    if raw.query_string:
        params.update(decode_form(raw.query_string.encode()))
    if raw.body and raw.method == "POST":
        params.update(decode_form(raw.body))
    return params


def build_app(pipeline: Pipeline) -> Starlette:
    async def endpoint(request: HTTPRequest) -> Response:
        body = await request.body()
        client = request.client
        raw = RawRequest(
            method=request.method,
            path=request.url.path,
            query_string=request.url.query,
            headers=request.headers,
            body=body,
            source_ip=client.host if client else "",
            secure=request.url.scheme == "https",
        )
        status, payload = await run_in_threadpool(pipeline.handle, raw)
        return Response(payload, status_code=status, media_type=_XML)

    return Starlette(routes=[Route("/", endpoint, methods=["GET", "POST"])])
