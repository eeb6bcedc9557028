#!/usr/bin/env bash
# What the tests need beyond the app: Debian's Chromium for the browser tests (Playwright
# drives it; it cannot download its own browser here). Installed when run as root.
set -euo pipefail

die() { echo "Error: $*" >&2; exit 1; }

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's Chromium for the browser tests"
    apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
  else
    die "the browser tests need Chromium at /usr/bin/chromium: run 'apt-get install chromium' as root."
  fi
fi
