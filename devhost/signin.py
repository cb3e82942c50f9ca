"""`donatello login`: sign a person in with Entra ID (device code, through msal) so the
command can call a deployed API as them.

The sign-in is remembered in the data folder: `signin.json` says which tenant, client
and scopes, and `msal-token-cache.json` holds msal's token cache (refresh token
included), readable by its owner only. Later commands take an access token from the
cache (`signed_in_token`), refreshed silently by msal, until the refresh token lapses
and `donatello login` is needed again.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import msal

from plumbing import private_folder

PUBLIC_CLOUD = "https://login.microsoftonline.com"
CONFIG_FILE = "signin.json"
CACHE_FILE = "msal-token-cache.json"


class SignInError(Exception):
    """Not signed in, or the identity provider refused; the message says what to do."""


@dataclass(frozen=True)
class SignIn:
    """Who to ask for tokens: the tenant, the command's public client, the API's scopes."""

    tenant_id: str
    client_id: str
    scopes: tuple[str, ...]
    authority_host: str = PUBLIC_CLOUD  # another cloud: https://login.microsoftonline.us

    @property
    def authority(self) -> str:
        return f"{self.authority_host.rstrip('/')}/{self.tenant_id}"


def api_scope(audience: str) -> str:
    """The scope that asks for the API's token with every permission the client was
    granted, app roles included (the API's App ID URI, `/.default`)."""
    return f"{audience.rstrip('/')}/.default"


def login(sign_in: SignIn, data_dir: Path, prompt: TextIO = sys.stderr) -> dict[str, Any]:
    """Run the device-code flow; remember the sign-in; answer the signed-in account."""
    cache = _load_cache(data_dir)
    app = _application(sign_in, cache)
    flow = app.initiate_device_flow(scopes=list(sign_in.scopes))
    if "user_code" not in flow:
        raise SignInError(f"the identity provider refused the sign-in: {_reason(flow)}")
    print(flow["message"], file=prompt, flush=True)
    result = app.acquire_token_by_device_flow(flow)
    if "access_token" not in result:
        raise SignInError(f"sign-in failed: {_reason(result)}")
    _write_private(data_dir / CONFIG_FILE, json.dumps(asdict(sign_in), indent=2))
    _save_cache(cache, data_dir)
    claims: dict[str, Any] = result.get("id_token_claims") or {}
    return {"username": claims.get("preferred_username"), "tenant_id": claims.get("tid")}


def signed_in_token(data_dir: Path) -> str:
    """An access token for the remembered sign-in, from the cache or refreshed silently."""
    config = data_dir / CONFIG_FILE
    if not config.exists():
        raise SignInError("not signed in: run `donatello login` first")
    stored = json.loads(config.read_text(encoding="utf-8"))
    sign_in = SignIn(**{**stored, "scopes": tuple(stored["scopes"])})
    cache = _load_cache(data_dir)
    app = _application(sign_in, cache)
    accounts = app.get_accounts()
    result = (
        app.acquire_token_silent(list(sign_in.scopes), account=accounts[0]) if accounts else None
    )
    _save_cache(cache, data_dir)  # a refresh rotates the refresh token
    if not result or "access_token" not in result:
        raise SignInError("the sign-in has lapsed: run `donatello login` again")
    token: str = result["access_token"]
    return token


def logout(data_dir: Path) -> None:
    for name in (CACHE_FILE, CONFIG_FILE):
        (data_dir / name).unlink(missing_ok=True)


def _application(
    sign_in: SignIn, cache: msal.SerializableTokenCache
) -> msal.PublicClientApplication:
    return msal.PublicClientApplication(
        sign_in.client_id,
        authority=sign_in.authority,
        token_cache=cache,
        # The authority is the operator's configuration, not user input: no need to ask
        # Microsoft's discovery endpoint to vouch for it (and sovereign or test hosts work).
        instance_discovery=False,
    )


def _load_cache(data_dir: Path) -> msal.SerializableTokenCache:
    cache = msal.SerializableTokenCache()
    path = data_dir / CACHE_FILE
    if path.exists():
        cache.deserialize(path.read_text(encoding="utf-8"))
    return cache


def _save_cache(cache: msal.SerializableTokenCache, data_dir: Path) -> None:
    if cache.has_state_changed:
        _write_private(data_dir / CACHE_FILE, cache.serialize())


def _write_private(path: Path, text: str) -> None:
    """Write `text` so that no other user can read it at any moment, then swap it in."""
    private_folder(path.parent)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as staged:
        os.fchmod(staged.fileno(), 0o600)  # O_CREAT's mode does not apply to an old file
        staged.write(text)
    os.replace(staging, path)


def _reason(result: dict[str, Any]) -> str:
    return str(result.get("error_description") or result.get("error") or "no reason given")


def scopes_from(values: Sequence[str] | None, audience: str) -> tuple[str, ...]:
    return tuple(values) if values else (api_scope(audience),)
