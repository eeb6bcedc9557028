#!/usr/bin/env bash
# Set everything up (first run: a few minutes) and run Xiaoshen in the foreground.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec .venv/bin/xiaoshen serve
