"""The action server's hit test (命中测试) and live status, through a real action server
process over a copy of the seed base: what the bot would answer with a draft published, and
whether a publish is live yet."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from kb.store import KnowledgeBase
from tests.conftest import ROOT, free_port
from xiaoshen.secrets import SECRET_HEADER

SECRET = "hit-test-secret"
QUESTION = "居住证签注需要带哪些材料"


@dataclass(frozen=True)
class Server:
    url: str
    db: Path

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, headers={SECRET_HEADER: SECRET}, timeout=60)

    def post(self, path: str, body: object) -> httpx.Response:
        return httpx.post(self.url + path, json=body, headers={SECRET_HEADER: SECRET},
                          timeout=60)

    def hit_test(self, question: str, entry: dict) -> dict:
        response = self.post("/kb/hit-test", {"question": question, "entry": entry})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, stack_settings, seed_retriever
           ) -> Iterator[Server]:
    """`python -m actions.server` on a copy of the seed base and its built index."""
    seed_retriever.live.current()
    home = tmp_path_factory.mktemp("actions")
    with sqlite3.connect(stack_settings.db) as src, sqlite3.connect(home / "kb.db") as dst:
        src.backup(dst)
    shutil.copytree(stack_settings.index_dir, home / "index")
    shutil.copy(stack_settings.index_dir.with_name("index-vectors.db"), home)
    port = free_port()
    env = {**os.environ, "XIAOSHEN_DB": str(home / "kb.db"),
           "XIAOSHEN_INDEX_DIR": str(home / "index"), "XIAOSHEN_ACTIONS_SECRET": SECRET}
    process = subprocess.Popen([sys.executable, "-m", "actions.server", "--port", str(port)],
                               cwd=ROOT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("the action server did not start")
        time.sleep(0.5)
    yield Server(url, home / "kb.db")
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def draft_of(kb: KnowledgeBase, entry_id: str, answer: str) -> dict:
    entry = kb.get(entry_id)
    return {"entry_id": entry_id, "item_no": entry.item_no, "topic": entry.topic,
            "question": entry.question, "similar": entry.similar_questions, "answer": answer}


def test_the_status_says_which_revision_is_served(server) -> None:
    status = server.get("/kb/status").json()
    assert set(status) == {"revision", "live_revision", "building", "built_at"}
    assert status["live_revision"] == status["revision"] == KnowledgeBase(server.db).revision
    assert status["building"] is False
    assert datetime.fromisoformat(status["built_at"]).utcoffset() is not None


def test_the_hit_test_answers_with_the_draft_and_the_bot_keeps_serving_the_published(
        server) -> None:
    kb = KnowledgeBase(server.db)
    published = kb.get("03-materials").answer
    before = server.get("/kb/status").json()
    reply = server.hit_test(QUESTION, draft_of(kb, "03-materials", "草稿：签注只需带居住证。"))
    assert {key: reply[key] for key in ("outcome", "item_no", "entry_id", "topic", "answer",
                                        "uses_draft")} == {
        "outcome": "answered", "item_no": 3, "entry_id": "03-materials",
        "topic": "materials", "answer": "草稿：签注只需带居住证。", "uses_draft": True}
    assert reply["score"] > 0 and reply["candidates"][0]["entry_id"] == "03-materials"
    assert server.get("/kb/status").json() == before
    [best, *_] = server.post("/kb/search", {"query": QUESTION}).json()["candidates"]
    assert (best["entry_id"], best["answer"]) == ("03-materials", published)


def test_a_new_draft_is_answered_without_an_id(server) -> None:
    question, wording = "居住证签注自助机在周末开吗", "开放，街道自助终端全天办理签注。"
    reply = server.hit_test(question, {
        "entry_id": None, "item_no": 3, "topic": "", "question": question,
        "similar": ["周末用自助机签注居住证"], "answer": wording})
    assert (reply["outcome"], reply["uses_draft"], reply["entry_id"], reply["answer"]) == (
        "answered", True, None, wording)


def test_a_draft_of_another_service_leaves_the_answer_as_it_is(server) -> None:
    kb = KnowledgeBase(server.db)
    reply = server.hit_test(QUESTION, draft_of(kb, "15-materials", "草稿：公积金的新口径。"))
    assert (reply["entry_id"], reply["uses_draft"]) == ("03-materials", False)
    assert reply["answer"] == kb.get("03-materials").answer


@pytest.mark.parametrize(("body", "message"), [
    ({"entry": {}}, "question must be text"),
    ({"question": "  ", "entry": {}}, "question must be text"),
    ({"question": "x" * 501, "entry": {}}, "question must be text"),
    ({"question": QUESTION}, "entry: must be an object"),
    ({"question": QUESTION, "entry": {"item_no": 999, "question": "问", "answer": "答"}},
     "item_no must be a service of the base"),
    ({"question": QUESTION, "entry": {"item_no": "3", "question": "问", "answer": "答"}},
     "item_no must be a service of the base"),
    ({"question": QUESTION, "entry": {"item_no": 3, "question": "问", "answer": ""}},
     "missing field(s): answer"),
    ({"question": QUESTION, "entry": {"item_no": 3, "question": "问", "answer": "答",
                                      "similar": "问一问"}}, "similar must be a list"),
    ({"question": QUESTION, "entry": {"item_no": 3, "question": "问", "answer": "答",
                                      "similar": [1]}}, "similar_questions must be a list"),
    ({"question": QUESTION, "entry": {"entry_id": 7, "item_no": 3, "question": "问",
                                      "answer": "答"}}, "entry_id must be"),
])
def test_a_bad_hit_test_is_refused_with_what_is_wrong(server, body, message) -> None:
    response = server.post("/kb/hit-test", body)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_the_routes_need_the_shared_secret(server) -> None:
    assert httpx.get(f"{server.url}/kb/status").status_code == 403
    assert httpx.post(f"{server.url}/kb/hit-test", json={}).status_code == 403


def test_a_publish_is_live_within_seconds_and_the_status_says_so(server) -> None:
    kb = KnowledgeBase(server.db)
    entry = replace(kb.get("03-fees"), answer="居住证签注不收费（已发布的新口径）。")
    kb.upsert_entries([entry], updated_by="测试")
    first = server.get("/kb/status").json()
    assert first["revision"] == kb.revision
    assert first["building"] or first["live_revision"] == kb.revision
    deadline = time.monotonic() + 120
    while (status := server.get("/kb/status").json())["live_revision"] != kb.revision:
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    [best, *_] = server.post("/kb/search", {"query": "居住证签注收费吗"}).json()["candidates"]
    assert (best["entry_id"], best["answer"]) == ("03-fees", entry.answer)
    deadline = time.monotonic() + 300  # the full build behind the patch, on a busy machine
    while (status := server.get("/kb/status").json())["building"]:
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    assert status["live_revision"] == status["revision"] == kb.revision
