"""The README's lists of values, limits and stream names are the code's: they cannot drift.

A newcomer reads the README, not the enums; each table row here is checked against the
type or function it describes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import get_args
from uuid import UUID

import pytest

from domain import streams
from domain.access import Role
from domain.audit_reads import audit_reads_stream
from domain.budget import Enforcement, Strategy
from domain.event_types import EVENT_TYPES
from domain.generation import Quality, Size, Style
from domain.webhooks import Kind
from services.generations import MAX_PROMPT_CHARS
from services.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def row(first_cell: str) -> list[str]:
    """The backticked values in the second cell of the table row whose first cell starts so."""
    for line in README.splitlines():
        cells = [cell.strip() for cell in line.split("|")[1:-1]]
        if len(cells) >= 2 and cells[0].startswith(first_cell):
            return re.findall(r"`([^`]+)`", cells[1])
    raise AssertionError(f"no README table row for {first_cell!r}")


def values(enum: type[StrEnum]) -> set[str]:
    return {member.value for member in enum}


@pytest.mark.parametrize(
    ("first_cell", "expected"),
    [
        ("roles", values(Role)),
        ("`size`", set(get_args(Size))),
        ("`quality`", set(get_args(Quality))),
        ("`style`", set(get_args(Style))),
        ("`enforcement`", values(Enforcement)),
        ("`strategy`", values(Strategy)),
        ("`events`", values(Kind)),
        ("`type=`", set(EVENT_TYPES)),
    ],
)
def test_each_list_of_values_is_the_codes(first_cell: str, expected: set[str]) -> None:
    listed = row(first_cell)
    assert len(listed) == len(set(listed))
    assert set(listed) == expected


def test_the_defaults_and_limits_stated_are_the_codes() -> None:
    defaults = Settings()
    assert f"{MAX_PROMPT_CHARS:,} characters" in README
    assert (
        f"`DONATELLO_DEFAULT_MONTHLY_LIMIT_AUD` (default\n`{defaults.default_monthly_limit_aud}`)"
        in README
    )
    assert f"`{defaults.default_enforcement.value}`, `{defaults.default_strategy.value}`" in README
    assert row("`enforcement`")[0] == defaults.default_enforcement.value
    assert row("`strategy`")[0] == defaults.default_strategy.value
    assert row("`size`")[0] == "1024x1024"


def test_each_stream_name_is_what_the_code_names() -> None:
    gid = UUID("0b6f3c1e-4d2a-4c39-9a51-2f0c8d1e7a44")
    digest = streams.user_digest("alice")
    day = date(2026, 11, 23)
    named = {
        "generation-{generation id}": streams.generation_stream(gid),
        "budget-{department}-{YYYY-MM}": streams.budget_stream("marketing", "2026-11"),
        "budget-policy-{department}": streams.budget_policy_stream("marketing"),
        "quota-{sha256(user id)[:32]}-{YYYY-MM-DD}": streams.quota_stream("alice", day),
        "provider-{name}": streams.provider_stream("openai"),
        "webhooks-{department}": streams.webhooks_stream("marketing"),
        "webhook-delivery-{delivery id}": streams.webhook_delivery_stream(gid),
        "privacy-{sha256(user id)[:32]}": streams.privacy_stream("alice"),
        "audit-reads-{YYYY-MM-DD}": audit_reads_stream(day),
    }
    filled = {
        "{generation id}": str(gid),
        "{delivery id}": str(gid),
        "{department}": "marketing",
        "{YYYY-MM}": "2026-11",
        "{YYYY-MM-DD}": day.isoformat(),
        "{sha256(user id)[:32]}": digest,
        "{name}": "openai",
    }
    for pattern, actual in named.items():
        assert f"| `{pattern}` |" in README, pattern
        expected = pattern
        for placeholder, value in filled.items():
            expected = expected.replace(placeholder, value)
        assert actual == expected


def test_the_first_serve_says_what_its_install_is_doing(tmp_path: Path) -> None:
    """scripts/_venv.sh in a copy of the repository's inputs, with a python that records
    the pip calls instead of downloading (the real install is the CI's first step)."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "_venv.sh", tmp_path / "scripts" / "_venv.sh")
    for name in ("requirements.txt", "requirements-local.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/pip-calls"\n')
    python.chmod(0o755)

    def setup() -> subprocess.CompletedProcess[str]:
        script = f'source "{tmp_path}/scripts/_venv.sh"; ensure_venv requirements-local.txt'
        return subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, check=True, env=os.environ
        )

    first, second = setup(), setup()

    assert first.stdout == ""  # progress goes to stderr
    lines = first.stderr.splitlines()
    assert lines[0].startswith("[setup] installing the packages of requirements-local.txt")
    assert "75 s" in lines[0]
    assert lines[-1].startswith("[setup] ready after ")
    calls = (python.parent / "pip-calls").read_text().splitlines()
    assert len(calls) == 2
    assert all("--quiet" in call for call in calls)  # pip itself stays quiet
    assert second.stderr == ""  # nothing to install, nothing said
