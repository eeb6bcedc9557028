"""Dialogue context: which service (and topic) a follow-up is about.

The conversation remembers the service and topic of its last answer and, after a clarifying
question, the pending question and the services offered for it. A follow-up made only of a
topic's words ("那要带什么材料", "外地户口也能办吗") is answered for the service in context; one
naming a sibling service ("那退休的呢" after 租房提取公积金) switches to the sibling; a full new
question switches service. Context never forces an answer: a message about a service the base
lacks still falls back, and complaints are triaged before any of this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

from rasa_sdk import Tracker

from kb.decision import Candidate, Decision, decide
from kb.reply import Outcome
from kb.retrieval import Retriever
from kb.store import Entry
from nlu.normalize import normalize
from nlu.topics import OTHER, detect_topic, detect_topics, residual, service_part, topics

# Bigrams two service names may share without the services being siblings.
_GENERIC = frozenset({"办理", "登记", "许可", "信息", "证明", "开具", "申领", "一件", "件事",
                      "企业", "个人", "变更", "新增", "审批", "认定", "确认", "管理", "上海"})
_ORDINAL = re.compile(r"^(?:选|第)?\s*([1-9一二三四五六七八九])\s*(?:个|项|条|号)?$")
_CHINESE_DIGITS = "一二三四五六七八九"
# How people open another matter in the same chat ("另外…", "还有个事…", "对了…").
_NEW_MATTER = re.compile(r"^(另外|还有个|还有一个|还有件|对了|顺便|再问|我还想|还想问|换个问题)")
SIBLING_LEAD = 1.5  # how much likelier the sibling must be than the service in context
SIBLING_FLOOR = 0.1  # and how likely at least
# A common question matched at least this closely (fused retrieval score) is the question
# asked: it answers, even where the service has an entry on the aspect it shares ("养老金卡
# 丢了怎么办" is 11-faq-2 at 0.96, not the steps entry; a generic aspect question scores ≈0.8).
ITS_OWN_QUESTION = 0.88
SAME_WORDING = 0.7  # or worded much as its own question (see `asks_as`)


@dataclass(frozen=True)
class Context:
    item_no: int | None = None  # service of the last answer
    topic: str | None = None  # topic of the last answer
    pending: str | None = None  # question awaiting a choice of service
    offered: tuple[int, ...] = ()  # services offered for it, in button order

    @classmethod
    def of(cls, tracker: Tracker) -> Context:
        offered = tracker.get_slot("offered_items") or ""
        return cls(whole_number(tracker.get_slot("last_item_no")),
                   tracker.get_slot("last_topic") or None,
                   tracker.get_slot("pending_question") or None,
                   tuple(int(part) for part in str(offered).split(",") if part.isdigit()))


def whole_number(value: object) -> int | None:
    """A slot or entity value as a whole number, or None when it is not one."""
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


@lru_cache(maxsize=1024)
def name_bigrams(name: str) -> frozenset[str]:
    text = re.sub(r"[^\u4e00-\u9fff]", " ", normalize(name))
    return frozenset({run[i:i + 2] for run in text.split() for i in range(len(run) - 1)}
                     - _GENERIC)


class Follower:
    """Decides a message in the light of the conversation's context."""

    def __init__(self, retriever: Retriever) -> None:
        self.retriever = retriever

    def decide(self, text: str, context: Context) -> Decision:
        decision = self.read(text, context)
        if decision.entries or decision.outcome != Outcome.ANSWERED:
            return decision
        # A question on its own, answered for a service: the aspects it asks, of that service.
        return self.on_aspects(decision, detect_topics(text), text)

    def read(self, text: str, context: Context) -> Decision:
        if context.pending and context.offered:
            numbered = self.numbered(text, context.offered)
            if numbered is not None:  # "2", "第一个": certainly a choice
                return self.within(numbered, detect_topics(context.pending), context.pending)
        # Which service, from the words beyond those asking an aspect: "几个工作日" matches
        # every service's time-limit entry alike.
        standalone = self.retriever.decision(service_part(text))
        if standalone.outcome == Outcome.OUT_OF_SCOPE:
            return standalone  # a complaint stays a complaint, whatever came before
        if context.pending:
            picked = self.pick(text, standalone, context)
            if picked is not None:
                return picked
        if context.item_no is not None:
            return self.follow(text, standalone, context.item_no, context.topic)
        if (standalone.outcome == Outcome.FALLBACK and not standalone.other_service
                and detect_topic(text) and not residual(text)):
            # "需要带什么材料" out of the blue: ask which service, and keep the question.
            return Decision(Outcome.CLARIFY, score=standalone.score)
        return standalone

    def pick(self, text: str, standalone: Decision, context: Context) -> Decision | None:
        """The pending question answered for the service a reply to the clarifying question
        picks, or None when the reply is a new question."""
        assert context.pending
        asked = detect_topics(context.pending)
        if standalone.outcome == Outcome.ANSWERED and standalone.item_no is not None:
            if asked and detect_topic(text) is None:  # names a service, asks nothing new
                return self.within(standalone.item_no, asked, context.pending)
            if standalone.item_no not in context.offered:
                return None
        chosen = self.choice(text, context.offered) if context.offered else None
        return self.within(chosen, asked, context.pending) if chosen is not None else None

    def follow(self, text: str, standalone: Decision, item_no: int, last_topic: str | None
               ) -> Decision:
        """A message after an answer about `item_no`: the words beyond the topic's decide
        whether it still is about that service."""
        topics, rest = detect_topics(text), residual(text)
        if not rest:  # only a topic's words: about the service in context
            return self.within(item_no, topics, text) if topics else standalone
        asked = topics or ([last_topic] if last_topic else [])
        if _NEW_MATTER.match(normalize(text)) and standalone.outcome == Outcome.CLARIFY:
            return standalone  # "另外代开发票个人能开吗": another matter, which one is unclear
        guesses = self.retriever.guesses(rest)
        top = guesses[0]
        odds = {g.item_no: g.probability for g in guesses if g.item_no is not None}
        sibling = self.named_relative(text, item_no) or self.sibling(odds, item_no)
        if sibling is not None:
            return self.within(sibling, asked, text)  # "那退休的呢" after 租房提取公积金
        limits = self.retriever.thresholds
        if top.item_no is None and top.probability >= limits.margin:
            # The extra words are about a service the base lacks, or a complaint.
            return standalone if standalone.outcome != Outcome.ANSWERED else decide(
                [], guesses, limits)
        if top.item_no not in (None, item_no) and (
                top.probability >= limits.sure
                or (standalone.item_no == top.item_no and top.probability >= limits.margin)):
            return self.within(top.item_no, asked, text)  # a new question

        if asked:  # a refinement of the same service ("付房租那种", "要带租房合同吗")
            return self.within(item_no, asked, text)
        restricted = self.retriever.decision(text, item_no=item_no)
        if (restricted.outcome == Outcome.ANSWERED
                and restricted.candidates[0].score >= limits.support):
            return restricted
        return standalone

    def within(self, item_no: int, asked: list[str], question: str) -> Decision:
        """The answer for a service fixed by context: its entries on the topics asked, else
        its entry closest to the question."""
        on = self.entries_on(item_no, asked)
        found = [entry for entry in on if entry is not None]
        if not found:
            return self.on_aspects(self.retriever.decision(question, item_no=item_no), asked,
                                   question)
        return Decision(Outcome.ANSWERED, entry=found[0], score=1.0, candidates=[
            Candidate(item_no, e.entry_id, e.question, 1.0) for e in found],
            entries=found, missing=lacking(asked, on))

    def entries_on(self, item_no: int, asked: list[str]) -> list[Entry | None]:
        return [self.retriever.entry_on(item_no, topic) for topic in asked]

    def on_aspects(self, decision: Decision, asked: list[str], text: str) -> Decision:
        """An answer made of the service's entries on the aspects asked, in order; when it
        lacks them all, its closest entry, with the aspects it lacks. A common question that
        is the one asked answers it."""
        if decision.outcome != Outcome.ANSWERED or not asked or decision.entry is None:
            return decision
        item_no = decision.entry.item_no
        on = self.entries_on(item_no, asked)
        if answers_itself(decision.entry, asked) and (
                not any(on) or decision.candidates[0].score >= ITS_OWN_QUESTION
                or asks_as(decision.entry, text)):
            return decision  # the closest entry is a question of its own on what is asked
        entries = [entry for entry in on if entry is not None] or [decision.entry]
        ranked = {c.entry_id: c for c in decision.candidates}
        used = [ranked.get(e.entry_id) or Candidate(item_no, e.entry_id, e.question, 0.0)
                for e in entries]
        others = [c for c in decision.candidates if c not in used]
        return replace(decision, entry=entries[0], entries=entries,
                       missing=lacking(asked, on), candidates=[*used, *others][:5])

    def relatives(self, item_no: int) -> set[int]:
        """Services whose names share a telling word with this one's (签注 / 新办 / 登记 of
        居住证, 租房 / 退休 提取公积金, 专票 / 普票)."""
        items = self.retriever.items()
        if item_no not in items:
            return set()
        own = name_bigrams(items[item_no].name)
        return {other for other, item in items.items()
                if other != item_no and own & name_bigrams(item.name)}

    def named_relative(self, text: str, item_no: int) -> int | None:
        """The one relative whose name's own words the message repeats ("新办呢", "初中的呢")."""
        items = self.retriever.items()
        words = name_bigrams(text) - name_bigrams(items[item_no].name)
        named = [other for other in self.relatives(item_no)
                 if words & name_bigrams(items[other].name)]
        return named[0] if len(named) == 1 else None

    def sibling(self, odds: dict[int, float], item_no: int) -> int | None:
        """The relative of the service in context that the classifier finds likelier than
        it (`odds`: covered services' probabilities for the message's extra words)."""
        relatives = self.relatives(item_no)
        if not relatives:
            return None
        best = max(relatives, key=lambda item: odds.get(item, 0.0))
        chance = odds.get(best, 0.0)
        if chance >= SIBLING_FLOOR and chance > SIBLING_LEAD * odds.get(item_no, 0.0):
            return best
        return None

    @staticmethod
    def numbered(text: str, offered: tuple[int, ...]) -> int | None:
        """The offered service a reply picks by its number ("1", "第一个", "最后一个")."""
        folded = normalize(text).strip()
        if folded in ("最后一个", "最后那个"):
            return offered[-1]
        ordinal = _ORDINAL.match(folded)
        if not ordinal:
            return None
        digit = ordinal.group(1)
        position = int(digit) if digit.isdigit() else _CHINESE_DIGITS.index(digit) + 1
        return offered[position - 1] if position <= len(offered) else None

    def choice(self, text: str, offered: tuple[int, ...]) -> int | None:
        """Which offered service a reply to the clarifying question picks: by number
        ("1", "第一个"), by name, or by a refinement ("租房的")."""
        numbered = self.numbered(text, offered)
        if numbered is not None:
            return numbered
        folded = normalize(text).strip()
        items = self.retriever.items()
        # The name's words the reply repeats ("小学的" → 教师资格认定（初中、小学、幼儿园）).
        words = name_bigrams(residual(text) or folded)
        overlap = {item: len(words & name_bigrams(items[item].name))
                   for item in offered if item in items}
        best = sorted(overlap, key=lambda item: -overlap[item])
        if best and overlap[best[0]] and (len(best) == 1 or overlap[best[0]] > overlap[best[1]]):
            return best[0]
        odds = {g.item_no: g.probability for g in self.retriever.guesses(text)
                if g.item_no in offered}
        ranked = sorted(offered, key=lambda item: -odds.get(item, 0.0))
        if len(ranked) == 1 or odds.get(ranked[0], 0.0) > SIBLING_LEAD * odds.get(ranked[1], 0.0):
            return ranked[0]
        return None


def answers_itself(entry: Entry, asked: list[str]) -> bool:
    """An entry that is no aspect's (a platform question, a common question, a gap task's
    answer) and whose own question asks what is asked: it answers the question, no aspect
    entry is missing ("一网通办怎么注册账号" has 00-register, not a steps entry)."""
    no_aspect = entry.topic == OTHER or entry.topic not in topics()
    return no_aspect and bool(set(detect_topics(entry.question)) & set(asked))


def asks_as(entry: Entry, text: str) -> bool:
    """Whether `text` is worded much as one of the entry's questions (character bigrams' Dice
    coefficient at least SAME_WORDING): the retrieval score, read on the words beyond the
    aspect's, can miss it."""
    asked = bigrams(text)
    return any(2 * len(asked & own) >= SAME_WORDING * (len(asked) + len(own))
               for own in map(bigrams, entry.questions) if asked or own)


def bigrams(text: str) -> frozenset[str]:
    folded = re.sub(r"[\s\W_]+", "", normalize(text).lower())
    return frozenset(folded[i:i + 2] for i in range(len(folded) - 1))


def lacking(asked: list[str], on: list[Entry | None]) -> list[str]:
    """The topics asked that have no entry (`on`: the entry of each, or None)."""
    return [topic for topic, entry in zip(asked, on, strict=True) if entry is None]
