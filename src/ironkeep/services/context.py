"""Who is calling and with what: the values every handler receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated principal of a request.

    ``kind`` uses CloudTrail's ``userIdentity.type`` words: ``Root``, ``IAMUser``,
    ``AssumedRole``, ``FederatedUser``.
    """

    account_id: str
    arn: str
    principal_id: str
    kind: str
    access_key_id: str
    user_name: str | None = None
    user_path: str = "/"
    generation: int = 0  # the account's write counter when the request began (policy cache key)
    session: Any = None  # ironkeep.auth.session_tokens.SessionContext for temporary credentials

    @property
    def is_session(self) -> bool:
        return self.session is not None

    @property
    def is_root(self) -> bool:
        return self.kind == "Root"


@dataclass(slots=True)
class CallContext:
    """One API call: the caller, the open transaction and the request's facts."""

    caller: Caller
    tx: Any
    now: datetime
    region: str
    request_id: str
    source_ip: str = ""
    user_agent: str = ""
    secure_transport: bool = False
    services: Any = None  # the app's long-lived objects (secret box, caches): see ironkeep.app.Services
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def account_id(self) -> str:
        return self.caller.account_id
