"""HTTP endpoints that hand workloads their role's credentials, as EC2 and ECS do in AWS.

- EC2 instance metadata service, IMDSv2: ``PUT {base}/latest/api/token`` then
  ``GET {base}/latest/meta-data/iam/security-credentials/`` and ``.../{role}``, where
  ``{base}`` is ``/workloads/{workload token}/``. boto3 and the AWS CLI use it when
  ``AWS_EC2_METADATA_SERVICE_ENDPOINT=http://HOST:PORT/workloads/{token}/``.
- Container credentials provider: ``GET /workloads/credentials`` with the workload token in the
  ``Authorization`` header; boto3 uses it when ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and
  ``AWS_CONTAINER_AUTHORIZATION_TOKEN`` are set.

Both answer in the JSON their AWS counterparts use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ironkeep.errors import AWSError
from ironkeep.services import workloads

IMDS_TOKEN_MAX_TTL = 21600


class WorkloadEndpoints:
    def __init__(
        self, store: Any, services: Any, hmac_key: bytes, duration: int = workloads.DEFAULT_DURATION
    ) -> None:
        self.store = store
        self.services = services
        self.key = hmac_key
        self.duration = duration

    # -- IMDSv2 session tokens: bound to the workload, signed, with an expiry ----------------------

    def _imds_token(self, workload_token: str, ttl: int) -> str:
        expires = int(time.time()) + ttl
        body = f"{expires}:{workloads.token_hash(workload_token)}".encode()
        mac = hmac.new(self.key, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(str(expires).encode() + b"." + mac).decode()

    def _check_imds_token(self, workload_token: str, presented: str) -> bool:
        try:
            raw = base64.urlsafe_b64decode(presented.encode())
            expires_text, mac = raw.split(b".", 1)
            expires = int(expires_text)
        except ValueError:
            return False
        body = f"{expires}:{workloads.token_hash(workload_token)}".encode()
        good = hmac.compare_digest(mac, hmac.new(self.key, body, hashlib.sha256).digest())
        return good and expires >= time.time()

    # -- handlers ------------------------------------------------------------------------------

    async def imds_token(self, request: Request) -> Response:
        ttl_text = request.headers.get("x-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl_text.isdigit() or not 1 <= int(ttl_text) <= IMDS_TOKEN_MAX_TTL:
            return Response(status_code=400)
        token = request.path_params["token"]
        try:
            await run_in_threadpool(self._workload, token)
        except AWSError:
            return Response(status_code=401)
        return Response(
            self._imds_token(token, int(ttl_text)),
            media_type="text/plain",
            headers={"x-aws-ec2-metadata-token-ttl-seconds": ttl_text},
        )

    async def imds_credentials(self, request: Request) -> Response:
        token = request.path_params["token"]
        if not self._check_imds_token(token, request.headers.get("x-aws-ec2-metadata-token", "")):
            return Response(status_code=401)
        role = request.path_params.get("role", "")
        try:
            return await run_in_threadpool(self._imds_answer, token, role)
        except AWSError:
            return Response(status_code=401)

    def _imds_answer(self, token: str, role: str) -> Response:
        workload = self._workload(token)
        role_name = workload.role_arn.rsplit("/", 1)[-1]
        if not role:
            return Response(role_name, media_type="text/plain")
        if role != role_name:
            return Response(status_code=404)
        creds = self._issue(workload)
        body = {
            "Code": "Success",
            "LastUpdated": _iso(datetime.now(UTC)),
            "Type": "AWS-HMAC",
            "AccessKeyId": creds.access_key_id,
            "SecretAccessKey": creds.secret_access_key,
            "Token": creds.session_token,
            "Expiration": _iso(creds.expiration),
        }
        return Response(orjson.dumps(body), media_type="text/plain")

    async def container_credentials(self, request: Request) -> Response:
        token = request.headers.get("authorization", "")
        try:
            return await run_in_threadpool(self._container_answer, token)
        except AWSError as error:
            body = {"code": error.code, "message": error.message}
            return Response(orjson.dumps(body), status_code=error.status, media_type="application/json")

    def _container_answer(self, token: str) -> Response:
        workload = self._workload(token)
        creds = self._issue(workload)
        body = {
            "AccessKeyId": creds.access_key_id,
            "SecretAccessKey": creds.secret_access_key,
            "Token": creds.session_token,
            "Expiration": _iso(creds.expiration),
            "RoleArn": workload.role_arn,
        }
        return Response(orjson.dumps(body), media_type="application/json")

    def _workload(self, token: str) -> Any:
        with self.store.transaction(write=False) as tx:
            return workloads.find_by_token(tx, token)

    def _issue(self, workload: Any) -> Any:
        with self.store.transaction(write=True) as tx:
            return workloads.credentials_for(tx, self.services, workload, datetime.now(UTC), self.duration)

    def routes(self) -> list[Route]:
        base = "/workloads/{token}/latest"
        return [
            Route("/workloads/credentials", self.container_credentials, methods=["GET"]),
            Route(f"{base}/api/token", self.imds_token, methods=["PUT"]),
            Route(f"{base}/meta-data/iam/security-credentials/", self.imds_credentials, methods=["GET"]),
            Route(
                f"{base}/meta-data/iam/security-credentials/{{role}}", self.imds_credentials, methods=["GET"]
            ),
        ]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
