"""The operation registry: one entry per AWS action, filled by ``@operation`` at import time.

A handler is ``func(ctx: CallContext, params: dict) -> dict | None``: ``params`` is the input
shape decoded by the protocol layer, the return value the output shape. ``resource`` gives the
ARN the call is authorized against (AWS's service authorization reference); the pipeline asks the
engine before the handler runs. Handlers raise :class:`ironkeep.errors.AWSError` subclasses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ironkeep.services.context import CallContext

Handler = Callable[[CallContext, dict[str, Any]], dict[str, Any] | None]
ResourceFn = Callable[[CallContext, dict[str, Any]], str]


@dataclass(frozen=True, slots=True)
class Operation:
    service: str
    name: str
    func: Handler
    resource: ResourceFn
    read_only: bool
    authorize: bool = True

    @property
    def action(self) -> str:
        return f"{self.service}:{self.name}"


_OPERATIONS: dict[tuple[str, str], Operation] = {}


def operation(
    service: str,
    name: str,
    *,
    resource: ResourceFn | None = None,
    read_only: bool | None = None,
    authorize: bool = True,
) -> Callable[[Handler], Handler]:
    """Register ``func`` as the handler of ``service:name``."""

    def register(func: Handler) -> Handler:
        key = (service, name)
        if key in _OPERATIONS:
            raise RuntimeError(f"operation {service}:{name} registered twice")
        ro = read_only if read_only is not None else name.startswith(("Get", "List", "Simulate", "Generate"))
        _OPERATIONS[key] = Operation(
            service=service,
            name=name,
            func=func,
            resource=resource or (lambda ctx, params: "*"),
            read_only=ro,
            authorize=authorize,
        )
        return func

    return register


def find(service: str, name: str) -> Operation | None:
    _load_all()
    return _OPERATIONS.get((service, name))


def all_operations() -> dict[tuple[str, str], Operation]:
    _load_all()
    return dict(_OPERATIONS)


_loaded = False


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    import importlib
    import pkgutil

    import ironkeep.services as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith(("iam_", "sts_", "cloudtrail_")):
            importlib.import_module(f"ironkeep.services.{info.name}")
    _loaded = True
