"""The topic a question asks about (conditions, materials, steps, time limit, fees, location),
and what is left of it without the topic's words: the part that may name a service."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from nlu.normalize import normalize
from nlu.segment import read_word_list

CUES = Path(__file__).with_name("topic_cues.txt")
OTHER = "other"
# Particles, pronouns and fillers of a follow-up ("那…呢", "请问…吗"): never a service.
_FILLER = re.compile(
    r"请问|什么|怎么|哪些|那么|那个|这个|的话|如果|还有|还是|另外|然后|一下|一般|需要|是不是|是否|可不可以|"
    r"能不能|可以|怎么样|有没有|我们|我|你们|您|那|呢|吗|嘛|吧|啊|呀|哦|嗯|么|的|了|要|还|也|"
    r"都|就|是|有|能|会|得|去|办|理|个|些|下|想|问|呃|额|哈|诶|麻烦|谢谢|好的|[\s\W\d_]+"
)


@cache
def cues() -> tuple[tuple[str, tuple[str, ...]], ...]:
    pairs = []
    for line in read_word_list(CUES):
        topic, _, words = line.partition(":")
        pairs.append((topic.strip(), tuple(w.strip().lower() for w in words.split(",") if
                                           w.strip())))
    return tuple(pairs)


def topics() -> tuple[str, ...]:
    return (*(topic for topic, _ in cues()), OTHER)


_HOW = re.compile(r"怎么|如何|咋|怎样")


def detect_topic(text: str) -> str | None:
    """The topic of the longest cue the text contains ("交到哪个地方" is about where, though
    it speaks of 材料; ties go to the earlier line); else "steps" for any other how ("怎么开",
    "如何申报"); else None."""
    folded = normalize(text).lower()
    best, longest = None, 0
    for topic, words in cues():
        length = max((len(w) for w in words if w in folded), default=0)
        if length > longest:
            best, longest = topic, length
    return best or ("steps" if _HOW.search(folded) else None)


def residual(text: str) -> str:
    """`text` without topic cues and fillers: empty for a pure follow-up such as "那要带什么
    材料" or "外地户口也能办吗", a service word for "那退休的呢" or "专票呢"."""
    folded = normalize(text).lower()
    for _, words in cues():
        for word in sorted(words, key=len, reverse=True):
            folded = folded.replace(word, " ")
    return _FILLER.sub("", folded)
