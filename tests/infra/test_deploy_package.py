"""What azd uploads (the project folder less .funcignore) holds everything the app imports."""

from __future__ import annotations

import subprocess
import sys

from tests.infra.bicep import ROOT


def first_party_modules_the_app_imports() -> set[str]:
    """Top-level names under the project root that importing function_app loads, in a fresh
    interpreter so the tests' own imports do not count."""
    probe = (
        "import sys, pathlib; import function_app; root = pathlib.Path.cwd().resolve(); "
        "print('\\n'.join(sorted({n.split('.')[0] for n, m in list(sys.modules.items()) "
        "if getattr(m, '__file__', None) and root in pathlib.Path(m.__file__).resolve().parents "
        "and '.venv' not in m.__file__})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


def test_funcignore_keeps_every_module_the_app_imports() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".funcignore").read_text("utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    imported = first_party_modules_the_app_imports()
    assert {"function_app", "bootstrap", "functions", "services", "adapters", "domain"} <= imported
    assert imported & ignored == set()
    assert {"requirements.txt", "host.json"} & ignored == set()
