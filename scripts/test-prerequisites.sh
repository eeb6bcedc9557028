#!/usr/bin/env bash
# What the tests need beyond the app: Debian's Chromium for the browser tests (Playwright
# drives it; it cannot download its own browser here) and redis-server for the tests of
# several gateways. Installed when run as root.
set -euo pipefail

die() { echo "Error: $*" >&2; exit 1; }

need() {  # need PATH PACKAGE WHY: install PACKAGE when PATH is missing
  [ -e "$1" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's $2 for $3"
    apt-get install -y -q "$2" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "$2" >/dev/null; }
  else
    die "$3 need $1: run 'apt-get install $2' as root."
  fi
}

need /usr/bin/chromium chromium "the browser tests"
# Chinese glyphs in the browser tests' screenshots (they render as empty boxes without it).
need /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc fonts-noto-cjk "readable screenshots"
need /usr/bin/redis-server redis-server "the tests of several gateways"

# The unmodified rasa-webchat widget a portal page embeds in tests/web/test_webchat.py;
# reinstalled only when its package.json or lock changed (as setup.sh does for handoff/web).
webchat="$(dirname "$0")/../tests/web/webchat"
built_from() { cat "$webchat/package.json" "$webchat/package-lock.json" | sha256sum; }
if [ ! -f "$webchat/node_modules/.built-from" ] \
   || [ "$(built_from)" != "$(cat "$webchat/node_modules/.built-from")" ]; then
  command -v npm >/dev/null 2>&1 || die "the widget test needs npm: scripts/setup.sh installs it."
  echo "==> installing rasa-webchat for the widget test"
  npm ci --prefix "$webchat" --no-audit --no-fund
  built_from > "$webchat/node_modules/.built-from"
fi
