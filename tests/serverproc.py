"""Start a real ``ironkeep serve`` in a subprocess for the tests, on SQLite or PostgreSQL."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

PG_ADMIN_URL = os.environ.get("IRONKEEP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ACCOUNT_ID = "123456789012"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@dataclass
class Server:
    endpoint: str
    access_key_id: str
    secret_access_key: str
    account_id: str
    data_dir: Path
    process: subprocess.Popen
    log_path: Path
    backend: str
    store_env: dict[str, str]

    def ironkeep(self, *args: str) -> subprocess.CompletedProcess:
        """Run an ``ironkeep`` administration command against this server's store."""
        env = dict(os.environ)
        env.update(self.store_env)
        cmd = [sys.executable, "-m", "ironkeep", *args, "--data-dir", str(self.data_dir)]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)

    def client(
        self,
        service: str = "iam",
        *,
        key: str | None = None,
        secret: str | None = None,
        token: str | None = None,
        region: str = "us-east-1",
    ):
        import boto3
        from botocore.config import Config

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=key or self.access_key_id,
            aws_secret_access_key=secret or self.secret_access_key,
            aws_session_token=token,
            config=Config(retries={"max_attempts": 1}),
        )

    def cli_env(self, *, key: str | None = None, secret: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID=key or self.access_key_id,
            AWS_SECRET_ACCESS_KEY=secret or self.secret_access_key,
            AWS_DEFAULT_REGION="us-east-1",
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        )
        env.pop("AWS_SESSION_TOKEN", None)
        env.pop("AWS_PROFILE", None)
        return env

    def aws(
        self, *args: str, key: str | None = None, secret: str | None = None
    ) -> subprocess.CompletedProcess:
        cmd = ["aws", "--endpoint-url", self.endpoint, "--output", "json", *args]
        return subprocess.run(
            cmd, env=self.cli_env(key=key, secret=secret), capture_output=True, text=True, timeout=60
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_server(
    tmp: Path, backend: str, *, extra_env: dict[str, str] | None = None
) -> tuple[Server, str | None]:
    """Start a server; return it and the PostgreSQL schema to drop afterwards (or None)."""
    port = free_port()
    data_dir = tmp / f"data-{backend}"
    key_id = "AKIA" + secrets.token_hex(8).upper()[:16]
    secret = secrets.token_urlsafe(30)[:40]
    env = dict(os.environ)
    env.update(
        IRONKEEP_ROOT_ACCESS_KEY_ID=key_id,
        IRONKEEP_ROOT_SECRET_ACCESS_KEY=secret,
        IRONKEEP_ACCOUNT_ID=ACCOUNT_ID,
        IRONKEEP_LOG_LEVEL="warning",
    )
    schema = None
    if backend == "postgresql":
        schema = f"ik_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        env["IRONKEEP_DATABASE_URL"] = PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1)
        env["IRONKEEP_DATABASE_SCHEMA"] = schema
    if extra_env:
        env.update(extra_env)
    store_env = {k: v for k, v in env.items() if k.startswith("IRONKEEP_") and "ROOT" not in k}
    log_path = tmp / f"server-{backend}.log"
    log_file = open(log_path, "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ironkeep", "serve", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    server = Server(
        endpoint=f"http://127.0.0.1:{port}",
        access_key_id=key_id,
        secret_access_key=secret,
        account_id=ACCOUNT_ID,
        data_dir=data_dir,
        process=process,
        log_path=log_path,
        backend=backend,
        store_env=store_env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ironkeep serve exited with {process.returncode}:\n{server.log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, schema
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"ironkeep serve did not start in 60 s:\n{server.log()}")


def drop_schema(schema: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
