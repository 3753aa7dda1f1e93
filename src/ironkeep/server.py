"""``ironkeep serve``: open the store, migrate it, make sure the account exists, serve HTTP."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

import uvicorn

from ironkeep.config import ConfigError, Settings, load_settings

log = logging.getLogger("ironkeep")


def build(settings: Settings) -> tuple[Any, Any]:
    """Open and migrate the store, bootstrap the account; return (app, pipeline)."""
    from ironkeep.app import Pipeline, build_app
    from ironkeep.auth.secrets import SecretBox, load_or_create_master_key
    from ironkeep.services.bootstrap import ensure_account
    from ironkeep.services.principals import Principals
    from ironkeep.store import Store

    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = Store.open(settings.database_url, schema=settings.database_schema)
    store.migrate()
    master_key = load_or_create_master_key(settings.data_dir, settings.master_key)
    box = SecretBox(master_key)
    account_id = ensure_account(store, box, settings)
    from ironkeep.protocol import prepare

    for service in ("iam", "sts"):
        prepare(service)
    principals = Principals(store, box)
    from ironkeep.services.cloudtrail_lookup import derive_token_key

    principals.lookup_token_key = derive_token_key(master_key)
    pipeline = Pipeline(store, principals, audit=settings.audit, default_account=account_id)
    from ironkeep.workload_http import WorkloadEndpoints

    imds_key = hashlib.sha256(b"ironkeep imds tokens\0" + master_key).digest()
    workload_routes = WorkloadEndpoints(
        store, principals, imds_key, settings.workload_credential_seconds
    ).routes()
    from ironkeep.oidc_issuer_http import routes as oidc_routes

    return build_app(pipeline, workload_routes + oidc_routes(store)), pipeline


def serve(args: Any) -> int:
    try:
        settings = load_settings(args)
    except ConfigError as error:
        print(f"ironkeep: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # a line per migration step is noise
    # the URL outbound web identity tokens name as their issuer (IRONKEEP_PUBLIC_URL overrides it)
    os.environ.setdefault("IRONKEEP_PUBLIC_URL", f"http://{settings.host}:{settings.port}")
    app, pipeline = build(settings)
    from ironkeep.services.audit_retention import Pruner

    pruner = Pruner(pipeline.store, settings.audit_retention_days).start()
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="warning", access_log=False, lifespan="off"
    )
    _GracefulServer(config).run()
    pruner.stop()
    if pipeline.audit_writer is not None:
        pipeline.audit_writer.flush()
    print("ironkeep: stopped", flush=True)
    return 0


class _GracefulServer(uvicorn.Server):
    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        # said only once the signal handlers are in place and the socket listens
        print(f"ironkeep: serving IAM and STS on http://{self.config.host}:{self.config.port}", flush=True)

    """uvicorn's server, but SIGTERM and SIGINT end it with status 0 once the requests in flight are
    done (uvicorn itself re-raises the signal after its graceful stop); a second signal forces it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        def stop(signum: int, frame: Any) -> None:
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
