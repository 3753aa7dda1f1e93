"""``ironkeep audit export``: the trail of a time range from the server's own database (SQLite and
PostgreSQL), as JSON Lines or a CloudTrail ``{"Records": [...]}`` file, with no server involved."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from datetime import datetime, timedelta

import pytest

from ironkeep.audit_export import main
from ironkeep.cli import build_parser


def _wired() -> bool:
    """Whether ``ironkeep audit export`` is a command of the ``ironkeep`` CLI yet."""
    try:
        build_parser().parse_args(["audit", "export", "--format", "jsonl"])
    except SystemExit:
        return False
    return True


def export(server, *args: str) -> subprocess.CompletedProcess:
    """Run the export against ``server``'s store in a process of its own."""
    command = ["-m", "ironkeep", "audit", "export"] if _wired() else ["-m", "ironkeep.audit_export"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRONKEEP_")}
    env.update(server.store_env)
    return subprocess.run(
        [sys.executable, *command, "--data-dir", str(server.data_dir), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture()
def created(server):
    """A CreateUser event (its record as LookupEvents shows it; reading the trail also flushes the
    server's batch writer)."""
    name = f"exported-{uuid.uuid4().hex[:10]}"
    server.client("iam").create_user(UserName=name)
    events = server.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": name}]
    )["Events"]
    assert len(events) == 1
    return json.loads(events[0]["CloudTrailEvent"])


def test_jsonl_export_of_a_time_range(server, created):
    when = datetime.fromisoformat(created["eventTime"].replace("Z", "+00:00"))
    result = export(server, "--start", iso(when), "--end", iso(when))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert created in records  # the record as stored, every member
    assert {r["eventTime"] for r in records} == {created["eventTime"]}
    ids = [r["eventID"] for r in records]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)  # one second: ordered by event id

    earlier = export(server, "--end", iso(when - timedelta(seconds=1)))
    assert earlier.returncode == 0, earlier.stderr
    old = [json.loads(line) for line in earlier.stdout.splitlines()]
    assert created["eventID"] not in [r["eventID"] for r in old]
    times = [r["eventTime"] for r in old]
    assert times == sorted(times) and all(t < created["eventTime"] for t in times)  # oldest first

    other = export(server, "--start", iso(when), "--account-id", "999999999999")
    assert other.returncode == 0 and other.stdout == ""


def test_cloudtrail_file_export(server, created, tmp_path):
    out = tmp_path / "trail.json"
    since = iso(datetime.fromisoformat(created["eventTime"].replace("Z", "+00:00")) - timedelta(seconds=1))
    result = export(server, "--format", "cloudtrail", "--start", since, "--out", str(out))
    assert result.returncode == 0, result.stderr
    document = json.loads(out.read_text())
    assert list(document) == ["Records"]
    assert created in document["Records"]
    assert f"wrote {len(document['Records'])} records to {out}" in result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["trail.json"]  # no temporary file left behind

    lines = export(server, "--start", since)
    assert [json.loads(line)["eventID"] for line in lines.stdout.splitlines()][
        : len(document["Records"])
    ] == [r["eventID"] for r in document["Records"]]


def test_an_empty_range_is_an_empty_file(server, tmp_path):
    out = tmp_path / "none.json"
    result = export(server, "--format", "cloudtrail", "--end", "2001-01-01", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text()) == {"Records": []}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--start", "2026-02-01", "--end", "2026-01-01"], "--start must be earlier than or equal to --end"),
        (["--start", "yesterday"], "--start must be an ISO 8601 time"),
        ([], "no database at"),
    ],
)
def test_errors_are_reported_with_status_2(tmp_path, monkeypatch, capsys, args, message):
    for name in ("IRONKEEP_DATABASE_URL", "IRONKEEP_DATABASE_SCHEMA"):
        monkeypatch.delenv(name, raising=False)
    assert main(["--data-dir", str(tmp_path / "nowhere"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()  # nothing is created


def test_a_database_that_was_never_migrated_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("IRONKEEP_DATABASE_URL", raising=False)
    (tmp_path / "ironkeep.db").write_bytes(b"")
    assert main(["--data-dir", str(tmp_path)]) == 2
    assert "start `ironkeep serve` once first" in capsys.readouterr().err


def test_cli_parser_helpers():
    import argparse

    from ironkeep.audit_export import build_parser as add_audit

    parser = argparse.ArgumentParser(prog="ironkeep")
    add_audit(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["audit", "export", "--format", "cloudtrail", "--start", "2026-01-01"])
    assert (args.format, args.start, args.end, args.out) == ("cloudtrail", "2026-01-01", None, None)
    assert callable(args.func)
    with pytest.raises(SystemExit):
        parser.parse_args(["audit", "export", "--format", "xml"])
