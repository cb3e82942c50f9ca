"""The `donatello` command at its edges, run as a newcomer runs it: a real subprocess.

A reader that goes away (`| head`) ends the command quietly; a URL where nothing
listens is one line, not a traceback; an unknown role is refused with the list of the
roles there are.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from uuid import uuid4

import httpx

from adapters.sqlite_event_store import SqliteEventStore
from domain.access import Role
from domain.envelope import Actor, NewEvent
from tests.platform_process import (
    ROOT,
    free_port,
    platform_env,
    run_donatello,
    running_platform,
)

COMMAND = [sys.executable, "-m", "devhost.cli"]


def donatello(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_donatello(platform_env(data_dir), *args)


def a_long_log(data_dir: Path, events: int) -> None:
    """A log longer than a pipe holds, so the export is still writing when `head` leaves."""
    store = SqliteEventStore(data_dir / "events.db")
    actor = Actor(user_id="ada", roles=("Platform.Admin",), department_id=None)
    batch = [
        NewEvent(
            type="BudgetSet", data={"note": "x" * 200, "n": n}, actor=actor, correlation_id=uuid4()
        )
        for n in range(events)
    ]
    store.append("padding-stream", 0, batch)
    store.close()


def test_an_export_piped_to_head_ends_quietly(tmp_path: Path) -> None:
    a_long_log(tmp_path, 2000)
    export = shlex.join([*COMMAND, "audit", "export", "--format", "csv"])
    piped = subprocess.run(
        f"{export} | head -3",
        shell=True,
        cwd=ROOT,
        env=platform_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert len(piped.stdout.splitlines()) == 3
    assert piped.stderr == ""  # no BrokenPipeError, no traceback, no "exported N events"


def test_every_client_command_says_in_one_line_that_nothing_answers(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/v1"  # nothing listens there
    for args in (("generate", "a lighthouse", "--url", url), ("budgets", "--url", url)):
        ran = donatello(tmp_path, *args)

        assert ran.returncode == 1, args
        assert ran.stdout == ""
        assert ran.stderr.count("\n") == 1, ran.stderr
        assert f"nothing answers at {url.removesuffix('/api/v1')}" in ran.stderr
        assert "Traceback" not in ran.stderr


def test_a_token_with_an_unknown_role_is_refused_naming_the_roles(tmp_path: Path) -> None:
    refused = donatello(tmp_path, "token", "--user", "alice", "--roles", "Generator.Standrad")

    assert refused.returncode == 2
    assert refused.stdout == ""
    assert "unknown role Generator.Standrad" in refused.stderr
    assert all(role.value in refused.stderr for role in Role)


def test_the_tokens_default_role_is_stated_and_known_roles_are_minted(tmp_path: Path) -> None:
    helped = donatello(tmp_path, "token", "--help")
    assert "(default: Generator.Standard)" in " ".join(helped.stdout.split())

    minted = donatello(tmp_path, "token", "--user", "ada", "--roles", "Org.Admin, Finance.Reader")
    assert minted.returncode == 0, minted.stderr
    assert minted.stdout.count(".") == 2  # a JWT: header.payload.signature


def test_the_readmes_readiness_text_and_who_generate_acts_as(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    with running_platform(tmp_path / "data") as platform:
        ready = httpx.get(f"{platform.url}/api/v1/health/ready", timeout=10)
        assert ready.text.startswith('{"status":"ready"')
        assert '`{"status":"ready",…}`' in readme  # as the README tells people to look for

        generated = run_donatello(
            platform.env, "generate", "a paper boat", "--url", f"{platform.url}/api/v1", "--wait"
        )
        assert generated.returncode == 0, generated.stderr
        final = json.loads(generated.stdout[generated.stdout.rindex("\n{") :])
        assert (final["user_id"], final["department_id"]) == ("cli-user", "default")
        said = "It acts as `cli-user` holding `Generator.Standard` in the department `default`"
        assert said in readme
        quota = platform.client(platform.token("cli-user", ["Generator.Standard"], "default"))
        assert quota.get("/api/v1/quota").json()["used"] == 1  # a standard user's quota
