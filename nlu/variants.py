"""A service's words as citizens type them, rewritten to the standard wording.

Two slips no dictionary of variants can list in full:

- pinyin initials: "jzz" for 居住证, "yyzz" for 营业执照, "wszm" for 完税证明. Every
  government word of three characters or more is recognised by its initials when no other
  word shares them; two letters are too ambiguous ("sm" is usually 什么), so a two-letter
  abbreviation counts only when `synonyms.txt` lists it (发票: …, fp);
- homophone typos from pinyin input: 居注证, 设保, 失页登纪, 营业职照, 生于保险. A stretch of
  the message that sounds exactly like a government word (toneless pinyin), differs from it
  in at most half its characters, and is not itself a word (jieba's dictionary, its words
  whole: 生于 and 失明 stay) is replaced by that word.

The vocabulary is `terms.txt` and the words of `synonyms.txt`. Applied to a question before
the service decision (`kb.retrieval`), after `nlu.normalize`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache, lru_cache

import jieba
from pypinyin import Style, lazy_pinyin

from nlu.segment import HERE, other_names, read_word_list, synonyms

_CJK_WORD = re.compile(r"[\u4e00-\u9fff]{2,}")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_LETTERS = re.compile(r"(?<![a-z])[a-z]{2,8}(?![a-z])", re.IGNORECASE)
MIN_DERIVED = 3  # characters a word needs before its initials alone stand for it


def initials(word: str) -> str:
    return "".join(lazy_pinyin(word, style=Style.FIRST_LETTER))


@cache
def _terms() -> frozenset[str]:
    return frozenset(word for word in read_word_list(HERE / "terms.txt")
                     if _CJK_WORD.fullmatch(word))


@cache
def vocabulary() -> dict[str, str]:
    """Each government word (CJK) → the canonical wording it stands for (itself, mostly)."""
    words = {word: word for word in _terms()}
    for canonical, variants in synonyms():
        for word in (canonical, *variants):
            if _CJK_WORD.fullmatch(word):
                words.setdefault(word, canonical)
    return words


@cache
def abbreviations() -> dict[str, str]:
    """Pinyin initials → the word they stand for."""
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for word, canonical in vocabulary().items():
        if len(word) >= MIN_DERIVED:
            found[initials(word)].add((word, canonical))
    table = {}
    for letters, words in found.items():
        meanings = {canonical for _, canonical in words}
        if len(words) == 1 or len(meanings) == 1:  # jzz: 居住证 (居主证 is its typo)
            table[letters] = words.pop()[0] if len(words) == 1 else meanings.pop()
    spelled: dict[str, dict[str, str]] = defaultdict(dict)  # canonical → initials → word
    for canonical, variants in synonyms():
        for word in (canonical, *variants):  # the canonical first: fp is 发票, not 发漂
            if _CJK_WORD.fullmatch(word):
                spelled[canonical].setdefault(initials(word), word)
    for canonical, variants in synonyms():  # listed ones: "fp" beside 发票, "zp" beside 专票
        table.update((v, spelled[canonical][v]) for v in variants if v in spelled[canonical])
    return table


@cache
def sounds() -> dict[tuple[int, str], str]:
    """(length, toneless pinyin) → the standard word that sounds so, unless two do. Only
    standard words (terms, canonical wordings): a variant such as 续签 would turn 需签 into
    a service's word."""
    found: dict[tuple[int, str], set[str]] = defaultdict(set)
    for word, canonical in vocabulary().items():
        if word == canonical or word in _terms():
            found[len(word), "".join(lazy_pinyin(word))].add(word)
    return {key: words.pop() for key, words in found.items() if len(words) == 1}


def _expand_letters(text: str) -> str:
    table = abbreviations()
    return _LETTERS.sub(lambda m: table.get(m.group().lower(), m.group()), text)


def _boundaries(run: str) -> set[int]:
    """Where jieba's dictionary words (no guessed new words) start and end in `run`."""
    edges, position = {0}, 0
    for word in jieba.lcut(run, HMM=False):
        position += len(word)
        edges.add(position)
    return edges


def _correct_run(run: str) -> str:
    table = sounds()
    lengths = sorted({length for length, _ in table}, reverse=True)
    syllables = lazy_pinyin(run)
    if len(syllables) != len(run):  # pypinyin keeps every CJK character as one syllable
        return run
    edges = _boundaries(run)
    out, start = [], 0
    while start < len(run):
        for length in lengths:
            end = start + length
            if end > len(run) or start not in edges or end not in edges:
                continue
            word = table.get((length, "".join(syllables[start:end])))
            window = run[start:end]
            if word and word != window and _is_slip(window, word):
                out.append(word)
                start = end
                break
        else:
            out.append(run[start])
            start += 1
    return "".join(out)


def _is_slip(window: str, word: str) -> bool:
    """A typo of `word` rather than another word that sounds the same."""
    differing = sum(a != b for a, b in zip(window, word, strict=True))
    return differing <= max(1, len(word) // 2) and not jieba.get_FREQ(window)


@cache
def _other_names() -> tuple[re.Pattern[str], dict[str, str]]:
    standard = {name: canonical for canonical, names in other_names() for name in names}
    longest_first = sorted(standard, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, longest_first))), standard


def _standard_names(text: str) -> str:
    pattern, standard = _other_names()
    return pattern.sub(lambda m: standard[m.group()], text) if standard else text


@lru_cache(maxsize=8192)
def standard_wording(text: str) -> str:
    """`text` (already normalised) with abbreviations, homophone typos and other names of
    government words rewritten: "去签jzz" → "去签居住证", "设保" → "社保", "良民证" →
    "无犯罪记录证明"."""
    text = _expand_letters(text)
    text = _CJK_RUN.sub(lambda m: _correct_run(m.group()), text)
    return _standard_names(text)
