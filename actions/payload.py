"""The custom payload every reply carries, so channels can tell outcomes apart."""

from __future__ import annotations

from typing import Any

from kb.retrieval import Candidate


def outcome_payload(
    outcome: str,
    item_no: int | None = None,
    entry_id: str | None = None,
    score: float | None = None,
    candidates: list[Candidate] | None = None,
) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "item_no": item_no,
        "entry_id": entry_id,
        "score": round(score, 4) if score is not None else None,
        "candidates": [c.as_dict() for c in candidates or []],
    }
