#!/usr/bin/env bash
# Set everything up, then run the whole test suite (pytest exits 5 when it finds no tests).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
scripts/test-prerequisites.sh
exec .venv/bin/pytest "$@"
