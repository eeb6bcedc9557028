"""Shared fixtures: fresh knowledge bases, a real index, and the real running stack.

The stack fixture starts `xiaoshen serve` (Rasa 3.6 + the action server) on spare ports
against a temporary copy of the seed knowledge base, so tests never touch `var/`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from kb import clock
from kb.gap_tasks import GapTasks
from kb.io import import_items, import_seed
from kb.store import KnowledgeBase
from xiaoshen import settings
from xiaoshen.secrets import SECRET_HEADER, load_or_create

ROOT = settings.ROOT
SEED = ROOT / "kb" / "seed"
REDIS = "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch):
    """Set the clock to a Shanghai wall time."""
    def set_clock(text: str) -> None:
        moment = datetime.fromisoformat(text).astimezone(clock.SHANGHAI)
        monkeypatch.setattr(clock, "now", lambda: moment)
    return set_clock


@pytest.fixture
def memory_kb() -> KnowledgeBase:
    """An in-memory base holding the services list and no entries."""
    kb = KnowledgeBase()
    import_items(kb, SEED / "items.csv")
    return kb


@pytest.fixture
def file_kb(tmp_path: Path) -> KnowledgeBase:
    kb = KnowledgeBase(tmp_path / "kb.db")
    import_items(kb, SEED / "items.csv")
    return kb


@pytest.fixture(scope="session")
def stack_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Settings for a private copy of the seed base; the embedding cache is reused."""
    home = tmp_path_factory.mktemp("stack")
    import_seed(KnowledgeBase(home / "kb.db"), SEED)
    cache = settings.load().index_dir.with_name("index-vectors.db")
    if cache.is_file():
        shutil.copy(cache, home / "index-vectors.db")
    # A URL-safe token may begin with "-" (one in 64 do): every stack of the suite starts
    # Rasa with one, which it once read as a missing option value and exited.
    (home / "secrets.json").write_text(json.dumps(
        {"rasa_token": "-" + secrets.token_urlsafe(32),
         "actions_secret": secrets.token_urlsafe(32)}), "utf-8")
    return {
        "XIAOSHEN_DB": str(home / "kb.db"),
        "XIAOSHEN_INDEX_DIR": str(home / "index"),
        "XIAOSHEN_RASA_PORT": str(free_port()),
        "XIAOSHEN_ACTIONS_PORT": str(free_port()),
        "XIAOSHEN_GATEWAY_PORT": str(free_port()),
        # Seconds, not minutes, so the service-level tests need not wait (the grace outlasts a
        # gateway restart); seats around the
        # clock, so the tests pass on a Sunday too.
        "XIAOSHEN_SEAT_GRACE": "6", "XIAOSHEN_SLA_WARN": "1", "XIAOSHEN_SLA_BREACH": "2",
        "XIAOSHEN_SEAT_HOURS": "always", "XIAOSHEN_HEARTBEAT": "1",
    }


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A redis-server of the module's own (Debian's), on a spare port, keeping nothing."""
    if not os.path.exists(REDIS):
        pytest.fail("redis-server is missing: scripts/test-prerequisites.sh installs it")
    port = free_port()
    process = subprocess.Popen([REDIS, "--port", str(port), "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def stack_settings(stack_env: dict[str, str]) -> settings.Settings:
    return settings.load({**os.environ, **stack_env})


def task_of(kb: KnowledgeBase, text: str, timeout: float = 20.0) -> dict | None:
    """The gap task the question was placed in, once the grouper has placed it (just after
    the bot's reply, or when the gateway asks)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = kb.db.execute("SELECT task_id FROM gap_questions WHERE text = ? ORDER BY id DESC",
                            [text]).fetchone()
        if row and row[0]:
            return GapTasks(kb).get(row[0])
        time.sleep(0.1)
    return None


def wait_until_live(config: settings.Settings, revision: int, timeout: float = 180.0) -> None:
    """Wait until the action server answers from `revision` of the base or a later one (a
    publish is live within seconds, or once a full rebuild lands when the classifier must
    learn it, not at once: what its page waits for too)."""
    headers = {SECRET_HEADER: load_or_create(config).actions_secret}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = httpx.get(config.url("actions") + "/kb/status", headers=headers, timeout=5)
        if status.json()["live_revision"] >= revision:
            return
        time.sleep(0.2)
    raise AssertionError(f"revision {revision} not live after {timeout} s")


@pytest.fixture(scope="session")
def seed_retriever(stack_settings: settings.Settings):
    """A real retriever (embedder + FAISS + BM25 + classifier) over the seed base."""
    from xiaoshen.app import open_retriever

    return open_retriever(stack_settings)


@pytest.fixture(scope="session")
def stack(stack_env: dict[str, str], seed_retriever) -> Iterator[str]:
    """The real stack, running; yields the Rasa URL."""
    seed_retriever.live.current()  # build the index once, before the action server loads it
    env = {**os.environ, **stack_env}
    process = subprocess.Popen([sys.executable, "-m", "xiaoshen.cli", "serve"], cwd=ROOT,
                               env=env, start_new_session=True)
    rasa_url = f"http://127.0.0.1:{stack_env['XIAOSHEN_RASA_PORT']}"
    deadline = time.monotonic() + 240
    while True:
        status = subprocess.run([sys.executable, "-m", "xiaoshen.cli", "status"], env=env,
                                capture_output=True)
        if status.returncode == 0:
            break
        if process.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):  # it may have exited by itself
                os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("the stack did not start")
        time.sleep(1)
    yield rasa_url
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
