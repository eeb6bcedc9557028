"""The topics a question asks about (conditions, materials, steps, time limit, fees, location),
in the order asked, and what is left of it without the topics' words: the part that may name
a service."""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

from nlu.normalize import normalize
from nlu.segment import read_word_list

CUES = Path(__file__).with_name("topic_cues.txt")
OTHER = "other"
# Each topic's name, as headings and sentences show it to citizens.
TOPIC_NAMES = {"conditions": "办理条件", "materials": "所需材料", "steps": "办理流程",
               "time_limit": "办理时限", "fees": "收费标准", "location": "办理地点"}
WEAK = " (weak)"
# Particles, pronouns and fillers of a follow-up ("那…呢", "请问…吗"): never a service.
_FILLER = re.compile(
    r"请问|什么|怎么|哪些|那么|那个|这个|的话|如果|还有|还是|另外|然后|一下|一般|需要|是不是|是否|可不可以|"
    r"能不能|可以|怎么样|有没有|我们|我|你们|您|那|呢|吗|嘛|吧|啊|呀|哦|嗯|么|的|了|要|还|也|"
    r"都|就|是|有|能|会|得|去|办|理|个|些|下|想|问|呃|额|哈|诶|麻烦|谢谢|好的|[\s\W\d_]+"
)
_HOW = re.compile(r"怎么|如何|咋|怎样")
# Clauses, and the words that make one ask something (the rest tell a story).
_CLAUSE = re.compile(r"[^，。？！；,.?!;、\n]+[，。？！；,.?!;、\n]*")
_ASKS = re.compile(r"[?？]|吗|呢|么|嘛|什么|啥|哪|怎|咋|如何|多少|多久|多就|多长|几|谁|能不能|"
                   r"可不可以|是否|有没有|(.)不\1|不[\s，。？！；,.?!;、]*$")
# Whether one may: in a clause that asks and names no aspect, it asks who may apply.
_MAY = re.compile(r"能|可以|需要办|要不要办")
_HOW_MUCH = re.compile(r"多少|几")  # "每个月最多能提多少" asks an amount, not who may
# "想问下…" makes every clause after it a question, with or without a question word.
_INTRO = re.compile(r"想问|请问|问一下|问下|咨询")
# "在街道能办吗" asks where, "网上可以办吗" how: a yes-no tail right after another topic's cue
# belongs to it.
_TAILS = frozenset({"能办吗", "可以办吗", "能办", "也能", "也可以", "能申请吗", "可以申请吗",
                    "可以吗", "可以办理吗", "能办理吗"})


class Cue(NamedTuple):
    topic: str
    word: str
    weak: bool


class Found(NamedTuple):
    start: int
    end: int
    cue: Cue


@cache
def cues() -> tuple[Cue, ...]:
    """Every cue, longest first (the order in which they claim characters)."""
    found = []
    for line in read_word_list(CUES):
        label, _, words = line.partition(":")
        weak = label.strip().endswith(WEAK.strip())
        for topic in label.strip().removesuffix(WEAK.strip()).strip().split("+"):
            found += [Cue(topic, w.strip().lower(), weak) for w in words.split(",") if w.strip()]
    # Stable: a word of several topics keeps its topics in the order its line gives.
    return tuple(sorted(found, key=lambda cue: -len(cue.word)))


def topics() -> tuple[str, ...]:
    return (*dict.fromkeys(cue.topic for cue in cues()), OTHER)


def found_cues(folded: str) -> list[Found]:
    """The cues in `folded` text, in order, none overlapping (longer cues claim first)."""
    taken: list[str | None] = [None] * len(folded)  # the cue word claiming each character
    found = []
    for cue in cues():
        if cue.word not in folded:  # most cues are absent: a substring test is 50× cheaper
            continue
        for match in re.finditer(re.escape(cue.word), folded):
            start, end = match.span()
            # Free characters, or claimed by this very word for another of its topics.
            if all(word is None for word in taken[start:end]) or (
                    taken[start:end] == [cue.word] * (end - start)):
                taken[start:end] = [cue.word] * (end - start)
                found.append(Found(start, end, cue))
    found.sort(key=lambda f: (f.start, f.end))
    return [f for i, f in enumerate(found)
            if not (f.cue.word in _TAILS and i and found[i - 1].end == f.start)]


def asking_spans(folded: str) -> list[tuple[int, int]]:
    """Where the clauses that ask something stand (all of the text when none asks)."""
    intro = _INTRO.search(folded)
    asked_from = intro.start() if intro else len(folded)
    spans = [m.span() for m in _CLAUSE.finditer(folded)
             if m.end() > asked_from or _ASKS.search(m.group())]
    return spans or [(0, len(folded))]


@lru_cache(maxsize=4096)  # a turn reads its text several times (service, aspects, slots)
def asked_cues(folded: str) -> tuple[Found, ...]:
    """The cues that ask, in order: the strong ones in clauses that ask; when there is none,
    and no other how, the weak ones ("我是外地户口" alone asks who may apply)."""
    found = found_cues(folded)
    spans = asking_spans(folded)
    asking = [f for f in found if any(s <= f.start < e for s, e in spans)]
    return tuple([f for f in asking if not f.cue.weak] or (
        [] if _HOW.search(folded) else asking or found))


def detect_topics(text: str) -> list[str]:
    """The topics `text` asks about, in the order asked: the strong cues of the clauses that
    ask (see `asked_cues`); in an asking clause without one, a how ("怎么续签") asks the steps,
    else its weak cues count, else whether one may ("还能签注吗") asks the conditions."""
    folded = normalize(text).lower()
    cued = asked_cues(folded)
    asked = [(f.start, f.cue.topic) for f in cued if not f.cue.weak]
    for start, end in asking_spans(folded):
        here = [f for f in cued if start <= f.start < end]
        if any(not f.cue.weak for f in here):
            continue
        clause = folded[start:end]
        if _HOW.search(clause):
            asked.append((start, "steps"))
        elif here:
            asked += [(f.start, f.cue.topic) for f in here]
        elif _MAY.search(clause) and not _HOW_MUCH.search(clause):
            asked.append((start, "conditions"))
    return list(dict.fromkeys(topic for _, topic in sorted(asked)))


def service_part(text: str) -> str:
    """`text` without the words that ask an aspect ("居住证签注要带什么材料" → "居住证签注要"):
    what says which service, for the service decision. Weak cues stay (they may name it), and
    so do the words asking how: "教师资格证怎么弄" is vaguer than "教师资格证"."""
    folded = normalize(text).lower()
    for found in reversed(asked_cues(folded)):
        if not found.cue.weak and found.cue.topic != "steps":
            folded = folded[:found.start] + " " + folded[found.end:]
    return folded.strip() or normalize(text)


def detect_topic(text: str) -> str | None:
    """The first topic `text` asks about, if any."""
    asked = detect_topics(text)
    return asked[0] if asked else None


def residual(text: str) -> str:
    """`text` without topic cues and fillers: empty for a pure follow-up such as "那要带什么
    材料" or "外地户口也能办吗", a service word for "那退休的呢" or "专票呢"."""
    folded = normalize(text).lower()
    for cue in cues():
        folded = folded.replace(cue.word, " ")
    return _FILLER.sub("", folded)
