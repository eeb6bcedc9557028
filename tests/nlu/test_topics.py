import pytest

from nlu.topics import detect_topic, residual, topics
from nlu.triage import carries_question


@pytest.mark.parametrize(("text", "topic", "rest"), [
    ("那要带什么材料", "materials", ""), ("多久能到账", "time_limit", ""), ("收费吗", "fees", ""),
    ("在哪办", "location", ""), ("网上能办吗", "steps", ""), ("要本人去吗", "conditions", ""),
    ("有效期多久", "time_limit", ""), ("外地户口也能办吗", "conditions", ""),
    ("那退休的呢", None, "退休"), ("专票呢", None, "专票"),
    ("个税清单怎么开", "steps", "税清单开"),
])
def test_topic_and_residual(text, topic, rest) -> None:
    assert (detect_topic(text), residual(text)) == (topic, rest)


def test_topics_are_those_of_the_entries() -> None:
    assert set(topics()) == {"conditions", "materials", "steps", "time_limit", "fees",
                             "location", "other"}


@pytest.mark.parametrize(("text", "question"), [
    ("你好", False), ("您好小申", False), ("领导您好！", False), ("谢谢", False),
    ("领导您好，请问我家那块有拆迁计划吗", True), ("您好，我想问下居住证签注", True),
])
def test_a_greeting_carries_a_question_or_not(text, question) -> None:
    assert carries_question(text) is question
