"""The forbidden phrases (服务禁语) seats must not send (handoff/forbidden_phrases.txt)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from nlu.normalize import normalize
from nlu.segment import read_word_list

FORBIDDEN = Path(__file__).with_name("forbidden_phrases.txt")


@cache
def forbidden_phrases() -> tuple[str, ...]:
    return tuple(normalize(phrase) for phrase in read_word_list(FORBIDDEN))


def forbidden_phrase(text: str) -> str | None:
    """The first forbidden phrase in a seat's reply, if any."""
    folded = normalize(text)
    return next((phrase for phrase in forbidden_phrases() if phrase in folded), None)
