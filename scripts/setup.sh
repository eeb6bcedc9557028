#!/usr/bin/env bash
# Set up both environments and everything derived from the knowledge base. Idempotent:
# a second run only redoes what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "Error: $*" >&2; exit 1; }

find_python() {  # find_python 3.10 → path of a working interpreter of that version
  local version=$1 candidate
  for candidate in "python$version" "$HOME/.pyenv/versions/$version"*/bin/"python$version" \
                   "/usr/local/bin/python$version" "/usr/bin/python$version"; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c "" >/dev/null 2>&1; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

stamp_ok() {  # stamp_ok DIR FILE... → true when DIR was built from these exact files
  [ -f "$1/.built-from" ] && [ "$(cat "${@:2}" | sha256sum)" = "$(cat "$1/.built-from")" ]
}
stamp() { cat "${@:2}" | sha256sum > "$1/.built-from"; }

PY311=$(find_python 3.11) || die "Python 3.11 is required (the app, action server and knowledge base). Install it, e.g. 'pyenv install 3.11' or 'apt-get install python3.11 python3.11-venv'."
PY310=$(find_python 3.10) || die "Python 3.10 is required (Rasa 3.6 runs only on 3.10). Install it, e.g. 'pyenv install 3.10' or 'apt-get install python3.10 python3.10-venv'."

if ! stamp_ok .venv pyproject.toml; then
  echo "==> installing the app environment (.venv, Python 3.11)"
  "$PY311" -m venv .venv
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --progress-bar on -e '.[dev]'
  stamp .venv pyproject.toml
fi

if ! stamp_ok .venv-rasa bot/requirements-rasa.txt; then
  echo "==> installing the Rasa environment (.venv-rasa, Python 3.10)"
  "$PY310" -m venv .venv-rasa
  .venv-rasa/bin/pip install --quiet --upgrade pip
  .venv-rasa/bin/pip install --progress-bar on -r bot/requirements-rasa.txt
  stamp .venv-rasa bot/requirements-rasa.txt
fi

if ! stamp_ok handoff/web/node_modules handoff/web/package.json handoff/web/package-lock.json; then
  echo "==> installing the web pages' browser packages (socket.io client)"
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "==> installing Debian's Node.js and npm"
      apt-get install -y -q nodejs npm >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q nodejs npm >/dev/null; }
    else
      die "npm is required for the chat page and the console. Install Node.js and npm, e.g. 'apt-get install nodejs npm'."
    fi
  fi
  npm ci --prefix handoff/web --no-audit --no-fund
  stamp handoff/web/node_modules handoff/web/package.json handoff/web/package-lock.json
fi

.venv/bin/xiaoshen train
