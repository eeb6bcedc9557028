"""The aspect asked, answered on the first turn, through the real stack (Rasa 3.6 → action
server → knowledge base): one question per aspect, several aspects at once, and an aspect
the base lacks for the service."""

import pytest

from kb.gaps import MissReason
from xiaoshen.client import ChatClient, ask

pytestmark = pytest.mark.stack


@pytest.mark.parametrize(("text", "entry_id"), [
    ("我是外地户口，能办失业登记吗", "10-conditions"),
    ("我是外地户口，失业登记要带什么材料", "10-materials"),
    ("上海户口 刚失业 失业登记怎么办", "10-steps"),
    ("我妈今年刚退休，提取公积金多久能到账", "16-time_limit"),
    ("居住证签注要收费吗", "03-fees"),
    ("退休了去哪里办公积金提取", "16-location"),
])
def test_each_aspect_gets_its_entry(stack, seed_retriever, text, entry_id) -> None:
    reply = ask(text, stack)
    entry = seed_retriever.entry(entry_id)
    assert (reply.outcome, reply.item_no, reply.payload.entry_id) == (
        "answered", entry.item_no, entry_id)
    assert reply.payload.entry_ids == [entry_id] and reply.payload.missing == []
    assert reply.text == entry.answer


def test_several_aspects_are_answered_in_the_order_asked(stack, seed_retriever) -> None:
    reply = ask("居住证签注要带什么材料，多久能办好？", stack)
    assert (reply.outcome, reply.item_no) == ("answered", 3)
    assert reply.payload.entry_ids == ["03-materials", "03-time_limit"]
    assert reply.payload.entry_id == "03-materials" and reply.payload.topic == "materials"
    materials = seed_retriever.entry("03-materials").answer
    time_limit = seed_retriever.entry("03-time_limit").answer
    assert reply.text == f"【所需材料】\n{materials}\n\n【办理时限】\n{time_limit}"


@pytest.mark.parametrize(("text", "entry_ids"), [
    # "想问下" makes the clause after it ask, without a question word.
    ("想问下失业登记对户口有要求，还有多长时间出结果", ["10-conditions", "10-time_limit"]),
    # Going in person: who must apply and how.
    ("换养老金卡是不是一定要跑一趟啊？", ["11-conditions", "11-steps"]),
])
def test_asking_without_a_question_word(stack, text, entry_ids) -> None:
    assert ask(text, stack).payload.entry_ids == entry_ids


def test_a_follow_up_asking_two_aspects_gets_both(stack) -> None:
    client = ChatClient(stack)
    assert client.send("认定教师资格证要钱不？").payload.entry_ids == ["01-fees"]
    reply = client.send("要带什么材料，多久能拿到？")
    assert reply.payload.entry_ids == ["01-materials", "01-time_limit"]


def test_an_aspect_the_service_lacks_is_said_and_recorded(stack, seed_retriever) -> None:
    client = ChatClient(stack)
    question = "一网通办查办件进度要收费吗"
    reply = client.send(question)
    assert (reply.outcome, reply.item_no, reply.payload.missing) == ("answered", 0, ["fees"])
    sentence, offered = reply.text.split("\n", 1)
    assert sentence == "该事项的收费标准暂未收录，可转人工。"
    closest = seed_retriever.entry(reply.payload.entry_id)
    assert closest.item_no == 0 and offered == f"【常见问题】\n{closest.answer}"
    assert {"title": "转人工", "payload": "/request_human"} in reply.buttons
    row = seed_retriever.kb.db.execute(
        "SELECT text, reason, item_no FROM gap_questions WHERE conversation_id = ?",
        [client.sender]).fetchone()
    assert row == (f"【待补充：收费标准】{question}", MissReason.MISSING_ASPECT.value, 0)
