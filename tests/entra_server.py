"""A local stand-in for an Entra ID tenant, over TLS, speaking the endpoints msal and
the API's validator use: OpenID discovery, the device-code flow, the token endpoint
(device code, refresh and client-credential grants) and the JWKS. Tokens are RS256,
signed by a key of its own, shaped as Entra's v2 tokens (tid, oid, roles, a department
claim).

The "person" completes the device sign-in by the second poll.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.tls_cert import self_signed

TENANT = "0b3c7a51-9d2e-4f6a-8c1b-2e5d7f9a1c3e"
CLIENT_ID = "5e8d2c1a-7b3f-4a9e-b6d4-1c2f3e4a5b6c"
AUDIENCE = "api://donatello-signin-test"
USER = {"oid": "7c1e9d2a-3b4f-4e5a-9c6d-8e7f1a2b3c4d", "name": "Pat Example"}
USERNAME = "pat@contoso.example"
GRANTED_ROLES = ["Generator.Standard", "Dept.Manager"]
DEPARTMENT = "research"
# A daemon app: its secret, and the app role assigned to its service principal.
DAEMON_ID = "9a4b6c8d-1e2f-4a3b-8c5d-6e7f8a9b0c1d"
DAEMON_SECRET = "daemon-secret-value"
DAEMON_ROLES = ["Finance.Reader"]


class Tenant:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "signin-test-key"
        self.requests: list[tuple[str, dict[str, str]]] = []  # (path, form)
        self.polls = 0
        self.device_scope = ""  # what the device sign-in asked for, granted in full
        self._lock = threading.Lock()

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{TENANT}"

    @property
    def issuer(self) -> str:
        return f"{self.authority}/v2.0"

    @property
    def jwks_url(self) -> str:
        return f"{self.authority}/discovery/v2.0/keys"

    def grants(self, grant_type: str) -> list[dict[str, str]]:
        return [
            form
            for path, form in self.requests
            if path.endswith("/token") and form.get("grant_type") == grant_type
        ]

    def answer(self, method: str, path: str, form: dict[str, str]) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((path, form))
        if method == "GET" and path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
            return 200, {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.authority}/oauth2/v2.0/authorize",
                "token_endpoint": f"{self.authority}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{self.authority}/oauth2/v2.0/devicecode",
                "jwks_uri": self.jwks_url,
            }
        if method == "GET" and path == f"/{TENANT}/discovery/v2.0/keys":
            jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
            return 200, {"keys": [{**jwk, "kid": self.kid, "use": "sig"}]}
        if method == "POST" and path == f"/{TENANT}/oauth2/v2.0/devicecode":
            self.device_scope = form.get("scope", "")
            return 200, {
                "device_code": "device-code-1",
                "user_code": "KQ7-M4X",
                "verification_uri": "https://microsoft.com/devicelogin",
                "expires_in": 900,
                "interval": 1,
                "message": "To sign in, open https://microsoft.com/devicelogin "
                "and enter the code KQ7-M4X to authenticate.",
            }
        if method == "POST" and path == f"/{TENANT}/oauth2/v2.0/token":
            return self._token(form)
        return 404, {"error": "not_found"}

    def _token(self, form: dict[str, str]) -> tuple[int, Any]:
        if form.get("grant_type") == "client_credentials":
            return self._app_token(form)
        if form.get("client_id") != CLIENT_ID:
            return 400, {"error": "unauthorized_client"}
        grant = form.get("grant_type")
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            with self._lock:
                self.polls += 1
                pending = self.polls == 1
            if pending:
                return 400, {"error": "authorization_pending", "error_description": "waiting"}
        elif grant != "refresh_token":
            return 400, {"error": "unsupported_grant_type"}
        now = datetime.now(UTC)
        access = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "tid": TENANT,
            "oid": USER["oid"],
            "sub": USER["oid"],
            "roles": GRANTED_ROLES,
            "department": DEPARTMENT,
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(hours=1),
        }
        identity = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "tid": TENANT,
            "oid": USER["oid"],
            "sub": USER["oid"],
            "preferred_username": USERNAME,
            "name": USER["name"],
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(hours=1),
        }
        client_info = json.dumps({"uid": USER["oid"], "utid": TENANT}).encode()
        return 200, {
            "token_type": "Bearer",
            "scope": form.get("scope", self.device_scope),
            "expires_in": 3600,
            "access_token": self._sign(access),
            "refresh_token": f"refresh-{uuid.uuid4()}",
            "id_token": self._sign(identity),
            "client_info": base64.urlsafe_b64encode(client_info).rstrip(b"=").decode(),
        }

    def _app_token(self, form: dict[str, str]) -> tuple[int, Any]:
        """An app-only token: the service principal's app roles, no user, no department."""
        if (form.get("client_id"), form.get("client_secret")) != (DAEMON_ID, DAEMON_SECRET):
            return 401, {"error": "invalid_client"}
        if form.get("scope") != f"{AUDIENCE}/.default":
            return 400, {"error": "invalid_scope"}
        now = datetime.now(UTC)
        claims = {
            "iss": self.issuer,
            "aud": AUDIENCE,
            "tid": TENANT,
            "oid": f"sp-{DAEMON_ID}",
            "sub": f"sp-{DAEMON_ID}",
            "azp": DAEMON_ID,
            "idtyp": "app",
            "roles": DAEMON_ROLES,
            "iat": now,
            "nbf": now,
            "exp": now + timedelta(hours=1),
        }
        return 200, {"token_type": "Bearer", "expires_in": 3600, "access_token": self._sign(claims)}

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid})


@contextmanager
def running_tenant(folder: Path) -> Iterator[tuple[Tenant, Path]]:
    """The tenant on https://localhost:<port>, and the certificate file to trust."""
    server_tls, cert_file = self_signed(folder, "localhost")
    holder: list[Tenant] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(*holder[0].answer("GET", self.path, {}))

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            self._reply(*holder[0].answer("POST", self.path.split("?")[0], form))

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_tls.wrap_socket(server.socket, server_side=True)
    holder.append(Tenant(f"https://localhost:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0], cert_file
    finally:
        server.shutdown()
        server.server_close()
