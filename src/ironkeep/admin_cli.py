"""``ironkeep workloads ...`` and ``ironkeep accounts ...``: administration straight on the store.

They need no running server: they open the same database ``ironkeep serve`` uses (the same
``--data-dir``/``--database-url`` flags and ``IRONKEEP_*`` variables) and print JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from ironkeep.config import ConfigError, load_settings
from ironkeep.errors import AWSError


def add_store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, help="data directory (default ./ironkeep-data)")
    parser.add_argument("--database-url", default=None, help="SQLAlchemy URL; default SQLite in the data dir")


def _open(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from ironkeep.auth.secrets import SecretBox, load_or_create_master_key
    from ironkeep.store import Store

    settings = load_settings(args)
    store = Store.open(settings.database_url, schema=settings.database_schema)
    store.migrate()
    box = SecretBox(load_or_create_master_key(settings.data_dir, settings.master_key))
    return settings, store, box


def _account(tx: Any, given: str | None) -> str:
    from ironkeep.store import schema as t

    if given:
        return given
    account = tx.execute(select(t.accounts.c.id).order_by(t.accounts.c.created_at).limit(1)).scalar()
    if account is None:
        raise SystemExit("ironkeep: no account yet: start `ironkeep serve` once first")
    return str(account)


def workloads_command(args: argparse.Namespace) -> int:
    from ironkeep.services import workloads

    settings, store, _ = _open(args)
    now = datetime.now(UTC)
    with store.transaction() as tx:
        account_id = _account(tx, args.account_id)
        if args.action == "register":
            reg = workloads.register(
                tx,
                account_id,
                args.name,
                now,
                role_name=args.role,
                instance_profile_name=args.instance_profile,
            )
            endpoint = args.endpoint or f"http://{settings.host}:{settings.port}"
            out: Any = {
                "Workload": reg.name,
                "AccountId": reg.account_id,
                "RoleArn": reg.role_arn,
                "InstanceProfileArn": reg.instance_profile_arn,
                "Token": reg.token,
                "Environment": {
                    "ec2": {"AWS_EC2_METADATA_SERVICE_ENDPOINT": f"{endpoint}/workloads/{reg.token}/"},
                    "container": {
                        "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{endpoint}/workloads/credentials",
                        "AWS_CONTAINER_AUTHORIZATION_TOKEN": reg.token,
                    },
                },
            }
        elif args.action == "revoke":
            workloads.revoke(tx, account_id, args.name, now)
            out = {"Workload": args.name, "Revoked": now.isoformat()}
        else:
            out = {"Workloads": workloads.list_workloads(tx, account_id)}
    print(json.dumps(out, indent=2))
    return 0


def accounts_command(args: argparse.Namespace) -> int:
    from ironkeep.auth.keys import new_access_key_id, new_secret_access_key
    from ironkeep.services.bootstrap import add_root_key, create_account
    from ironkeep.store import schema as t

    _, store, box = _open(args)
    now = datetime.now(UTC)
    with store.transaction() as tx:
        if args.action == "create":
            account_id = create_account(tx, args.account_id, now)
            key_id, secret = new_access_key_id(), new_secret_access_key()
            add_root_key(tx, box, account_id, key_id, secret, now)
            out: Any = {"AccountId": account_id, "RootAccessKeyId": key_id, "RootSecretAccessKey": secret}
        else:
            rows = tx.execute(select(t.accounts.c.id, t.accounts.c.alias).order_by(t.accounts.c.created_at))
            out = {"Accounts": [{"AccountId": r.id, "Alias": r.alias} for r in rows]}
    print(json.dumps(out, indent=2))
    return 0


def add_commands(sub: Any) -> None:
    wl = sub.add_parser("workloads", help="register, revoke and list workloads that get role credentials")
    wl.add_argument("action", choices=["register", "revoke", "list"])
    wl.add_argument("--name", help="the workload's name (its role session name)")
    wl.add_argument("--role", help="role name (register)")
    wl.add_argument("--instance-profile", help="instance profile name (register)")
    wl.add_argument("--account-id", default=None, help="account (default: the first account)")
    wl.add_argument("--endpoint", default=None, help="the server's URL, for the printed environment")
    add_store_flags(wl)
    wl.set_defaults(func=_guarded(workloads_command))

    acc = sub.add_parser("accounts", help="create and list accounts (each with root credentials)")
    acc.add_argument("action", choices=["create", "list"])
    acc.add_argument("--account-id", default=None, help="12-digit id of the new account (default: random)")
    add_store_flags(acc)
    acc.set_defaults(func=_guarded(accounts_command))


def _guarded(command: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            if getattr(args, "action", None) in ("register", "revoke") and not args.name:
                raise ConfigError("--name is required")
            return int(command(args))
        except (ConfigError, AWSError) as error:
            print(f"ironkeep: {getattr(error, 'message', error)}", file=sys.stderr)
            return 2

    return run
