"""``ironkeep serve``: open the store, migrate it, make sure the account exists, serve HTTP."""

from __future__ import annotations

import contextlib
import gc
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


def prepare(settings: Settings) -> tuple[Any, bytes, str]:
    """Open and migrate the store, make sure the master key and the account exist; return
    (store, master key, account id). Safe to run again: the second time changes nothing."""
    from ironkeep.auth.secrets import SecretBox, load_or_create_master_key
    from ironkeep.services.bootstrap import ensure_account
    from ironkeep.store import Store

    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    store = Store.open(settings.database_url, schema=settings.database_schema)
    store.migrate()
    master_key = load_or_create_master_key(settings.data_dir, settings.master_key)
    account_id = ensure_account(store, SecretBox(master_key), settings)
    return store, master_key, account_id


def build(settings: Settings) -> tuple[Any, Any]:
    """Open and migrate the store, bootstrap the account; return (app, pipeline)."""
    from ironkeep.app import Pipeline, build_app
    from ironkeep.auth.secrets import SecretBox
    from ironkeep.services.principals import Principals

    store, master_key, account_id = prepare(settings)
    box = SecretBox(master_key)
    from ironkeep.protocol import prepare as prepare_protocol

    for service in ("iam", "sts"):
        prepare_protocol(service)
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
    if settings.workers > 1:
        return _serve_workers(settings)
    return _serve_one(settings, sockets=None, worker=0)


def _serve_one(settings: Settings, sockets: list[Any] | None, worker: int) -> int:
    """Serve in this process until SIGTERM/SIGINT (a worker: SIGTERM, from the supervisor)."""
    app, pipeline = build(settings)
    # Everything loaded so far (service models, the action catalogue, compiled statements) lives
    # as long as the process: out of the collector's sight, a full collection no longer walks it.
    gc.collect()
    gc.freeze()
    # A request leaves few cycles behind, but the audit trail's batches keep a few hundred calls'
    # records alive at a time, and the default threshold (700 new containers) then runs a young
    # collection every few requests; one every 20,000 costs a tenth as much.
    gc.set_threshold(20_000, 10, 10)
    from ironkeep.services.audit_retention import Pruner

    pruner = Pruner(pipeline.store, settings.audit_retention_days).start() if worker == 0 else None
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="warning", access_log=False, lifespan="off"
    )
    server = _GracefulServer(config)
    if sockets is not None:
        server.announce = False  # the supervisor says it once
        server.signals = (signal.SIGTERM,)
    server.run(sockets=sockets)
    if pruner is not None:
        pruner.stop()
    if pipeline.audit_writer is not None:
        pipeline.audit_writer.flush()
    if sockets is None:
        print("ironkeep: stopped", flush=True)
    return 0


def _serve_workers(settings: Settings) -> int:
    """Migrate and bootstrap once, bind once, then fork the workers (see :mod:`ironkeep.prefork`)."""
    from ironkeep.prefork import listen, reserve, supervise

    store, _, _ = prepare(settings)
    store.dispose()  # the workers open their own connections
    try:
        held = reserve(settings.host, settings.port)
    except OSError as error:
        print(f"ironkeep: cannot listen on {settings.host}:{settings.port}: {error}", file=sys.stderr)
        return 1
    port = held.getsockname()[1]
    print(
        f"ironkeep: serving IAM and STS on http://{settings.host}:{port} ({settings.workers} workers)",
        flush=True,
    )
    status = supervise(
        settings.workers, lambda index: _serve_one(settings, [listen(settings.host, port)], index)
    )
    held.close()
    print("ironkeep: stopped", flush=True)
    return status


class _GracefulServer(uvicorn.Server):
    """uvicorn's server, but SIGTERM and SIGINT end it with status 0 once the requests in flight are
    done (uvicorn itself re-raises the signal after its graceful stop); a second signal forces it.

    A worker of ``serve --workers`` announces nothing (its supervisor does) and stops on SIGTERM
    only (the supervisor forwards Ctrl-C as SIGTERM)."""

    announce = True
    signals: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        # said only once the signal handlers are in place and the socket listens
        if self.announce:
            print(
                f"ironkeep: serving IAM and STS on http://{self.config.host}:{self.config.port}", flush=True
            )

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        def stop(signum: int, frame: Any) -> None:
            if self.should_exit:
                self.force_exit = True
            self.should_exit = True

        previous = {sig: signal.signal(sig, stop) for sig in self.signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
