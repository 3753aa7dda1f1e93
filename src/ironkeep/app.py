"""The HTTP application: one request pipeline for every API.

parse -> authenticate (SigV4) -> decode (AWS Query) -> authorize (the engine) -> execute -> audit
-> render. Exceptions become AWS error responses in exactly one place, :meth:`Pipeline.handle`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HTTPRequest
from starlette.responses import Response
from starlette.routing import Route

from ironkeep.auth.errors import MissingAuthenticationToken
from ironkeep.auth.sigv4 import parse_signed_request, verify_signature
from ironkeep.errors import AWSError, InternalFailure
from ironkeep.protocol import InvalidAction, decode_form, decode_query, render_error, render_response
from ironkeep.services import authz, registry
from ironkeep.services.context import CallContext, Caller
from ironkeep.services.principals import Principals
from ironkeep.store import schema

log = logging.getLogger("ironkeep")

SERVICES = frozenset({"iam", "sts"})
_XML = "text/xml"


@dataclass(frozen=True, slots=True)
class RawRequest:
    method: str
    path: str
    query_string: str
    headers: Iterable[tuple[str, str]]
    body: bytes
    source_ip: str
    user_agent: str
    secure: bool


class Pipeline:
    """Everything a request needs that outlives it: the store and the principals' cache."""

    def __init__(
        self, store: Any, principals: Principals, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = store
        self.principals = principals
        self.clock = clock or (lambda: datetime.now(UTC))

    def handle(self, raw: RawRequest) -> tuple[int, bytes]:
        request_id = str(uuid.uuid4())
        service = "iam"
        try:
            try:
                signed = parse_signed_request(raw.method, raw.path, raw.query_string, raw.headers, raw.body)
            except MissingAuthenticationToken:
                params = _params(raw)
                if params.get("Action") not in UNSIGNED_ACTIONS:
                    raise
                service = "sts"
                return self._handle_unsigned(raw, params, request_id)
            if signed.service in SERVICES:
                service = signed.service
            now = self.clock()
            # Decoding is pure; its error is raised only once the caller is authenticated, as AWS does.
            decoded: tuple[str, dict[str, Any]] | None = None
            decode_error: AWSError | None = None
            try:
                decoded = decode_query(service, _params(raw))
                op = registry.find(service, decoded[0])
                if op is None:
                    raise InvalidAction(
                        f"Could not find operation {decoded[0]} for version {_version(service)}"
                    )
            except AWSError as error:
                decode_error, op = error, None
            write = op is None or not op.read_only
            with self.store.transaction(write=write) as tx:
                caller, secret = self.principals.authenticate(
                    tx, signed.access_key_id, signed.session_token, now
                )
                verify_signature(signed, secret, now, allowed_services=SERVICES)
                if decode_error is not None:
                    raise decode_error
                assert op is not None and decoded is not None
                ctx = CallContext(
                    caller=caller,
                    tx=tx,
                    now=now,
                    region=signed.region,
                    request_id=request_id,
                    source_ip=raw.source_ip,
                    user_agent=raw.user_agent,
                    secure_transport=raw.secure,
                    services=self.principals,
                )
                if op.authorize:
                    authz.check(ctx, op.action, op.resource(ctx, decoded[1]))
                output = op.func(ctx, decoded[1])
                if not op.read_only:
                    tx.execute(
                        update(schema.accounts)
                        .where(schema.accounts.c.id == caller.account_id)
                        .values(generation=schema.accounts.c.generation + 1)
                    )
            self.principals.note_key_use(signed.access_key_id, now, signed.region, service)
            return 200, render_response(service, op.name, output, request_id)
        except AWSError as error:
            return render_error(service, error, request_id)
        except Exception:
            log.exception("request %s failed", request_id)
            failure = InternalFailure("We encountered an internal error. Please try again.")
            return render_error(service, failure, request_id)


    def _handle_unsigned(self, raw: RawRequest, params: dict[str, str], request_id: str) -> tuple[int, bytes]:
        """AssumeRoleWithSAML and AssumeRoleWithWebIdentity: the assertion or token is the credential,
        checked by the handler against the role's trust policy; nothing else runs unsigned."""
        operation_name, inputs = decode_query("sts", params)
        op = registry.find("sts", operation_name)
        if op is None or op.authorize:
            raise InvalidAction(f"Could not find operation {operation_name} for version {_version('sts')}")
        now = self.clock()
        with self.store.transaction(write=True) as tx:
            ctx = CallContext(
                caller=ANONYMOUS,
                tx=tx,
                now=now,
                region="us-east-1",
                request_id=request_id,
                source_ip=raw.source_ip,
                user_agent=raw.user_agent,
                secure_transport=raw.secure,
                services=self.principals,
            )
            output = op.func(ctx, inputs)
        return 200, render_response("sts", op.name, output, request_id)


# The caller of an unsigned request: no account, no key.
ANONYMOUS = Caller(account_id="", arn="", principal_id="", kind="Anonymous", access_key_id="")
UNSIGNED_ACTIONS = frozenset({"AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"})


def _version(service: str) -> str:
    from ironkeep.protocol import api_version

    return api_version(service)


def _params(raw: RawRequest) -> dict[str, str]:
    params: dict[str, str] = {}
    if raw.body and raw.method == "POST":
        params.update(decode_form(raw.body))
    if raw.query_string:
        for key, value in decode_form(raw.query_string).items():
            params.setdefault(key, value)
    return params


def build_app(pipeline: Pipeline) -> Starlette:
    async def endpoint(request: HTTPRequest) -> Response:
        body = await request.body()
        client = request.client
        raw = RawRequest(
            method=request.method,
            path=request.scope.get("raw_path", b"/").decode("latin-1") or "/",
            query_string=request.url.query,
            headers=request.headers.items(),
            body=body,
            source_ip=client.host if client else "",
            user_agent=request.headers.get("user-agent", ""),
            secure=request.url.scheme == "https",
        )
        status, payload = await run_in_threadpool(pipeline.handle, raw)
        return Response(payload, status_code=status, media_type=_XML)

    return Starlette(routes=[Route("/", endpoint, methods=["GET", "POST"])])
