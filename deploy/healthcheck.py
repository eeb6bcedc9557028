"""The container's health check: exit 0 when the gateway answers /health, 1 when it does not.

Run from the project folder with the app's Python (`.venv/bin/python deploy/healthcheck.py`);
the gateway's address comes from the same XIAOSHEN_* settings `xiaoshen serve` reads.
"""

from __future__ import annotations

import sys

from xiaoshen import settings
from xiaoshen.stack import is_healthy, services


def main() -> int:
    gateway = next(s for s in services(settings.load()) if s.name == "gateway")
    return 0 if is_healthy(gateway) else 1


if __name__ == "__main__":
    sys.exit(main())
