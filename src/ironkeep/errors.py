"""The one error type every layer raises: an AWS error code, a message and an HTTP status.

Areas subclass :class:`AWSError` (or use it directly) so that the protocol layer can turn any
of them into AWS's ``<ErrorResponse>`` in exactly one place. This module has no imports from
the rest of Ironkeep: it sits at the very bottom of the dependency graph.
"""

from __future__ import annotations


class AWSError(Exception):
    """An error AWS's clients understand: ``code`` is AWS's error code (``NoSuchEntity``)."""

    code: str = "InternalFailure"
    status: int = 400
    sender_fault: bool = True

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"


class MalformedPolicyDocument(AWSError):
    code = "MalformedPolicyDocument"
    status = 400


class ValidationError(AWSError):
    code = "ValidationError"
    status = 400


class InvalidInput(AWSError):
    code = "InvalidInput"
    status = 400


class NoSuchEntity(AWSError):
    code = "NoSuchEntity"
    status = 404


class EntityAlreadyExists(AWSError):
    code = "EntityAlreadyExists"
    status = 409


class DeleteConflict(AWSError):
    code = "DeleteConflict"
    status = 409


class LimitExceeded(AWSError):
    code = "LimitExceeded"
    status = 409


class AccessDenied(AWSError):
    code = "AccessDenied"
    status = 403


class InternalFailure(AWSError):
    code = "ServiceFailure"
    status = 500
    sender_fault = False
