from pathlib import Path

import pytest

from kb.io import import_seed
from kb.store import KnowledgeBase
from nlu.legal import is_legal_matter


@pytest.mark.parametrize(
    ("text", "legal"),
    [
        ("我要投诉窗口工作人员", True),
        ("對稅務局的處罰決定不服", True),
        ("公司拖欠工资 我要申请劳动仲裁", True),
        ("居住证签注需要什么材料", False),
        ("有无违法犯罪记录证明怎么开", False),
    ],
)
def test_is_legal_matter(text: str, legal: bool) -> None:
    assert is_legal_matter(text) is legal


def test_no_service_question_is_mistaken_for_a_legal_matter() -> None:
    kb = KnowledgeBase()
    import_seed(kb, Path(__file__).parents[2] / "kb" / "seed")
    flagged = [q for e in kb.entries() for q in e.questions if is_legal_matter(q)]
    assert flagged == []
