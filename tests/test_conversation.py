"""Conversations through the real stack (Rasa 3.6 → action server → knowledge base): each
kind of follow-up, triage of real citizen messages, and answer feedback."""

import pytest

from xiaoshen.client import ChatClient

pytestmark = pytest.mark.stack


def talk(stack: str, *texts: str):
    client = ChatClient(stack)
    try:
        return [client.send(text) for text in texts]
    finally:
        client.close()


def topic(reply) -> str | None:
    return reply.payload.topic


@pytest.mark.parametrize(("follow_up", "expected_topic"), [
    ("那要带什么材料", "materials"), ("多久能到账", "time_limit"), ("收费吗", "fees"),
    ("在哪办", "location"), ("网上能办吗", "steps"), ("要本人去吗", "conditions"),
    ("外地户口也能办吗", "conditions"),
])
def test_elliptical_follow_ups(stack, follow_up, expected_topic) -> None:
    first, reply = talk(stack, "公积金付房租怎么提取", follow_up)
    assert (first.outcome, first.item_no) == ("answered", 15)
    assert (reply.outcome, reply.item_no, topic(reply)) == ("answered", 15, expected_topic)


@pytest.mark.parametrize(("first", "follow_up", "sibling"), [
    ("租房提取公积金要什么材料", "那退休的呢", 16),
    ("代开增值税普通发票要什么材料", "专票呢", 28),
    ("居住证签注要带什么材料", "新办呢", 4),
])
def test_sibling_follow_ups_keep_the_topic(stack, first, follow_up, sibling) -> None:
    _, reply = talk(stack, first, follow_up)
    assert (reply.outcome, reply.item_no, topic(reply)) == ("answered", sibling, "materials")


def test_a_full_new_question_switches_service(stack) -> None:
    _, reply = talk(stack, "公积金付房租怎么提取", "无犯罪记录证明在哪里开")
    assert (reply.outcome, reply.item_no) == ("answered", 6)


@pytest.mark.parametrize(("follow_up", "outcome"), [
    ("那护照呢", "fallback"), ("你们窗口态度太差了，我要投诉", "out_of_scope"),
])
def test_context_never_forces_an_answer(stack, follow_up, outcome) -> None:
    _, reply = talk(stack, "公积金付房租怎么提取", follow_up)
    assert reply.outcome == outcome


@pytest.mark.parametrize("choice", ["1", "第一个", "by name"])
def test_clarify_then_choose(stack, choice) -> None:
    client = ChatClient(stack)
    clarify = client.send("代开发票要什么材料")
    assert clarify.outcome == "clarify"
    first = clarify.payload.candidates[0]["item_no"]
    text = clarify.buttons[0]["title"] if choice == "by name" else choice
    reply = client.send(text)
    assert (reply.outcome, reply.item_no, topic(reply)) == ("answered", first, "materials")


def test_a_typed_service_after_a_bare_topic(stack) -> None:
    asked, reply = talk(stack, "需要带什么材料", "居住证签注")
    assert asked.outcome == "clarify"
    assert (reply.outcome, reply.item_no, topic(reply)) == ("answered", 3, "materials")


def test_a_refinement_after_a_clarification(stack) -> None:
    client = ChatClient(stack)
    clarify = client.send("代开发票要什么材料")
    offered = [c["item_no"] for c in clarify.payload.candidates]
    assert 28 in offered
    reply = client.send("专票")
    assert (reply.outcome, reply.item_no, topic(reply)) == ("answered", 28, "materials")


@pytest.mark.parametrize(("letter", "outcome"), [
    ("尊敬的领导您好！我住在**路**弄，楼上装修天天早上七点就电钻，周末也不停，物业说管不了，"
     "恳请派人管一管！", "out_of_scope"),
    ("领导您好，我是**小区的居民，请问我们小区有拆迁计划吗？", "fallback"),
    ("领导您好，我是外地来沪打工的，在杨浦租房三年了，房租压力很大，听说可以用公积金付房租，"
     "请问具体要什么条件？", "answered"),
])
def test_real_citizen_letters(stack, letter, outcome) -> None:
    [reply] = talk(stack, letter)
    assert reply.outcome == outcome
    assert not any(b["payload"].startswith("/choose_service") for b in reply.buttons)


def test_feedback_after_an_answer(stack, seed_retriever) -> None:
    client = ChatClient(stack)
    answer = client.send("居住证签注要带什么材料")
    assert [b["title"] for b in answer.buttons] == ["已解决", "没解决"]
    unresolved = client.send(answer.buttons[1]["payload"])
    assert unresolved.buttons == [{"title": "转人工", "payload": "/request_human"}]
    assert client.send("好的").outcome == "handoff"
    turns = seed_retriever.kb.db["turns"].rows_where("conversation_id = ?", [client.sender])
    answered = [t for t in turns if t["outcome"] == "answered"]
    assert [(t["entry_id"], t["feedback"]) for t in answered] == [("03-materials",
                                                                   "unresolved")]
