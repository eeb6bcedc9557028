"""Which unanswered messages are questions a department could answer, and which are not
(keyboard noise, bare links, injection attempts, greetings, small talk, requests for a
human, legal and complaint matters): only the first become knowledge-gap tasks."""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache, lru_cache
from pathlib import Path

import jieba

from nlu.legal import is_legal_matter
from nlu.normalize import normalize
from nlu.segment import read_word_list, stopwords


class NotAQuestion(StrEnum):
    NOISE = "noise"
    SMALL_TALK = "small_talk"  # greetings, thanks, chatter, "转人工" itself
    OUT_OF_SCOPE = "out_of_scope"  # 涉法、涉诉、投诉: their own channels


_URL = re.compile(r"(?:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)+/\S*", re.IGNORECASE)
_INJECTION = re.compile(
    r"<\s*/?\s*(?:script|iframe|img|svg|object|embed|style|a)\b|javascript:|on\w+\s*=|"
    r"\b(?:union\s+select|select\s+.+\s+from|drop\s+table|insert\s+into|delete\s+from|"
    r"or\s+1\s*=\s*1|and\s+1\s*=\s*1|sleep\s*\()|--\s*$|;\s*--|\$\{|\{\{|\.\./",
    re.IGNORECASE)
_HAN = re.compile(r"[\u4e00-\u9fff]")
SMALL_TALK_WORDS = Path(__file__).with_name("small_talk_words.txt")


@cache
def small_talk_words() -> frozenset[str]:
    return frozenset(read_word_list(SMALL_TALK_WORDS))


@lru_cache(maxsize=4096)  # the gap log and the grouper both ask, and questions repeat
def why_not_a_question(text: str) -> NotAQuestion | None:
    """None when `text` asks something a department could answer, else what it is."""
    folded = normalize(text or "").lower()
    if not folded or _INJECTION.search(folded):
        return NotAQuestion.NOISE
    if is_legal_matter(folded):
        return NotAQuestion.OUT_OF_SCOPE
    words = content_words(_URL.sub(" ", folded))
    if not words:
        return NotAQuestion.SMALL_TALK if _has_empty_words(folded) else NotAQuestion.NOISE
    return None


def content_words(text: str) -> list[str]:
    """Chinese words of two or more characters that are not empty words, not the same
    character repeated (啊啊啊啊) and not mash."""
    skip, empty = stopwords(), small_talk_words()
    found = []
    for word in jieba.lcut(text):
        word = word.strip()
        if len(word) < 2 or not _HAN.search(word) or word in skip or word in empty:
            continue
        if len(set(word)) == 1:
            continue
        found.append(word)
    return found


def _has_empty_words(text: str) -> bool:
    return any(word.strip() in small_talk_words() for word in jieba.lcut(text))
