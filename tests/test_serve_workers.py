"""`ironkeep serve --workers N`: several processes on one port, one store, one set of rules."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from serverproc import free_port

ALLOW_GET_USER = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]}
)


def _serve(port: int | None, data_dir: Path, workers: str) -> list[str]:
    """The command line of ``ironkeep serve --workers`` (on ``port``, or the default)."""
    port_args = ["--port", str(port)] if port is not None else []
    return [
        sys.executable,
        "-m",
        "ironkeep",
        "serve",
        *port_args,
        "--data-dir",
        str(data_dir),
        "--workers",
        workers,
    ]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(p) for p in text]
    return sorted(found)


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _client(port: int, key: str, secret: str):
    # a new client is a new connection: the kernel hands it to whichever worker accepts first
    return boto3.client(
        "iam",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture()
def served(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IRONKEEP_")}
    env.update(
        IRONKEEP_ROOT_ACCESS_KEY_ID="AKIAWORKERSTEST00001",
        IRONKEEP_ROOT_SECRET_ACCESS_KEY="s" * 40,
        IRONKEEP_LOG_LEVEL="warning",
    )
    proc = subprocess.Popen(
        _serve(port, tmp_path / "d", "2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        while line and "serving IAM and STS" not in line:
            line = proc.stdout.readline()
        assert "(2 workers)" in line
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                _client(port, "AKIAWORKERSTEST00001", "s" * 40).list_users()
                break
            except Exception:
                time.sleep(0.2)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_workers_share_the_store_and_see_changes_at_once(served):
    proc, port = served
    workers = _children(proc.pid)
    assert len(workers) == 2
    before = {pid: _cpu_ticks(pid) for pid in workers}
    root = _client(port, "AKIAWORKERSTEST00001", "s" * 40)
    root.create_user(UserName="alice")
    root.put_user_policy(UserName="alice", PolicyName="get", PolicyDocument=ALLOW_GET_USER)
    key = root.create_access_key(UserName="alice")["AccessKey"]
    key_id, secret = key["AccessKeyId"], key["SecretAccessKey"]
    for _ in range(30):
        assert _client(port, key_id, secret).get_user(UserName="alice")["User"]["UserName"] == "alice"
    # both workers answered some of those requests
    assert all(_cpu_ticks(pid) > before[pid] for pid in workers)

    # what the workers' reads remember is let go as soon as anything changes, wherever it changed
    root.tag_user(UserName="alice", Tags=[{"Key": "team", "Value": "blue"}])
    for _ in range(30):
        user = _client(port, key_id, secret).get_user(UserName="alice")["User"]
        assert user["Tags"] == [{"Key": "team", "Value": "blue"}]
    root.update_user(UserName="alice", NewPath="/moved/")
    for _ in range(30):
        assert _client(port, key_id, secret).get_user(UserName="alice")["User"]["Path"] == "/moved/"

    root.update_access_key(UserName="alice", AccessKeyId=key_id, Status="Inactive")
    for _ in range(30):  # every worker refuses the key from the next request on
        with pytest.raises(ClientError) as raised:
            _client(port, key_id, secret).get_user(UserName="alice")
        assert raised.value.response["Error"]["Code"] == "InvalidClientTokenId"

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert "ironkeep: stopped" in proc.stdout.read()
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_a_worker_that_dies_is_started_again(served):
    proc, port = served
    first, second = _children(proc.pid)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(set(_children(proc.pid)) - {first}) < 2:
        time.sleep(0.2)
    replaced = _children(proc.pid)
    assert len(replaced) == 2 and first not in replaced and second in replaced
    for _ in range(10):
        assert _client(port, "AKIAWORKERSTEST00001", "s" * 40).list_users()["Users"] == []
    proc.send_signal(signal.SIGINT)  # Ctrl-C: the supervisor stops the workers
    assert proc.wait(timeout=30) == 0


def test_a_second_server_cannot_join_the_port(served, tmp_path):
    """Workers share their port with SO_REUSEPORT; another server must not slip in beside them."""
    _, port = served
    for workers in ("2", "1"):
        result = subprocess.run(
            _serve(port, tmp_path / f"other-{workers}", workers),
            capture_output=True,
            text=True,
            timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("IRONKEEP_")},
        )
        assert result.returncode != 0
        assert "in use" in (result.stdout + result.stderr)
    assert _client(port, "AKIAWORKERSTEST00001", "s" * 40).list_users()["Users"] == []


def test_workers_do_not_outlive_a_killed_supervisor(served):
    """SIGKILL leaves the supervisor no chance to stop its workers: the kernel tells them."""
    proc, _ = served
    workers = _children(proc.pid)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 20
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in workers if _running(pid)]
        time.sleep(0.1)
    assert alive == []


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_in_memory_sqlite_cannot_have_workers(tmp_path):
    result = subprocess.run(
        [*_serve(None, tmp_path, "2"), "--database-url", "sqlite:///:memory:"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "in-memory SQLite" in result.stderr
