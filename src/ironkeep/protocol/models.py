"""botocore's service models, loaded once per process.

The wire adapters never hard-code a shape: they read the operation, its input and output shapes,
their traits (``required``, ``min``/``max``, ``pattern``, ``enum``, ``sensitive``) and their
serialization names from the same JSON models boto3 and the AWS CLI use, so both sides of the
wire agree by construction. Any service whose model speaks the AWS Query protocol works; IAM
(``2010-05-08``) and STS (``2011-06-15``) are the two Ironkeep serves.
"""

from __future__ import annotations

import threading
from functools import cache

from botocore.loaders import create_loader
from botocore.model import OperationModel, ServiceModel

_LOCK = threading.Lock()
_MODELS: dict[tuple[str, str | None], ServiceModel] = {}


def service_model(service: str, api_version: str | None = None) -> ServiceModel:
    """The botocore model of ``service`` (newest version unless ``api_version`` is given).

    Raises :class:`LookupError` for a service botocore does not know, or one that does not speak
    the Query protocol. The result is cached for the life of the process.
    """
    key = (service, api_version)
    model = _MODELS.get(key)
    if model is not None:
        return model
    with _LOCK:
        model = _MODELS.get(key)
        if model is None:
            model = _load(service, api_version)
            _MODELS[key] = model
    return model


def _load(service: str, api_version: str | None) -> ServiceModel:
    try:
        data = create_loader().load_service_model(service, "service-2", api_version)
    except Exception as exc:  # botocore raises several unrelated types here
        raise LookupError(f"no botocore model for service {service!r} version {api_version!r}") from exc
    model = ServiceModel(data, service_name=service)
    protocols = model.metadata.get("protocols") or [model.protocol]
    if "query" not in protocols:
        raise LookupError(f"service {service!r} does not speak the AWS Query protocol ({protocols})")
    return model


def api_version(service: str) -> str:
    """The model's ``apiVersion``, e.g. ``2010-05-08`` for IAM."""
    return str(service_model(service).api_version)


@cache
def xml_namespace(service: str) -> str:
    """The XML namespace of the service's responses (``https://iam.amazonaws.com/doc/2010-05-08/``)."""
    model = service_model(service)
    namespace = model.metadata.get("xmlNamespace")
    if namespace:
        return str(namespace)
    return f"https://{model.endpoint_prefix}.amazonaws.com/doc/{model.api_version}/"


@cache
def operation_names(service: str) -> frozenset[str]:
    """The exact (case-sensitive) operation names of the service."""
    return frozenset(service_model(service).operation_names)


def operation_model(service: str, operation: str) -> OperationModel | None:
    """The operation's model, or ``None`` when the service has no operation of that exact name."""
    if operation not in operation_names(service):
        return None
    return service_model(service).operation_model(operation)
