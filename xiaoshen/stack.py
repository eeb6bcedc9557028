"""Run the services (Rasa server, action server) in the foreground and check their health."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from xiaoshen.settings import ROOT, Settings


class StackFailed(Exception):
    """A service could not start or stopped on its own."""


@dataclass(frozen=True)
class Service:
    name: str
    url: str
    health_path: str
    command: list[str]


def services(settings: Settings) -> list[Service]:
    return [
        Service(
            "actions", settings.url("actions"), "/health",
            [sys.executable, "-m", "actions.server", "--host", settings.host,
             "--port", str(settings.actions_port)],
        ),
        Service(
            "gateway", settings.url("gateway"), "/health",
            [sys.executable, "-m", "handoff.gateway", "--host", settings.host,
             "--port", str(settings.gateway_port)],
        ),
        Service(
            "rasa", settings.url("rasa"), "/status",
            [settings.rasa_python, "-m", "bot.rasa_server", "run", "--enable-api",
             "--model", str(settings.rasa_model),
             "--endpoints", endpoints_file(settings), "--credentials", "bot/credentials.yml",
             "--interface", settings.host, "--port", str(settings.rasa_port)],
        ),
    ]


def endpoints_file(settings: Settings) -> str:
    """Rasa's endpoints: with Redis configured, its lock store too (conversations of one
    tracker store served by several Rasa processes)."""
    return "bot/endpoints-redis.yml" if settings.redis_url else "bot/endpoints.yml"


def service_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["XIAOSHEN_ACTIONS_URL"] = settings.url("actions")
    env["XIAOSHEN_TRACKER_URL"] = settings.tracker_url
    if settings.redis_url:
        redis = urlsplit(settings.redis_url)
        env["XIAOSHEN_LOCK_HOST"] = redis.hostname or "127.0.0.1"
        env["XIAOSHEN_LOCK_PORT"] = str(redis.port or 6379)
        env["XIAOSHEN_LOCK_DB"] = redis.path.strip("/") or "0"
        env["XIAOSHEN_LOCK_PASSWORD"] = redis.password or ""
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("RASA_TELEMETRY_ENABLED", "false")  # no phoning home from a government box
    return env


def is_healthy(service: Service, timeout: float = 2.0) -> bool:
    try:
        response = httpx.get(service.url + service.health_path, timeout=timeout)
    except (httpx.HTTPError, httpx.InvalidURL):
        return False
    if response.status_code != 200:
        return False
    # Rasa answers /status before its model is loaded; only a loaded model can reply.
    return service.name != "rasa" or bool(response.json().get("model_file"))


def status(settings: Settings) -> dict[str, bool]:
    return {service.name: is_healthy(service) for service in services(settings)}


def serve(settings: Settings, on_ready: Callable[[], None] | None = None,
          startup_timeout: float = 300.0) -> None:
    """Start every service, wait until all answer, then supervise until a signal arrives."""
    missing = settings.rasa_model
    if not missing.is_dir() or not any(missing.glob("*.tar.gz")):
        raise StackFailed(f"no trained Rasa model in {missing}; run `xiaoshen train` first")
    processes = {
        service.name: subprocess.Popen(service.command, cwd=ROOT, env=service_env(settings),
                                       start_new_session=True)
        for service in services(settings)
    }
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        deadline = time.monotonic() + startup_timeout
        ready = False
        while not stopping:
            dead = [name for name, p in processes.items() if p.poll() is not None]
            if dead:
                raise StackFailed(f"{', '.join(dead)} stopped unexpectedly")
            if not ready and all(status(settings).values()):
                ready = True
                if on_ready:
                    on_ready()
            if not ready and time.monotonic() > deadline:
                raise StackFailed("services did not become ready in time")
            time.sleep(0.5)
    finally:
        _terminate(processes.values())
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _terminate(processes: Iterable[subprocess.Popen]) -> None:
    running = [p for p in processes if p.poll() is None]
    for process in running:
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for process in running:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
