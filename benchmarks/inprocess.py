"""GetUser in process: Ironkeep's own work per request, without HTTP, client or other processes.

A real server prepares a data directory (an IAM user with a policy and a key, 50 users), then this
process builds the same app (``ironkeep.server.build``) on that store and drives signed GetUser
requests through its ASGI interface. With the audit trail on, records are written on this thread
in batches of ``--batch``, merged into runs as the writer thread does, so that all the work is
counted.

    python3 benchmarks/inprocess.py [--requests 3000] [--trail on|off] [--batch 20]

prints microseconds of CPU per request (best of five rounds: timings drift on a shared machine).
Under callgrind, instruction counts, which do not drift, for the measured requests only:

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.out \
        "$(python3 -c 'import sys; print(sys.executable)')" benchmarks/inprocess.py --callgrind
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from api import setup, signed  # noqa: E402

from serverproc import start_server  # noqa: E402


def prepare(tmp: Path) -> tuple[Path, str, str, str]:
    """A data directory with the benchmark's user; (data dir, endpoint, key id, secret)."""
    server, _ = start_server(tmp, "sqlite")
    try:
        key, secret, _ = setup(server, 50)
    finally:
        server.stop()
    return server.data_dir, server.endpoint, key, secret


def asgi_request(raw: bytes) -> tuple[dict[str, Any], bytes]:
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    headers = [(k.strip().lower(), v.strip()) for k, v in (line.split(b":", 1) for line in lines[1:])]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8777),
    }
    return scope, body


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--trail", choices=["on", "off"], default="off")
    parser.add_argument("--batch", type=int, default=20, help="audit records per transaction")
    parser.add_argument("--callgrind", action="store_true", help="switch callgrind on for the measured part")
    args = parser.parse_args()

    data_dir, endpoint, key, secret = prepare(Path(tempfile.mkdtemp(prefix="ironkeep-inprocess-")))
    os.environ["IRONKEEP_AUDIT"] = args.trail
    from ironkeep.config import load_settings
    from ironkeep.server import build
    from ironkeep.services import audit_trail

    app, pipeline = build(load_settings(argparse.Namespace(data_dir=str(data_dir))))
    pending: list[Any] = []

    def submit(make_record: Any) -> None:  # the writer's work, on this thread
        pending.append(make_record)
        if len(pending) >= args.batch:
            records = [make() for make in pending]
            pending.clear()
            with pipeline.store.transaction(write=True) as tx:
                audit_trail.write_runs(tx, records)

    if pipeline.audit_writer is not None:
        pipeline.audit_writer.submit = submit
    gc.collect()
    gc.freeze()
    scope, body = asgi_request(signed(endpoint, key, secret, {"Action": "GetUser", "UserName": "user00042"}))
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def run(n: int) -> None:
        for _ in range(n):
            await app(dict(scope), receive, send)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(run(200))  # warm: caches, compiled plans, prepared statements
    if args.callgrind:
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], capture_output=True)
        loop.run_until_complete(run(args.requests))
        print(f"{args.requests} requests measured; divide callgrind's 'Collected' by that")
    else:
        rounds = []
        for _ in range(5):
            before = os.times()
            loop.run_until_complete(run(args.requests))
            after = os.times()
            user, system = ((b - a) / args.requests * 1e6 for a, b in zip(before[:2], after[:2], strict=True))
            rounds.append((user + system, user, system))
        total, user, system = min(rounds)
        print(
            f"GetUser in process, trail {args.trail}: {total:.0f} us of CPU per request"
            f" ({user:.0f} user, {system:.0f} system; best of 5)"
        )
    if set(statuses) != {200}:
        raise SystemExit(f"unexpected statuses: {sorted(set(statuses))}")


if __name__ == "__main__":
    main()
