"""The sign-in's offline parts: authority, default scope, private files."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from devhost.signin import (
    CACHE_FILE,
    SignIn,
    SignInError,
    _write_private,
    scopes_from,
    signed_in_token,
)


def test_the_authority_and_the_default_scope() -> None:
    sign_in = SignIn("contoso-tenant", "client", scopes_from(None, "api://donatello"))
    assert sign_in.authority == "https://login.microsoftonline.com/contoso-tenant"
    assert sign_in.scopes == ("api://donatello/.default",)
    gov = SignIn("t", "c", ("s",), authority_host="https://login.microsoftonline.us/")
    assert gov.authority == "https://login.microsoftonline.us/t"
    assert scopes_from(["api://x/Generate"], "api://donatello") == ("api://x/Generate",)


def test_a_token_cache_is_private_even_where_a_readable_file_stood(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    path.write_text("old")
    path.chmod(0o644)
    _write_private(path, '{"RefreshToken": {}}')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == '{"RefreshToken": {}}'
    assert [p.name for p in tmp_path.iterdir()] == [CACHE_FILE]  # no staging file left


def test_without_a_sign_in_the_command_says_to_log_in(tmp_path: Path) -> None:
    with pytest.raises(SignInError, match="donatello login"):
        signed_in_token(tmp_path)
