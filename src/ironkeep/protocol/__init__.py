"""The AWS Query wire protocol (IAM, STS), driven by botocore's service models.

Public API:

``decode_form(body: bytes | str) -> dict[str, str]``
    A form body or query string → its parameters (``+`` and ``%XX`` decoded as UTF-8; a repeated
    key keeps its first value).

``decode_query(service: str, params: Mapping[str, str]) -> tuple[str, dict[str, Any]]``
    ``Action``/``Version`` and the flattened input → (operation name, input dict keyed by the
    model's member names, with Python types), validated as AWS does. Raises
    :class:`MissingAction`, :class:`InvalidAction` or :class:`ironkeep.errors.ValidationError`
    (``"N validation error(s) detected: ..."``).

``render_response(service: str, operation: str, output: Mapping | None, request_id: str) -> bytes``
    The ``<{Op}Response>`` XML of a successful call, following the output shape.

``render_error(service: str, error: AWSError, request_id: str) -> tuple[int, bytes]``
    The HTTP status and ``<ErrorResponse>`` XML of any :class:`ironkeep.errors.AWSError`.

``service_model(service, api_version=None)``, ``operation_model(service, operation)``,
``api_version(service)``, ``xml_namespace(service)``
    botocore's models, loaded once per process (any Query-protocol service).

``validation_message(errors: list[str]) -> str``
    AWS's ``"N validation errors detected: a; b"`` summary, for services that validate further.

``prepare(service: str) -> None``
    Load the model and compile every operation's decoding and rendering plans now (~0.4 s for IAM
    and STS, mostly the Unicode tables of the tag patterns) instead of on first use; for startup.

``InvalidAction``, ``MissingAction``
    The protocol's own :class:`ironkeep.errors.AWSError` subclasses (both 400, Sender).
"""

from ironkeep.protocol.models import api_version, operation_model, service_model, xml_namespace
from ironkeep.protocol.query import (
    InvalidAction,
    MissingAction,
    _input_plan,
    decode_form,
    decode_query,
    validation_message,
)
from ironkeep.protocol.xml import _response_plan, render_error, render_response


def prepare(service: str) -> None:
    """Compile every decoding and rendering plan of ``service`` ahead of the first request."""
    for operation in service_model(service).operation_names:
        _input_plan(service, operation)
        _response_plan(service, operation)


__all__ = [
    "InvalidAction",
    "MissingAction",
    "api_version",
    "decode_form",
    "decode_query",
    "operation_model",
    "prepare",
    "render_error",
    "render_response",
    "service_model",
    "validation_message",
    "xml_namespace",
]
