"""The services (Rasa server, action server, gateway): their commands, environment and health
(`xiaoshen/supervisor.py` runs them)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from xiaoshen.secrets import load_or_create
from xiaoshen.settings import ROOT, Settings


class StackFailed(Exception):
    """A service could not start or stopped on its own."""


@dataclass(frozen=True)
class Service:
    name: str
    url: str
    health_path: str
    command: list[str]
    health_params: dict[str, str] = field(default_factory=dict)  # Rasa's /status: its token


def services(settings: Settings) -> list[Service]:
    return [
        Service(
            "actions", settings.url("actions"), "/health",
            [sys.executable, "-m", "actions.server", "--host", settings.host,
             "--port", str(settings.actions_port)],
        ),
        Service(
            "gateway", settings.url("gateway"), "/health",
            [sys.executable, "-m", "handoff.gateway", "--host", settings.bind_host("gateway"),
             "--port", str(settings.gateway_port)],
        ),
        Service(
            "rasa", settings.url("rasa"), "/status",
            [settings.rasa_python, "-m", "bot.rasa_server", "run", "--enable-api",
             "--model", str(settings.rasa_model),
             "--endpoints", endpoints_file(settings), "--credentials", "bot/credentials.yml",
             "--interface", settings.host, "--port", str(settings.rasa_port)],
            {"token": load_or_create(settings).rasa_token},
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
    shared = load_or_create(settings)
    env["XIAOSHEN_RASA_TOKEN"] = shared.rasa_token
    env["XIAOSHEN_ACTIONS_SECRET"] = shared.actions_secret
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
        response = httpx.get(service.url + service.health_path, params=service.health_params,
                             timeout=timeout)
    except (httpx.HTTPError, httpx.InvalidURL):
        return False
    if response.status_code != 200:
        return False
    # Rasa answers /status before its model is loaded; only a loaded model can reply.
    return service.name != "rasa" or bool(response.json().get("model_file"))


def status(settings: Settings) -> dict[str, bool]:
    return {service.name: is_healthy(service) for service in services(settings)}
