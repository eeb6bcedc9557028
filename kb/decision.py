"""The answer / clarify / fallback decision, from evidence already gathered (no I/O).

Two kinds of evidence: the service classifier says which service a question is about (and
how sure it is, including "a service the base does not cover"); the retrievers' fused score
says whether an entry of that service is close enough to answer from. Answer when one covered
service clearly wins and has such an entry, ask which service is meant when covered services
are plausible but none wins, and admit not knowing otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kb.reply import Outcome

if TYPE_CHECKING:  # settings import the thresholds: keep them free of the models' imports
    from kb.classifier import ServiceGuess
    from kb.index import Hit
    from kb.store import Entry


# The classifier's class of complaints, reports and disputes: out of scope, not a service.
COMPLAINT_CLASS = "投诉、举报、纠纷与申诉（12345等原渠道）"


@dataclass(frozen=True)
class Thresholds:
    """Where the evidence turns into a decision (tuned with `xiaoshen eval --tune`)."""

    dense_weight: float = 0.6  # share of the dense score in the fused retrieval score
    support: float = 0.25  # fused score an entry needs before its service can be offered
    margin: float = 0.4  # probability lead of the best service over the next one
    retrieval_lead: float = 0.08  # the service's lead in retrieval, unless ...
    sure: float = 0.9  # ... the classifier is at least this sure
    plausible: float = 0.2  # probability the offered services need in all to be offered
    max_choices: int = 3


@dataclass(frozen=True)
class Candidate:
    item_no: int
    entry_id: str
    title: str
    score: float

    def as_dict(self) -> dict:
        return {"item_no": self.item_no, "entry_id": self.entry_id, "title": self.title,
                "score": round(self.score, 4)}


@dataclass
class Evidence:
    hits: list[Hit] = field(default_factory=list)
    guesses: list[ServiceGuess] = field(default_factory=list)


@dataclass
class Decision:
    outcome: Outcome
    entry: Entry | None = None
    score: float = 0.0  # how likely the question is about the best service (0..1)
    candidates: list[Candidate] = field(default_factory=list)
    other_service: str | None = None  # the uncovered service it is about, when known
    # Answered aspect by aspect: each asked aspect's entry, in the order asked (`entry` is the
    # first), and the aspects asked that the service lacks (then `entry` is its closest one).
    entries: list[Entry] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def used(self) -> list[Entry]:
        """Every entry the answer uses, in order."""
        return self.entries or ([self.entry] if self.entry else [])

    @property
    def item_no(self) -> int | None:
        if self.outcome != Outcome.ANSWERED or not self.candidates:
            return None
        return self.candidates[0].item_no


def rank(hits: list[Hit], entries: Mapping[str, Entry], dense_weight: float
         ) -> list[Candidate]:
    """Candidates by fused score, best first; `entries` holds the hits' entries by id."""
    ranked = [
        Candidate(hit.item_no, hit.entry_id, entries[hit.entry_id].question,
                  dense_weight * max(hit.dense, 0.0) + (1 - dense_weight) * hit.lexical)
        for hit in hits
    ]
    return sorted(ranked, key=lambda c: -c.score)


def decide(
    ranked: list[Candidate],
    guesses: list[ServiceGuess],
    limits: Thresholds,
    service_chosen: bool = False,
) -> Decision:
    """The decision for ranked entries and the classifier's guesses (the caller adds the
    entry itself)."""
    best_entry = best_per_service(ranked)
    if service_chosen:  # the person picked the service: its best entry, if any
        if not ranked:
            return Decision(Outcome.FALLBACK)
        return Decision(Outcome.ANSWERED, score=1.0, candidates=ranked[:5])
    backed = [g for g in guesses
              if g.item_no in best_entry and best_entry[g.item_no].score >= limits.support]
    top = guesses[0] if guesses else None
    # Named only when clearly about it: gibberish is nobody's service.
    other = top.name if top and top.item_no is None and top.probability >= limits.margin else None
    if other == COMPLAINT_CLASS:  # only when sure: a question about 拆迁 can sound aggrieved
        outcome = Outcome.OUT_OF_SCOPE if top.probability >= limits.sure else Outcome.FALLBACK
        return Decision(outcome, score=top.probability)
    if top is None or not backed or other:
        return Decision(Outcome.FALLBACK, score=top.probability if top else 0.0,
                        other_service=other)
    if top is backed[0]:
        runner_up = guesses[1].probability if len(guesses) > 1 else 0.0
        chosen = best_entry[top.item_no]
        rivals = [c.score for item, c in best_entry.items() if item != top.item_no]
        retrieval_lead = chosen.score - max(rivals, default=0.0)
        if top.probability - runner_up >= limits.margin and (
            retrieval_lead >= limits.retrieval_lead or top.probability >= limits.sure
        ):
            others = [c for c in ranked if c is not chosen][:4]
            return Decision(Outcome.ANSWERED, score=top.probability,
                            candidates=[chosen, *others])
    choices = backed[: limits.max_choices]
    if sum(g.probability for g in choices) < limits.plausible:
        # Words in common, but the question is hardly about any of them (拆迁规划 beside
        # 居住登记): buttons of unrelated services would only mislead.
        return Decision(Outcome.FALLBACK, score=top.probability)
    return Decision(Outcome.CLARIFY, score=top.probability,
                    candidates=[best_entry[g.item_no] for g in choices])


def best_per_service(ranked: list[Candidate]) -> dict[int, Candidate]:
    """Each service's best entry, in the order of `ranked`."""
    best: dict[int, Candidate] = {}
    for candidate in ranked:
        best.setdefault(candidate.item_no, candidate)
    return best
