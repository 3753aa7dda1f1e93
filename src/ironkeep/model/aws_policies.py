"""The catalogue of AWS-managed policies (``arn:aws:iam::aws:policy/...``), read-only.

Loaded once from ``ironkeep/data/aws_managed_policies.json.gz``, which
``scripts/refresh_aws_managed_policies.py`` regenerates from a maintained source. Each entry keeps
AWS's path, default version id, creation and update dates, and the default version's document.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources


@dataclass(frozen=True, slots=True)
class AwsManagedPolicy:
    name: str
    path: str
    arn: str
    policy_id: str
    default_version_id: str
    created: datetime
    updated: datetime
    document: str


def _policy_id(name: str) -> str:
    import hashlib

    digest = hashlib.sha256(name.encode()).digest()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    return "ANPA" + "".join(alphabet[b % 32] for b in digest[:17])


@cache
def catalogue() -> dict[str, AwsManagedPolicy]:
    """ARN -> policy, for every AWS-managed policy."""
    raw = resources.files("ironkeep.data").joinpath("aws_managed_policies.json.gz").read_bytes()
    data = json.loads(gzip.decompress(raw))["policies"]
    out: dict[str, AwsManagedPolicy] = {}
    for name, entry in data.items():
        path = entry.get("Path") or "/"
        arn = f"arn:aws:iam::aws:policy{path}{name}"
        out[arn] = AwsManagedPolicy(
            name=name,
            path=path,
            arn=arn,
            policy_id=_policy_id(name),
            default_version_id=entry["DefaultVersionId"],
            created=datetime.fromisoformat(entry["CreateDate"]),
            updated=datetime.fromisoformat(entry["UpdateDate"]),
            document=json.dumps(entry["Document"], separators=(",", ":")),
        )
    return out


def get(arn: str) -> AwsManagedPolicy | None:
    if not arn.startswith("arn:aws:iam::aws:policy/"):
        return None
    return catalogue().get(arn)
