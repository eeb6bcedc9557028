"""The tokens the services share, generated once (at set-up, or the first `serve`) and kept
in a file beside the database readable by its owner only; they are passed to the services in
their environment, never on a command line or in a log."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
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
    """The secrets kept beside the database, made when there are none. Several processes may
    ask at once (`serve` and `status` at start): the first to link its file wins, the others
    read it."""
    path = secrets_path(settings)
    found = _read(path)
    if found is not None:
        return found
    made = Secrets(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, staging = tempfile.mkstemp(dir=path.parent, prefix=".secrets-")  # mode 0600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump({"rasa_token": made.rasa_token, "actions_secret": made.actions_secret},
                      file)
        try:
            os.link(staging, path)  # atomic, and never over another process's secrets
        except FileExistsError:
            found = _read(path)
            if found is not None:
                return found
            os.replace(staging, path)  # a damaged file: ours replaces it
    finally:
        Path(staging).unlink(missing_ok=True)
    return made


def _read(path: Path) -> Secrets | None:
    try:
        return Secrets(**json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, TypeError):
        return None
