"""The `donatello` command: serve the embedded platform, mint dev tokens, try a prompt."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path

import httpx

from devhost.audit_commands import add_audit_commands
from devhost.projection_commands import add_projection_commands, run_projection_command
from devhost.provenance_command import add_provenance_commands
from devhost.signin import (
    PUBLIC_CLOUD,
    SignIn,
    SignInError,
    login,
    logout,
    scopes_from,
    signed_in_token,
)
from domain.access import Role
from plumbing import configure_logging, host_process, share_metrics

DEFAULT_URL = "http://127.0.0.1:7071"
API_ROOT = "/api/v1"
URL_HELP = f"the platform, with or without {API_ROOT} (default: {DEFAULT_URL})"
TERMINAL = {"charged", "rejected", "failed"}
HOST_JSON = Path(__file__).resolve().parent.parent / "host.json"
CONSOLE_DIR = Path(__file__).resolve().parent.parent / "web" / "dist"

log = logging.getLogger("devhost")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a reader that went away or a host that does not answer is one
    line (or none) and a non-zero exit, never a traceback."""
    try:
        return _run(argv)
    except BrokenPipeError:
        # `donatello audit export | head`: the reader has what it wanted. Point stdout at
        # /dev/null so the interpreter's last flush cannot raise again on the way out.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE  # what a command killed by SIGPIPE reports
    except httpx.TransportError as error:
        print(f"donatello: {_unreachable(error)}", file=sys.stderr)
        return 1


def _unreachable(error: httpx.TransportError) -> str:
    try:
        url = str(error.request.url.copy_with(path="/", query=None)).rstrip("/")
    except RuntimeError:  # an error raised before any request was made
        url = "the URL given"
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
        return (
            f"nothing answers at {url} ({error or type(error).__name__}); is the platform running?"
        )
    return f"no answer from {url}: {type(error).__name__} {error}".rstrip()


def _run(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="donatello", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the embedded platform")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7071)
    serve.add_argument("--workers", type=int, default=2, help="queue workers per queue")
    serve.add_argument(
        "--processes",
        type=int,
        default=None,
        help="processes running the queue workers (the first also serves HTTP);"
        " default: one per CPU",
    )

    work = commands.add_parser("work", help="run only the queue workers (serve --processes)")
    work.add_argument("--workers", type=int, default=2, help="queue workers per queue")
    work.add_argument("--parent", type=int, default=None, help="stop when this process ends")

    token = commands.add_parser("token", help="mint a locally signed dev token")
    token.add_argument("--user", required=True)
    token.add_argument(
        "--roles",
        type=_roles,
        default=Role.GENERATOR_STANDARD.value,
        help=f"comma-separated app roles, of: {', '.join(Role)} (default: %(default)s)",
    )
    token.add_argument("--department", default=None)
    token.add_argument("--hours", type=float, default=8.0)

    generate = commands.add_parser("generate", help="submit a prompt to a running platform")
    generate.add_argument("prompt")
    generate.add_argument("--url", type=_host_url, default=DEFAULT_URL, help=URL_HELP)
    generate.add_argument("--user", default="cli-user")
    generate.add_argument("--department", default="default")
    generate.add_argument("--size", default="1024x1024")
    generate.add_argument("--quality", default="standard")
    generate.add_argument("--wait", action="store_true", help="wait for a terminal state")
    generate.add_argument("--out", type=Path, help="with --wait: save the PNG here")
    _add_identity_arguments(generate, "act as this token's holder (default: a dev token)")

    budgets = commands.add_parser("budgets", help="show a month's budgets from a running platform")
    budgets.add_argument("--url", type=_host_url, default=DEFAULT_URL, help=URL_HELP)
    budgets.add_argument("--period", help="YYYY-MM, a Sydney month; default the current one")
    budgets.add_argument(
        "--as-of",
        help="with --department: the month as the log stood at this instant "
        "(ISO 8601 with an offset, e.g. 2026-11-30T17:00:00+11:00)",
    )
    budgets.add_argument("--department", help="one department with its breakdowns")
    budgets.add_argument("--csv", action="store_true", help="print the API's CSV instead")
    _add_identity_arguments(budgets, "act as this token's holder (default: a finance reader)")

    login = commands.add_parser(
        "login", help="sign in with Entra ID (device code) to call a deployed API as yourself"
    )
    login.add_argument("--tenant", required=True, help="the Entra tenant id")
    login.add_argument("--client-id", required=True, help="the command's public client app")
    login.add_argument(
        "--scope",
        action="append",
        help="repeatable; default: the API's App ID URI (DONATELLO_AUDIENCE) + /.default",
    )
    login.add_argument("--authority-host", default=PUBLIC_CLOUD)
    commands.add_parser("logout", help="forget the Entra sign-in and its tokens")

    audit = commands.add_parser("audit", help="verify, export or replay the audit trail in place")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    add_audit_commands(audit_commands)
    add_provenance_commands(commands)
    add_projection_commands(commands)

    args = parser.parse_args(argv)
    # The host logs its work; a one-shot command's output is what it prints, so its log
    # says only what went wrong (not every HTTP request its client made).
    configure_logging(level=logging.INFO if args.command in ("serve", "work") else logging.WARNING)
    if args.command == "serve":
        return _serve(args.host, args.port, args.workers, serving_processes(args.processes))
    if args.command == "work":
        return _work(args.workers, args.parent or os.getppid())
    if args.command == "token":
        print(_mint(args.user, args.roles, args.department, timedelta(hours=args.hours)))
        return 0
    if args.command == "budgets":
        return _signed_in_or_told(_budgets, args)
    if args.command in ("login", "logout"):
        return _sign_in(args)
    if args.command in ("audit", "provenance"):
        return int(args.run(args))
    if args.command == "projections":
        return run_projection_command(args)
    return _signed_in_or_told(_generate, args)


def _host_url(text: str) -> str:
    """`--url`: the host, whether given as the README prints it (with /api/v1) or not."""
    url = text.rstrip("/")
    return url.removesuffix(API_ROOT) if url.endswith(API_ROOT) else url


def _roles(text: str) -> list[str]:
    """`--roles`: app roles the platform knows, so a typo is refused, not minted."""
    roles = [role.strip() for role in text.split(",") if role.strip()]
    unknown = [role for role in roles if role not in set(Role)]
    if unknown or not roles:
        raise argparse.ArgumentTypeError(
            f"unknown role {', '.join(unknown) or '(none given)'}; the roles are: "
            + ", ".join(Role)
        )
    return roles


def _signed_in_or_told(
    command: Callable[[argparse.Namespace], int], args: argparse.Namespace
) -> int:
    try:
        return command(args)
    except SignInError as error:
        print(error, file=sys.stderr)
        return 1


def _mint(user: str, roles: list[str], department: str | None, ttl: timedelta) -> str:
    from bootstrap import dev_issuer, settings

    return dev_issuer(settings()).mint(user, roles, department, ttl=ttl)


def _app_settings() -> dict[str, str]:
    from bootstrap import settings

    # What the triggers' `%DONATELLO_COSMOS_DATABASE%` and `%DONATELLO_SEAL_SCHEDULE%` name,
    # defaulted as Settings do.
    config = settings()
    return {
        "DONATELLO_SEAL_SCHEDULE": config.seal_schedule,
        **os.environ,
        "DONATELLO_COSMOS_DATABASE": config.cosmos_database,
    }


def serving_processes(asked: int | None) -> int:
    """The pipeline's work holds the GIL, so one process per core uses the machine."""
    return asked if asked is not None else os.cpu_count() or 1


def _serve(host: str, port: int, workers: int, processes: int) -> int:
    _default_public_base_url(host, port)  # before anything reads the settings
    share_metrics()  # before prometheus-client is imported, by this process or a worker
    host_process()
    from bootstrap import (
        cosmos_databases,
        dev_issuer,
        local_queue,
        metrics_page,
        platform,
        projection_runner,
        settings,
        webhook_dispatcher,
    )
    from devhost.change_feed import cosmos_change_feed
    from devhost.console import Console, dev_sign_in_allowed
    from devhost.host import BackgroundService, LocalHost
    from devhost.http_limits import HttpLimits
    from devhost.services import ProjectionService, Warmup
    from devhost.worker_processes import start_worker_processes, stop_worker_processes
    from function_app import app

    if processes < 1:
        raise SystemExit("--processes must be at least 1")
    config = settings()
    app_settings = _app_settings()
    background: list[BackgroundService] = [Warmup()]
    if config.event_store == "cosmos":  # the views are fed by the change-feed triggers
        change_feed = cosmos_change_feed(app_settings, cosmos_databases(config))
    else:  # the Cosmos DB triggers are skipped; a runner feeds the views from the local log
        change_feed = None
        background.insert(0, ProjectionService(projection_runner(config)))
        dispatcher = webhook_dispatcher(config, platform)
        background.insert(1, ProjectionService(dispatcher, poll_interval=0.2, name="webhooks"))
    issuer = dev_issuer(config) if dev_sign_in_allowed(config.auth_mode, host) else None
    local = LocalHost(
        app,
        queue_for=lambda name: local_queue(config, name),
        host_json=HOST_JSON,
        http_host=host,
        http_port=port,
        workers_per_queue=workers,
        background=background,
        change_feed=change_feed,
        app_settings=app_settings,
        metrics=metrics_page(config),
        limits=HttpLimits(
            header_timeout=config.http_header_timeout_seconds,
            body_timeout=config.http_body_timeout_seconds,
            max_connections=config.http_max_connections,
            keep_alive=config.http_keep_alive_seconds,
        ),
        front=lambda api: Console(api, CONSOLE_DIR, issuer),
    )
    log.info(
        "DonatelloAI is serving the console on http://%s:%d/ and the API under /api/v1 "
        "(data in %s; dev sign-in %s)",
        host,
        port,
        config.data_dir,
        "on" if issuer else "off",
    )
    helpers = start_worker_processes(processes - 1, workers)
    try:
        local.serve()
    finally:
        stop_worker_processes(helpers)
    return 0


def _default_public_base_url(host: str, port: int) -> None:
    """Unless configured, the API's public URLs start with the address it is bound to."""
    if not (os.environ.get("DONATELLO_PUBLIC_BASE_URL") or os.environ.get("WEBSITE_HOSTNAME")):
        authority = f"[{host}]" if ":" in host else host
        os.environ["DONATELLO_PUBLIC_BASE_URL"] = f"http://{authority}:{port}"


def _work(workers: int, parent_pid: int) -> int:
    from bootstrap import local_queue, settings
    from devhost.services import Warmup
    from devhost.worker_processes import run_queue_triggers
    from function_app import app

    host_process()
    config = settings()
    run_queue_triggers(
        app,
        queue_for=lambda name: local_queue(config, name),
        host_json=HOST_JSON,
        workers_per_queue=workers,
        app_settings=_app_settings(),
        parent_pid=parent_pid,
        background=[Warmup()],
    )
    return 0


def _budgets(args: argparse.Namespace) -> int:
    from devhost.budgets_command import show_budgets

    token = _token(args, lambda: _mint("cli-finance", ["Finance.Reader"], None, timedelta(hours=1)))
    return show_budgets(
        args.url,
        token,
        period=args.period,
        department=args.department,
        as_of=args.as_of,
        as_csv=args.csv,
    )


def _add_identity_arguments(command: argparse.ArgumentParser, token_help: str) -> None:
    who = command.add_mutually_exclusive_group()
    who.add_argument("--token", help=token_help)
    who.add_argument(
        "--signed-in",
        action="store_true",
        help="use the Entra sign-in of `donatello login` (for a deployed API's --url)",
    )


def _token(args: argparse.Namespace, dev_token: Callable[[], str]) -> str:
    if args.signed_in:
        from bootstrap import settings

        return signed_in_token(settings().data_dir)
    return str(args.token) if args.token else dev_token()


def _sign_in(args: argparse.Namespace) -> int:
    from bootstrap import settings

    config = settings()
    if args.command == "logout":
        logout(config.data_dir)
        print("signed out")
        return 0
    sign_in = SignIn(
        tenant_id=args.tenant,
        client_id=args.client_id,
        scopes=scopes_from(args.scope, config.audience),
        authority_host=args.authority_host,
    )
    try:
        account = login(sign_in, config.data_dir)
    except SignInError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"signed in as {account['username']} (tenant {account['tenant_id']})")
    return 0


def _generate(args: argparse.Namespace) -> int:
    token = _token(
        args, lambda: _mint(args.user, ["Generator.Standard"], args.department, timedelta(hours=1))
    )
    headers = {"Authorization": f"Bearer {token}"}
    body = {"prompt": args.prompt, "size": args.size, "quality": args.quality}
    with httpx.Client(base_url=args.url, headers=headers, timeout=30) as client:
        accepted = client.post("/api/v1/generations", json=body)
        print(json.dumps(accepted.json(), indent=2))
        if accepted.status_code != 202 or not args.wait:
            return 0 if accepted.status_code == 202 else 1
        status = accepted.json()
        deadline = time.monotonic() + 120
        while status["status"] not in TERMINAL and time.monotonic() < deadline:
            time.sleep(0.2)
            status = client.get(accepted.json()["status_url"]).json()
        print(json.dumps(status, indent=2))
        if args.out and status.get("image_url"):
            args.out.write_bytes(client.get(status["image_url"]).content)
            print(f"saved {args.out}")
        return 0 if status["status"] == "charged" else 1


if __name__ == "__main__":
    sys.exit(main())
