"""The tokens the services share, generated once (at set-up, or the first `serve`) and kept
in a file beside the database readable by its owner only; they are passed to the services in
their environment, never on a command line or in a log."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from xiaoshen.settings import Settings

SECRET_HEADER = "x-xiaoshen-secret"  # how the gateway hands the action server its secret


@dataclass(frozen=True)
class Secrets:
    rasa_token: str  # Rasa's HTTP API (trackers, actions) asks for it
    actions_secret: str  # the action server refuses calls without it


def secrets_path(settings: Settings) -> Path:
    return settings.db.with_name("secrets.json")


def load_or_create(settings: Settings) -> Secrets:
    path = secrets_path(settings)
    try:
        return Secrets(**json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, TypeError):
        pass
    made = Secrets(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump({"rasa_token": made.rasa_token, "actions_secret": made.actions_secret}, file)
    path.with_suffix(".tmp").replace(path)
    return made
