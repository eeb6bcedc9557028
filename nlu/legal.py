"""Recognise legal, litigation and complaint matters (涉法、涉诉、投诉), which are out of scope."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from nlu.normalize import normalize
from nlu.segment import read_word_list

TERMS = Path(__file__).with_name("legal_terms.txt")
COMPLAINTS = Path(__file__).with_name("complaints.txt")


@cache
def legal_terms() -> tuple[str, ...]:
    return tuple(read_word_list(TERMS))


@cache
def complaint_examples() -> tuple[str, ...]:
    """Complaints, reports and disputes as citizens write them: the service classifier's
    complaint class learns from these what the term list cannot enumerate."""
    return tuple(read_word_list(COMPLAINTS))


def is_legal_matter(text: str) -> bool:
    """True when the message names a legal, litigation or complaint matter."""
    text = normalize(text)
    return any(term in text for term in legal_terms())
