"""Errors of request authentication and credentials, with AWS's codes, statuses and wording.

Where AWS's own answer differs from the obvious one, the docstring says what was observed.
"""

from __future__ import annotations

from ironkeep.errors import AWSError, InternalFailure

SIGNATURE_DOES_NOT_MATCH_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


class MissingAuthenticationToken(AWSError):
    """Neither an ``Authorization`` header nor ``X-Amz-Algorithm`` query parameter was sent."""

    code = "MissingAuthenticationToken"
    status = 403

    def __init__(self, message: str = "Request is missing Authentication Token") -> None:
        super().__init__(message)


class IncompleteSignature(AWSError):
    """The signature is malformed: a part is missing or cannot be parsed."""

    code = "IncompleteSignature"
    status = 400


class InvalidClientTokenId(AWSError):
    """The access key id (or session token) is unknown. Raised by the key look-up, not by sigv4."""

    code = "InvalidClientTokenId"
    status = 403

    def __init__(self, message: str = "The security token included in the request is invalid.") -> None:
        super().__init__(message)


class ExpiredToken(AWSError):
    """The session token's credentials have expired (raised by session resolution)."""

    code = "ExpiredToken"
    status = 400

    def __init__(self, message: str = "The security token included in the request is expired") -> None:
        super().__init__(message)


class SignatureDoesNotMatch(AWSError):
    """The signature is well formed but wrong, or its scope (service, region, date) is."""

    code = "SignatureDoesNotMatch"
    status = 403

    def __init__(self, message: str = SIGNATURE_DOES_NOT_MATCH_MESSAGE) -> None:
        super().__init__(message)


class RequestExpired(SignatureDoesNotMatch):
    """The request's date is outside the allowed window, or a presigned URL has expired.

    IAM and STS answer a stale ``X-Amz-Date`` with code ``SignatureDoesNotMatch`` and HTTP 403
    (observed in AssumeRole and GetCallerIdentity responses: "Signature expired: 20200531T052050Z
    is now earlier than 20200531T052308Z (20200531T053808Z - 15 min.)"), not with EC2's
    ``RequestExpired``. The class keeps the distinct name so callers can tell the cases apart.
    """


class XAmzContentSHA256Mismatch(AWSError):
    """``x-amz-content-sha256`` does not hash the body that arrived."""

    code = "XAmzContentSHA256Mismatch"
    status = 400

    def __init__(
        self, message: str = "The provided 'x-amz-content-sha256' header does not match what was computed."
    ) -> None:
        super().__init__(message)


class PasswordPolicyViolation(AWSError):
    """A new password breaks the account password policy (CreateLoginProfile, ChangePassword, ...)."""

    code = "PasswordPolicyViolation"
    status = 400

    def __init__(self, message: str = "Password does not conform to the account password policy.") -> None:
        super().__init__(message)


class SealedSecretError(InternalFailure):
    """A sealed secret could not be opened: wrong master key, wrong context, or corrupt data.

    Users cannot cause this; it surfaces as AWS's ``ServiceFailure`` (500).
    """
