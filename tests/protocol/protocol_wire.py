"""The HTTP hop between botocore and Ironkeep's protocol layer, replaced by a ``before-send`` hook.

Everything on both sides is real: botocore's serializer, signer, parser, retry handler and
exception factory on one side; :func:`decode_form`, :func:`decode_query`, :func:`render_response`
and :func:`render_error` on the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from ironkeep.errors import AWSError
from ironkeep.protocol import decode_form, decode_query, render_error, render_response

REQUEST_ID = "c2b4f0a5-4c59-4c1f-9c5e-4b1f6f3a0d11"
Handler = Callable[[str, dict[str, Any]], Any]
Seen = list[tuple[str, dict[str, Any]]]


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def answerer(service: str, handler: Handler, seen: Seen) -> Callable[..., AWSResponse]:
    """A ``before-send`` hook answering each request with ``handler(operation, input)``; the decoded
    requests are appended to ``seen``; AWS errors (from decoding or the handler) become XML errors."""

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        try:
            operation, params = decode_query(service, decode_form(body))
            seen.append((operation, params))
            status, payload = 200, render_response(service, operation, handler(operation, params), REQUEST_ID)
        except AWSError as error:
            status, payload = render_error(service, error, REQUEST_ID)
        return AWSResponse(request.url, status, {"x-amzn-requestid": REQUEST_ID}, _Raw(payload))

    return answer
