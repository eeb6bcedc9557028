"""Conversations through the real stack: Rasa 3.6 → action server → knowledge base."""

import json
import os
import subprocess
import sys

import pytest

from kb.store import KnowledgeBase
from tests.conftest import task_of, wait_until_live
from xiaoshen.client import ChatClient, ask

pytestmark = pytest.mark.stack


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("你好", "chitchat"),
        ("谢谢小申", "chitchat"),
        ("转人工", "handoff"),
        ("我要投诉窗口工作人员态度差", "out_of_scope"),
        ("房东不退押金我要起诉他", "out_of_scope"),
    ],
)
def test_intents(stack, text, outcome) -> None:
    assert ask(text, stack).outcome == outcome


def test_service_question_gets_the_official_wording(stack, seed_retriever) -> None:
    reply = ask("居住证签注要带什么材料？", stack)
    assert (reply.outcome, reply.item_no, reply.payload.entry_id) == ("answered", 3,
                                                                      "03-materials")
    assert reply.text == seed_retriever.entry("03-materials").answer
    assert reply.payload.candidates[0]["entry_id"] == "03-materials"


def test_clarify_then_pick_a_service(stack) -> None:
    client = ChatClient(stack)
    reply = client.send("代开发票要什么材料")
    assert reply.outcome == "clarify"
    picks = [b for b in reply.buttons if b["payload"].startswith("/choose_service")]
    assert len(picks) >= 2
    assert reply.buttons[-1]["payload"] == "/request_human"
    chosen = json.loads(picks[0]["payload"].removeprefix("/choose_service"))["item_no"]
    answer = client.send(picks[0]["payload"])
    assert (answer.outcome, answer.item_no) == ("answered", int(chosen))


def test_fallback_offers_a_human_and_noise_records_no_gap(stack, seed_retriever) -> None:
    client = ChatClient(stack)
    reply = client.send("asdf qwer zxcv")
    assert reply.outcome == "fallback"
    assert reply.buttons == [{"title": "转人工", "payload": "/request_human"}]
    assert seed_retriever.kb.db["gap_questions"].count_where("text = ?", ["asdf qwer zxcv"]) == 0
    assert client.send("好的").outcome == "handoff"


def test_uncovered_service_is_named_and_its_department_gets_the_gap(stack, seed_retriever) -> None:
    reply = ChatClient(stack).send("护照过期了在哪里换新的")
    assert reply.outcome == "fallback"
    assert "护照" in reply.text and "市公安局" in reply.text
    task = task_of(seed_retriever.kb, "护照过期了在哪里换新的")
    assert task["department"] == "市公安局"
    assert task["questions"][-1]["reason"] == "not_covered"
    assert task["due_on"] > task["created_at"][:10]


def test_handoff_names_the_department_of_the_last_service(stack) -> None:
    client = ChatClient(stack)
    assert client.send("无犯罪记录证明在哪里开").item_no == 6
    reply = client.send("转人工")
    assert reply.outcome == "handoff"
    assert "市公安局" in reply.text


@pytest.mark.parametrize(
    "text",
    ["", "   ", "😀😀😀", "\x00\x01\x02", "<script>alert('x')</script>", "居" * 10_000,
     "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace")],
)
def test_bad_input_gets_a_clear_reply(stack, text) -> None:
    reply = ask(text, stack)
    assert reply.text and "Traceback" not in reply.text
    assert reply.outcome in {"fallback", "clarify", "chitchat"}, reply
    assert "<script>" not in reply.text


def test_new_entries_are_answered_without_restart(stack, stack_env, stack_settings,
                                                  tmp_path) -> None:
    entry = {"entry_id": "07-faq-test", "item_no": 7,
             "question": "实有人口信息填报能用外国护照吗？",
             "similar_questions": ["外籍人士实有人口自主填报用护照可以吗"] * 5,
             "answer": "测试口径：外籍人士可使用护照填报。"}
    path = tmp_path / "new.jsonl"
    path.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
    env = {**os.environ, **stack_env}
    subprocess.run([sys.executable, "-m", "xiaoshen.cli", "kb", "import", str(path)],
                   env=env, check=True)
    kb = KnowledgeBase(stack_env["XIAOSHEN_DB"])
    wait_until_live(stack_settings, kb.revision)  # within a second: no restart, no rebuild
    reply = ask("实有人口信息填报能用外国护照吗", stack)
    assert (reply.outcome, reply.payload.entry_id) == ("answered", "07-faq-test")
    assert reply.text == entry["answer"]
    path.write_text(json.dumps({**entry, "status": "retired"}, ensure_ascii=False), "utf-8")
    subprocess.run([sys.executable, "-m", "xiaoshen.cli", "kb", "import", str(path)],
                   env=env, check=True)
    wait_until_live(stack_settings, kb.revision)
    assert ask("实有人口信息填报能用外国护照吗", stack).payload.entry_id != "07-faq-test"
