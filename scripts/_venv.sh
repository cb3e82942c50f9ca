# Sourced by scripts/serve and scripts/test: create .venv and install one requirements file,
# and (for the tests) the npm emulators and checkov's own venv. Each re-installs only when
# its inputs changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
ensure_venv() {
  local requirements="$1"
  local stamp="$VENV/.installed-$(basename "$requirements")"
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV"
    python3 -m venv "$VENV"
  fi
  local digest
  digest="$(cat "$ROOT"/requirements*.txt "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    # pip stays quiet (its output is pages long); these lines say what the wait is for.
    local started=$SECONDS
    say "installing the packages of $requirements into .venv (about 75 s the first time;" \
      "again only when a requirements file changes)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/$requirements"
    say "installing donatello itself (editable)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$ROOT"
    echo "$digest" > "$stamp"
    say "ready after $((SECONDS - started)) s"
  fi
}

# Progress for the person waiting, on stderr so that a command's output stays its own.
say() {
  echo "[setup] $*" >&2
}

# The Cosmos DB REST emulator and Azurite, from package-lock.json, for the adapter tests.
ensure_emulators() {
  local stamp="$ROOT/node_modules/.installed-lock"
  local digest
  digest="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$digest" > "$stamp"
  fi
}

# checkov in .venv-checkov, apart from the project's venv: its pins clash with ours.
CHECKOV_VENV="$ROOT/.venv-checkov"
ensure_checkov() {
  local stamp="$CHECKOV_VENV/.installed"
  local digest
  digest="$(sha256sum "$ROOT/requirements-checkov.txt" | cut -d' ' -f1)"
  if [ ! -x "$CHECKOV_VENV/bin/checkov" ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    python3 -m venv "$CHECKOV_VENV"
    "$CHECKOV_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
      -r "$ROOT/requirements-checkov.txt"
    echo "$digest" > "$stamp"
  fi
}
