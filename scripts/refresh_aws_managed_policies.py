"""Refresh src/ironkeep/data/aws_managed_policies.json.gz from a maintained source of AWS's
managed policy documents.

The source is the data file that moto ships (``moto/iam/aws_managed_policies.py``), which its
maintainers regenerate from AWS. The module is read as text and its one string literal parsed,
so moto is not imported. Usage::

    python3 -m pip install moto && python3 scripts/refresh_aws_managed_policies.py
"""

from __future__ import annotations

import ast
import gzip
import importlib.util
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "ironkeep" / "data" / "aws_managed_policies.json.gz"


def load_source() -> dict:
    spec = importlib.util.find_spec("moto")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("moto is not installed: python3 -m pip install moto")
    path = Path(next(iter(spec.submodule_search_locations))) / "iam" / "aws_managed_policies.py"
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            return json.loads(node.value.value)
    sys.exit(f"no policy data found in {path}")


def main() -> None:
    data = load_source()
    policies = {}
    for name, entry in sorted(data.items()):
        policies[name] = {
            "Path": entry.get("Path", "/"),
            "DefaultVersionId": entry["DefaultVersionId"],
            "CreateDate": entry["CreateDate"],
            "UpdateDate": entry.get("UpdateDate", entry["CreateDate"]),
            "Document": entry["Document"],
        }
    payload = json.dumps({"source": "moto", "policies": policies}, separators=(",", ":"), sort_keys=True)
    OUT.write_bytes(gzip.compress(payload.encode(), mtime=0))
    print(f"wrote {len(policies)} AWS managed policies to {OUT}")


if __name__ == "__main__":
    main()
