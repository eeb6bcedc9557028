"""How long `xiaoshen serve` takes until every service answers, and whether the first question
then costs more than the ones after it.

Each run starts its own stack (free ports, a copy of the knowledge base and its index, an empty
tracker store), polls every service's health check every 0.1 s (`xiaoshen.stack.is_healthy`:
Rasa counts only with its model loaded), then asks Rasa's REST channel the dev set's first
questions one after another. Stops the stack and starts the next run.

    .venv/bin/python -m bench.stack_start [--runs 3] [--questions 20]

Prints, per run and as medians, the seconds until each service answered and until all did,
the first question's milliseconds against the median of the next ones, and the load average.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.stack_latency import queries
from bench.turn_profile import copy_base, free_port
from xiaoshen import settings
from xiaoshen.stack import is_healthy, services


def ask(client: httpx.Client, url: str, text: str) -> float:
    """Milliseconds until Rasa's reply (which waits for the action server's)."""
    start = time.perf_counter()
    response = client.post(url, json={"sender": f"start-{time.monotonic_ns()}", "message": text})
    response.raise_for_status()
    if not response.json():
        raise SystemExit(f"no reply to {text!r}: the action failed")
    return (time.perf_counter() - start) * 1000


def one_start(home: Path, texts: list[str]) -> dict[str, float]:
    env = {**os.environ, **copy_base(home), "XIAOSHEN_RASA_PORT": str(free_port()),
           "XIAOSHEN_ACTIONS_PORT": str(free_port()), "XIAOSHEN_GATEWAY_PORT": str(free_port())}
    config = settings.load(env)
    pending = {service.name: service for service in services(config)}
    times: dict[str, float] = {}
    with open(home / "serve.log", "wb") as log:
        start = time.monotonic()
        process = subprocess.Popen([sys.executable, "-m", "xiaoshen.cli", "serve"],
                                   cwd=settings.ROOT, env=env, stdout=log, stderr=log,
                                   start_new_session=True)
        try:
            while pending:
                if process.poll() is not None or time.monotonic() - start > 300:
                    raise SystemExit(f"the stack did not start; see {home / 'serve.log'}")
                for name, service in list(pending.items()):
                    if is_healthy(service, timeout=0.5):
                        times[name] = time.monotonic() - start
                        del pending[name]
                time.sleep(0.1)
            times["all"] = time.monotonic() - start
            url = config.url("rasa") + "/webhooks/rest/webhook"
            with httpx.Client(timeout=60) as client:
                asked = [ask(client, url, text) for text in texts]
            times["first_ms"] = asked[0]
            times["next_ms"] = statistics.median(asked[1:])
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
    return times


def row(label: str, times: dict[str, float]) -> str:
    return (f"{label:<8} rasa {times['rasa']:5.1f} s  actions {times['actions']:5.1f} s  "
            f"gateway {times['gateway']:5.1f} s  all {times['all']:5.1f} s  "
            f"first question {times['first_ms']:6.1f} ms  next (p50) {times['next_ms']:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--questions", type=int, default=20)
    args = parser.parse_args()
    texts = queries()[: args.questions + 1]
    runs = []
    for number in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="xiaoshen-start-") as home:
            load = os.getloadavg()[0]
            runs.append(one_start(Path(home), texts))
            print(row(f"run {number + 1}", runs[-1]) + f"  (load {load:.1f})", flush=True)
    medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    print(row("median", medians))


if __name__ == "__main__":
    main()
