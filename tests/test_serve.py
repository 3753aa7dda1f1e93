"""`ironkeep serve` as a user meets it: first start, generated credentials, restart, shutdown."""

import configparser
import os
import signal
import stat
import subprocess
import sys
import time

import boto3

from serverproc import free_port


def _start(data_dir, port, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("IRONKEEP_")}
    full_env.update(env or {})
    return subprocess.Popen(
        [sys.executable, "-m", "ironkeep", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=full_env,
    )


def _wait_line(proc, needle, timeout=60):
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"{needle!r} not printed; output was:\n{''.join(lines)}")


def test_first_start_writes_root_credentials_0600_and_they_work(tmp_path):
    data_dir, port = tmp_path / "data", free_port()
    proc = _start(data_dir, port)
    try:
        lines = _wait_line(proc, "serving IAM and STS")
        assert any("root credentials written to" in line for line in lines)
        creds_file = data_dir / "root-credentials"
        assert stat.S_IMODE(creds_file.stat().st_mode) == 0o600
        assert stat.S_IMODE((data_dir / "master.key").stat().st_mode) == 0o600
        parser = configparser.ConfigParser()
        parser.read(creds_file)
        profile = parser["ironkeep"]
        iam = boto3.client(
            "iam",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            aws_access_key_id=profile["aws_access_key_id"],
            aws_secret_access_key=profile["aws_secret_access_key"],
        )
        iam.create_user(UserName="persisted")
        # the secret is sealed at rest: it is not in the database file in clear
        assert profile["aws_secret_access_key"].encode() not in (data_dir / "ironkeep.db").read_bytes()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0

    # a restart keeps everything and does not make new credentials
    proc = _start(data_dir, port)
    try:
        lines = _wait_line(proc, "serving IAM and STS")
        assert not any("root credentials written" in line for line in lines)
        assert iam.get_user(UserName="persisted")["User"]["UserName"] == "persisted"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0


def test_bad_settings_are_refused_with_a_clear_message(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ironkeep", "serve", "--data-dir", str(tmp_path), "--account-id", "12"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "account id must be 12 digits" in result.stderr
