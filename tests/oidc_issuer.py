"""A tiny OpenID Connect issuer for the tests: discovery document and JWKS over HTTP on 127.0.0.1.

    with OidcIssuer() as issuer:
        token = issuer.mint(sub="user-1", aud="my-client")

Its RSA key is generated per issuer; ``rotate()`` adds a new key (old tokens keep verifying until the
old key is dropped with ``drop_old_keys()``); ``requests`` counts the fetches per path so that tests
can see the server's JWKS cache at work. With ``tls=(cert_pem, key_pem)`` it serves HTTPS instead.
"""

from __future__ import annotations

import json
import ssl
import tempfile
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm


class OidcIssuer:
    def __init__(self, *, path: str = "", tls: tuple[bytes, bytes] | None = None) -> None:
        self.keys: list[tuple[str, Any, str]] = []  # (kid, private key, alg)
        self.requests: Counter[str] = Counter()
        self.fail_jwks = False
        self.path = path
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests[self.path] += 1
                if self.path == f"{issuer.path}/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/keys"}
                elif self.path == f"{issuer.path}/keys" and not issuer.fail_jwks:
                    body = issuer.jwks()
                else:
                    self.send_error(404 if not issuer.fail_jwks else 503)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            with tempfile.TemporaryDirectory() as tmp:
                cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
                cert.write_bytes(tls[0])
                key.write_bytes(tls[1])
                context.load_cert_chain(cert, key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}{path}"
        self.rotate()
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        """The URL without its scheme: the provider ARN's suffix and the condition-key prefix."""
        return self.url.split("://", 1)[1]

    def rotate(self, alg: str = "RS256") -> str:
        kid = uuid.uuid4().hex[:12]
        if alg.startswith("ES"):
            curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[alg]
            key: Any = ec.generate_private_key(curve)
        else:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys.append((kid, key, alg))
        return kid

    def drop_old_keys(self) -> None:
        self.keys = self.keys[-1:]

    def jwks(self) -> dict[str, Any]:
        entries = []
        for kid, key, alg in self.keys:
            codec = ECAlgorithm if alg.startswith("ES") else RSAAlgorithm
            jwk = json.loads(codec.to_jwk(key.public_key()))
            jwk.update(kid=kid, use="sig", alg=alg)
            entries.append(jwk)
        return {"keys": entries}

    def mint(
        self,
        *,
        sub: str = "subject-0001",
        aud: str | list[str] = "client-1",
        lifetime: int = 600,
        iss: str | None = None,
        key: Any = None,
        kid: str | None = None,
        **claims: Any,
    ) -> str:
        """A signed ID token with the newest key (or ``key``/``kid``); ``claims`` override or add."""
        now = int(time.time())
        payload = {"iss": iss or self.url, "sub": sub, "aud": aud, "iat": now, "exp": now + lifetime}
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        newest_kid, newest_key, alg = self.keys[-1]
        # signed as raw JSON: claims of any type (a list as iss ...) for the tests of malformed claims
        return jwt.api_jws.encode(
            json.dumps(payload).encode(),
            key if key is not None else newest_key,
            algorithm=alg,
            headers={"kid": kid if kid is not None else newest_kid},
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> OidcIssuer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
