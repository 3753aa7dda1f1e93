"""API benchmark: signed requests per second and p50/p99 latency against a real ``ironkeep serve``.

Scenarios: GetUser (an IAM user with a policy, so authentication and authorization both run),
ListUsers over 1,000 users, STS AssumeRole and GetCallerIdentity made with session credentials,
CreateUser+DeleteUser pairs; each at concurrency 1, 8 and 32. Beside them, in the same run: a
hello-world ASGI app served the same way (uvicorn, with as many forked workers on one socket as
the server has: ``--workers``, one per core by default), the ceiling; and GetUser on a second
server with the audit trail off, so the run says what the trail costs. These three are measured
in turns (an eighth of a cell each, in a rotating order, each led in by a fifth of a second of
the same load), so that drift in the shared machine's speed weighs on all three alike. Requests are SigV4-signed ahead of time (valid for AWS's
15-minute window), so the client measures the server, not its own signing.

    python3 benchmarks/api.py [--seconds 5] [--backend postgresql] [--workers 2]
        [--extra-env IRONKEEP_AUDIT=off] [--scenarios GetUser,ListUsers] [--concurrency 1,8,32]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import loadgen  # noqa: E402

from serverproc import Server, drop_schema, free_port, start_server  # noqa: E402

ADMIN_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["iam:*", "sts:AssumeRole"], "Resource": "*"}],
    }
)


LEAD_IN = 0.2  # seconds of load before each measured turn of the interleaved GetUser cells


def signed(
    endpoint: str,
    key: str,
    secret: str,
    params: dict[str, str],
    *,
    service: str = "iam",
    token: str | None = None,
) -> bytes:
    version = "2011-06-15" if service == "sts" else "2010-05-08"
    body = urlencode({"Version": version, **params})
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(Credentials(key, secret, token), service, "us-east-1").add_auth(request)
    host = endpoint.split("://", 1)[1]
    lines = ["POST / HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in request.headers.items() if name.lower() not in ("host",)]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def hello_requests(port: int) -> bytes:
    body = "Action=Hello"
    return (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def start_hello(workers: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "hello_app.py"), str(port), str(workers)])
    import socket

    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("hello app did not start")


def setup(server: Server, users: int) -> tuple[str, str, str]:
    """A user allowed IAM and sts:AssumeRole, a role it may assume, ``users`` users to list."""
    iam = server.client("iam")
    user = iam.create_user(UserName="bench")["User"]
    iam.put_user_policy(UserName="bench", PolicyName="admin", PolicyDocument=ADMIN_POLICY)
    key = iam.create_access_key(UserName="bench")["AccessKey"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}],
    }
    role = iam.create_role(RoleName="bench-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName="bench-role", PolicyName="admin", PolicyDocument=ADMIN_POLICY)
    for i in range(users):
        iam.create_user(UserName=f"user{i:05d}", Path="/bench/")
    return key["AccessKeyId"], key["SecretAccessKey"], role["Arn"]


def row(name: str, conc: int, result: loadgen.Result) -> dict:
    return {
        "scenario": name,
        "concurrency": conc,
        "rps": round(result.rps),
        "p50_ms": round(result.percentile(50), 2),
        "p99_ms": round(result.percentile(99), 2),
        "errors": result.errors,
        "requests": result.requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--concurrency", default="1,8,32")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes for both servers (default: one per core)",
    )
    parser.add_argument("--scenarios", default="", help="comma-separated subset, e.g. GetUser")
    parser.add_argument(
        "--extra-env", default="", help="KEY=VALUE,... passed to the server (e.g. IRONKEEP_AUDIT=off)"
    )
    parser.add_argument(
        "--no-trail-comparison",
        action="store_true",
        help="skip GetUser on a second server with the audit trail off (what the trail costs)",
    )
    args = parser.parse_args()
    extra = dict(kv.split("=", 1) for kv in args.extra_env.split(",") if kv)
    extra.setdefault("IRONKEEP_WORKERS", str(args.workers))
    levels = [int(c) for c in args.concurrency.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="ironkeep-bench-"))
    server, schema = start_server(tmp, args.backend, extra_env=extra)
    quiet = quiet_schema = None
    if not args.no_trail_comparison and extra.get("IRONKEEP_AUDIT", "on") != "off":
        (tmp / "trail-off").mkdir()
        quiet, quiet_schema = start_server(
            tmp / "trail-off", args.backend, extra_env={**extra, "IRONKEEP_AUDIT": "off"}
        )
    hello, hello_port = start_hello(args.workers)
    rows = []
    try:
        key, secret, role_arn = setup(server, args.users)
        quiet_get_user = None
        if quiet is not None:
            quiet_key, quiet_secret, _ = setup(quiet, 43)
            quiet_get_user = signed(
                quiet.endpoint, quiet_key, quiet_secret, {"Action": "GetUser", "UserName": "user00042"}
            )
        port = int(server.endpoint.rsplit(":", 1)[1])
        assume = signed(
            server.endpoint,
            key,
            secret,
            {"Action": "AssumeRole", "RoleArn": role_arn, "RoleSessionName": "bench"},
            service="sts",
        )
        sts = server.client("sts", key=key, secret=secret)
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="bench", DurationSeconds=3600)[
            "Credentials"
        ]
        whoami = signed(
            server.endpoint,
            creds["AccessKeyId"],
            creds["SecretAccessKey"],
            {"Action": "GetCallerIdentity"},
            service="sts",
            token=creds["SessionToken"],
        )
        get_user = signed(server.endpoint, key, secret, {"Action": "GetUser", "UserName": "user00042"})
        list_users = signed(server.endpoint, key, secret, {"Action": "ListUsers", "MaxItems": "1000"})
        wanted = {name.strip().lower() for name in args.scenarios.split(",") if name.strip()}

        def want(scenario: str) -> bool:
            return not wanted or any(scenario.lower().startswith(name) for name in wanted)

        fixed = [
            ("GetUser", get_user),
            ("ListUsers (1,000 users)", list_users),
            ("STS AssumeRole", assume),
            ("STS GetCallerIdentity (session credentials)", whoami),
        ]
        for conc in levels:
            hello_req = hello_requests(hello_port)
            if want("GetUser") and quiet is not None and quiet_get_user is not None:
                # the ceiling, GetUser and GetUser with the trail off in turns, an eighth of a cell
                # each, in a rotating order: drift in the machine's speed (it is shared) weighs on
                # all three alike, so their ratios hold even when the figures move. Each turn is
                # led in by a fifth of a second of the same load, not counted: the audit writer
                # then carries its usual backlog into the turn, as much as it leaves behind after
                # it (records wait up to a tenth of a second), so the turn bears the trail's
                # whole cost, and the one before it none of it.
                quiet_port = int(quiet.endpoint.rsplit(":", 1)[1])
                turns = {
                    "hello-world ASGI (ceiling)": (hello_port, hello_req),
                    "GetUser": (port, get_user),
                    "GetUser, audit trail off": (quiet_port, quiet_get_user),
                }
                results: dict[str, list[loadgen.Result]] = {name: [] for name in turns}
                names = list(turns)
                for turn in range(8):
                    for name in names[turn % 3 :] + names[: turn % 3]:
                        target_port, request = turns[name]
                        loadgen.run("127.0.0.1", target_port, [[request]] * conc, LEAD_IN)
                        results[name].append(
                            loadgen.run("127.0.0.1", target_port, [[request]] * conc, args.seconds / 8)
                        )
                rows.extend(row(name, conc, loadgen.combine(results[name])) for name in names)
            else:
                rows.append(
                    row(
                        "hello-world ASGI (ceiling)",
                        conc,
                        loadgen.run("127.0.0.1", hello_port, [[hello_req]] * conc, args.seconds),
                    )
                )
            for name, request in fixed:
                if not want(name) or any(r["scenario"] == name and r["concurrency"] == conc for r in rows):
                    continue
                result = loadgen.run("127.0.0.1", port, [[request]] * conc, args.seconds)
                rows.append(row(name, conc, result))
            if not want("CreateUser+DeleteUser"):
                continue
            pairs_per_conn = 400
            per_conn = []
            for c in range(conc):
                reqs = []
                for i in range(pairs_per_conn):
                    name = f"tmp-{conc}-{c}-{i}"
                    reqs.append(
                        signed(server.endpoint, key, secret, {"Action": "CreateUser", "UserName": name})
                    )
                    reqs.append(
                        signed(server.endpoint, key, secret, {"Action": "DeleteUser", "UserName": name})
                    )
                per_conn.append(reqs)
            result = loadgen.run(
                "127.0.0.1", port, per_conn, args.seconds, max_requests_per_connection=2 * pairs_per_conn
            )
            rows.append(row("CreateUser+DeleteUser", conc, result))
    finally:
        hello.terminate()
        server.stop()
        if quiet is not None:
            quiet.stop()
        for name in (schema, quiet_schema):
            if name:
                drop_schema(name)
    print(
        f"backend: {args.backend}, {os.cpu_count()} cores, {args.workers} worker(s) each,"
        f" trail {extra.get('IRONKEEP_AUDIT', 'on')}, {args.seconds:.0f} s per cell"
    )
    print("| scenario | concurrency | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['scenario']} | {r['concurrency']} | {r['rps']} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} |"
        )
    ceiling = {r["concurrency"]: r["rps"] for r in rows if r["scenario"].startswith("hello")}
    trail_off = {r["concurrency"]: r["rps"] for r in rows if r["scenario"] == "GetUser, audit trail off"}
    for r in rows:
        if r["scenario"] == "GetUser":
            print(
                f"GetUser at concurrency {r['concurrency']}: {100 * r['rps'] / max(1, ceiling[r['concurrency']]):.0f}% of the ceiling"
            )
            off = trail_off.get(r["concurrency"])
            if off:
                print(
                    f"  the audit trail costs {100 * (1 - r['rps'] / off):.0f}% of GetUser's throughput"
                    f" ({off} req/s with the trail off)"
                )


if __name__ == "__main__":
    main()
