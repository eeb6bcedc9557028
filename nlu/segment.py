"""Chinese segmentation shared by the lexical index and the jieba user dictionary.

Tokens are jieba words plus character bigrams: bigrams keep a typo (签住 for 签注) from losing
the whole word.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from pathlib import Path

import jieba

from nlu.normalize import normalize

jieba.setLogLevel(logging.WARNING)

HERE = Path(__file__).parent
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_WORD = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)
_CLAUSE_END = re.compile(r"[，。！？,.!?；;]+")
_SYNONYM_LINE = re.compile(r"\s*(.+?)\s*([:=])\s*(.+)")
_NAME_PARTS = re.compile(r"[、，,（）()《》“”\"/—\-\s]+")


def clauses(text: str) -> list[str]:
    """The clauses of `text`, split at sentence and clause punctuation."""
    return [part.strip() for part in _CLAUSE_END.split(text) if part.strip()]


def read_word_list(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@cache
def word_lists_version() -> str:
    """A fingerprint of the word lists tokens depend on: an index built with other lists is
    rebuilt (its manifest names the version)."""
    digest = hashlib.sha256()
    for name in ("terms.txt", "synonyms.txt", "stopwords.txt"):
        digest.update((HERE / name).read_bytes())
    return digest.hexdigest()[:16]


@cache
def stopwords() -> frozenset[str]:
    return frozenset(read_word_list(HERE / "stopwords.txt"))


@cache
def _synonym_lines() -> list[tuple[str, str, tuple[str, ...]]]:
    """(canonical, ":" or "=", variants) per line of `synonyms.txt`."""
    lines = []
    for line in read_word_list(HERE / "synonyms.txt"):
        canonical, sign, variants = _SYNONYM_LINE.fullmatch(line).groups()
        lines.append((canonical, sign, tuple(v.strip().lower() for v in variants.split(","))))
    return lines


@cache
def synonyms() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(canonical, variants) pairs from `synonyms.txt`, both kinds of line."""
    return tuple((canonical, variants) for canonical, _, variants in _synonym_lines())


@cache
def other_names() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(standard name, other names of the same thing) from the `=` lines of `synonyms.txt`."""
    return tuple((canonical, variants) for canonical, sign, variants in _synonym_lines()
                 if sign == "=")


@cache
def _variant_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Per canonical wording, its variants; a Latin one whole ("pp" is not in "app")."""
    def one(variant: str) -> str:
        if variant.isascii():
            return rf"(?<![a-z]){re.escape(variant)}(?![a-z])"
        return re.escape(variant)
    return tuple((canonical, re.compile("|".join(map(one, variants))))
                 for canonical, variants in synonyms())


def expand(text: str) -> str:
    """`text` (lower case) followed by the canonical wording of every variant it contains."""
    found = [canonical for canonical, pattern in _variant_patterns() if pattern.search(text)]
    return " ".join([text, *found])


def dictionary_terms(service_names: Iterable[str]) -> list[str]:
    """Curated terms plus each service name and its parts (居住证签注, 发票验（交）旧 → 发票验)."""
    terms = set(read_word_list(HERE / "terms.txt"))
    for name in service_names:
        for part in [name, *_NAME_PARTS.split(name)]:
            part = normalize(part)
            if 2 <= len(part) <= 20:
                terms.add(part)
    return sorted(terms)


def write_user_dictionary(service_names: Iterable[str], path: Path) -> Path:
    """Write a jieba user dictionary (one `word frequency` per line)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{term.replace(' ', '')} 2000 n" for term in dictionary_terms(service_names)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def use_terms(service_names: Iterable[str]) -> None:
    """Teach this process's jieba the same terms the Rasa model's dictionary holds."""
    for term in dictionary_terms(service_names):
        jieba.add_word(term.replace(" ", ""), freq=2000)


def tokenize(text: str) -> list[str]:
    """Words and CJK bigrams of normalised, synonym-expanded `text`, without stopwords."""
    text = expand(normalize(text).lower())
    skip = stopwords()
    words = [w for w in jieba.lcut(text) if _WORD.search(w) and w.strip() and w not in skip]
    bigrams = [run[i : i + 2] for run in _CJK_RUN.findall(text) for i in range(len(run) - 1)]
    return words + [b for b in bigrams if b not in words and b not in skip]


@lru_cache(maxsize=100_000)  # pypinyin is slow and the vocabulary is small
def sound(token: str) -> str | None:
    """Toneless pinyin of a CJK bigram, so a homophone typo (失叶, 营业执找) still matches."""
    if len(token) != 2 or not _CJK_RUN.fullmatch(token):
        return None
    # Imported here: the gateway segments forbidden phrases but never asks a sound (55 MiB).
    from pypinyin import lazy_pinyin
    return "~" + "".join(lazy_pinyin(token))


def with_sounds(tokens: list[str]) -> list[str]:
    return tokens + [s for s in map(sound, tokens) if s]
