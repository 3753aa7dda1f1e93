"""CloudTrail-style audit records of Ironkeep's API calls and ``LookupEvents`` over them. Pure.

``records``  :func:`build_record` (a :class:`CallRecordInput` → an event record, secrets removed).
``elements`` requestParameters/responseElements rendered from botocore's models, with redaction.
``lookup``   LookupEvents semantics: filters, time range, paging tokens, summaries, index columns.
"""

from ironkeep.audit.lookup import (
    LookupQuery,
    index_fields,
    lookup_events,
    lookup_response,
    parse_lookup,
    summary_event,
)
from ironkeep.audit.records import Caller, CallRecordInput, ResourceRef, SessionIssuer, build_record

__all__ = [
    "CallRecordInput",
    "Caller",
    "LookupQuery",
    "ResourceRef",
    "SessionIssuer",
    "build_record",
    "index_fields",
    "lookup_events",
    "lookup_response",
    "parse_lookup",
    "summary_event",
]
