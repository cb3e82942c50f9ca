"""A local HTTPS server that speaks Key Vault's secrets REST API, for the real SDK.

Key Vault has no emulator, so this server answers the requests `SecretClient.get_secret`
sends, in the service's wire format, over TLS on 127.0.0.1 with a certificate made at
run time:

- `GET /secrets/{name}/?api-version=...` (the latest version) and
  `GET /secrets/{name}/{version}?api-version=...` answer the SecretBundle JSON
  (`value`, `id`, `contentType`, `attributes` with Unix-time `nbf`, `exp`, `created`,
  `updated`, `recoveryLevel`, `recoverableDays`, and `tags`).
- The bearer challenge: a request without the expected token gets 401 with
  `WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>",
  resource="https://vault.azure.net"`; the SDK then asks its credential for a token for
  that tenant and scope and sends the request again with it.
- Errors as the service words them: 404 `SecretNotFound`; 403 `Forbidden` with inner
  code `SecretDisabled` for a disabled version; 400 without `api-version`.
- Names are case-insensitive, as in Key Vault.
- Writes, for the subject keys: `PUT /secrets/{name}` (a new version),
  `GET /secrets/{name}/versions` (the versions' properties), `DELETE /secrets/{name}`
  (soft delete: the secret moves to the deleted collection at once, with a `recoveryId`),
  `GET /deletedsecrets/{name}` and `DELETE /deletedsecrets/{name}` (purge). Setting a
  secret that is deleted but not purged is refused with 409 `Conflict`, as the service
  does while the name is held for recovery.

Like the real service (see Azure/AzureKeyVault#19), an expired or not-yet-valid secret
is still returned with its `exp`/`nbf`: enforcing them is the client's job.

`fail_with(status)` makes every request fail with that status (a vault in trouble);
`hold_requests()` keeps requests waiting until `release_requests()` (a slow vault);
`close()` stops the server, so connections are refused (a vault out of reach).
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from azure.core.credentials import AccessToken

KEY_VAULT_SCOPE = "https://vault.azure.net/.default"


@dataclass(frozen=True, slots=True)
class SecretVersion:
    version: str
    value: str
    enabled: bool
    created: int
    updated: int
    expires_on: int | None = None
    not_before: int | None = None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    path: str
    api_version: str | None
    authorized: bool
    status: int
    method: str = "GET"


@dataclass
class _State:
    secrets: dict[str, list[SecretVersion]] = field(default_factory=dict)
    deleted: dict[str, list[SecretVersion]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    failure_status: int | None = None


def _unix(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


class FixedTokenCredential:
    """A TokenCredential that hands out one fixed token and records what it was asked."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[tuple[tuple[str, ...], str | None]] = []

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self.requests.append((scopes, tenant_id))
        return AccessToken(self.token, int(time.time()) + 3600)


class KeyVaultServer:
    def __init__(self, cert_file: Path, key_file: Path, *, tenant_id: str, token: str) -> None:
        self.tenant_id = tenant_id
        self._token = token
        self._lock = threading.Lock()
        self._state = _State()
        self._connections: set[socket.socket] = set()
        self._released = threading.Event()
        self._released.set()
        self._held = 0
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        """Stop listening and cut open connections: from now on the vault is unreachable."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    # --- what the test controls --------------------------------------------------------

    def set_secret(
        self,
        name: str,
        value: str,
        *,
        enabled: bool = True,
        expires_on: datetime | None = None,
        not_before: datetime | None = None,
        content_type: str | None = None,
        created: datetime | None = None,
    ) -> str:
        """Add a new version of `name` (a rotation, if it exists); returns the version."""
        now = _unix(created) or int(time.time())
        version = SecretVersion(
            version=uuid.uuid4().hex,
            value=value,
            enabled=enabled,
            created=now,
            updated=now,
            expires_on=_unix(expires_on),
            not_before=_unix(not_before),
            content_type=content_type,
        )
        with self._lock:
            self._state.secrets.setdefault(name.lower(), []).append(version)
        return version.version

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable the latest version of `name`."""
        with self._lock:
            versions = self._state.secrets[name.lower()]
            versions[-1] = replace(versions[-1], enabled=enabled, updated=int(time.time()))

    def fail_with(self, status: int | None) -> None:
        """Answer every request with `status` (None: serve normally again)."""
        with self._lock:
            self._state.failure_status = status

    def hold_requests(self) -> None:
        """Keep authorized requests waiting (a slow vault) until `release_requests`."""
        self._released.clear()

    def release_requests(self) -> None:
        self._released.set()

    def held(self) -> int:
        """Requests waiting now."""
        with self._lock:
            return self._held

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._state.requests)

    def secret_reads(self, name: str) -> int:
        """Authorized GETs of `name` that reached the secret store."""
        path = f"/secrets/{name.lower()}/"
        return sum(
            1
            for r in self.requests()
            if r.authorized and r.path.lower().startswith(path) and r.status != 401
        )

    # --- the wire ----------------------------------------------------------------------

    def latest_value(self, name: str) -> str:
        with self._lock:
            return self._state.secrets[name.lower()][-1].value

    def stored_versions(self, name: str) -> int:
        """Versions of `name` that exist, live or deleted but not purged."""
        with self._lock:
            key = name.lower()
            return len(self._state.secrets.get(key, ())) + len(self._state.deleted.get(key, ()))

    def _answer(
        self, target: str, authorization: str | None, method: str = "GET", body: bytes = b""
    ) -> _Answer:
        url = urlsplit(target)
        api_version = parse_qs(url.query).get("api-version", [None])[0]
        authorized = authorization == f"Bearer {self._token}"
        if authorized and not self._released.is_set():
            with self._lock:
                self._held += 1
            self._released.wait(timeout=10)
            with self._lock:
                self._held -= 1
        with self._lock:
            answer = self._route(url.path, api_version, authorized, method, body)
            self._state.requests.append(
                RecordedRequest(url.path, api_version, authorized, answer.status, method)
            )
        return answer

    def _route(
        self, path: str, api_version: str | None, authorized: bool, method: str, body: bytes
    ) -> _Answer:
        if not authorized:
            return _Answer.challenge(self.tenant_id)
        if self._state.failure_status is not None:
            status = self._state.failure_status
            return _Answer.error(status, HTTPStatus(status).phrase.replace(" ", ""), "injected")
        if api_version is None:
            return _Answer.error(400, "BadParameter", "The api-version query parameter is missing")
        parts = [unquote(p) for p in path.split("/")]
        if method != "GET" or parts[-1] == "versions" or parts[1:2] == ["deletedsecrets"]:
            return self._write_route(method, parts, body)
        if len(parts) != 4 or parts[:2] != ["", "secrets"]:
            return _Answer.error(404, "NotFound", f"{path} is not served here")
        _, _, name, version = parts
        versions = self._state.secrets.get(name.lower(), [])
        found = [v for v in versions if v.version == version] if version else versions[-1:]
        if not found:
            return _Answer.error(
                404,
                "SecretNotFound",
                f"A secret with (name/id) {name}{'/' + version if version else ''}"
                " was not found in this key vault.",
            )
        secret = found[0]
        if not secret.enabled:
            return _Answer.error(
                403,
                "Forbidden",
                "Operation get is not allowed on a disabled secret.",
                inner="SecretDisabled",
            )
        return _Answer(200, self._bundle(name, secret))

    def _write_route(self, method: str, parts: list[str], body: bytes) -> _Answer:
        """Called with the lock held."""
        state = self._state
        if len(parts) == 3 and parts[1] == "secrets" and method == "PUT":
            name = parts[2]
            if name.lower() in state.deleted:
                return _Answer.error(
                    409,
                    "Conflict",
                    f"Secret {name} is currently in a deleted but recoverable state",
                )
            request = json.loads(body)
            now = int(time.time())
            version = SecretVersion(
                uuid.uuid4().hex, request["value"], True, now, now,
                content_type=request.get("contentType"),
            )  # fmt: skip
            state.secrets.setdefault(name.lower(), []).append(version)
            return _Answer(200, self._bundle(name, version))
        if len(parts) == 4 and parts[1] == "secrets" and parts[3] == "versions":
            name = parts[2]
            versions = state.secrets.get(name.lower())
            if not versions:
                return _not_found(name)
            items = [self._item(name, v) for v in versions]
            return _Answer(200, {"value": items, "nextLink": None})
        if len(parts) == 3 and parts[1] == "secrets" and method == "DELETE":
            name = parts[2]
            versions = state.secrets.pop(name.lower(), None)
            if not versions:
                return _not_found(name)
            state.deleted[name.lower()] = versions
            return _Answer(200, self._deleted_bundle(name, versions[-1]))
        if len(parts) == 3 and parts[1] == "deletedsecrets":
            name = parts[2]
            deleted = state.deleted.get(name.lower())
            if not deleted:
                return _not_found(name)
            if method == "DELETE":
                del state.deleted[name.lower()]
                return _Answer(204, {})
            return _Answer(200, self._deleted_bundle(name, deleted[-1]))
        return _Answer.error(405, "MethodNotAllowed", f"{method} {'/'.join(parts)}")

    def _item(self, name: str, secret: SecretVersion) -> dict[str, Any]:
        bundle = self._bundle(name, secret)
        del bundle["value"]
        return bundle

    def _deleted_bundle(self, name: str, secret: SecretVersion) -> dict[str, Any]:
        now = int(time.time())
        return {
            **self._bundle(name, secret),
            "recoveryId": f"{self.url}/deletedsecrets/{name}",
            "deletedDate": now,
            "scheduledPurgeDate": now + 90 * 86400,
        }

    def _bundle(self, name: str, secret: SecretVersion) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "enabled": secret.enabled,
            "created": secret.created,
            "updated": secret.updated,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90,
        }
        if secret.expires_on is not None:
            attributes["exp"] = secret.expires_on
        if secret.not_before is not None:
            attributes["nbf"] = secret.not_before
        bundle: dict[str, Any] = {
            "value": secret.value,
            "id": f"{self.url}/secrets/{name}/{secret.version}",
            "attributes": attributes,
            "tags": {},
        }
        if secret.content_type is not None:
            bundle["contentType"] = secret.content_type
        return bundle

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server._connections.add(self.connection)

            def finish(self) -> None:
                with server._lock:
                    server._connections.discard(self.connection)
                super().finish()

            def do_GET(self) -> None:
                self._serve("GET")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

            def _serve(self, method: str) -> None:
                sent = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = server._answer(self.path, self.headers.get("Authorization"), method, sent)
                body = b"" if answer.status == 204 else json.dumps(answer.body).encode("utf-8")
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the recorded requests are the log."""

        return Handler


def _not_found(name: str) -> _Answer:
    message = f"A secret with (name/id) {name} was not found in this key vault."
    return _Answer.error(404, "SecretNotFound", message)


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def error(cls, status: int, code: str, message: str, inner: str | None = None) -> _Answer:
        error: dict[str, Any] = {"code": code, "message": message}
        if inner is not None:
            error["innererror"] = {"code": inner}
        return cls(status, {"error": error})

    @classmethod
    def challenge(cls, tenant_id: str) -> _Answer:
        answer = cls.error(401, "Unauthorized", "AKV10000: Request is missing a Bearer token.")
        header = (
            f'Bearer authorization="https://login.microsoftonline.com/{tenant_id}",'
            ' resource="https://vault.azure.net"'
        )
        return replace(answer, headers={"WWW-Authenticate": header})
