"""Normalise citizen input before it reaches the NLU model or the knowledge base.

Citizens type on phones: full-width letters and digits, traditional characters, stray spaces
and control characters. The model and the index were built from simplified, half-width text,
so the same folding is applied on both sides.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from opencc import OpenCC

MAX_CHARS = 500  # longer messages are cut: the tail of a rambling message rarely adds signal

_to_simplified = OpenCC("t2s")
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202f\ufeff]")
_SPACES = re.compile(r"\s+")
# A space between two CJK characters is a typing slip, not a word boundary.
_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


@lru_cache(maxsize=8192)  # the pure-Python 繁→简 converter is the slow step; queries repeat
def normalize(text: str) -> str:
    """Return `text` folded to half-width, simplified Chinese, with spaces tidied."""
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    text = _to_simplified.convert(text)
    text = _CJK_GAP.sub("", text)
    text = _SPACES.sub(" ", text).strip()
    return text[:MAX_CHARS]
