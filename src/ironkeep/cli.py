"""The ``ironkeep`` command: ``serve`` runs the server, ``simulate`` runs the engine on JSON Lines."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _simulate(args: argparse.Namespace) -> int:
    from ironkeep.simulate import run_cli

    return run_cli(args.file, explain=args.explain)


def _serve(args: argparse.Namespace) -> int:
    from ironkeep.server import serve

    return serve(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ironkeep", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sim = sub.add_parser("simulate", help="decide requests given as JSON Lines (no server, no database)")
    sim.add_argument("file", nargs="?", default="-", help="JSON Lines file of requests ('-' for stdin)")
    sim.add_argument("--explain", action="store_true", help="print a readable trace for each decision")
    sim.set_defaults(func=_simulate)

    srv = sub.add_parser("serve", help="run the IAM/STS server")
    srv.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    srv.add_argument("--port", type=int, default=None, help="port to listen on (default 8777)")
    srv.add_argument("--data-dir", default=None, help="data directory (default ./ironkeep-data)")
    srv.add_argument("--database-url", default=None, help="SQLAlchemy URL; default SQLite in the data dir")
    srv.add_argument("--account-id", default=None, help="12-digit id of the account created at first start")
    srv.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes sharing the port (default 1; one per core)",
    )
    srv.set_defaults(func=_serve)

    from ironkeep.admin_cli import add_commands
    from ironkeep.audit_export import build_parser as add_audit_commands

    add_commands(sub)
    add_audit_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
