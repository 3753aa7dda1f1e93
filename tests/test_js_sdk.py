"""A second, independent client: the AWS SDK for JavaScript v3 runs tests/js/scenario.mjs.

The scenario (users, a group, a customer managed policy, an access key, a virtual MFA device
enabled with TOTP codes computed in JavaScript, ListUsers by Marker and by ``paginateListUsers``,
calls as the new user, STS GetCallerIdentity, and deletion in dependency order) checks each
answer's shape itself and prints one JSON line; this test runs it on each store and checks that
line. The SDK packages are pinned in tests/js/package-lock.json and installed once with ``npm ci``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from serverproc import Server

JS_DIR = Path(__file__).parent / "js"
PACKAGES = ("@aws-sdk/client-iam", "@aws-sdk/client-sts")
UUID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")


def _pinned() -> dict[str, str]:
    return dict(json.loads((JS_DIR / "package.json").read_text())["dependencies"])


def _installed(name: str) -> str | None:
    manifest = JS_DIR / "node_modules" / name / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.is_file() else None


@pytest.fixture(scope="session")
def node() -> str:
    """``node``, with tests/js's pinned packages installed (``npm ci`` when missing or stale)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(
            "node and npm are not installed: the AWS SDK for JavaScript v3 scenario needs Node.js >= 20"
        )
    pinned = _pinned()
    if any(_installed(name) != pinned[name] for name in PACKAGES):
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci in {JS_DIR} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    for name in PACKAGES:
        assert _installed(name) == pinned[name], f"{name}: npm ci installed {_installed(name)}"
    return node


def _run_scenario(node: str, server: Server) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        IRONKEEP_ENDPOINT_URL=server.endpoint,
        IRONKEEP_ACCESS_KEY_ID=server.access_key_id,
        IRONKEEP_SECRET_ACCESS_KEY=server.secret_access_key,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    done = subprocess.run(
        [node, "scenario.mjs"], cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"scenario.mjs exited {done.returncode}:\n{done.stderr}{done.stdout}"
    lines = done.stdout.splitlines()
    assert len(lines) == 1, f"scenario.mjs printed {len(lines)} lines:\n{done.stdout}"
    return dict(json.loads(lines[0]))


@pytest.fixture(scope="session")
def scenario(node: str, server: Server) -> dict[str, Any]:
    """The scenario's result on this store (run once per store)."""
    return _run_scenario(node, server)


def test_js_sdk_scenario(scenario: dict[str, Any], server: Server) -> None:
    result = scenario
    account = server.account_id
    assert result["ok"] is True
    assert result["sdk"] == {"clientIam": _pinned()[PACKAGES[0]], "clientSts": _pinned()[PACKAGES[1]]}
    assert result["accountId"] == account
    assert result["rootArn"] == f"arn:aws:iam::{account}:root"

    user = result["user"]
    path = user["path"]
    assert re.fullmatch(r"/jsdk-[0-9a-f]{8}/", path)
    assert user["arn"] == f"arn:aws:iam::{account}:user{path}{user['name']}"
    assert re.fullmatch(r"AIDA[A-Z0-9]{17}", user["userId"])
    assert result["policyArn"].startswith(f"arn:aws:iam::{account}:policy{path}")
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", result["accessKeyId"])
    assert result["mfaSerial"].startswith(f"arn:aws:iam::{account}:mfa{path}")
    assert result["seedLength"] == 64
    assert result["mfaEnabled"] is True

    # Five users, MaxItems 2: pages of 2, 2 and 1 by hand and by the SDK's paginator alike.
    prefix = path.strip("/")
    expected_pages = [
        [f"{prefix}-user0", f"{prefix}-user1"],
        [f"{prefix}-user2", f"{prefix}-user3"],
        [f"{prefix}-user4"],
    ]
    assert result["markerPages"] == expected_pages
    assert result["paginatorPages"] == expected_pages

    assert result["self"] == {"userName": user["name"], "arn": user["arn"]}
    assert [(d["action"], d["name"], d["status"]) for d in result["denied"]] == [
        ("iam:GetUser", "AccessDenied", 403),
        ("iam:ListUsers", "AccessDenied", 403),
    ]
    assert result["denied"][0]["message"] == (
        f"User: {user['arn']} is not authorized to perform: iam:GetUser on resource: "
        f"arn:aws:iam::{account}:user{path}{prefix}-user1 because no identity-based policy allows "
        "the iam:GetUser action"
    )
    assert result["callerIdentity"] == {"Account": account, "Arn": user["arn"], "UserId": user["userId"]}

    assert result["deleted"] == [
        "DeactivateMFADevice",
        "DeleteVirtualMFADevice",
        "DeleteAccessKey",
        "DetachGroupPolicy",
        "RemoveUserFromGroup",
        "DeleteGroup",
        "DeletePolicy",
        *["DeleteUser"] * 5,
    ]
    assert result["notFoundAfterDelete"] == "NoSuchEntityException"
    assert result["elapsedMs"] < 30_000
    # Nothing of the scenario's is left in the store.
    iam = server.client("iam")
    assert iam.list_users(PathPrefix=path)["Users"] == []
    assert iam.list_policies(Scope="Local", PathPrefix=path)["Policies"] == []
    assert iam.list_groups(PathPrefix=path)["Groups"] == []
    serials = [d["SerialNumber"] for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"]]
    assert result["mfaSerial"] not in serials


def test_js_sdk_reads_request_ids(scenario: dict[str, Any]) -> None:
    ids = scenario["requestIds"]
    assert ids["success"] and ids["error"]
    for call in ids["success"] + ids["error"]:
        assert call["requestId"] is not None and UUID.match(call["requestId"]), call
