"""The HTTP application: one request pipeline for every API.

parse -> authenticate (SigV4) -> decode (AWS Query) -> authorize (the engine) -> execute -> audit
-> render. Exceptions become AWS error responses in exactly one place, :meth:`Pipeline.handle`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy import bindparam, update
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as HTTPRequest
from starlette.responses import Response
from starlette.routing import Route

from ironkeep.audit import records
from ironkeep.audit.records import new_request_id
from ironkeep.auth.errors import MissingAuthenticationToken
from ironkeep.auth.sigv4 import parse_signed_request, verify_signature
from ironkeep.errors import AWSError, InternalFailure, ValidationError
from ironkeep.model.arns import account_of
from ironkeep.protocol import (
    InvalidAction,
    decode_form,
    decode_query,
    render_error,
    render_response,
    validation_message,
)
from ironkeep.protocol.json_protocol import (
    UnknownOperationException,
    ValidationException,
    decode_json_request,
    render_json_error,
    render_json_response,
)
from ironkeep.protocol.json_protocol import content_type as json_content_type
from ironkeep.services import audit_trail, authz, registry
from ironkeep.services.context import CallContext, Caller
from ironkeep.services.principals import Principals
from ironkeep.store import schema

log = logging.getLogger("ironkeep")

SERVICES = frozenset({"iam", "sts", "cloudtrail"})
JSON_SERVICES = frozenset({"cloudtrail"})  # AWS JSON 1.1, X-Amz-Target


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs three times as much
class RawRequest:
    method: str
    path: str
    query_string: str
    headers: Iterable[tuple[str, str]]
    body: bytes
    source_ip: str
    user_agent: str
    secure: bool
    target: str = ""  # X-Amz-Target: set for the JSON protocol


@dataclass(slots=True)
class _Call:
    """What the pipeline has learnt about one request so far: enough to audit it at any stage."""

    request_id: str
    now: datetime
    service: str = "iam"
    operation: str = "Unknown"
    read_only: bool = False
    caller: Caller | None = None
    access_key_id: str | None = None
    region: str = "us-east-1"
    params: dict[str, Any] | None = None
    account_id: str = ""
    json: bool = False
    inline: bool = False  # run on the event loop's thread (see Pipeline.runs_inline)

    def render(self, output: Any) -> tuple[int, bytes, dict[str, str]]:
        if self.json:
            body = render_json_response(self.service, self.operation, output)
            return (
                200,
                body,
                {"content-type": json_content_type(self.service), "x-amzn-requestid": self.request_id},
            )
        body = render_response(self.service, self.operation, output, self.request_id)
        return 200, body, self._xml_headers()

    @property
    def json_errors(self) -> bool:
        """Whether errors go out as JSON: a JSON request to a service that speaks JSON. An
        X-Amz-Target on a request for IAM or STS (or one not signed, whose service is unknown)
        is answered in the Query protocol's XML."""
        return self.json and self.service in JSON_SERVICES

    def wire_error(self, error: AWSError) -> AWSError:
        """The error as this protocol's services name it: JSON services say AccessDeniedException."""
        if self.json_errors and error.code == "AccessDenied":
            message = error.message.replace(" on resource: *", "")
            return AWSError(message, code="AccessDeniedException", status=400)
        return error

    def render_error(self, error: AWSError) -> tuple[int, bytes, dict[str, str]]:
        if self.json_errors:
            status, body, headers = render_json_error(self.service, error, self.request_id)
            return status, body, headers
        status, body = render_error(self.service, error, self.request_id)
        return status, body, self._xml_headers()

    def _xml_headers(self) -> dict[str, str]:
        # IAM and STS send the request id as a header too; SDKs such as JavaScript v3 read it there
        return {"content-type": "text/xml", "x-amzn-requestid": self.request_id}


class Pipeline:
    """Everything a request needs that outlives it: the store, the principals' cache, settings."""

    def __init__(
        self,
        store: Any,
        principals: Principals,
        clock: Callable[[], datetime] | None = None,
        *,
        audit: bool = True,
        default_account: str = "",
    ) -> None:
        self.store = store
        self.principals = principals
        self.clock = clock or (lambda: datetime.now(UTC))
        self.audit = audit
        self.default_account = default_account
        self.inline_reads = getattr(store, "dialect", "") == "sqlite"
        self._inline_actions: dict[str, bool] = {}  # runs_inline's answer per known action
        self.audit_writer = audit_trail.AuditWriter(store) if audit else None
        # handlers reach long-lived services through ctx.services (e.g. LookupEvents flushes the writer)
        principals.audit_writer = self.audit_writer

    def runs_inline(self, raw: RawRequest, params: dict[str, str]) -> bool:
        """Whether to run a request on the event loop rather than in the thread pool: reads on the
        embedded SQLite store, which take no lock and wait for nothing (a thread hop costs more
        than the whole read); everything else, and every PostgreSQL call, goes to the pool."""
        if not self.inline_reads or raw.target:
            return False
        action = params.get("Action")
        if action is None:
            return False
        known = self._inline_actions.get(action)
        if known is not None:
            return known
        op = registry.find("iam", action) or registry.find("sts", action)
        if op is None:
            return False
        inline = op.read_only and op.name.startswith(("Get", "List")) and op.name not in _WAITS_FOR_TRAIL
        self._inline_actions[action] = inline  # only known actions: a few hundred at most
        return inline

    def handle(
        self, raw: RawRequest, *, inline: bool = False, params: dict[str, str] | None = None
    ) -> tuple[int, bytes, dict[str, str]]:
        """Answer one request. ``inline``: this is the event loop's thread (SQLite reads only);
        ``params``: the request's form and query parameters, when the caller decoded them."""
        call = _Call(
            request_id=new_request_id(), now=self.clock(), account_id=self.default_account, inline=inline
        )
        try:
            return self._run(raw, call, params)
        except AWSError as raised:
            error = call.wire_error(raised)
            self._audit_failure(raw, call, error)
            return call.render_error(error)
        except Exception:
            log.exception("request %s failed", call.request_id)
            failure = InternalFailure("We encountered an internal error. Please try again.")
            self._audit_failure(raw, call, failure)
            return call.render_error(failure)

    def _run(
        self, raw: RawRequest, call: _Call, params: dict[str, str] | None
    ) -> tuple[int, bytes, dict[str, str]]:
        if raw.target:
            call.json = True
            call.operation = raw.target.rsplit(".", 1)[-1]
            params = {}
        else:
            if params is None:
                params = params_of(raw)
            call.operation = params.get("Action") or "Unknown"
        try:
            signed = parse_signed_request(raw.method, raw.path, raw.query_string, raw.headers, raw.body)
        except MissingAuthenticationToken:
            if call.operation not in UNSIGNED_ACTIONS:
                raise
            call.service = "sts"
            return self._run_unsigned(raw, params, call)
        call.access_key_id, call.region = signed.access_key_id, signed.region
        if signed.service in SERVICES:
            call.service = signed.service
        if call.json and call.service not in JSON_SERVICES:
            raise UnknownOperationException(f"Unknown operation {raw.target}")
        now = call.now
        # Decoding is pure; its error is raised only once the caller is authenticated, as AWS does.
        decoded: tuple[str, dict[str, Any]] | None = None
        decode_error: AWSError | None = None
        op = None
        try:
            if call.json:
                decoded = decode_json_request(call.service, raw.target, raw.body)
            else:
                decoded = decode_query(call.service, params)
            _refuse_unstorable(decoded[1], json=call.json)
            call.operation, call.params = decoded
            op = registry.find(call.service, decoded[0])
            if op is None:
                raise InvalidAction(
                    f"Could not find operation {decoded[0]} for version {_version(call.service)}"
                )
            call.read_only = op.read_only
        except AWSError as error:
            decode_error = error
        write = op is None or not op.read_only
        with self.store.transaction(write=write, pinned=call.inline) as tx:
            caller, secret = self.principals.authenticate(tx, signed.access_key_id, signed.session_token, now)
            verify_signature(signed, secret, now, allowed_services=SERVICES)
            call.caller, call.account_id = caller, caller.account_id
            if decode_error is not None:
                raise decode_error
            assert op is not None and decoded is not None
            ctx = self._context(raw, call, caller, tx)
            if call.service == "iam":
                authz.refuse_limited_session(ctx, op.action)
            if op.authorize:
                authz.check(ctx, op.action, op.resource(ctx, decoded[1]))
            output = op.func(ctx, decoded[1])
            if not op.read_only and op.service == "iam":  # only IAM changes what policies say
                tx.execute(_BUMP_GENERATION, {"account": caller.account_id})
            if self.audit and not op.read_only:
                audit_trail.write(tx, self._record(raw, call, output=output))
        if self.audit_writer is not None and op.read_only:
            self.audit_writer.submit(self._pending_record(raw, call, output=output))
        self.principals.note_key_use(signed.access_key_id, now, signed.region, call.service)
        return call.render(output)

    def _run_unsigned(
        self, raw: RawRequest, params: dict[str, str], call: _Call
    ) -> tuple[int, bytes, dict[str, str]]:
        """AssumeRoleWithSAML and AssumeRoleWithWebIdentity: the assertion or token is the credential,
        checked by the handler against the role's trust policy; nothing else runs unsigned."""
        operation_name, inputs = decode_query("sts", params)
        _refuse_unstorable(inputs)
        call.params = inputs
        role_account = account_of(str(inputs.get("RoleArn", "")))
        if role_account.isdigit() and len(role_account) == 12:
            call.account_id = role_account  # AWS records these calls in the role's account
        op = registry.find("sts", operation_name)
        if op is None or op.authorize:
            raise InvalidAction(f"Could not find operation {operation_name} for version {_version('sts')}")
        with self.store.transaction(write=True) as tx:
            ctx = self._context(raw, call, ANONYMOUS, tx)
            output = op.func(ctx, inputs)
            if self.audit:
                audit_trail.write(tx, self._record(raw, call, output=output))
        call.operation = op.name
        return call.render(output)

    def _context(self, raw: RawRequest, call: _Call, caller: Caller, tx: Any) -> CallContext:
        return CallContext(
            caller=caller,
            tx=tx,
            now=call.now,
            region=call.region,
            request_id=call.request_id,
            source_ip=raw.source_ip,
            user_agent=raw.user_agent,
            secure_transport=raw.secure,
            services=self.principals,
        )

    def _record(self, raw: RawRequest, call: _Call, *, output: Any = None, error: Any = None) -> Any:
        """The call's record, as rows to write (:func:`audit_trail.row_of`)."""
        return self._pending_record(raw, call, output=output, error=error)()

    def _pending_record(
        self, raw: RawRequest, call: _Call, *, output: Any = None, error: Any = None
    ) -> Callable[[], Any]:
        """The record the batch writer builds later, holding only what the record is made of: not
        the request (its headers and body) nor, where the record logs none, the handler's output.
        A read's whole request kept alive until its batch is written (tens of milliseconds, hundreds
        of requests under load) would spread each new request's objects over cold memory."""
        if output is not None and not records.logs_response(call.service, call.operation, call.read_only):
            output = None
        return partial(
            audit_trail.row_of,  # by position: a call with names would build a dict of them
            call.service,
            call.operation,
            call.now,
            call.request_id,
            call.account_id or self.default_account,
            call.read_only,
            call.caller,
            call.access_key_id,
            call.params,
            output,
            error,
            call.region,
            raw.source_ip,
            raw.user_agent,
        )

    def _audit_failure(self, raw: RawRequest, call: _Call, error: AWSError) -> None:
        """A failed call's record goes to the batch writer: the call's transaction was rolled back."""
        if self.audit_writer is not None:
            self.audit_writer.submit(self._pending_record(raw, call, error=error))


# every write in an account moves its generation: cached policies of its principals are then stale
_BUMP_GENERATION = (
    update(schema.accounts)
    .where(schema.accounts.c.id == bindparam("account"))
    .values(generation=schema.accounts.c.generation + 1)
)

# The caller of an unsigned request: no account, no key.
ANONYMOUS = Caller(account_id="", arn="", principal_id="", kind="Anonymous", access_key_id="")
UNSIGNED_ACTIONS = frozenset({"AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"})


def _version(service: str) -> str:
    from ironkeep.protocol import api_version

    return api_version(service)


def _refuse_unstorable(inputs: dict[str, Any], *, json: bool = False) -> None:
    """A NUL character or a lone surrogate in any decoded input is a validation error (the JSON
    protocol's ValidationException), whatever the store.

    The models' patterns refuse NUL in most members already; the others (ARNs, descriptions,
    tokens) would reach the store, and PostgreSQL's text cannot hold U+0000 at all. A lone
    surrogate (a JSON body may escape one: ``"\\ud800"``) is no text at all: no store, and no
    audit record, can encode it. No IAM, STS or CloudTrail value needs either, so both stores
    answer alike. The value is left out of the message.
    """
    values = inputs.values()
    if all(type(value) is str for value in values) and not _UNSTORABLE.search("".join((*inputs, *values))):
        return  # most calls: a few plain strings, none unstorable (one search over all of them)
    paths = list(_unstorable_paths(inputs, ""))
    if paths:
        rule = "failed to satisfy constraint: Member must not contain null characters or lone surrogates"
        message = validation_message([f"Value at '{path}' {rule}" for path in paths])
        raise ValidationException(message) if json else ValidationError(message)


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable_paths(value: Any, path: str) -> Iterable[str]:
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            child = f"{path}.{name[:1].lower()}{name[1:]}" if path else name[:1].lower() + name[1:]
            if _UNSTORABLE.search(name):
                yield path or child
            yield from _unstorable_paths(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value, 1):
            yield from _unstorable_paths(item, f"{path}.{index}.member")


# reads that wait for the audit writer: never on the event loop
_WAITS_FOR_TRAIL = frozenset({"GetServiceLastAccessedDetails", "GetServiceLastAccessedDetailsWithEntities"})


def params_of(raw: RawRequest) -> dict[str, str]:
    """The Query protocol's parameters: the form body of a POST, then the query string's."""
    params: dict[str, str] = {}
    if raw.body and raw.method == "POST":
        params.update(decode_form(raw.body))
    if raw.query_string:
        for key, value in decode_form(raw.query_string).items():
            params.setdefault(key, value)
    return params


def build_app(pipeline: Pipeline, extra_routes: list[Route] | None = None) -> Starlette:
    async def endpoint(request: HTTPRequest) -> Response:
        body = await request.body()
        scope = request.scope
        client = scope.get("client")
        # the headers as the ASGI scope has them (lower-case names): one pass, no Headers object
        headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
        user_agent = target = ""
        for name, value in headers:
            if name == "user-agent":
                user_agent = user_agent or value
            elif name == "x-amz-target":
                target = target or value
        raw = RawRequest(
            method=scope["method"],
            path=scope.get("raw_path", b"/").decode("latin-1") or "/",
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=body,
            source_ip=client[0] if client else "",
            user_agent=user_agent,
            secure=scope.get("scheme") == "https",
            target=target,
        )
        params = {} if target else params_of(raw)
        if pipeline.runs_inline(raw, params):
            status, payload, response_headers = pipeline.handle(raw, inline=True, params=params)
        else:
            status, payload, response_headers = await run_in_threadpool(pipeline.handle, raw, params=params)
        return Response(payload, status_code=status, headers=response_headers)

    return Starlette(routes=[Route("/", endpoint, methods=["GET", "POST"]), *(extra_routes or [])])
