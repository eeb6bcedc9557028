"""The gateway: the one front door for browsers (handoff/app.py), served by uvicorn.

    python -m handoff.gateway --port 5080        (`xiaoshen serve` starts it)
"""

from __future__ import annotations

import argparse
import logging

import uvicorn

from handoff.app import create_app
from xiaoshen import settings as settings_module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its URLs carry Rasa's token
    settings = settings_module.load()
    # X-Forwarded-For only from the proxies named: anyone else could choose their address
    # and escape the limits per address.
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning",
                lifespan="on", proxy_headers=bool(settings.trusted_proxies),
                forwarded_allow_ips=settings.trusted_proxies or None)


if __name__ == "__main__":
    main()
