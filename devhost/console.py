"""The console beside the API: the built single-page app at `/`, the API under `/api`,
and, on a dev-token host bound to loopback only, the dev sign-in behind the console's form.

The dev sign-in mints a token for whoever asks, so it must never exist where another
machine could ask: `dev_sign_in_allowed` says where it may, and everywhere else
`POST /dev/token` is a 404 like any unknown path.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import mimetypes
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from devhost.http_bridge import ClientGone, read_body, send_problem, send_response
from domain.access import Role
from services.identity import TokenIssuer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

DEV_SIGN_IN_PATH = "/dev/token"
DEV_TOKEN_TTL = timedelta(hours=8)
MAX_SIGN_IN_BYTES = 4096
SIGN_IN_BODY_SECONDS = 10.0
# One source for the console's headers here and on Azure (web/scripts/azure-config.mjs).
SECURITY_HEADERS_FILE = Path(__file__).resolve().parents[1] / "web" / "security-headers.json"


def content_security_policy(directives: dict[str, list[str]]) -> str:
    """`default-src 'self'; ...` from the directives in their file order."""
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def _security_headers() -> list[tuple[str, str]]:
    declared = json.loads(SECURITY_HEADERS_FILE.read_text("utf-8"))
    policy = content_security_policy(declared.pop("content-security-policy"))
    others = [(name, value) for name, value in declared.items() if not name.startswith("_")]
    return [("content-security-policy", policy), *others]


_PAGE_HEADERS = _security_headers()
CONTENT_SECURITY_POLICY = dict(_PAGE_HEADERS)["content-security-policy"]
NOT_BUILT = (
    b"<!doctype html><html lang=en><title>DonatelloAI</title>"
    b"<p>The console is not built. <code>scripts/serve</code> builds it; "
    b"the API is at <a href=/api/v1/openapi.json>/api/v1</a>.</p></html>"
)


def dev_sign_in_allowed(auth_mode: str, bind_host: str) -> bool:
    """Only with dev tokens, and only on a host no other machine can reach."""
    return auth_mode == "dev" and _is_loopback(bind_host)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name other than localhost may resolve anywhere
        return False


def _asked_for_loopback(scope: Scope) -> bool:
    """The request names a loopback host: a page on a name that an attacker rebound to
    127.0.0.1 (DNS rebinding) sends its own name, and is refused."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    host = headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return _is_loopback(name)


class DevSignIn(BaseModel):
    """What the console's dev sign-in form sends."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._@-]+$")
    roles: list[Role] = Field(min_length=1)
    department: str | None = Field(
        default=None, min_length=1, max_length=63, pattern="^[a-z0-9][a-z0-9_-]{0,62}$"
    )


class Console:
    """ASGI front: `/api/...` to the API, `/dev/token` if allowed, else the static console."""

    def __init__(self, api: Asgi, static_dir: Path, issuer: TokenIssuer | None) -> None:
        self._api = api
        self._static = static_dir.resolve()
        self._issuer = issuer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or path == "/api" or path.startswith("/api/"):
            await self._api(scope, receive, send)
            return
        if path == DEV_SIGN_IN_PATH and self._issuer is not None and _asked_for_loopback(scope):
            await self._dev_token(self._issuer, scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD"):
            await send_problem(send, 404, "not-found", "Not found", "No function serves this path.")
            return
        await self._page(path, scope["method"] == "HEAD", send)

    async def _page(self, path: str, head_only: bool, send: Send) -> None:
        index = self._static / "index.html"
        if not index.is_file():
            headers = [("content-type", "text/html; charset=utf-8"), *_PAGE_HEADERS]
            await send_response(send, 200, headers, NOT_BUILT)
            return
        candidate = (self._static / path.lstrip("/")).resolve()
        if candidate.is_file() and candidate.is_relative_to(self._static):
            file, immutable = candidate, candidate.parent.name == "assets"
        elif "." in path.rsplit("/", 1)[-1]:  # a missing file, not a console route
            await send_problem(send, 404, "not-found", "Not found", "No such file.")
            return
        else:  # a console route: the app reads the path itself
            file, immutable = index, False
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind == "application/javascript":
            kind += "; charset=utf-8"
        cache = "public, max-age=31536000, immutable" if immutable else "no-cache"
        body = file.read_bytes()
        headers = [("content-type", kind), ("cache-control", cache), *_PAGE_HEADERS]
        await send_response(send, 200, headers, b"" if head_only else body, len(body))

    async def _dev_token(
        self, issuer: TokenIssuer, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if scope["method"] != "POST":
            await send_problem(
                send, 405, "method-not-allowed", "Method not allowed", "Use POST.",
                [("allow", "POST")],
            )  # fmt: skip
            return
        try:
            async with asyncio.timeout(SIGN_IN_BODY_SECONDS):  # a trickling client lets go
                body = await read_body(receive, MAX_SIGN_IN_BYTES)
        except (ClientGone, TimeoutError):
            return
        try:
            if body is None:
                raise ValueError("the sign-in is larger than it can be")
            asked = DevSignIn.model_validate_json(body)
        except (ValidationError, ValueError) as error:
            detail = _plain(error)
            await send_problem(send, 422, "validation-error", "Invalid sign-in", detail)
            return
        token = issuer.mint(asked.user, asked.roles, asked.department, ttl=DEV_TOKEN_TTL)
        answer = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(DEV_TOKEN_TTL.total_seconds()),
        }
        headers = [("content-type", "application/json"), ("cache-control", "no-store")]
        await send_response(send, 200, headers, json.dumps(answer).encode())


def _plain(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()
        )
    return str(error)
