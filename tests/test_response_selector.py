"""The Rasa ResponseSelector baseline of `xiaoshen eval`: the mapping, and one real training."""

import pytest

from evaluation.response_selector import (
    NAME,
    Parse,
    evaluate_response_selector,
    selector_system,
    train_and_parse,
    tune_threshold,
)
from evaluation.scoring import Case
from kb.io import import_seed
from kb.store import KnowledgeBase
from tests.conftest import SEED
from xiaoshen import settings

ITEM_OF = {"03-materials": 3, "15-conditions": 15}
PARSES = {
    "居住证签注带什么": Parse("faq", 0.9, "03-materials", 0.8),
    "租房提取公积金条件": Parse("faq", 0.9, "15-conditions", 0.3),
    "办护照": Parse("faq", 0.8, "03-materials", 0.2),
    "你好": Parse("greet", 0.99, "03-materials", 0.1),
    "转人工": Parse("request_human", 0.95, None, 0.0),
    "我要投诉": Parse("out_of_scope_legal", 0.9, None, 0.0),
    "嗯嗯啊": Parse("nlu_fallback", 0.45, None, 0.0),
}


@pytest.mark.parametrize(
    ("text", "threshold", "expected"),
    [
        ("居住证签注带什么", 0.5, ("answered", 3)),
        ("租房提取公积金条件", 0.5, ("fallback", None)),
        ("租房提取公积金条件", 0.3, ("answered", 15)),
        ("你好", 0.0, ("chitchat", None)),
        ("转人工", 0.0, ("handoff", None)),
        ("我要投诉", 0.0, ("out_of_scope", None)),
        ("嗯嗯啊", 0.0, ("fallback", None)),
    ],
)
def test_parse_to_prediction(text, threshold, expected) -> None:
    assert selector_system(PARSES, ITEM_OF, threshold)(text) == expected


def test_threshold_tuned_on_one_half_and_scored_on_the_rest() -> None:
    cases = [Case("居住证签注带什么", "in_scope", 3), Case("租房提取公积金条件", "in_scope", 15),
             Case("办护照", "not_covered", None), Case("办护照", "not_covered", None),
             Case("你好", "greeting", None)]
    threshold, held = tune_threshold(PARSES, ITEM_OF, cases)
    # Tuning half: 居住证 (in scope) and 办护照 (must stay unanswered: 0.2 < threshold ≤ 0.8).
    assert 0.2 < threshold <= 0.8
    assert held.name == NAME
    assert held.per_category == {"in_scope": (1, 1), "not_covered": (1, 1), "greeting": (1, 1)}


@pytest.mark.rasa
def test_trained_selector_answers_a_reworded_question() -> None:
    kb = KnowledgeBase()
    import_seed(kb, SEED)
    entries = [kb.get(entry_id) for entry_id in
               ("03-materials", "15-conditions", "20-fees", "00-certificates")]
    texts = ["上海居住证签注要准备哪些材料啊", "你好"]
    parses = train_and_parse(settings.load(), entries, texts, epochs=30)
    item_of = {entry.entry_id: entry.item_no for entry in entries}
    predict = selector_system(parses, item_of, threshold=0.0)
    assert parses[texts[0]].entry_id == "03-materials"
    assert predict(texts[0]) == ("answered", 3)
    assert predict(texts[1]) == ("chitchat", None)


def test_column_skipped_without_the_rasa_environment(capsys) -> None:
    config = settings.load({"XIAOSHEN_RASA_PYTHON": "/nonexistent/python"})
    assert evaluate_response_selector(config, [], [Case("你好", "greeting", None)]) is None
    assert capsys.readouterr().out == (
        f"skipping the column “{NAME}”: no Rasa environment at /nonexistent/python\n")
